"""Specification: the client's I/O-free core decides without a socket.

What a request sends (``_BaseClient._build``), what an answer means (pages, runs, errors),
and every decision of the retry, redirect and poll loops (``_Attempts``, ``_Poll``,
``_redirected``) take values and return values; threadrun.aio's HTTP/1.1 reading takes bytes.
No test here opens a connection: the base URL names a closed port on loopback, never used.
"""

from __future__ import annotations

import importlib
import json
import unittest
from typing import Any, Dict

from tests import SINGLE_FILE, threadrun
from tests.support import KEY, THREAD, FakeClock, closed_port, run_json

RUN = threadrun.ThreadRun.from_json(run_json(status="in_progress"))


class CoreTest(unittest.TestCase):
    def setUp(self) -> None:
        self.clock = FakeClock()
        self.client = threadrun.Client(
            api_key=KEY, base_url="http://127.0.0.1:%d/v1" % closed_port(),
            default_query={"api-version": "1"}, clock=self.clock, sleep=self.clock.sleep,
            max_retries=2, trust_env=False,
        )  # fmt: skip
        self.addCleanup(self.client.close)

    def request(self, call: Any, **kwargs: Any) -> Any:
        return self.client._build(call, **kwargs)


class BuildTest(CoreTest):
    def test_what_each_request_sends(self) -> None:
        client = self.client
        cases = [
            ("GET", client._run_call("GET", THREAD, "run_1", "", None, {}),
             "/v1/threads/thread_1/runs/run_1?api-version=1", None, False),
            ("POST", client._create_call(THREAD, "asst_1", {"include": ["x"]}, {}),
             "/v1/threads/thread_1/runs?api-version=1&include%5B%5D=x",
             {"assistant_id": "asst_1"}, True),
            ("POST, empty", client._run_call("POST", THREAD, "run_1", "/cancel", None, {}),
             "/v1/threads/thread_1/runs/run_1/cancel?api-version=1", None, True),
        ]  # fmt: skip
        for name, call, target, body, keyed in cases:
            with self.subTest(name):
                request = self.request(call)
                self.assertEqual(request.target, target)
                self.assertEqual(json.loads(request.body) if request.body else None, body)
                self.assertEqual("Idempotency-Key" in request.headers, keyed)
                self.assertEqual(request.headers["Authorization"], "Bearer " + KEY)

    def test_per_request_options_are_merged(self) -> None:
        options = {"timeout": 3, "extra_headers": {"X-Trace": "t"},
                   "extra_query": {"api-version": "2"}, "extra_body": {"metadata": {}}}  # fmt: skip
        call = self.client._create_call(THREAD, "asst_1", {}, options)
        request = self.request(call)
        self.assertEqual(request.timeout, 3)
        self.assertEqual(request.headers["X-Trace"], "t")
        self.assertTrue(request.target.endswith("?api-version=2"))
        self.assertEqual(json.loads(request.body), {"assistant_id": "asst_1", "metadata": {}})

    def test_a_stream_asks_for_events_and_each_request_has_its_own_key(self) -> None:
        call = self.client._create_call(THREAD, "asst_1", {}, {})
        first, second = self.request(call, stream=True), self.request(call)
        self.assertEqual(first.headers["Accept"], "text/event-stream")
        self.assertNotEqual(first.headers["Idempotency-Key"], second.headers["Idempotency-Key"])


class AttemptsTest(CoreTest):
    def attempts(self, deadline: Any = None) -> Any:
        call = self.client._run_call("GET", THREAD, "run_1", "", None, {})
        return threadrun._Attempts(self.client, self.request(call), deadline, False)

    def test_statuses_are_retried_or_raised(self) -> None:
        for status, headers, expected in (
            (500, {}, "retry"), (429, {"retry-after": "2"}, 2.0), (409, {}, "retry"),
            (400, {}, threadrun.BadRequestError), (404, {}, threadrun.NotFoundError),
            (400, {"x-should-retry": "true"}, "retry"),
            (429, {"retry-after": "600"}, threadrun.RateLimitError),
        ):  # fmt: skip
            with self.subTest(status=status, headers=headers):
                attempts = self.attempts()
                if isinstance(expected, type):
                    with self.assertRaises(expected):
                        attempts.answered(status, headers, b"{}")
                    continue
                delay = attempts.answered(status, headers, b"{}")
                if expected == "retry":
                    self.assertLessEqual(delay, threadrun._INITIAL_RETRY_DELAY)
                else:
                    self.assertEqual(delay, expected)

    def test_retries_end_at_max_retries(self) -> None:
        attempts = self.attempts()
        attempts.answered(503, {}, b"")
        attempts.answered(503, {}, b"")
        with self.assertRaises(threadrun.InternalServerError):
            attempts.answered(503, {}, b"")

    def test_the_deadline_cuts_the_timeout_and_ends_the_attempts(self) -> None:
        attempts = self.attempts(deadline=self.clock.now + 5)
        attempts.begin()
        self.assertEqual(attempts._request.timeout, 5)
        with self.assertRaises(threadrun._DeadlineReached):  # cut short: the deadline's fault
            attempts.failed(threadrun.APITimeoutError("timed out"))
        with self.assertRaises(threadrun._DeadlineReached):  # no time for the wait
            attempts.answered(429, {"retry-after": "6"}, b"")
        self.clock.sleep(5)
        with self.assertRaises(threadrun._DeadlineReached):
            attempts.begin()

    def test_a_stale_connection_is_resent_once(self) -> None:
        attempts = self.attempts()
        error = threadrun.APIConnectionError("closed")
        attempts.stale(threadrun._Stale(error))
        with self.assertRaises(threadrun.APIConnectionError):
            attempts.stale(threadrun._Stale(error))


class PollTest(CoreTest):
    def test_each_run_says_stop_wait_or_time_out(self) -> None:
        poll = threadrun._Poll(self.client, None, 10)
        self.assertIsNone(poll.begin(None))
        self.assertEqual(poll.after(RUN, {"openai-poll-after-ms": "250"}), 0.25)
        self.assertEqual(poll.after(RUN, {}), 1.0)
        done = threadrun.ThreadRun.from_json(run_json(status="requires_action"))
        self.assertIsNone(poll.after(done, {}))
        self.clock.sleep(9.5)
        with self.assertRaises(threadrun.PollTimeoutError) as cm:
            poll.after(RUN, {})  # the next check could not start in time
        self.assertIs(cm.exception.run, RUN)

    def test_a_passed_deadline_checks_once(self) -> None:
        poll = threadrun._Poll(self.client, 0.5, 0)
        self.assertIsNone(poll.begin(None))
        self.assertIsNone(poll.request_deadline)  # the one retrieve is let through
        with self.assertRaises(threadrun.PollTimeoutError):
            poll.after(RUN, {})
        poll = threadrun._Poll(self.client, 0.5, 0)
        with self.assertRaises(threadrun.PollTimeoutError):
            poll.begin(RUN)  # the run a create answered with is the one check
        settled = threadrun.ThreadRun.from_json(run_json())
        self.assertIs(threadrun._Poll(self.client, 0.5, 0).begin(settled), settled)


class AnswersTest(CoreTest):
    def test_redirects_stay_on_the_origin(self) -> None:
        call = self.client._create_call(THREAD, "asst_1", {}, {})
        request = self.request(call)
        moved = self.client._redirected(request, 307, {"location": "/v2/runs"})
        self.assertEqual((moved.method, moved.target, moved.body), ("POST", "/v2/runs",
                                                                    request.body))  # fmt: skip
        seen = self.client._redirected(request, 303, {"location": "/v1/done"})
        self.assertEqual((seen.method, seen.body), ("GET", None))
        self.assertNotIn("Idempotency-Key", seen.headers)
        with self.assertRaises(threadrun.APIStatusError):
            self.client._redirected(request, 302, {"location": "https://elsewhere.test/"})

    def test_pages_give_items_and_the_next_cursor(self) -> None:
        page: Dict[str, Any] = {"data": [json.loads(run_json("run_1"))], "has_more": True}
        items, read = self.client._read_page("run", [], {}, json.dumps(page).encode())
        self.assertEqual([run.id for run in items], ["run_1"])
        seen: Any = set()
        query = self.client._next_query([], read, seen, {})
        self.assertEqual(query, [("after", "run_1")])
        with self.assertRaises(threadrun.APIError):  # the same cursor again: no progress
            self.client._next_query([], read, seen, {})
        self.assertIsNone(self.client._next_query([], dict(page, has_more=False), set(), {}))

    def test_an_error_answer_is_typed_and_scrubbed(self) -> None:
        body = json.dumps({"error": {"message": "bad key " + KEY}}).encode()
        error = self.client._status_error(401, {}, body, "/v1/threads")
        self.assertIsInstance(error, threadrun.AuthenticationError)
        self.assertNotIn(KEY, str(error))


@unittest.skipIf(SINGLE_FILE, "threadrun.aio is the package's second file")
class WireTest(unittest.TestCase):
    """threadrun.aio's HTTP/1.1: bytes in, values out."""

    def setUp(self) -> None:
        self.aio = importlib.import_module("threadrun.aio")

    def test_a_request_on_the_wire(self) -> None:
        request = threadrun._Request("POST", "/v1/x", b"{}", {"A": "b"}, 5.0)
        self.assertEqual(
            self.aio._request_bytes(request, "h:1", "/v1/x",
                                    self.aio._header_lines(request.headers)),
            b"POST /v1/x HTTP/1.1\r\nHost: h:1\r\nAccept-Encoding: identity\r\nA: b\r\n"
            b"Content-Length: 2\r\n\r\n{}",
        )

    def test_heads_are_read_or_refused(self) -> None:
        status, headers = self.aio._parse_head(
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A: 1\r\nx-a: 2\r\n\r\n"
        )
        self.assertEqual((status, headers), (200, {"content-length": "3", "x-a": "1, 2"}))
        self.assertEqual(self.aio._framing(headers), (3, True))
        self.assertEqual(self.aio._framing({"transfer-encoding": "chunked"}), (None, True))
        self.assertEqual(self.aio._framing({"connection": "close"}), (None, False))
        for head in (b"SSH-2.0\r\n\r\n", b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n"):
            with self.subTest(head), self.assertRaises(ValueError):
                self.aio._parse_head(head)
        with self.assertRaises(ValueError):
            self.aio._framing({"content-length": "-1"})
