"""Run steps: Client.list_steps and Client.retrieve_step.

Against a small steps server on 127.0.0.1 (stdlib http.server), which pages as the API does;
nothing is ever sent beyond loopback.
"""

from __future__ import annotations

import http.server
import json
import threading
import unittest
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl, urlsplit

from tests import threadrun
from tests.support import KEY, THREAD, EnvTest

RUN = "run_1"


def make_step(index: int, **fields: Any) -> Dict[str, Any]:
    step = {
        "id": "step_%d" % index, "object": "thread.run.step",
        "created_at": "2026-11-29T16:30:%02d.549940Z" % index,  # left as the server wrote it
        "run_id": RUN, "thread_id": THREAD, "assistant_id": "asst_1", "type": "tool_calls",
        "status": "completed", "step_details": {"type": "tool_calls", "tool_calls": [
            {"id": "call_%d" % index, "type": "function",
             "function": {"name": "f", "arguments": "{}", "output": None}}]},
    }  # fmt: skip
    step.update(fields)
    return step


class StepsServer:
    """Serves ``steps`` of run RUN of THREAD: the list (limit, order, after, before) and each
    step; records (path, query, headers) of every request. ``answers`` (a list of (status,
    body)) overrides the next answers."""

    def __init__(self, steps: List[Dict[str, Any]]) -> None:
        self.steps = steps
        self.requests: List[Tuple[str, Dict[str, str], Dict[str, str]]] = []
        self.answers: List[Tuple[int, bytes]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query))
                outer.requests.append((parts.path, query, dict(self.headers.items())))
                status, body = outer.answer(parts.path, query)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("x-request-id", "req_steps_%d" % len(outer.requests))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = "http://127.0.0.1:%d/v1" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)  # fmt: skip
        self.thread.start()

    def answer(self, path: str, query: Dict[str, str]) -> Tuple[int, bytes]:
        if self.answers:
            return self.answers.pop(0)
        prefix = "/v1/threads/%s/runs/%s/steps" % (THREAD, RUN)
        if path == prefix:
            return 200, json.dumps(self.page(query)).encode()
        for step in self.steps:
            if path == prefix + "/" + step["id"]:
                return 200, json.dumps(step).encode()
        return 404, json.dumps({"detail": "Run step not found."}).encode()

    def page(self, query: Dict[str, str]) -> Dict[str, Any]:
        steps = self.steps if query.get("order") == "asc" else self.steps[::-1]
        ids = [step["id"] for step in steps]
        start = ids.index(query["after"]) + 1 if "after" in query else 0
        end = ids.index(query["before"]) if "before" in query else len(steps)
        chosen = steps[start:end][: int(query.get("limit", "20"))]
        return {
            "object": "list", "data": chosen,
            "first_id": chosen[0]["id"] if chosen else None,
            "last_id": chosen[-1]["id"] if chosen else None,
            "has_more": start + len(chosen) < end,
        }  # fmt: skip

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class StepsTest(EnvTest):
    def setUp(self) -> None:
        super().setUp()
        self.steps = [make_step(i) for i in range(5)]
        self.server = StepsServer(self.steps)
        self.addCleanup(self.server.stop)

    def client(self, **kwargs: Any) -> Any:
        return self.raw_client(self.server.base_url, **kwargs)

    def queries(self) -> List[Dict[str, str]]:
        return [query for _path, query, _headers in self.server.requests]

    def test_list_steps_pages_lazily(self) -> None:
        steps = self.client().list_steps(THREAD, RUN, limit=2, order="asc")
        self.assertEqual(self.server.requests, [])  # nothing sent before the first item
        self.assertEqual(next(steps), self.steps[0])
        self.assertEqual(len(self.server.requests), 1)
        self.assertEqual(list(steps), self.steps[1:])
        self.assertEqual(self.queries(), [
            {"limit": "2", "order": "asc"},
            {"limit": "2", "order": "asc", "after": "step_1"},
            {"limit": "2", "order": "asc", "after": "step_3"},
        ])  # fmt: skip

    def test_list_steps_parameters(self) -> None:
        got = list(self.client().list_steps(THREAD, RUN, order="desc", after="step_4",
                                            before="step_1"))  # fmt: skip
        self.assertEqual(got, [self.steps[3], self.steps[2]])
        self.assertEqual(self.queries(), [{"order": "desc", "after": "step_4", "before": "step_1"}])
        path = self.server.requests[0][0]
        self.assertEqual(path, "/v1/threads/%s/runs/%s/steps" % (THREAD, RUN))

    def test_steps_are_dicts_as_sent_even_with_a_run_adapter(self) -> None:
        client = self.client(run_adapter=threadrun.iso_timestamps)
        got = list(client.list_steps(THREAD, RUN))
        self.assertEqual(got, self.steps[::-1])
        self.assertEqual(got[0]["created_at"], "2026-11-29T16:30:04.549940Z")
        self.assertEqual(got[-1]["step_details"]["tool_calls"][0]["id"], "call_0")
        step = client.retrieve_step(THREAD, RUN, "step_2")
        self.assertEqual(step, self.steps[2])
        self.assertIs(type(step), dict)

    def test_retrieve_step(self) -> None:
        self.assertEqual(self.client().retrieve_step(THREAD, RUN, "step_3"), self.steps[3])
        self.assertEqual(self.server.requests[0][0],
                         "/v1/threads/%s/runs/%s/steps/step_3" % (THREAD, RUN))  # fmt: skip

    def test_sdk_per_request_keywords(self) -> None:
        client = self.client()
        options = {"extra_headers": {"X-Trace": "t1"}, "extra_query": {"include[]": "x"},
                   "timeout": 5}  # fmt: skip
        list(client.list_steps(THREAD, RUN, limit=10, **options))
        client.retrieve_step(THREAD, RUN, "step_0", **options)
        for _path, query, headers in self.server.requests:
            self.assertEqual(query.get("include[]"), "x")
            self.assertEqual(headers.get("X-Trace"), "t1")
        for call in (lambda: client.list_steps(THREAD, RUN, stream=True),
                     lambda: client.retrieve_step(THREAD, RUN, "step_0", nope=1)):  # fmt: skip
            with self.subTest(call=call), self.assertRaises(TypeError):
                call()
        with self.assertRaisesRegex(TypeError, "extra_body is only for requests with a body"):
            client.retrieve_step(THREAD, RUN, "step_0", extra_body={"a": 1})

    def test_ids_that_could_change_the_path_are_refused(self) -> None:
        client = self.client()
        for args in ((THREAD, "../x"), ("a/b", RUN), (THREAD, RUN, "step?x"), (THREAD, RUN, "")):
            with self.subTest(args=args), self.assertRaises(threadrun.InvalidIdError):
                if len(args) == 3:
                    client.retrieve_step(*args)
                else:
                    client.list_steps(*args)
        self.assertEqual(self.server.requests, [])

    def test_not_found_in_fastapi_shape(self) -> None:
        with self.raises(threadrun.NotFoundError) as cm:
            self.client().retrieve_step(THREAD, RUN, "step_9")
        self.assertEqual(str(cm.exception), "HTTP 404: Run step not found.")

    def test_an_answer_about_another_step(self) -> None:
        cases = [
            (self.steps[1], "the server answered with step 'step_1'"),
            (dict(self.steps[0], id=7), "the server answered with a step whose id is integer 7"),
            ({"object": "thread.run.step"}, "the server answered with a step whose id is null"),
        ]
        for step, end in cases:
            with self.subTest(step=step):
                self.server.answers.append((200, json.dumps(step).encode()))
                with self.raises(threadrun.APIError) as cm:
                    self.client().retrieve_step(THREAD, RUN, "step_0")
                self.assertEqual(str(cm.exception), "asked for step 'step_0', " + end)
                self.assertRegex(cm.exception.request_id, "^req_steps_[0-9]+$")

    def test_answers_that_are_not_steps(self) -> None:
        cases: List[Tuple[bytes, Optional[str], str]] = [
            (b"[1]", None, "the server's answer is not a valid step: expected a step object, "
             "got array [1]"),
            (b"{", None, "the server's answer is not a valid step: invalid JSON: "),
        ]  # fmt: skip
        for body, field, start in cases:
            with self.subTest(body=body):
                self.server.answers.append((200, body))
                with self.raises(threadrun.APIResponseValidationError) as cm:
                    self.client().retrieve_step(THREAD, RUN, "step_0")
                self.assertTrue(str(cm.exception).startswith(start), str(cm.exception))
                self.assertEqual(cm.exception.field, field)

    def test_a_page_with_an_item_that_is_not_a_step(self) -> None:
        page = {"object": "list", "data": [self.steps[0], "step_1 " + KEY], "has_more": False}
        self.server.answers.append((200, json.dumps(page).encode()))
        with self.raises(threadrun.APIResponseValidationError) as cm:
            list(self.client().list_steps(THREAD, RUN))
        self.assertTrue(str(cm.exception).startswith(
            "the server's answer (data[1] of the first page) is not a valid step: expected a "
            "step object, got string 'step_1 [redacted]'"), str(cm.exception))  # fmt: skip
        self.assertEqual(cm.exception.field, "data[1]")
        self.assertEqual(cm.exception.body["data"][1], "step_1 [redacted]")
        self.assertEqual(cm.exception.request_id, "req_steps_1")


if __name__ == "__main__":
    unittest.main()
