"""Client connections: keep-alive, answers without a length, broken answers, threads.

Part of the client's specification, tests/test_client_*.py (their rules: tests/support.py).
"""

from __future__ import annotations

import threading
import time
import unittest
from typing import Any, Dict, List

from tests import threadrun
from tests.support import KEY, RAW_RUN, THREAD, EnvTest, FakeClock, RawServer, ServerTest, chunked


class RawResponseTest(EnvTest):
    """Responses without a declared length, and broken ones (no fake server needed)."""

    def serve(self, response: bytes, **kwargs: Any) -> Any:
        server = RawServer(response)
        self.addCleanup(server.stop)
        self.clock = FakeClock()
        kwargs.setdefault("max_retries", 0)
        client = threadrun.Client(
            api_key=KEY, base_url=server.base_url, sleep=self.clock.sleep, clock=self.clock,
            **kwargs,
        )  # fmt: skip
        self.addCleanup(client.close)
        return server, client

    def test_chunked_run(self) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        head += b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        server, client = self.serve(head + chunked(RAW_RUN, 7))
        self.assertEqual(client.retrieve(THREAD, "run_raw").id, "run_raw")
        self.assertTrue(server.requests[0][1].startswith(b"GET /v1/threads/thread_1/runs/run_raw "))

    def test_close_delimited_run_then_a_new_connection(self) -> None:
        server, client = self.serve(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + RAW_RUN)
        self.assertEqual(client.retrieve(THREAD, "run_raw").status, "completed")
        self.assertEqual(client.retrieve(THREAD, "run_raw").status, "completed")
        self.assertEqual(server.connections, 2)

    def test_chunked_body_over_the_limit(self) -> None:
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        _, client = self.serve(head + chunked(b"x" * 100000), max_response_bytes=4096)
        with self.raises(threadrun.ResponseTooLargeError):
            client.retrieve(THREAD, "run_raw")

    def test_close_delimited_body_over_the_limit(self) -> None:
        response = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"x" * 100000
        _, client = self.serve(response, max_response_bytes=4096)
        with self.raises(threadrun.ResponseTooLargeError):
            client.retrieve(THREAD, "run_raw")

    def test_body_cut_short_is_connection_error_and_retried(self) -> None:
        # The server closes before sending all of its declared Content-Length: the response
        # is incomplete (a broken connection, retried), never data to parse.
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n"
        for name, response in (
            ("truncated JSON", head + RAW_RUN[:100]),
            ("complete JSON, short of the length", head + RAW_RUN),
            ("truncated chunked", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
             + chunked(RAW_RUN)[:60]),
        ):  # fmt: skip
            with self.subTest(name):
                server, client = self.serve(response, max_retries=1)
                with self.raises(threadrun.APIConnectionError) as cm:
                    client.retrieve(THREAD, "run_raw")
                self.assertIsNotNone(cm.exception.__cause__)
                self.assertEqual(server.connections, 2)
                self.assertEqual(len(self.clock.sleeps), 1)

    def test_garbage_response_is_connection_error(self) -> None:
        server, client = self.serve(b"SSH-2.0-OpenSSH_9.6\r\n\r\n", max_retries=1)
        with self.raises(threadrun.APIConnectionError) as cm:
            client.retrieve(THREAD, "run_raw")
        self.assertIsNotNone(cm.exception.__cause__)
        self.assertEqual(len(self.clock.sleeps), 1)
        self.assertEqual(server.connections, 2)

class KeepAliveTest(ServerTest):
    def test_fifty_calls_one_connection(self) -> None:
        run = self.add_run()
        client = self.client()
        for _ in range(50):
            self.assertEqual(client.retrieve(THREAD, run["id"]).id, run["id"])
        self.assertEqual(self.server.connections_opened, 1)
        self.assertEqual(len({r.connection_id for r in self.server.requests}), 1)
        self.assertEqual(self.sent(), 50)

    def test_mixed_methods_share_the_connection(self) -> None:
        client = self.client()
        run = client.create(THREAD, "asst_1")
        client.retrieve(THREAD, run.id)
        client.update(THREAD, run.id, {"a": "b"})
        list(client.list(THREAD))
        client.cancel(THREAD, client.create(THREAD, "asst_1").id)
        self.assertEqual(self.server.connections_opened, 1)

    def test_error_responses_keep_the_connection(self) -> None:
        run = self.add_run()
        client = self.client(max_retries=0)
        for status in (404, 400, 503):
            self.server.fail_next(status)
            with self.raises(threadrun.APIStatusError):
                client.retrieve(THREAD, run["id"])
        client.retrieve(THREAD, run["id"])
        self.assertEqual(self.server.connections_opened, 1)

    def test_server_closing_an_idle_connection_costs_no_retry(self) -> None:
        # Whether the server's FIN has arrived when the next request starts (the idle check
        # sees it) or only after it was written (it fails before any answer: one free resend
        # on a new connection), the call succeeds with max_retries=0 and waits for nothing.
        client = self.client(max_retries=0)

        def cancel() -> Any:
            return client.cancel(THREAD, self.add_run(statuses=("queued",))["id"])

        run_id = self.add_run()["id"]
        calls = (
            ("retrieve", lambda: client.retrieve(THREAD, run_id)),
            ("create", lambda: client.create(THREAD, "asst_1")),
            ("update", lambda: client.update(THREAD, run_id, {"k": "v"})),
            ("cancel", cancel),
            ("list", lambda: list(client.list(THREAD))),
        )
        for name, call in calls:
            with self.subTest(method=name):
                client.retrieve(THREAD, run_id)  # a kept-alive connection is open
                opened, sent = self.server.connections_opened, self.sent()
                # (The fake may still count the connection closed before: at least ours.)
                self.assertGreaterEqual(self.server.close_connections(), 1)
                call()
                self.assertEqual(self.server.connections_opened, opened + 1)
                self.assertEqual(self.sent(), sent + 1)  # the server acted once
        self.assertEqual(self.clock.sleeps, [])

    def test_keep_alive_false_server(self) -> None:
        self.server.keep_alive = False
        run = self.add_run()
        client = self.client(max_retries=0)
        for _ in range(5):
            self.assertEqual(client.retrieve(THREAD, run["id"]).id, run["id"])
        self.assertEqual(self.server.connections_opened, 5)
        self.assertEqual(self.clock.sleeps, [])

    def test_close_then_call_opens_a_new_connection(self) -> None:
        run = self.add_run()
        client = self.client()
        client.retrieve(THREAD, run["id"])
        client.close()
        client.close()  # idempotent
        self.assertEqual(client.retrieve(THREAD, run["id"]).id, run["id"])
        self.assertEqual(self.server.connections_opened, 2)

    def test_context_manager_closes(self) -> None:
        run = self.add_run()
        with self.client() as client:
            self.assertEqual(client.retrieve(THREAD, run["id"]).id, run["id"])
            self.assertEqual(self.server.open_connections, 1)
        deadline = time.monotonic() + 2.0
        while self.server.open_connections and time.monotonic() < deadline:
            time.sleep(0.005)
        self.assertEqual(self.server.open_connections, 0)

class ThreadsTest(ServerTest):
    def test_four_threads_share_one_client(self) -> None:
        runs = [self.add_run(id="run_t%d" % i)["id"] for i in range(4)]
        client = self.client()
        results: Dict[int, List[str]] = {}
        errors: List[BaseException] = []

        def work(index: int) -> None:
            try:
                results[index] = [client.retrieve(THREAD, runs[index]).id for _ in range(20)]
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        self.assertEqual(errors, [])
        self.assertEqual(results, {i: [runs[i]] * 20 for i in range(4)})
        self.assertEqual(self.sent(), 80)
        self.assertEqual(self.server.connections_opened, 1)


if __name__ == "__main__":
    unittest.main()
