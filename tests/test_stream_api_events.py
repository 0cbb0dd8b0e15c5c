"""Specification of streams fed the events the API and real servers send: every
delta shape, the run's final messages, the end at done, foreign runs, unknown events, invalid
run events, errors that keep the run and are raised again, answers that are not event
streams, and the key kept out of every error.

Every stream here comes over loopback HTTP: the exact bytes from a scripted socket server
(``tests.support``), or threadrun.testing's FakeRunsServer with its stream faults. The API
reference's own streams (tests/data/streams/, ../shared/corpus/openapi-streams/) are the
fixtures of the messages.
"""

from __future__ import annotations

import glob
import json
import os
import socket
import threading
import time
import unittest
from typing import Any, Callable, Dict, List

from tests import DATA_DIR, threadrun
from tests.support import (
    KEY,
    THREAD,
    EnvTest,
    ScriptedServer,
    ServerTest,
    chunked,
    requires_tracemalloc,
    tracemalloc,
)
from tests.test_stream import DONE, run_json, sse

STREAMS = sorted(glob.glob(os.path.join(DATA_DIR, "streams", "*.sse")))
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
CLOSE_HEAD = HEAD + b"Connection: close\r\n\r\n"
RUN = run_json()  # run_1 of thread_1, queued
CITATION = {"index": 0, "type": "file_citation", "text": "[1]", "start_index": 6,
            "end_index": 9, "file_citation": {"file_id": "file_1"}}  # fmt: skip


def delta(*parts: Any, message_id: str = "msg_1") -> bytes:
    data = {"id": message_id, "object": "thread.message.delta", "delta": {"content": list(parts)}}
    return sse("thread.message.delta", json.dumps(data))


def text_part(value: Any, index: int = 0, **text: Any) -> Dict[str, Any]:
    if value is not None:
        text["value"] = value
    return {"index": index, "type": "text", "text": text}


def message(status: str = "in_progress", content: Any = (), **fields: Any) -> Dict[str, Any]:
    data = {"id": "msg_1", "object": "thread.message", "thread_id": THREAD, "run_id": "run_1",
            "role": "assistant", "status": status, "content": list(content)}  # fmt: skip
    data.update(fields)
    return data


def message_event(name: str, data: Dict[str, Any]) -> bytes:
    return sse(name, json.dumps(data))


def reference_events(raw: bytes) -> List[Any]:
    """The (name, data) of the events of a reference stream, done excluded (the stray "}" of
    its examples taken off)."""
    found = []
    for block in raw.decode("utf-8").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" not in fields:
            continue  # the "..." standing for elided events
        if fields.get("event", "done") != "done":
            data = fields["data"]
            try:
                found.append((fields["event"], json.loads(data)))
            except ValueError:
                found.append((fields["event"], json.loads(data.rstrip()[:-1])))
    return found


class RawStreamTest(EnvTest):
    """Streams of exact bytes from a socket server on 127.0.0.1."""

    def serve(self, script: Callable[[socket.socket, int], None]) -> ScriptedServer:
        server = ScriptedServer(script)
        self.addCleanup(server.stop)
        return server

    def answer(self, body: bytes, head: bytes = CLOSE_HEAD) -> ScriptedServer:
        """A server answering each connection's request with ``head`` + ``body``, then closing."""

        def script(conn: socket.socket, index: int) -> None:
            server.read(conn, index)
            conn.sendall(head + body)
            conn.shutdown(socket.SHUT_WR)

        server = self.serve(script)
        return server

    def stream_of(self, body: bytes, head: bytes = CLOSE_HEAD, **kwargs: Any) -> Any:
        server = self.answer(body, head)
        return self.raw_client(server.base_url, **kwargs).stream(THREAD, "asst_1")


class DeltaShapesTest(RawStreamTest):
    def test_every_delta_shape_the_api_allows(self) -> None:
        body = b"".join([
            sse("thread.run.created", RUN),
            delta(text_part("Paris")),
            delta(text_part(None, annotations=[CITATION])),  # a file_search citation alone
            delta({"index": 0, "type": "text"}),  # no text
            delta({"index": 0, "type": "text", "text": {"value": None}}),  # value: null
            delta({"index": 0, "type": "text", "text": " is"}),  # a server's plain string
            delta({"index": 1, "type": "image_file", "image_file": {"file_id": "f"}}),
            sse("thread.message.delta", '{"id":"msg_1","delta":{"role":"assistant"}}'),
            delta(text_part(" sunny [1]", annotations=[CITATION])),
            sse("thread.run.completed", run_json("completed")), DONE,
        ])  # fmt: skip
        stream = self.stream_of(body)
        self.assertEqual(list(stream.text_deltas()), ["Paris", " is", " sunny [1]"])
        self.assertEqual(stream.run.status, "completed")

    def test_a_malformed_delta_names_its_path_and_raises_again(self) -> None:
        stream = self.stream_of(sse("thread.run.created", RUN) + delta(text_part(7)) + DONE)
        with self.raises(threadrun.ThreadRunError) as cm:
            list(stream.text_deltas())
        self.assertEqual(str(cm.exception), "in event 'thread.message.delta': delta['content']"
                                            "[0]['text']['value']: expected a string, got "
                                            "integer 7")  # fmt: skip
        self.assertIsNone(cm.exception.__context__)
        with self.raises(threadrun.ThreadRunError) as again:
            stream.until_done()
        self.assertIs(again.exception, cm.exception)


class MessagesTest(RawStreamTest):
    def test_the_reference_streams_messages_are_their_completed_messages(self) -> None:
        for path in STREAMS:
            with self.subTest(os.path.basename(path)):
                with open(path, "rb") as file:
                    raw = file.read()
                events = reference_events(raw)
                completed = [d for n, d in events if n == "thread.message.completed"]
                deltas = [d["delta"]["content"][0]["text"]["value"] for n, d in events
                          if n == "thread.message.delta"]  # fmt: skip
                client = self.raw_client(self.answer(raw).base_url)
                if "submit_tool_outputs" in path:
                    stream = client.submit_tool_outputs_stream("thread_123", "run_123", [])
                else:
                    stream = client.stream("thread_123", "asst_123")
                text = "".join(stream.text_deltas())
                self.assertEqual(stream.messages, completed)
                self.assertEqual(text, "".join(deltas))
                self.assertEqual(bool(text), "02-" not in path)  # 02 requires action

    def test_assembled_from_created_and_deltas_when_no_completed_event_came(self) -> None:
        created = message()
        image = {"index": 1, "type": "image_file", "image_file": {"file_id": "file_img"}}
        body = b"".join([
            sse("thread.run.created", RUN),
            message_event("thread.message.created", created),
            message_event("thread.message.in_progress", created),
            delta(text_part("It is", annotations=[])),
            delta(text_part(" sunny [1]", annotations=[CITATION])),
            delta(text_part(None, annotations=[dict(CITATION, index=0, end_index=10)])),
            delta(image, text_part(".", index=0)),
            sse("thread.run.failed", run_json("failed")), DONE,
        ])  # fmt: skip
        stream = self.stream_of(body)
        seen = []
        for event in stream:
            if event.event == "thread.message.delta":
                seen.append(threadrun.message_text(stream.messages[0]))  # during iteration
        self.assertEqual(seen, ["It is", "It is sunny [1]", "It is sunny [1]",
                                "It is sunny [1]."])  # fmt: skip
        citation = {k: v for k, v in CITATION.items() if k != "index"}
        expected = dict(created, content=[
            {"type": "text", "text": {"value": "It is sunny [1].",
                                      "annotations": [dict(citation, end_index=10)]}},
            {"type": "image_file", "image_file": {"file_id": "file_img"}},
        ])  # fmt: skip
        self.assertEqual(stream.messages, [expected])
        self.assertEqual(created["content"], [])  # the created event's data is left as it came

    def test_a_message_without_created_is_built_from_its_deltas(self) -> None:
        body = (sse("thread.run.created", RUN) + delta(text_part("a"), message_id="msg_9")
                + delta(text_part("b"), message_id="msg_9") + DONE)  # fmt: skip
        stream = self.stream_of(body)
        stream.until_done()
        self.assertEqual(stream.messages, [{"id": "msg_9", "object": "thread.message",
                                            "content": [{"type": "text",
                                                         "text": {"value": "ab"}}]}])  # fmt: skip

    def test_completed_wins_over_the_deltas(self) -> None:
        final = message("completed", [{"type": "text", "text": {"value": "Final."}}])
        body = (sse("thread.run.created", RUN) + message_event("thread.message.created", message())
                + delta(text_part("Draft")) + message_event("thread.message.completed", final)
                + DONE)  # fmt: skip
        stream = self.stream_of(body)
        stream.until_done()
        self.assertEqual(stream.messages, [final])


class LongMessageTest(unittest.TestCase):
    @requires_tracemalloc
    def test_a_long_message_is_kept_as_its_text_not_its_deltas(self) -> None:
        # 20,000 deltas of 10 characters: 200 kB of text, some 20 MB as delta objects.
        word = delta(text_part("0123456789"))
        chunks = iter([sse("thread.run.created", RUN), message_event(
            "thread.message.created", message())] + [word] * 20000 + [DONE])  # fmt: skip
        stream = threadrun.RunStream(lambda: next(chunks, b""), lambda done: None,
                                     max_event_bytes=1 << 20)  # fmt: skip
        tracemalloc.start()
        try:
            count = sum(1 for _ in stream)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        self.assertEqual(count, 20002)
        self.assertEqual(threadrun.message_text(stream.messages[0]), "0123456789" * 20000)
        self.assertLess(peak, 4_000_000)


class FakeMessagesTest(ServerTest):
    def test_the_answer_of_a_streamed_run_in_one_line(self) -> None:
        for statuses in (("queued", "in_progress", "completed"),
                         ("queued", "in_progress", "incomplete")):  # fmt: skip
            with self.subTest(statuses[-1]):
                self.server.default_statuses = statuses
                with self.client().stream(THREAD, "asst_1") as stream:
                    deltas = "".join(stream.text_deltas())
                self.assertEqual(threadrun.message_text(stream.messages[-1]), deltas)
                self.assertEqual(deltas, self.server.default_message)
                self.assertEqual(stream.messages[-1], self.server.get_messages(THREAD)[-1])

    def test_a_run_that_fails_in_progress_leaves_its_message_incomplete(self) -> None:
        self.server.default_statuses = ("queued", "in_progress", "failed")
        stream = self.client().stream(THREAD, "asst_1")
        self.assertEqual(stream.until_done().status, "failed")
        [written] = stream.messages
        self.assertEqual((written["status"], written["incomplete_details"]),
                         ("incomplete", {"reason": "run_failed"}))  # fmt: skip


class DoneTest(RawStreamTest):
    def hold_after(self, body: bytes, tail: bytes = b"") -> ScriptedServer:
        """Each request answered with ``body`` in chunks, then ``tail`` (comments, say) and
        the body left open: the end never comes while the client waits."""
        gone = threading.Event()

        def script(conn: socket.socket, index: int) -> None:
            server.read(conn, index)
            conn.sendall(HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(body)[:-5])
            if tail:
                conn.sendall(chunked(tail)[:-5])
            gone.wait(10)

        server = self.serve(script)
        self.addCleanup(gone.set)  # after serve's: cleanups run last-in first, so this first
        return server

    def test_iteration_and_until_done_end_at_done_at_once(self) -> None:
        body = sse("thread.run.created", RUN) + sse("thread.run.completed",
                                                    run_json("completed")) + DONE  # fmt: skip
        for name, tail, read in (
            ("until_done", b"", "until_done"),
            ("iteration", b"", "iterate"),
            ("keep-alive comments after done", b": ping\n\n" * 50, "until_done"),
        ):
            with self.subTest(name):
                server = self.hold_after(body, tail)
                client = self.raw_client(server.base_url, timeout=30)
                stream = client.stream(THREAD, "asst_1")
                started = time.monotonic()
                if read == "iterate":
                    self.assertEqual(len(list(stream)), 2)
                else:
                    self.assertEqual(stream.until_done().status, "completed")
                self.assertLess(time.monotonic() - started, 5)  # not the 30 s timeout
                self.assertIn("closed", repr(stream))
                self.assertEqual(server.connections, 1)

    def test_the_connection_is_reused_when_the_end_came_with_done(self) -> None:
        def script(conn: socket.socket, index: int) -> None:
            while server.read(conn, index) is not None:
                conn.sendall(HEAD + b"Transfer-Encoding: chunked\r\n\r\n"
                             + chunked(sse("thread.run.created", RUN) + DONE))  # fmt: skip

        server = self.serve(script)
        client = self.raw_client(server.base_url)
        for _ in range(3):
            self.assertEqual(client.stream(THREAD, "asst_1").until_done().id, "run_1")
        self.assertEqual((server.connections, len(server.requests)), (1, 3))


class ForeignRunTest(RawStreamTest):
    def test_every_run_event_is_of_the_run_asked_for(self) -> None:
        other_run = run_json(id="run_OTHER")
        other_thread = run_json(thread_id="thread_2")
        cases = [
            ("submit: another run", "submit", sse("thread.run.queued", other_run),
             "asked for run 'run_1' of thread 'thread_1', the server answered with run "
             "'run_OTHER' of thread 'thread_1'"),
            ("stream: another thread", "stream", sse("thread.run.created", other_thread),
             "asked for a run of thread 'thread_1', the server answered with run 'run_1' of "
             "thread 'thread_2'"),
            ("stream: another run later", "stream",
             sse("thread.run.created", RUN) + sse("thread.run.completed", other_run),
             "asked for run 'run_1' of thread 'thread_1', the server answered with run "
             "'run_OTHER'"),
            ("thread and run: a run of another thread than the one created", "thread",
             sse("thread.created", '{"id":"thread_9","object":"thread"}')
             + sse("thread.run.created", RUN),
             "asked for a run of thread 'thread_9', the server answered with run 'run_1' of "
             "thread 'thread_1'"),
        ]  # fmt: skip
        for name, method, body, words in cases:
            with self.subTest(name):
                client = self.raw_client(self.answer(body + DONE).base_url)
                if method == "submit":
                    stream = client.submit_tool_outputs_stream(THREAD, "run_1", [])
                elif method == "stream":
                    stream = client.stream(THREAD, "asst_1")
                else:
                    stream = client.create_thread_and_run_stream("asst_1")
                with self.raises(threadrun.APIError) as cm:
                    stream.until_done()
                self.assertIs(type(cm.exception), threadrun.APIError)
                self.assertIn(words, cm.exception.message)
                self.assertTrue(cm.exception.message.startswith("in event 'thread.run."))
                last = cm.exception.run
                self.assertEqual(last, stream.run)  # the last run of the run asked for
                self.assertEqual(last is not None, name == "stream: another run later")


class UnknownEventsTest(RawStreamTest):
    def test_events_of_any_name_are_yielded_and_runs_decided_by_their_data(self) -> None:
        body = b"".join([
            sse("thread.run.created", RUN),
            sse("thread.run.something_new", '{"object":"thread.run.something_new","x":1}'),
            sse("thread.run.paused", run_json("paused")),  # a run: a status of the future
            sse("thread.run.step.frobnicated", '{"id":"step_1"}'),
            sse("thread.run.nothing", "[1, 2]"),
            sse("a.new.kind", '{"object":"thread.run"}'),
            sse("thread.run.completed", run_json("completed")), DONE,
        ])  # fmt: skip
        events = list(self.stream_of(body))
        kinds = [(e.event, type(e.data).__name__) for e in events]
        self.assertEqual(kinds, [
            ("thread.run.created", "ThreadRun"), ("thread.run.something_new", "dict"),
            ("thread.run.paused", "ThreadRun"), ("thread.run.step.frobnicated", "dict"),
            ("thread.run.nothing", "list"), ("a.new.kind", "dict"),
            ("thread.run.completed", "ThreadRun"),
        ])  # fmt: skip


class InvalidRunEventTest(RawStreamTest):
    def test_an_undecodable_or_invalid_run_event_carries_its_data(self) -> None:
        nan = run_json("completed")[:-1] + ',"usage":NaN}'
        trailing = run_json("completed")[:-1] + ",}"
        keyed = run_json("completed", instructions="echo " + KEY)[:-1] + ",}"
        invalid = run_json("completed", created_at="yesterday")
        for name, data, body, words in (
            ("NaN", nan, nan, "NaN is not a JSON number"),
            ("trailing comma", trailing, trailing, "invalid JSON"),
            ("the key echoed", keyed, keyed.replace(KEY, "[redacted]"), "invalid JSON"),
            ("not a valid run", invalid, json.loads(invalid), "created_at"),
        ):
            with self.subTest(name):
                stream = self.stream_of(sse("thread.run.created", RUN)
                                        + sse("thread.run.completed", data) + DONE)  # fmt: skip
                with self.raises(threadrun.APIResponseValidationError) as cm:
                    stream.until_done()
                error = cm.exception
                self.assertEqual(error.body, body)
                self.assertIn("in event 'thread.run.completed' of run 'run_1': ", error.message)
                self.assertIn(words, error.message)
                self.assertEqual(error.run.id, "run_1")


class AfterFailureTest(RawStreamTest):
    def test_until_done_raises_again_never_a_stale_run(self) -> None:
        queued = sse("thread.run.created", RUN) + sse("thread.run.in_progress",
                                                      run_json("in_progress"))  # fmt: skip
        for name, body, error in (
            ("cut", queued, threadrun.APIConnectionError),
            ("error event", queued + sse("error", '{"message":"Overloaded."}'),
             threadrun.StreamError),
        ):  # fmt: skip
            with self.subTest(name):
                stream = self.stream_of(body)
                with self.raises(error) as first:
                    list(stream)
                for _ in range(2):
                    with self.raises(error) as again:
                        stream.until_done()
                    self.assertIs(again.exception, first.exception)
                    self.assertEqual(again.exception.run.status, "in_progress")
                with self.raises(error):
                    list(stream.text_deltas())

    def test_until_done_after_close_says_so(self) -> None:
        body = sse("thread.run.created", RUN) + sse("thread.run.completed",
                                                    run_json("completed")) + DONE  # fmt: skip
        stream = self.stream_of(body)
        next(stream)
        stream.close()
        with self.raises(threadrun.APIConnectionError) as cm:
            stream.until_done()
        self.assertIn("closed before its done event", str(cm.exception))
        self.assertEqual(cm.exception.run.status, "queued")


class NotAnEventStreamTest(RawStreamTest):
    def test_a_2xx_of_another_type_names_it_and_quotes_its_start(self) -> None:
        page = b"<html><body>\n  <h1>Sign in</h1> to the proxy, token " + KEY.encode()
        for name, head, body, words in (
            ("a proxy's login page", "Content-Type: text/html", page,
             ["text/html", "<html><body> <h1>Sign in</h1> to the proxy, token [redacted]"]),
            ("problem+json", "Content-Type: application/problem+json",
             b'{"title":"Maintenance"}', ["application/problem+json", '{"title":"Maintenance"}',
                                          "may have started a run"]),
            ("no Content-Type", "", b"hello", ["without a Content-Type", "hello"]),
            ("JSON", "Content-Type: application/json", run_json().encode(),
             ["application/json", '"id":"run_1"', "does not stream"]),
            ("empty", "Content-Type: text/plain", b"", ["text/plain", "(empty body)"]),
        ):  # fmt: skip
            with self.subTest(name):
                raw = ("HTTP/1.1 200 OK\r\n%s%sContent-Length: %d\r\nx-request-id: req_x\r\n\r\n"
                       % (head, "\r\n" if head else "", len(body))).encode() + body
                server = self.answer(b"", raw)
                with self.raises(threadrun.APIError) as cm:
                    self.raw_client(server.base_url).stream(THREAD, "asst_1")
                self.assertIs(type(cm.exception), threadrun.APIError)
                for word in words:
                    self.assertIn(word, cm.exception.message)
                self.assertIn("not an event stream", cm.exception.message)
                self.assertEqual(cm.exception.request_id, "req_x")
                self.assertEqual(server.connections, 1)  # not retried


class EchoedKeyTest(RawStreamTest):
    """A server that echoes the key into what it sends: no error of any path shows it, whole
    or cut short, in its message, repr, args, body, or any error in its chain."""

    ECHO = "x" * 30 + KEY  # quoted cut short (60 characters), the cut falls inside the key

    def assertNoKeyPiece(self, exc: BaseException) -> None:
        self.assertNoSecret(exc)
        pieces = {KEY[i : i + 8] for i in range(len(KEY) - 7)}
        chain = [exc]
        while chain[-1].__cause__ or chain[-1].__context__:
            chain.append(chain[-1].__cause__ or chain[-1].__context__)  # type: ignore[arg-type]
        for error in chain:
            texts = [str(error), repr(error), repr(error.args), repr(getattr(error, "body", ""))]
            for text in texts:
                self.assertFalse([p for p in pieces if p in text], text)

    def error_of(self, call: Callable[[], Any], body: bytes, head: bytes = CLOSE_HEAD) -> Any:
        self.client = self.raw_client(self.answer(body, head).base_url)
        with self.assertRaises(Exception) as cm:
            call()
        self.assertNoKeyPiece(cm.exception)
        return cm.exception

    def test_every_path(self) -> None:
        echo = self.ECHO
        json_head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" \
                    b"Connection: close\r\n\r\n"  # fmt: skip
        page = json.dumps({"object": "list", "data": [json.loads(run_json())], "has_more": True,
                           "last_id": "cur_" + echo}).encode()  # fmt: skip
        delta_value = {"id": "msg_1", "delta": {"content": [
            {"type": "text", "text": {"value": [echo]}}]}}  # fmt: skip
        cases = [
            ("stream: a run of another thread", threadrun.APIError, lambda: self.client.stream(
                THREAD, "asst_1").until_done(),
             sse("thread.run.created", run_json(thread_id="thread_" + echo)) + DONE, CLOSE_HEAD),
            ("submit stream: another run", threadrun.APIError,
             lambda: self.client.submit_tool_outputs_stream(THREAD, "run_1", []).until_done(),
             sse("thread.run.queued", run_json(id="run_" + echo)) + DONE, CLOSE_HEAD),
            ("retrieve: another run", threadrun.APIError,
             lambda: self.client.retrieve(THREAD, "run_1"), run_json(id="run_" + echo).encode(),
             json_head),
            ("poll timeout", threadrun.PollTimeoutError,
             lambda: self.client.poll(THREAD, "run_" + echo, timeout=0),
             run_json("in_progress", id="run_" + echo).encode(), json_head),
            ("list cursor", threadrun.APIError, lambda: list(self.client.list(THREAD)), page,
             json_head),
            ("text_deltas", threadrun.ThreadRunError,
             lambda: list(self.client.stream(THREAD, "asst_1").text_deltas()),
             sse("thread.message.delta", json.dumps(delta_value)) + DONE, CLOSE_HEAD),
            ("error event", threadrun.StreamError,
             lambda: self.client.stream(THREAD, "asst_1").until_done(),
             sse("error", json.dumps({"message": echo, "code": echo})), CLOSE_HEAD),
            ("undecodable event", threadrun.APIResponseValidationError,
             lambda: self.client.stream(THREAD, "asst_1").until_done(),
             sse("thread.run.created", RUN) + sse("thread.step.x", '{"a":"%s",}' % echo),
             CLOSE_HEAD),
            ("invalid run event", threadrun.APIResponseValidationError,
             lambda: self.client.stream(THREAD, "asst_1").until_done(),
             sse("thread.run.created", run_json(created_at=echo)), CLOSE_HEAD),
            ("invalid event of a run whose id echoes the key",
             threadrun.APIResponseValidationError,
             lambda: self.client.stream(THREAD, "asst_1").until_done(),
             sse("thread.run.created", run_json(id="run_" + echo))
             + sse("thread.message.delta", "{,}"), CLOSE_HEAD),
            ("not an event stream", threadrun.APIError,
             lambda: self.client.stream(THREAD, "asst_1"), b"<p>" + echo.encode() * 40,
             b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n"),
        ]  # fmt: skip
        for name, error, call, body, head in cases:
            with self.subTest(name):
                self.assertIsInstance(self.error_of(call, body, head), error)


class FakeStreamFaultsTest(ServerTest):
    ERROR = {"code": "server_error", "message": "Sorry, something went wrong.", "param": None,
             "type": "server_error"}  # fmt: skip

    def test_an_error_after_failed_keeps_the_failed_run(self) -> None:
        # Some servers send exactly this: the run failed, then an error event, and no done.
        self.server.default_statuses = ("queued", "in_progress", "failed")
        for bare in (False, True):  # the API's {"error": {...}}, the spec's error itself
            with self.subTest(bare=bare):
                self.server.inject(self.testing.Fault(after_event="thread.run.failed",
                                                      error_event=self.ERROR, error_bare=bare))
                stream = self.client().stream(THREAD, "asst_1")
                with self.raises(threadrun.StreamError) as cm:
                    stream.until_done()
                error = cm.exception
                self.assertEqual((error.code, error.body), ("server_error", self.ERROR))
                self.assertEqual((error.run.status, error.run.id), ("failed", stream.run.id))
                sent = self.server.streams[-1]
                self.assertEqual(sent.events[-1], ("error", self.ERROR if bare
                                                   else {"error": self.ERROR}))  # fmt: skip
                names = [name for name, _ in sent.events]
                self.assertEqual(names[-4:], ["thread.message.incomplete",
                                              "thread.run.step.failed", "thread.run.failed",
                                              "error"])  # fmt: skip

    def test_a_cut_stream_error_carries_the_last_run(self) -> None:
        self.server.inject(self.testing.Fault(after_event="thread.run.in_progress", drop=True))
        with self.raises(threadrun.APIConnectionError) as cm:
            self.client().stream(THREAD, "asst_1").until_done()
        self.assertEqual(cm.exception.run.status, "in_progress")

    def test_unknown_events_and_annotation_deltas_from_the_fake(self) -> None:
        annotation = {"id": "msg_x", "object": "thread.message.delta", "delta": {"content": [
            {"index": 0, "type": "text", "text": {"annotations": [CITATION]}}]}}  # fmt: skip
        inserted = [("thread.run.step.frobnicated", {"object": "thread.run.step"}),
                    ("thread.message.delta", annotation), ("totally.new", "[1]")]  # fmt: skip
        self.server.inject(self.testing.Fault(after_event="thread.message.in_progress",
                                              events=inserted))  # fmt: skip
        with self.client().stream(THREAD, "asst_1") as stream:
            events = list(stream)
            text = "".join(stream.text_deltas())
        self.assertEqual(text, "")  # iteration already read to done
        names = [e.event for e in events]
        at = names.index("thread.run.step.frobnicated")
        self.assertEqual([(e.event, e.data) for e in events[at : at + 3]],
                         [(n, json.loads(d) if isinstance(d, str) else d)
                          for n, d in inserted])  # fmt: skip
        self.assertEqual(stream.run.status, "completed")


if __name__ == "__main__":
    unittest.main()
