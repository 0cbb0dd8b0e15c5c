"""Specification of the client's streamed runs: Client.stream(),
submit_tool_outputs_stream(), create_thread_and_run() and its _stream and _poll forms.

Every stream comes from threadrun.testing's FakeRunsServer on 127.0.0.1, as real
``text/event-stream`` HTTP/1.1 responses, with its stream faults (dropped connections,
stalls, error events, awkward chunk splits). Retries wait through an injected clock; a
stall ends when the test sets its event, or when the client's socket timeout fires.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import unittest
from typing import Any, List

from tests import threadrun
from tests.support import (
    KEY,
    THREAD,
    RawServer,
    ServerTest,
    chunked,
    http_response,
    run_json,
    wait_status_of_child,
)

MESSAGE = "The weather in San Francisco is 70 \u00b0F and sunny \u2600\ufe0f."
REQUIRES_ACTION = ("queued", "in_progress", "requires_action")


class StreamTestCase(ServerTest):
    def stall(self) -> threading.Event:
        """An event a fault stalls on until the test ends (or sets it)."""
        event = threading.Event()
        self.addCleanup(event.set)
        return event

    def server_events(self, index: int = -1) -> List[str]:
        return [name for name, _ in self.server.streams[index].events]

    def thread_runs(self, thread_id: str = THREAD) -> int:
        return len(list(self.client().list(thread_id)))


class FullStreamTest(StreamTestCase):
    def test_every_event_as_the_server_sent_it(self) -> None:
        for name, statuses in (
            ("completed", ("queued", "in_progress", "completed")),
            ("failed", ("queued", "failed")),
            ("requires action", REQUIRES_ACTION),
            ("cancelled", ("queued", "cancelling", "cancelled")),
        ):
            with self.subTest(name):
                self.server.default_statuses = statuses
                with self.client().stream(THREAD, "asst_1", model="gpt-4o") as stream:
                    events = list(stream)
                sent = self.server.streams[-1].events
                self.assertEqual([(e.event, e.data if isinstance(e.data, dict)
                                   else e.data.to_dict()) for e in events],
                                 sent[:-1])  # fmt: skip
                self.assertEqual(sent[-1], ("done", "[DONE]"))
                for event in events:
                    is_run = event.event.count(".") == 2 and event.event.startswith("thread.run.")
                    self.assertIsInstance(event.data, threadrun.ThreadRun if is_run else dict)
                self.assertEqual(stream.run, events[-1].data)
                self.assertEqual(stream.run.status, statuses[-1])
                self.assertEqual(stream.run.to_dict(), self.server.get_run(stream.run.id))
                self.assertTrue(stream.request_id.startswith("req_"))
                request = self.server.requests[-1]
                self.assertEqual(request.json, {"assistant_id": "asst_1", "model": "gpt-4o",
                                                "stream": True})  # fmt: skip
                self.assertEqual(request.headers["Accept"], "text/event-stream")
                self.assertTrue(request.headers["Idempotency-Key"].startswith("threadrun-"))

    def test_requires_action_then_tool_outputs_stream_to_the_end(self) -> None:
        self.server.default_statuses = REQUIRES_ACTION
        client = self.client()
        with client.stream(THREAD, "asst_1") as stream:
            run = stream.until_done()
        self.assertEqual(run.status, "requires_action")
        self.assertEqual(self.server_events()[-2:], ["thread.run.requires_action", "done"])
        outputs = [{"tool_call_id": call.id, "output": "70F"} for call in run.tool_calls]
        with client.submit_tool_outputs_stream(THREAD, run.id, outputs) as stream:
            text = "".join(stream.text_deltas())
        self.assertEqual(text, MESSAGE)
        self.assertEqual(stream.run.status, "completed")
        self.assertEqual(self.server.get_messages(THREAD)[-1]["content"][0]["text"]["value"],
                         MESSAGE)  # fmt: skip
        submit = self.server.requests[-1]
        self.assertEqual(submit.path, "/v1/threads/%s/runs/%s/submit_tool_outputs" % (THREAD,
                                                                                      run.id))
        self.assertEqual(submit.json, {"tool_outputs": outputs, "stream": True})
        # Each stream read to its end hands its connection back: one connection for all.
        self.assertEqual({r.connection_id for r in self.server.requests}, {1})
        self.assertEqual(client.retrieve(THREAD, run.id).status, "completed")
        self.assertEqual(self.server.connections_opened, 1)

    def test_text_deltas_are_the_message(self) -> None:
        for message in ("one", "two words", "\u00e9t\u00e9 \u2600\ufe0f \U0001f600 done", MESSAGE):
            with self.subTest(message):
                self.server.default_message = message
                stream = self.client().stream(THREAD, "asst_1")
                self.assertEqual("".join(stream.text_deltas()), message)
                self.assertEqual(stream.run.status, "completed")

    def test_per_request_options(self) -> None:
        stream = self.client().stream(
            THREAD, "asst_1", include=["step_details"], extra_headers={"X-Trace": "t1"},
            extra_query={"q": "1"}, extra_body={"temperature": 0.5}, timeout=30,
        )  # fmt: skip
        stream.until_done()
        request = self.server.requests[-1]
        self.assertEqual(request.headers["X-Trace"], "t1")
        self.assertEqual(request.query, {"include[]": ["step_details"], "q": ["1"]})
        self.assertEqual(request.json["temperature"], 0.5)
        self.assertIs(request.json["stream"], True)

    def test_bad_arguments_send_nothing(self) -> None:
        client = self.client()
        for call, error, words in (
            (lambda: client.create(THREAD, "asst_1", stream=True), ValueError, "stream()"),
            (lambda: client.stream(THREAD, "asst_1", stream=False), ValueError, "create()"),
            (lambda: client.stream(THREAD, "a/b"), threadrun.InvalidIdError, "assistant_id"),
            (lambda: client.stream("../x", "asst_1"), threadrun.InvalidIdError, "thread_id"),
            (lambda: client.stream(THREAD, "asst_1", stream_timeout=0), ValueError,
             "stream_timeout"),
            (lambda: client.submit_tool_outputs_stream(THREAD, "run_1", [{"output": "x"}]),
             TypeError, "tool_call_id"),
            (lambda: client.submit_tool_outputs_stream(THREAD, "run_1", [], bogus=1),
             TypeError, "bogus"),
            (lambda: client.create_thread_and_run("asst_1", thread=["x"]), TypeError, "thread"),
            (lambda: client.create_thread_and_run("asst_1", stream=True), ValueError,
             "create_thread_and_run_stream()"),
            (lambda: client.create_thread_and_run_stream("asst_1", stream=False), ValueError,
             "create_thread_and_run()"),
        ):  # fmt: skip
            with self.subTest(words), self.assertRaises(error) as cm:
                call()
            self.assertIn(words, str(cm.exception))
        self.assertEqual(self.sent(), 0)


class AdapterTest(StreamTestCase):
    options = {"flavour": "fastapi"}  # ISO timestamps: readable only through the adapter

    def test_run_events_go_through_the_run_adapter(self) -> None:
        client = self.client(run_adapter=threadrun.iso_timestamps)
        with client.stream(THREAD, "asst_1") as stream:
            runs = [e.data for e in stream if isinstance(e.data, threadrun.ThreadRun)]
        self.assertEqual([run.status for run in runs][-1], "completed")
        self.assertIsInstance(runs[-1].created_at, int)
        stream = client.create_thread_and_run_stream("asst_1")
        self.assertEqual(stream.until_done().status, "completed")

    def test_without_it_the_error_names_the_event_and_carries_the_run(self) -> None:
        with self.raises(threadrun.APIResponseValidationError) as cm:
            self.client().stream(THREAD, "asst_1").until_done()
        error = cm.exception
        self.assertTrue(error.message.startswith("in event 'thread.run.created': the server "
                                                 "created run "), error.message)  # fmt: skip
        self.assertEqual(error.body, self.server.streams[-1].events[0][1])
        self.assertEqual(error.field, "created_at")
        self.assertIsNotNone(error.request_id)


class ThreadAndRunTest(StreamTestCase):
    THREAD_SPEC = {"messages": [{"role": "user", "content": "Weather?"}], "metadata": {"k": "v"}}

    def test_create_thread_and_run(self) -> None:
        run = self.client().create_thread_and_run("asst_1", thread=self.THREAD_SPEC,
                                                  instructions="Be brief.")  # fmt: skip
        request = self.server.requests[-1]
        self.assertEqual((request.method, request.path), ("POST", "/v1/threads/runs"))
        self.assertEqual(request.json, {"assistant_id": "asst_1", "thread": self.THREAD_SPEC,
                                        "instructions": "Be brief."})  # fmt: skip
        self.assertEqual(run.to_dict(), self.server.get_run(run.id))
        self.assertNotEqual(run.thread_id, THREAD)
        self.assertEqual(self.server.get_messages(run.thread_id)[0]["content"][0]["text"]
                         ["value"], "Weather?")  # fmt: skip

    def test_without_a_thread_the_body_has_none(self) -> None:
        self.client().create_thread_and_run("asst_1")
        self.assertEqual(self.server.requests[-1].json, {"assistant_id": "asst_1"})

    def test_create_thread_and_run_stream(self) -> None:
        with self.client().create_thread_and_run_stream("asst_1", thread=self.THREAD_SPEC) as s:
            events = list(s)
        self.assertEqual(events[0].event, "thread.created")
        self.assertEqual(events[0].data["metadata"], {"k": "v"})
        self.assertEqual(s.run.thread_id, events[0].data["id"])
        self.assertEqual(s.run.status, "completed")
        self.assertIs(self.server.requests[-1].json["stream"], True)

    def test_create_thread_and_run_poll(self) -> None:
        client = self.client()
        for statuses, last in ((("queued", "in_progress", "completed"), "completed"),
                               (REQUIRES_ACTION, "requires_action")):  # fmt: skip
            with self.subTest(last):
                self.server.clear()
                self.clock.sleeps.clear()
                self.server.default_statuses = statuses
                seen: List[Any] = []
                run = client.create_thread_and_run_poll(
                    "asst_1", poll_interval=0.25, on_run=seen.append
                )
                self.assertEqual(run.status, last)
                self.assertEqual([r.status for r in seen], list(statuses[1:]))
                self.assertEqual(self.clock.sleeps, [0.25] * (len(statuses) - 2))
                self.assertEqual(self.paths()[0], ("POST", "/v1/threads/runs"))
                self.assertEqual(set(self.paths()[1:]),
                                 {("GET", "/v1/threads/%s/runs/%s" % (run.thread_id, run.id))})


class FaultTest(StreamTestCase):
    def test_faults_during_the_stream(self) -> None:
        for name, fault, error, delivered in (
            ("drop at once", dict(after_events=0, drop=True), threadrun.APIConnectionError, 0),
            ("drop after 1", dict(after_events=1, drop=True), threadrun.APIConnectionError, 1),
            ("drop after 5", dict(after_events=5, drop=True), threadrun.APIConnectionError, 5),
            ("error event", dict(after_events=3, error_event={
                "code": "server_error", "message": "Sorry, something went wrong."}),
             threadrun.StreamError, 3),
        ):  # fmt: skip
            with self.subTest(name):
                self.server.clear()
                self.server.inject(self.testing.Fault(**fault))
                client = self.client()
                got: List[Any] = []
                with self.raises(error) as cm, client.stream(THREAD, "asst_1") as stream:
                    for event in stream:
                        got.append(event)
                self.assertEqual(self.server_events()[:delivered], [e.event for e in got])
                self.assertEqual(len(got), delivered)
                self.assertNotIsInstance(cm.exception, threadrun.APITimeoutError)
                self.assertIsNotNone(cm.exception.request_id)
                if error is threadrun.StreamError:
                    self.assertEqual(cm.exception.code, "server_error")
                    self.assertIn("Sorry, something went wrong. (server_error)",
                                  str(cm.exception))  # fmt: skip
                    self.assertEqual(cm.exception.body["message"], "Sorry, something went wrong.")
                # Never retried: one request, one run on the server.
                self.assertEqual(self.paths(), [("POST", "/v1/threads/thread_1/runs")])
                self.assertEqual(self.clock.sleeps, [])
                self.assertEqual(self.thread_runs(), 1)
                # The broken stream's connection is never reused.
                self.assertNotEqual(self.server.requests[-1].connection_id,
                                    self.server.requests[0].connection_id)  # fmt: skip

    def test_awkward_bytes_read_as_the_plain_stream(self) -> None:
        self.server.default_message = "d\u00e9j\u00e0 vu \u2600\ufe0f \U0001f600 \u4e2d\u6587"
        expected = None
        for name, fault in (
            ("plain", None),
            ("CRLF", dict(line_ending="\r\n")),
            ("CR", dict(line_ending="\r")),
            ("1-byte chunks", dict(chunk_bytes=1)),
            ("7-byte chunks, CRLF", dict(chunk_bytes=7, line_ending="\r\n")),
            ("split awkwardly", dict(split_awkwardly=True)),
            ("split awkwardly, CRLF", dict(split_awkwardly=True, line_ending="\r\n")),
        ):
            with self.subTest(name):
                if fault is not None:
                    self.server.inject(self.testing.Fault(**fault))
                with self.client().stream(THREAD, "asst_1") as stream:
                    got = [(e.event, e.data if isinstance(e.data, dict) else e.data.to_dict())
                           for e in stream]  # fmt: skip
                self.assertEqual(got, self.server.streams[-1].events[:-1])
                if expected is not None:
                    self.assertEqual([event for event, _ in got], expected)
                expected = [event for event, _ in got]

    def test_silence_longer_than_the_timeout(self) -> None:
        self.server.inject(self.testing.Fault(after_events=2, stall=self.stall()))
        client = self.client(timeout=1.0)
        stream = client.stream(THREAD, "asst_1")
        got = []
        started = time.monotonic()
        with self.raises(threadrun.APITimeoutError) as cm:
            for event in stream:
                got.append(event.event)
        self.assertLess(time.monotonic() - started, 10)
        self.assertEqual(got, self.server_events()[:2])
        self.assertIn("sent nothing for 1 s", str(cm.exception))
        self.assertEqual(len(self.server.requests), 1)  # never retried

    def test_a_slow_stream_within_the_timeout_is_fine(self) -> None:
        # Each pause is shorter than the silence allowed; the stream as a whole is longer.
        self.server.inject(self.testing.Fault(after_events=1, stall=0.2), count=1)
        stream = self.client(timeout=5).stream(THREAD, "asst_1")
        self.assertEqual(stream.until_done().status, "completed")

    def test_overall_deadline(self) -> None:
        self.server.inject(self.testing.Fault(after_events=1, stall=self.stall()))
        stream = self.client(timeout=30).stream(THREAD, "asst_1", stream_timeout=1.0)
        started = time.monotonic()
        with self.raises(threadrun.APITimeoutError) as cm:
            list(stream)
        self.assertLess(time.monotonic() - started, 10)
        self.assertIn("deadline", str(cm.exception))

    def test_deadline_bounds_the_retries_before_the_stream(self) -> None:
        self.server.fail_next(503, headers={"Retry-After": "2"})
        with self.raises(threadrun.APITimeoutError) as cm:
            self.client().stream(THREAD, "asst_1", stream_timeout=1)
        self.assertIn("did not begin", str(cm.exception))
        self.assertEqual(self.sent(), 1)

    def test_error_event_messages_are_scrubbed(self) -> None:
        for name, error in (
            ("key in the message", {"message": "bad key %s" % KEY, "code": KEY}),
            ("key as the param", {"message": "no", "param": KEY, "type": KEY}),
            ("long key cut short", {"message": "x" * 390 + KEY}),
        ):
            with self.subTest(name):
                self.server.inject(self.testing.Fault(after_events=1, error_event=error))
                with self.raises(threadrun.StreamError) as cm:
                    self.client().stream(THREAD, "asst_1").until_done()
                self.assertIn("[redacted]", repr(cm.exception.body))


class RetryTest(StreamTestCase):
    def test_retried_before_the_stream_with_the_same_key(self) -> None:
        for name, fail in (
            ("500", lambda: self.server.fail_next(500)),
            ("429", lambda: self.server.fail_next(429)),
            ("dropped before any answer", lambda: self.server.drop_next()),
        ):
            with self.subTest(name):
                self.server.clear()
                self.clock.sleeps.clear()
                fail()
                with self.client(max_retries=2).stream(THREAD, "asst_1") as stream:
                    self.assertEqual(stream.until_done().status, "completed")
                first, second = self.server.requests
                self.assertEqual(first.headers["Idempotency-Key"],
                                 second.headers["Idempotency-Key"])  # fmt: skip
                self.assertEqual(len(self.clock.sleeps), 1)
                self.assertEqual(len(self.server.streams), 1)
                self.assertEqual(self.thread_runs(), 1)

    def test_error_status_is_raised_with_its_details(self) -> None:
        self.server.fail_next(400, count=1)
        with self.raises(threadrun.BadRequestError) as cm:
            self.client().stream(THREAD, "asst_1")
        self.assertEqual(cm.exception.status_code, 400)
        with self.raises(threadrun.NotFoundError):
            self.client().submit_tool_outputs_stream(THREAD, "run_none", [])

    def test_a_stale_kept_alive_connection_is_replaced(self) -> None:
        client = self.client(max_retries=0)
        client.create(THREAD, "asst_1")
        self.server.close_connections()
        self.assertEqual(client.stream(THREAD, "asst_1").until_done().status, "completed")


class ConnectionTest(StreamTestCase):
    def test_leaving_early_never_leaves_a_half_read_connection(self) -> None:
        for how in ("break", "exception", "close", "no with, close"):
            with self.subTest(how):
                self.server.clear()
                client = self.client()
                try:
                    with client.stream(THREAD, "asst_1") as stream:
                        for _event in stream:
                            if how == "exception":
                                raise KeyError(how)
                            if how == "close":
                                stream.close()
                            else:
                                break
                except KeyError:
                    pass
                if how == "no with, close":
                    stream.close()
                self.assertIn("closed", repr(stream))
                self.assertEqual(list(stream), [])
                run = client.create(THREAD, "asst_1")
                self.assertEqual(client.retrieve(THREAD, run.id).id, run.id)
                streamed, created, retrieved = self.server.requests
                self.assertNotEqual(created.connection_id, streamed.connection_id)
                self.assertEqual(retrieved.connection_id, created.connection_id)

    def test_other_calls_go_on_while_a_stream_is_open(self) -> None:
        resume = self.stall()
        self.server.inject(self.testing.Fault(after_events=2, stall=resume))
        client = self.client(timeout=10)
        stream = client.stream(THREAD, "asst_1")
        first = next(stream)
        # The stream is stalled, its connection busy: the client is not.
        run = client.retrieve(THREAD, first.data.id)
        self.assertEqual(run.id, first.data.id)
        resume.set()
        self.assertEqual(stream.until_done().status, "completed")
        streamed, retrieved = self.server.requests
        self.assertNotEqual(streamed.connection_id, retrieved.connection_id)

    def test_close_from_another_thread_ends_a_blocked_read(self) -> None:
        # The stream's own close(), and the client's, which closes every stream still open.
        for closing in ("stream", "client"):
            with self.subTest(closing=closing):
                self.server.inject(self.testing.Fault(after_events=1, stall=self.stall()))
                client = self.client(timeout=10)
                stream = client.stream(THREAD, "asst_1")
                next(stream)
                outcome: List[Any] = []
                reader = threading.Thread(
                    target=lambda it, out: out.append(list(it)), args=(stream, outcome)
                )
                reader.start()
                (stream if closing == "stream" else client).close()
                reader.join(10)
                self.assertFalse(reader.is_alive())
                self.assertEqual(outcome, [[]])
                self.assertIn("closed", repr(stream))

    @unittest.skipUnless(hasattr(signal, "pthread_kill"), "needs signal.pthread_kill")
    def test_ctrl_c_mid_stream_discards_the_connection(self) -> None:
        main = threading.main_thread().ident
        assert main is not None and threading.get_ident() == main
        self.server.inject(self.testing.Fault(after_events=1, stall=self.stall()))
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        self.addCleanup(signal.signal, signal.SIGINT, previous)
        client = self.client(timeout=10)
        stream = client.stream(THREAD, "asst_1")
        events = iter(stream)
        next(events)
        timer = threading.Timer(0.2, signal.pthread_kill, (main, signal.SIGINT))
        timer.start()
        with self.assertRaises(KeyboardInterrupt):
            next(events)  # blocked reading the stalled stream
        timer.join()
        self.assertIn("closed", repr(stream))  # released without close()
        client.create(THREAD, "asst_1")
        streamed, created = self.server.requests
        self.assertNotEqual(streamed.connection_id, created.connection_id)

    def test_a_body_that_ends_without_done_is_an_error(self) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        event = b"event: thread.run.queued\ndata: " + run_json(status="queued") + b"\n\n"
        for name, response, words in (
            ("close-delimited, ends early", head + b"Connection: close\r\n\r\n" + event,
             "before its done event"),
            ("chunked, cut", head + b"Transfer-Encoding: chunked\r\n\r\n"
             + chunked(event)[:-5], "was cut"),
        ):  # fmt: skip
            with self.subTest(name):
                server = RawServer(response)
                self.addCleanup(server.stop)
                stream = self.client(base_url=server.base_url).stream(THREAD, "asst_1")
                self.assertEqual(next(stream).data.id, "run_raw")
                with self.raises(threadrun.APIConnectionError) as cm:
                    next(stream)
                self.assertIn(words, str(cm.exception))
                self.assertEqual(server.connections, 1)  # never retried

    def test_a_server_that_answers_json_is_an_error_that_says_so(self) -> None:
        server = RawServer(http_response(run_json(), headers="x-request-id: req_json\r\n"))
        self.addCleanup(server.stop)
        client = self.client(base_url=server.base_url)
        with self.raises(threadrun.APIError) as cm:
            client.stream(THREAD, "asst_1")
        self.assertIn("not an event stream", str(cm.exception))
        self.assertEqual(cm.exception.request_id, "req_json")
        self.assertEqual(server.connections, 1)  # not retried

    @unittest.skipUnless(hasattr(os, "fork"), "needs os.fork")
    def test_a_forked_child_never_reads_the_parents_stream(self) -> None:
        resume = self.stall()
        self.server.inject(self.testing.Fault(after_events=1, stall=resume))
        client = self.client(timeout=10)
        stream = client.stream(THREAD, "asst_1")
        next(stream)

        def in_child() -> bool:
            try:
                next(stream)
            except threadrun.APIConnectionError as exc:
                return "forked child" in str(exc)
            return False

        self.assertEqual(wait_status_of_child(in_child), 0)
        resume.set()
        self.assertEqual(stream.until_done().status, "completed")  # the parent's still works

    def test_events_over_max_response_bytes(self) -> None:
        # Each event is measured alone: a stream of 7 kB whose events are all under 1 kB
        # passes; one event over the limit does not.
        client = self.client(max_response_bytes=1000)
        self.assertEqual(client.stream(THREAD, "asst_1").until_done().status, "completed")
        self.assertGreater(len(self.server.streams[-1].body), 5000)
        self.server.default_message = "x" * 600
        with self.raises(threadrun.ResponseTooLargeError):
            client.stream(THREAD, "asst_1").until_done()


if __name__ == "__main__":
    unittest.main()
