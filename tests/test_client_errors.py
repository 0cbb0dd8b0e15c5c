"""Client errors: status classes, bodies, the size cap, and credentials kept out of them.

Part of the client's specification, tests/test_client_*.py (their rules: tests/support.py).
"""

from __future__ import annotations

import os
import pickle
import time
import unittest
from typing import Any, Dict

from tests import threadrun
from tests.support import (
    AZURE_KEY,
    KEY,
    REQUEST_ID,
    THREAD,
    ServerTest,
    requires_tracemalloc,
    tracemalloc,
)


class ErrorsTest(ServerTest):
    def test_not_found_carries_message_type_request_id_and_body(self) -> None:
        self.server.add_thread(THREAD)
        self.server.inject(self.testing.Fault(headers={"x-request-id": "req_not_found_42"}))
        with self.raises(threadrun.NotFoundError) as cm:
            self.client().retrieve(THREAD, "run_missing")
        error = cm.exception
        self.assertIsInstance(error, threadrun.APIStatusError)
        self.assertIsInstance(error, threadrun.APIError)
        self.assertIsInstance(error, threadrun.OpenAIError)
        self.assertEqual(error.status_code, 404)
        self.assertEqual(error.request_id, "req_not_found_42")
        self.assertEqual(error.type, "invalid_request_error")
        self.assertIn("No run found with id 'run_missing'.", error.message)
        self.assertIn("404", str(error))
        self.assertIn("No run found with id 'run_missing'.", str(error))
        # The inner "error" object, as the openai SDK gives it, not the envelope.
        self.assertEqual(error.body, {"message": "No run found with id 'run_missing'.",
                                      "type": "invalid_request_error", "param": None,
                                      "code": None})  # fmt: skip
        self.assertEqual(error.body["message"], error.message.split(": ", 1)[1])
        self.assertEqual(error.headers.get("x-request-id"), "req_not_found_42")
        self.assertEqual(self.sent(), 1)

    def test_errors_survive_pickling(self) -> None:
        self.server.fail_next(429, headers={"x-request-id": "req_pickle"})
        with self.raises(threadrun.RateLimitError) as cm:
            self.client(max_retries=0).retrieve(THREAD, self.add_run()["id"])
        copy = pickle.loads(pickle.dumps(cm.exception))
        self.assertIs(type(copy), threadrun.RateLimitError)
        for attr in ("message", "status_code", "request_id", "body", "type", "code", "param"):
            self.assertEqual(getattr(copy, attr), getattr(cm.exception, attr), attr)
        self.assertEqual(str(copy), str(cm.exception))
        run = self.add_run(statuses=("queued",))
        with self.raises(threadrun.PollTimeoutError) as poll:
            self.client().poll(THREAD, run["id"], interval=1, timeout=1)
        copy = pickle.loads(pickle.dumps(poll.exception))
        self.assertEqual(copy.run, poll.exception.run)
        self.assertEqual(str(copy), str(poll.exception))

    def test_server_generated_request_id_is_kept(self) -> None:
        with self.raises(threadrun.NotFoundError) as cm:
            self.client().retrieve("thread_unknown", "run_1")
        self.assertRegex(cm.exception.request_id, REQUEST_ID)
        self.assertIn("No thread found", str(cm.exception))

    def test_statuses_map_to_classes(self) -> None:
        table = {
            400: threadrun.BadRequestError,
            401: threadrun.AuthenticationError,
            403: threadrun.PermissionDeniedError,
            404: threadrun.NotFoundError,
            409: threadrun.ConflictError,
            422: threadrun.UnprocessableEntityError,
            429: threadrun.RateLimitError,
            500: threadrun.InternalServerError,
            502: threadrun.InternalServerError,
            503: threadrun.InternalServerError,
            504: threadrun.InternalServerError,
            418: threadrun.APIStatusError,
        }
        run = self.add_run()
        client = self.client(max_retries=0)
        for status, cls in table.items():
            with self.subTest(status=status):
                before = self.sent()
                self.server.fail_next(status)
                with self.raises(threadrun.APIStatusError) as cm:
                    client.retrieve(THREAD, run["id"])
                self.assertIs(type(cm.exception), cls)
                self.assertEqual(cm.exception.status_code, status)
                self.assertRegex(cm.exception.request_id, REQUEST_ID)
                self.assertIn(str(status), str(cm.exception))
                self.assertEqual(self.sent() - before, 1)
        self.assertEqual(self.clock.sleeps, [])
        # and the client still works afterwards, on whatever connection it has
        self.assertEqual(client.retrieve(THREAD, run["id"]).id, run["id"])

    def test_rate_limit_body_details(self) -> None:
        self.server.fail_next(429)
        with self.raises(threadrun.RateLimitError) as cm:
            self.client(max_retries=0).retrieve(THREAD, self.add_run()["id"])
        self.assertEqual(cm.exception.code, "rate_limit_exceeded")
        self.assertEqual(cm.exception.type, "requests")
        self.assertIn("Rate limit reached", str(cm.exception))

    def test_html_error_page(self) -> None:
        page = (b"<html><head><title>502 Bad Gateway</title></head><body>"
                b"<center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center>"
                b"</body></html>")  # fmt: skip
        self.server.invalid_next(page, status=502, headers={"Content-Type": "text/html"})
        with self.raises(threadrun.APIStatusError) as cm:
            self.client(max_retries=0).retrieve(THREAD, self.add_run()["id"])
        error = cm.exception
        self.assertIsInstance(error, threadrun.InternalServerError)
        self.assertEqual(error.status_code, 502)
        self.assertIn("502", str(error))
        self.assertIn("Bad Gateway", str(error))
        self.assertIsNone(error.type)
        self.assertIsNone(error.code)

    def test_empty_error_body(self) -> None:
        self.server.invalid_next(b"", status=403)
        with self.raises(threadrun.PermissionDeniedError) as cm:
            self.client(max_retries=0).retrieve(THREAD, self.add_run()["id"])
        self.assertIn("403", str(cm.exception))

    def test_invalid_run_in_200_is_thread_run_error_with_request_id(self) -> None:
        run = self.add_run()
        client = self.client()
        bodies = (
            b'{"object": "thread.run", "id": "run_1"}',  # missing keys
            b'{"id": "run_1", "object": "thread.run", "created_at": "yesterday",'
            b' "thread_id": "t", "assistant_id": "a", "status": "queued", "model": "m"}',
            b'{"id": "run_',  # truncated JSON
            b"<html>hello</html>",
            b"[]",
        )
        for i, body in enumerate(bodies):
            with self.subTest(body=body):
                self.server.invalid_next(body, headers={"x-request-id": "req_bad_%d" % i})
                with self.assertRaises(threadrun.ThreadRunError) as cm:
                    client.retrieve(THREAD, run["id"])
                self.assertEqual(cm.exception.request_id, "req_bad_%d" % i)
                self.assertIsInstance(cm.exception, ValueError)
        self.assertEqual(self.sent(), len(bodies))  # not retried
        self.assertEqual(client.retrieve(THREAD, run["id"]).id, run["id"])

    def test_slow_server_is_timeout_error(self) -> None:
        run = self.add_run()
        client = self.client(timeout=0.2, max_retries=0)
        self.server.delay_next(2.0)
        started = time.monotonic()
        with self.raises(threadrun.APITimeoutError) as cm:
            client.retrieve(THREAD, run["id"])
        self.assertLess(time.monotonic() - started, 1.5)
        self.assertIsInstance(cm.exception, threadrun.APIConnectionError)
        self.assertIsInstance(cm.exception.__cause__, OSError)  # socket.timeout, chained
        self.assertEqual(self.sent(), 1)

    def test_a_late_answer_is_never_taken_for_the_next_one(self) -> None:
        self.add_run(id="run_slow")
        self.add_run(id="run_fast")
        client = self.client(timeout=0.2, max_retries=0)
        client.retrieve(THREAD, "run_fast")  # a kept-alive connection is open
        self.server.delay_next(0.35, path="/v1/threads/%s/runs/run_slow" % THREAD)
        with self.raises(threadrun.APITimeoutError):
            client.retrieve(THREAD, "run_slow")
        self.assertEqual(self.sent(), 2)  # a timeout is not a stale connection: no resend
        self.assertEqual(client.retrieve(THREAD, "run_fast").id, "run_fast")
        self.assertEqual(client.retrieve(THREAD, "run_slow").id, "run_slow")

    def test_timeout_is_retried(self) -> None:
        run = self.add_run()
        client = self.client(timeout=0.2, max_retries=1)
        self.server.delay_next(2.0)
        self.assertEqual(client.retrieve(THREAD, run["id"]).id, run["id"])
        self.assertEqual(self.sent(), 2)
        self.assertEqual(len(self.clock.sleeps), 1)

    def test_dropped_connection_on_a_fresh_connection_is_connection_error(self) -> None:
        run = self.add_run()
        self.server.drop_next()
        with self.raises(threadrun.APIConnectionError) as cm:
            self.client(max_retries=0).retrieve(THREAD, run["id"])
        self.assertNotIsInstance(cm.exception, threadrun.APITimeoutError)
        self.assertIsNotNone(cm.exception.__cause__)

    def test_server_gone_is_connection_error(self) -> None:
        run = self.add_run()
        client = self.client(max_retries=1)
        client.retrieve(THREAD, run["id"])
        self.server.stop()
        with self.raises(threadrun.APIConnectionError) as cm:
            client.retrieve(THREAD, run["id"])
        self.assertIsNotNone(cm.exception.__cause__)
        self.assertEqual(len(self.clock.sleeps), 1)

class SizeTest(ServerTest):
    def test_oversized_response_is_refused_then_client_works_again(self) -> None:
        run = self.add_run()
        client = self.client(max_response_bytes=4096)
        self.assertEqual(client.max_response_bytes, 4096)
        self.server.oversized_next(100000)
        with self.raises(threadrun.ResponseTooLargeError) as cm:
            client.retrieve(THREAD, run["id"])
        self.assertIsInstance(cm.exception, threadrun.APIError)
        self.assertEqual(self.sent(), 1)  # not retried
        self.assertEqual(self.clock.sleeps, [])
        self.assertEqual(client.retrieve(THREAD, run["id"]).id, run["id"])
        self.assertEqual(self.sent(), 2)

    def test_limit_is_inclusive(self) -> None:
        run = self.add_run()
        client = self.client(max_response_bytes=4096)
        self.server.oversized_next(4096)
        got = client.retrieve(THREAD, run["id"])
        self.assertEqual(got.id, run["id"])
        self.assertGreater(len(got.to_json()), 3000)
        self.assertIn("x_padding", got.extra)
        self.server.oversized_next(4097)
        with self.raises(threadrun.ResponseTooLargeError):
            client.retrieve(THREAD, run["id"])

    def test_oversized_error_body_is_refused_too(self) -> None:
        self.server.invalid_next(b'{"error": {"message": "' + b"x" * 10000 + b'"}}', status=400)
        with self.raises(threadrun.ResponseTooLargeError):
            self.client(max_response_bytes=4096).retrieve(THREAD, "run_1")

    @requires_tracemalloc
    def test_reading_a_small_body_does_not_allocate_the_limit(self) -> None:
        # The cap bounds what is read; it must not be the size of a buffer allocated for every
        # response (http.client's read(amt) on 3.7-3.9 allocates bytearray(amt) up front).
        run = self.add_run()
        client = self.client(max_response_bytes=64 * 1024 * 1024)
        client.retrieve(THREAD, run["id"])  # warm: connection open, modules imported
        tracemalloc.start()
        try:
            client.retrieve(THREAD, run["id"])
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        self.assertLess(peak, 4 * 1024 * 1024, "peak %d bytes for a ~2 KB response" % peak)

    def test_default_limit_is_8_mib(self) -> None:
        self.assertEqual(self.client().max_response_bytes, 8 * 1024 * 1024)

class SecretTest(ServerTest):
    def echo_body(self, secret: str) -> Dict[str, Any]:
        return {"error": {"message": "Incorrect API key provided: %s. Bye." % secret,
                          "type": "invalid_request_error", "param": None,
                          "code": "invalid_api_key"}}  # fmt: skip

    def test_401_echoing_the_key_is_scrubbed(self) -> None:
        self.server.fail_next(401, body=self.echo_body(KEY))
        with self.raises(threadrun.AuthenticationError) as cm:
            self.client().retrieve(THREAD, "run_1")
        self.assertIn("Incorrect API key provided", str(cm.exception))

    def test_html_401_echoing_the_key_is_scrubbed(self) -> None:
        page = ("<html><body>Bad key %s, Authorization: Bearer %s</body></html>" % (KEY, KEY))
        self.server.invalid_next(page.encode(), status=401, headers={"Content-Type": "text/html"})
        with self.raises(threadrun.AuthenticationError):
            self.client().retrieve(THREAD, "run_1")

    def test_500_echoing_the_key_is_scrubbed(self) -> None:
        self.server.fail_next(500, count=3, body=self.echo_body(KEY))
        with self.raises(threadrun.InternalServerError):
            self.client().retrieve(THREAD, "run_1")

    def test_azure_key_echo_is_scrubbed(self) -> None:
        self.server.fail_next(401, body=self.echo_body(AZURE_KEY))
        client = self.client(api_key=None, default_headers={"api-key": AZURE_KEY})
        with self.raises(threadrun.AuthenticationError):
            client.retrieve(THREAD, "run_1")

    def test_key_with_control_characters_never_leaks_nor_injects(self) -> None:
        # A key read from a file often ends with a newline. Whatever happens (stripped, or
        # refused at construction or at the call), no error may show the key, and no header
        # may be smuggled in.
        run = self.add_run()
        cases = [
            {"api_key": KEY + "\n"},
            {"api_key": KEY + "\r\nX-Injected: 1"},
            {"api_key": None, "default_headers": {"api-key": AZURE_KEY + "\n"}},
        ]
        for index, kwargs in enumerate(cases):
            with self.subTest(case=index):
                try:
                    self.client(**kwargs).retrieve(THREAD, run["id"])
                except Exception as exc:
                    self.assertNoSecret(exc)
        for request in self.server.requests:
            self.assertIsNone(request.headers["X-Injected"])
            self.assertIn(request.headers["Authorization"], (None, "Bearer " + KEY))

    def test_key_from_env_with_a_trailing_newline_never_leaks(self) -> None:
        os.environ["OPENAI_API_KEY"] = KEY + "\n"
        run = self.add_run()
        try:
            self.client(api_key=None).retrieve(THREAD, run["id"])
        except Exception as exc:
            self.assertNoSecret(exc)

    def test_key_not_in_repr_of_a_used_client(self) -> None:
        client = self.client()
        client.retrieve(THREAD, self.add_run()["id"])
        self.assertNotIn(KEY, repr(client))
        self.assertNotIn(KEY, str(client))

    def test_key_is_never_sent_to_another_origin(self) -> None:
        other = self.start_server()
        self.server.redirect_next(other.base_url + "/threads/t/runs/r")
        with self.raises(threadrun.APIStatusError):
            self.client().retrieve("t", "r")
        self.assertEqual(other.requests, [])
        self.assertEqual(other.connections_opened, 0)


if __name__ == "__main__":
    unittest.main()
