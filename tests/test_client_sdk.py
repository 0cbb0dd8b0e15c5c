"""Porting from the openai SDK: its per-request keywords, and docs/migrating.md's table.

Every request goes to a FakeRunsServer on 127.0.0.1; waits go through an injected clock.
"""

from __future__ import annotations

import os
import re
import time
import unittest
from typing import Any, Callable, Dict, List

from tests import threadrun
from tests.support import KEY, THREAD, ServerTest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(REPO, "docs", "migrating.md")  # the table of spellings


class RequestOptionsTest(ServerTest):
    """``timeout``, ``extra_headers``, ``extra_query``, ``extra_body`` mean what they mean in
    the SDK; they are never sent as body parameters."""

    def test_create_takes_them_and_sends_none_as_a_parameter(self) -> None:
        run = self.client(default_query={"api-version": "1"}).create(
            THREAD, "asst_1", model="gpt-4o", timeout=5, extra_headers={"X-Trace": "t1"},
            extra_query={"api-version": "2", "q": "x"}, extra_body={"temperature": 0.5},
        )  # fmt: skip
        (request,) = self.server.requests
        self.assertEqual(request.json, {"assistant_id": "asst_1", "model": "gpt-4o",
                                        "temperature": 0.5})  # fmt: skip
        self.assertEqual(request.headers["X-Trace"], "t1")
        self.assertEqual(request.query, {"api-version": ["2"], "q": ["x"]})
        self.assertEqual(run.extra["temperature"], 0.5)

    def test_create_and_poll_applies_them_to_every_request(self) -> None:
        got = self.client().create_and_poll(
            THREAD, "asst_1", poll_interval=0.5, timeout=5, extra_headers={"X-Trace": "t2"},
            extra_query={"q": "y"}, extra_body={"metadata": {"k": "v"}},
        )  # fmt: skip
        self.assertEqual(got.status, "completed")
        post, *gets = self.server.requests
        self.assertEqual(post.json, {"assistant_id": "asst_1", "metadata": {"k": "v"}})
        self.assertEqual(len(gets), 2)
        for request in self.server.requests:
            with self.subTest(method=request.method):
                self.assertEqual(request.headers["X-Trace"], "t2")
                self.assertEqual(request.query, {"q": ["y"]})
        self.assertEqual([r.body for r in gets], [b"", b""])

    def test_every_endpoint_method_takes_them(self) -> None:
        client = self.client()
        run = self.add_run(statuses=("queued", "requires_action"))
        options: Dict[str, Any] = {"timeout": 5, "extra_headers": {"X-Trace": "t3"},
                                   "extra_query": {"q": "z"}}  # fmt: skip
        client.retrieve(THREAD, run["id"], **options)
        call = client.retrieve(THREAD, run["id"], **options).tool_calls[0]
        client.update(THREAD, run["id"], {"a": "b"}, **options)
        client.submit_tool_outputs(THREAD, run["id"], [{"tool_call_id": call.id, "output": ""}],
                                   extra_body={"stream": False}, **options)  # fmt: skip
        client.cancel(THREAD, client.create(THREAD, "asst_1").id, **options)
        list(client.list(THREAD, **options))
        for request in self.server.requests:
            with self.subTest(method=request.method, path=request.path):
                is_create = request.path.endswith("/runs") and request.method == "POST"
                self.assertEqual(request.headers["X-Trace"], None if is_create else "t3")
        self.assertEqual(self.server.requests[3].json["stream"], False)

    def test_the_timeout_is_per_request(self) -> None:
        run = self.add_run()
        client = self.client(max_retries=0)
        self.server.delay_next(2.0)
        started = time.monotonic()
        with self.raises(threadrun.APITimeoutError):
            client.retrieve(THREAD, run["id"], timeout=0.2)
        self.assertLess(time.monotonic() - started, 1.5)
        self.assertEqual(client.timeout, threadrun._DEFAULT_TIMEOUT)
        self.assertEqual(client.retrieve(THREAD, run["id"]).id, run["id"])

    def test_what_cannot_be_honoured_is_refused_before_sending(self) -> None:
        client = self.client()
        cases: List[Any] = [
            (threadrun.OpenAIError, lambda: client.retrieve(
                THREAD, "run_1", extra_headers={"Authorization": "Bearer " + KEY})),
            (threadrun.OpenAIError, lambda: client.retrieve(
                THREAD, "run_1", extra_headers={"bad name": "v"})),
            (TypeError, lambda: client.retrieve(THREAD, "run_1", extra_body={"a": 1})),
            (TypeError, lambda: client.retrieve(THREAD, "run_1", stream=True)),
            (ValueError, lambda: client.retrieve(THREAD, "run_1", timeout=0)),
            (ValueError, lambda: client.create(THREAD, "asst_1", timeout=-1)),
            (TypeError, lambda: client.create(THREAD, "asst_1", extra_query=["q"])),
        ]  # fmt: skip
        for index, (cls, call) in enumerate(cases):
            with self.subTest(case=index), self.raises(cls):
                call()
        self.assertEqual(self.server.requests, [])


def _readme_table() -> List[List[str]]:
    with open(README, encoding="utf-8") as file:
        text = file.read()
    section = text.split("# Migrating from the openai SDK", 1)[1].split("\n#", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]


class ReadmeTableTest(ServerTest):
    """Every row of docs/migrating.md's table of spellings holds."""

    def check_retrieve(self) -> None:
        run = self.add_run()
        self.assertEqual(self.client().retrieve(THREAD, run["id"]).id, run["id"])

    def check_extra(self) -> None:
        run = self.client().create(THREAD, "asst_1", temperature=0.25)
        self.assertEqual(run.extra["temperature"], 0.25)

    def check_usage(self) -> None:
        usage = {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
        run = self.client().retrieve(THREAD, self.add_run(usage=usage)["id"])
        self.assertEqual(run.usage["total_tokens"], 12)

    def check_tool_calls(self) -> None:
        run_id = self.add_run(statuses=("requires_action",), tool_calls=[("lookup", "{}")])["id"]
        run = self.client().retrieve(THREAD, run_id)
        self.assertEqual(run.tool_calls[0].name, "lookup")
        sdk_path = run.required_action["submit_tool_outputs"]["tool_calls"][0]["function"]["name"]
        self.assertEqual(run.tool_calls[0].name, sdk_path)

    def check_last_error(self) -> None:
        error = {"code": "rate_limit_exceeded", "message": "slow down"}
        run = self.client().retrieve(THREAD, self.add_run(last_error=error)["id"])
        self.assertEqual(run.last_error["code"], "rate_limit_exceeded")

    def check_poll_interval(self) -> None:
        self.client().create_and_poll(THREAD, "asst_1", poll_interval=0.5)
        self.assertEqual(self.clock.sleeps, [0.5])

    def check_request_options(self) -> None:
        run = self.add_run()
        self.client().retrieve(THREAD, run["id"], timeout=5, extra_headers={"X-A": "1"},
                               extra_query={"q": "1"})  # fmt: skip
        self.assertEqual(self.server.requests[-1].headers["X-A"], "1")

    def check_errors(self) -> None:
        self.server.fail_next(429)
        with self.raises(threadrun.RateLimitError) as cm:
            self.client(max_retries=0).retrieve(THREAD, self.add_run()["id"])
        self.assertIn("Rate limit", cm.exception.body["message"])
        self.assertEqual(cm.exception.code, "rate_limit_exceeded")

    def check_stream(self) -> None:
        with self.client().stream(THREAD, "asst_1") as stream:
            text = "".join(stream.text_deltas())
            run = stream.until_done()
        self.assertEqual(run.status, "completed")
        self.assertTrue(text)
        [answer] = stream.messages  # what the SDK's get_final_messages() gives
        self.assertEqual((answer["status"], threadrun.message_text(answer)), ("completed", text))

    def check_create_thread_and_run(self) -> None:
        client = self.client()
        thread = {"messages": [{"role": "user", "content": "Hello"}]}
        run = client.create_thread_and_run("asst_1", thread=thread)
        self.assertNotEqual(run.thread_id, THREAD)
        with client.create_thread_and_run_stream("asst_1", thread=thread) as stream:
            self.assertEqual(stream.until_done().status, "completed")
        polled = client.create_thread_and_run_poll("asst_1", thread=thread)
        self.assertEqual(polled.status, "completed")

    def test_every_row(self) -> None:
        checks: Dict[str, Callable[[], None]] = {
            "`client.stream(thread_id, assistant_id)`: a `RunStream` (iterate it; "
            "`text_deltas()`; `until_done()` returns the run; `.messages` for "
            "`get_final_messages()`)": self.check_stream,
            "`create_thread_and_run(assistant_id, thread={…})`, `…_stream`, `…_poll`": (
                self.check_create_thread_and_run
            ),
            "`client.retrieve(thread_id, run_id)`": self.check_retrieve,
            '`run.extra["temperature"]`': self.check_extra,
            '`run.usage["total_tokens"]`': self.check_usage,
            "`run.tool_calls[0].name`": self.check_tool_calls,
            '`run.last_error["code"]`': self.check_last_error,
            "`create_and_poll(…, poll_interval=0.5)` (seconds)": self.check_poll_interval,
            "the same keywords": self.check_request_options,
            "`except threadrun.RateLimitError as e:` the same": self.check_errors,
        }
        rows = _readme_table()
        self.assertEqual(sorted(row[1] for row in rows), sorted(checks))
        for sdk, spelling in rows:
            with self.subTest(sdk=sdk):
                self.assertTrue(re.match(r"^`.+`", sdk))
                self.server.clear()
                self.clock.sleeps.clear()
                checks[spelling]()


if __name__ == "__main__":
    unittest.main()
