"""Client promises under faults: one regression test class per point.

1. an interrupted exchange never leaves a half-used connection behind;
2. a forked child never talks over its parent's socket, and an answer about another run is
   refused;
3. timeouts are totals, and poll deadlines bound every request and wait;
4. a server closing an idle kept-alive connection costs no retry;
5. every failure is a typed error, configuration errors come at ``Client(...)``;
6. a Retry-After over the cap is obeyed by raising, never answered sooner;
7. errors carry the SDK's ``body``, ``code``, ``param`` and ``type``;
8. the key never appears, not even cut short or written with JSON escapes.

Servers are real and on loopback: threadrun.testing's FakeRunsServer, or the scripted raw
server of tests.support where a fault needs byte-level control.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
from typing import Any

from tests import threadrun
from tests.support import (
    KEY,
    RAW_RUN,
    THREAD,
    EnvTest,
    LoopbackProxy,
    ScriptedServer,
    ServerTest,
    backoff_range,
    closed_port,
    http_response,
    read_request,
    run_json,
    wait_status_of_child,
)


class InterruptedExchangeTest(EnvTest):
    """1. A KeyboardInterrupt mid-answer: the next call goes over a new connection."""

    @unittest.skipUnless(hasattr(signal, "pthread_kill"), "needs signal.pthread_kill")
    def test_ctrl_c_while_reading_an_answer_discards_the_connection(self) -> None:
        main = threading.main_thread().ident
        assert main is not None and threading.get_ident() == main
        answer = http_response(RAW_RUN)
        interrupted = threading.Event()

        def script(conn: socket.socket, index: int) -> None:
            while server.read(conn, index) is not None:
                if index == 0 and not interrupted.is_set():
                    # Half the answer, then Ctrl-C in the client while it waits for the rest.
                    conn.sendall(answer[: len(answer) - 40])
                    interrupted.set()
                    signal.pthread_kill(main, signal.SIGINT)
                    continue  # a request written on this connection gets no answer of its own
                conn.sendall(answer[len(answer) - 40 :] if index == 0 else answer)

        server = ScriptedServer(script)
        self.addCleanup(server.stop)
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        self.addCleanup(signal.signal, signal.SIGINT, previous)
        client = self.raw_client(server.base_url, max_retries=0)
        with self.assertRaises(KeyboardInterrupt):
            client.retrieve(THREAD, "run_raw")
        self.assertTrue(interrupted.is_set())
        # max_retries=0: the call must succeed at once, on a connection of its own.
        run = client.submit_tool_outputs(THREAD, "run_raw", [{"tool_call_id": "c", "output": ""}])
        self.assertEqual(run.id, "run_raw")
        self.assertEqual([index for index, _ in server.requests], [0, 1])
        submit = b"POST /v1/threads/%s/runs/run_raw/submit_tool_outputs " % THREAD.encode()
        self.assertTrue(server.requests[1][1].startswith(submit))


class ForkTest(ServerTest):
    """2. A client used in a forked child opens its own connection."""

    @unittest.skipUnless(hasattr(os, "fork"), "needs os.fork")
    def test_child_never_uses_the_parents_socket(self) -> None:
        parent_run, child_run = self.add_run()["id"], self.add_run()["id"]
        client = self.client()
        client.retrieve(THREAD, parent_run)  # the parent's kept-alive connection is open
        status = wait_status_of_child(lambda: client.retrieve(THREAD, child_run).id == child_run)
        self.assertEqual(status, 0)
        self.assertEqual(client.retrieve(THREAD, parent_run).id, parent_run)
        first, in_child, again = self.server.requests
        self.assertEqual(in_child.path, "/v1/threads/%s/runs/%s" % (THREAD, child_run))
        self.assertNotEqual(in_child.connection_id, first.connection_id)
        self.assertEqual(again.connection_id, first.connection_id)  # the parent's still works


class ForkMidRequestTest(EnvTest):
    """2. A child forked while a thread of the parent is mid-request does not wait for it."""

    @unittest.skipUnless(hasattr(os, "fork") and hasattr(signal, "alarm"), "needs os.fork")
    def test_child_forked_during_a_request_of_another_thread(self) -> None:
        received, release = threading.Event(), threading.Event()

        def script(conn: socket.socket, index: int) -> None:
            while server.read(conn, index) is not None:
                if index == 0:  # the parent's thread: held until the child is done
                    received.set()
                    release.wait(10)
                conn.sendall(http_response(RAW_RUN))

        server = ScriptedServer(script)
        self.addCleanup(server.stop)
        self.addCleanup(release.set)
        client = self.raw_client(server.base_url, max_retries=0)
        in_flight = threading.Thread(target=client.retrieve, args=(THREAD, "run_raw"))
        in_flight.start()
        self.assertTrue(received.wait(10))  # the thread holds the client mid-request

        def in_child() -> bool:
            signal.alarm(10)  # a child stuck on the parent's lock dies of SIGALRM
            return client.retrieve(THREAD, "run_raw").id == "run_raw"

        status = wait_status_of_child(in_child)
        release.set()
        in_flight.join(10)
        self.assertEqual(status, 0, "the child failed or hung (wait status %d)" % status)
        self.assertEqual([index for index, _ in server.requests], [0, 1])


class WrongRunTest(EnvTest):
    """2. (defence in depth) An answer about another run or thread is an APIError."""

    @staticmethod
    def always(body: bytes) -> Any:
        def script(conn: socket.socket, index: int) -> None:
            while read_request(conn) is not None:
                conn.sendall(http_response(body))

        return script

    def test_an_answer_about_another_run_is_never_returned(self) -> None:
        for run_id, thread_id in (("run_other", THREAD), ("run_raw", "thread_other")):
            body = run_json(run_id, thread_id, status="requires_action")

            server = ScriptedServer(self.always(body))
            self.addCleanup(server.stop)
            client = self.raw_client(server.base_url)
            calls = (
                ("retrieve", client.retrieve, ()),
                ("update", client.update, ({"k": "v"},)),
                ("cancel", client.cancel, ()),
                ("submit", client.submit_tool_outputs, ([],)),
                ("poll", client.poll, ()),
            )
            for name, method, args in calls:
                with self.subTest(method=name, answered=(run_id, thread_id)):
                    with self.raises(threadrun.APIError) as cm:
                        method(THREAD, "run_raw", *args)
                    self.assertIs(type(cm.exception), threadrun.APIError)
                    self.assertIn("run_raw", str(cm.exception))
                    self.assertIn(run_id if run_id != "run_raw" else thread_id, str(cm.exception))


class DrippingServerTest(EnvTest):
    """3. ``timeout`` bounds the whole request, not each read."""

    def test_a_server_dripping_its_answer_times_out_after_timeout(self) -> None:
        answer = http_response(RAW_RUN)

        def script(conn: socket.socket, index: int) -> None:
            server.read(conn, index)
            started = time.monotonic()
            for position in range(len(answer)):
                if time.monotonic() - started > 4.0:  # a client that never gave up: finish
                    conn.sendall(answer[position:])
                    return
                conn.sendall(answer[position : position + 1])
                time.sleep(0.05)  # the fault itself: 20 bytes a second

        server = ScriptedServer(script)
        self.addCleanup(server.stop)
        client = self.raw_client(server.base_url, timeout=0.5, max_retries=0)
        started = time.monotonic()
        with self.raises(threadrun.APITimeoutError):
            client.retrieve(THREAD, "run_raw")
        self.assertLess(time.monotonic() - started, 2.5)  # 0.5 s, with a loaded machine's margin


class PollDeadlineTest(ServerTest):
    """3. Poll deadlines: no request or wait outlives them; PollTimeoutError, never another."""

    def test_a_slow_answer_is_cut_at_the_deadline(self) -> None:
        run = self.add_run(statuses=("queued",))
        self.server.delay_next(2.0)
        client = self.client(clock=time.monotonic)  # real time: the request really waits
        started = time.monotonic()
        with self.raises(threadrun.PollTimeoutError) as cm:
            client.poll(THREAD, run["id"], timeout=0.3)
        self.assertLess(time.monotonic() - started, 1.5)
        self.assertIsNone(cm.exception.run)  # no run was seen
        self.assertIsInstance(cm.exception.__cause__, threadrun.APITimeoutError)

    def test_create_and_poll_deadline_covers_the_create(self) -> None:
        self.server.delay_next(2.0, method="POST")
        client = self.client(clock=time.monotonic)
        started = time.monotonic()
        with self.raises(threadrun.PollTimeoutError) as cm:
            client.create_and_poll(THREAD, "asst_1", poll_timeout=0.3)
        self.assertLess(time.monotonic() - started, 1.5)
        self.assertIsNone(cm.exception.run)

    def test_a_retry_wait_past_the_deadline_is_not_started(self) -> None:
        run = self.add_run(statuses=("queued", "completed"))
        for headers in ({"Retry-After": "30"}, {}):
            with self.subTest(headers=headers):
                self.clock.sleeps.clear()
                self.server.fail_next(503, headers=headers)
                with self.raises(threadrun.PollTimeoutError) as cm:
                    # The backoff (at least backoff_range(0)[0]) is longer than what is left.
                    self.client().poll(THREAD, run["id"], timeout=backoff_range(0)[0] / 2)
                self.assertEqual(self.clock.sleeps, [])
                self.assertIsInstance(cm.exception.__cause__, threadrun.InternalServerError)

    def test_a_retry_wait_within_the_deadline_is_made(self) -> None:
        run = self.add_run(statuses=("completed",))
        self.server.fail_next(503, headers={"Retry-After": "2"})
        self.assertEqual(self.client().poll(THREAD, run["id"], timeout=5).status, "completed")
        self.assertEqual(self.clock.sleeps, [2.0])

    def test_timeout_zero_or_less_checks_once(self) -> None:
        queued = self.add_run(statuses=("queued",))
        done = self.add_run(statuses=("completed",))
        for timeout in (0, -2.5):
            with self.subTest(timeout=timeout):
                before = self.sent()
                with self.raises(threadrun.PollTimeoutError) as cm:
                    self.client().poll(THREAD, queued["id"], timeout=timeout)
                self.assertEqual(cm.exception.run.status, "queued")
                self.assertEqual(self.client().poll(THREAD, done["id"], timeout=timeout).id,
                                 done["id"])  # fmt: skip
                self.assertEqual(self.sent() - before, 2)
        self.assertEqual(self.clock.sleeps, [])

    def test_create_and_poll_with_no_time_left_creates_and_reports_the_run(self) -> None:
        with self.raises(threadrun.PollTimeoutError) as cm:
            self.client().create_and_poll(THREAD, "asst_1", poll_timeout=-1)
        self.assertEqual(cm.exception.run.status, "queued")
        self.assertEqual([m for m, _ in self.paths()], ["POST"])


class IdleCloseTest(EnvTest):
    """4. A kept-alive connection the server closed while idle is reopened, free of charge."""

    def test_cancel_after_an_idle_close_needs_no_retry(self) -> None:
        closed = threading.Event()

        def script(conn: socket.socket, index: int) -> None:
            if server.read(conn, index) is not None:
                conn.sendall(http_response(run_json(status="cancelling")))
            # Keep-alive announced, then closed while idle.
            conn.shutdown(socket.SHUT_RDWR)
            conn.close()
            closed.set()

        server = ScriptedServer(script)
        self.addCleanup(server.stop)
        client = self.raw_client(server.base_url, max_retries=0)
        for attempt in range(3):
            with self.subTest(attempt=attempt):
                closed.clear()
                client.cancel(THREAD, "run_raw")
                self.assertTrue(closed.wait(5))
                # The FIN is in the client's socket now: found before the request is written.
        client.cancel(THREAD, "run_raw")
        self.assertEqual(self.clock.sleeps, [])
        self.assertEqual([index for index, _ in server.requests], [0, 1, 2, 3])

    def test_a_request_lost_on_a_reused_connection_is_sent_once_more(self) -> None:
        # The server reads the second request of each connection, then closes without a word
        # (its idle timer fired as the request came in): resent once, on a new connection.
        def script(conn: socket.socket, index: int) -> None:
            if server.read(conn, index) is not None:
                conn.sendall(http_response(run_json(status="cancelling")))
            server.read(conn, index)

        server = ScriptedServer(script)
        self.addCleanup(server.stop)
        client = self.raw_client(server.base_url, max_retries=0)
        client.cancel(THREAD, "run_raw")
        client.cancel(THREAD, "run_raw")
        self.assertEqual([index for index, _ in server.requests], [0, 0, 1])
        keys = [head.split(b"Idempotency-Key: ")[1][:42] for _, head in server.requests[1:]]
        self.assertEqual(keys[0], keys[1])  # the same request, sent again
        self.assertEqual(self.clock.sleeps, [])


class TypedFailureTest(ServerTest):
    """5. Every failure is an OpenAIError subclass with a clear message."""

    def test_hostile_locations(self) -> None:
        client = self.client(max_retries=0)
        run_id = self.add_run()["id"]
        for location in ("http://[oops/x", "http://127.0.0.1:99999/x", "http://a b/"):
            with self.subTest(location=location):
                self.server.redirect_next(location)
                with self.raises(threadrun.APIStatusError) as cm:
                    client.retrieve(THREAD, run_id)
                self.assertIn("not followed", str(cm.exception))
        # Same origin, non-ASCII path: percent-encoded as a browser does, then a plain 404.
        self.server.redirect_next("/v1/threads/%s/runs/r\u00e9" % THREAD)
        with self.raises(threadrun.NotFoundError):
            client.retrieve(THREAD, run_id)
        self.assertEqual(self.server.requests[-1].path, "/v1/threads/%s/runs/r%%C3%%A9" % THREAD)

    def test_bad_base_urls_are_refused_at_construction(self) -> None:
        for base_url in ("http://127.0.0.1:9/v\u00e9", "http://127.0.0.1:9/a b", "http://127.0.0.1:9/\x7f"):
            with self.subTest(base_url=base_url), self.raises(threadrun.OpenAIError) as cm:
                threadrun.Client(api_key=KEY, base_url=base_url)
            self.assertIn("base_url", str(cm.exception))

    def test_bad_header_names_are_refused_at_construction(self) -> None:
        for name in ("", "a:b", "x\r\ny", "a b", "caf\u00e9", "x\n"):
            with self.subTest(name=name), self.raises(threadrun.OpenAIError) as cm:
                threadrun.Client(api_key=KEY, base_url=self.server.base_url,
                                 default_headers={name: "v"})  # fmt: skip
            self.assertIn("header name", str(cm.exception))

    def test_a_proxy_refusing_the_tunnel_is_named_and_not_retried(self) -> None:
        proxy = LoopbackProxy(closed_port())
        self.addCleanup(proxy.stop)
        os.environ["HTTPS_PROXY"] = "http://127.0.0.1:%d" % proxy.port
        target = "https://127.0.0.1:%d/v1" % closed_port()  # never reached: no tunnel opens
        with self.raises(threadrun.APIStatusError) as cm:
            self.client(base_url=target, max_retries=2).retrieve(THREAD, "run_1")
        self.assertEqual(cm.exception.status_code, 407)
        self.assertIn("proxy 127.0.0.1:%d" % proxy.port, str(cm.exception))
        self.assertEqual(len(proxy.lines), 1)
        self.assertTrue(proxy.lines[0].startswith("CONNECT 127.0.0.1:"))
        self.assertEqual(self.clock.sleeps, [])

    @unittest.skipUnless(shutil.which("openssl"), "needs the openssl command for a certificate")
    def test_an_untrusted_certificate_is_not_retried(self) -> None:
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder)
        cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)

        def script(conn: socket.socket, index: int) -> None:
            with context.wrap_socket(conn, server_side=True) as tls:
                server.read(tls, index)  # type: ignore[arg-type]

        server = ScriptedServer(script)
        self.addCleanup(server.stop)
        client = self.client(base_url="https://127.0.0.1:%d/v1" % server.port, max_retries=2)
        with self.raises(threadrun.APIConnectionError) as cm:
            client.retrieve(THREAD, "run_1")
        self.assertIn("certificate verification failed", str(cm.exception))
        self.assertEqual(self.clock.sleeps, [])
        self.assertEqual(server.connections, 1)


class RetryAfterTest(ServerTest):
    """6. A wait over the cap is never answered by retrying sooner: the error is raised."""

    def test_a_wait_over_the_cap_raises_the_error(self) -> None:
        run_id = self.add_run()["id"]
        cap = threadrun._MAX_RETRY_AFTER
        for headers in ({"Retry-After": "90"}, {"retry-after-ms": str(int(cap * 1000) + 1)},
                        {"Retry-After": "%d" % (cap + 1)}):  # fmt: skip
            with self.subTest(headers=headers):
                before = self.sent()
                self.server.fail_next(429, headers=headers)
                with self.raises(threadrun.RateLimitError):
                    self.client().retrieve(THREAD, run_id)
                self.assertEqual(self.sent() - before, 1)
        self.assertEqual(self.clock.sleeps, [])

    def test_a_wait_at_the_cap_is_made(self) -> None:
        self.server.fail_next(429, headers={"Retry-After": "%d" % threadrun._MAX_RETRY_AFTER})
        self.client().retrieve(THREAD, self.add_run()["id"])
        self.assertEqual(self.clock.sleeps, [threadrun._MAX_RETRY_AFTER])


class ErrorShapeTest(ServerTest):
    """7. ``body``, ``code``, ``param``, ``type`` as the openai SDK gives them."""

    def test_body_is_the_inner_error_object(self) -> None:
        with self.raises(threadrun.BadRequestError) as cm:
            self.client().create(THREAD, "asst_1", temperature=5)
        error = cm.exception
        self.assertEqual(error.body["param"], "temperature")
        self.assertEqual(error.body["code"], error.code)
        self.assertIn(error.body["message"], error.message)

    def test_body_is_the_parsed_body_or_its_text_otherwise(self) -> None:
        client = self.client(max_retries=0)
        cases = (
            (b'{"detail": "nope"}', {"detail": "nope"}),
            (b'["x"]', ["x"]),
            (b"<html>busy</html>", "<html>busy</html>"),
        )
        for payload, body in cases:
            with self.subTest(payload=payload):
                self.server.invalid_next(payload, status=409)
                with self.raises(threadrun.ConflictError) as cm:
                    client.retrieve(THREAD, "run_1")
                self.assertEqual(cm.exception.body, body)
                self.assertEqual((cm.exception.code, cm.exception.param, cm.exception.type),
                                 (None, None, None))  # fmt: skip

    def test_every_api_error_has_code_param_and_type(self) -> None:
        client = threadrun.Client(api_key=KEY, base_url="http://127.0.0.1:%d/v1" % closed_port(),
                                  max_retries=0)  # fmt: skip
        self.addCleanup(client.close)
        with self.raises(threadrun.APIConnectionError) as cm:
            client.retrieve(THREAD, "run_1")
        errors = [cm.exception, threadrun.APITimeoutError("t"), threadrun.APIError("x"),
                  threadrun.PollTimeoutError("p", run=None),
                  threadrun.ResponseTooLargeError("big")]  # fmt: skip
        for error in errors:
            with self.subTest(error=type(error).__name__):
                self.assertEqual((error.code, error.param, error.type), (None, None, None))


def _escaped(text: str) -> str:
    return "".join("\\u%04x" % ord(char) for char in text)


class KeyNeverShownTest(ServerTest):
    """8. Not whole, not cut short, not written with JSON escapes."""

    def assertNoKeyPart(self, exc: BaseException) -> None:
        self.assertNoSecret(exc)
        text = "%s %r %r" % (exc, exc.args, getattr(exc, "body", None))
        for start in range(len(KEY) - 11):
            self.assertNotIn(KEY[start : start + 12], text)

    def test_a_2xx_body_echoing_the_key_in_a_bad_field(self) -> None:
        client = self.client()
        for value in ('"Bearer %s"' % KEY, '"Bearer %s"' % _escaped(KEY)):
            with self.subTest(escaped="\\u" in value):
                payload = RAW_RUN.replace(b'"created_at": 1', b'"created_at": ' + value.encode())
                self.server.invalid_next(payload, headers={"x-request-id": "req_echo"})
                with self.assertRaises(threadrun.ThreadRunError) as cm:
                    client.retrieve(THREAD, "run_raw")
                self.assertNoKeyPart(cm.exception)
                self.assertEqual(cm.exception.field, "created_at")
                self.assertIn("[redacted]", str(cm.exception))
                self.assertEqual(cm.exception.request_id, "req_echo")

    def test_a_list_page_echoing_the_key(self) -> None:
        bad = json.loads(RAW_RUN)
        bad["created_at"] = "Bearer " + KEY
        page = json.dumps({"object": "list", "data": [bad], "has_more": False})
        self.server.invalid_next(page.replace(KEY, _escaped(KEY)).encode())
        with self.assertRaises(threadrun.ThreadRunError) as cm:
            list(self.client().list(THREAD))
        self.assertNoKeyPart(cm.exception)

    def test_an_error_body_writing_the_key_with_escapes(self) -> None:
        body = '{"error": {"message": "Incorrect API key provided: %s.", "code": "k"}}'
        self.server.invalid_next((body % _escaped(KEY)).encode(), status=401)
        with self.raises(threadrun.AuthenticationError) as cm:
            self.client().retrieve(THREAD, "run_1")
        self.assertNoKeyPart(cm.exception)
        self.assertIn("Incorrect API key provided: [redacted]", str(cm.exception))


if __name__ == "__main__":
    unittest.main()
