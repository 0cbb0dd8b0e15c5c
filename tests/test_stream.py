"""Specification of streamed runs: the server-sent-events decoder,
RunEvent and RunStream.

RunStream's contract is over the body's byte chunks: ``read_chunk()`` gives the next bytes
(``b""`` at the end) and ``release(reusable)`` hands the connection back. The tests here feed
it chunks from a list (``Source``), which is that contract itself, not a transport mock; the
tests over real sockets come with the client's ``stream()`` methods.

The WHATWG event-stream rules are checked on the decoder itself, every table row fed whole,
byte by byte and split in two at every position, and against a line-by-line reference reading
of the standard on random streams cut at random places.
"""

from __future__ import annotations

import glob
import json
import os
import pickle
import random
import re
import unittest
from typing import Any, Iterator, List, Optional, Sequence, Tuple, Union

from tests import DATA_DIR, threadrun

RunEvent = threadrun.RunEvent
RunStream = threadrun.RunStream
StreamError = threadrun.StreamError
ThreadRun = threadrun.ThreadRun
ThreadRunError = threadrun.ThreadRunError
APIConnectionError = threadrun.APIConnectionError
ResponseTooLargeError = threadrun.ResponseTooLargeError

STREAMS = sorted(glob.glob(os.path.join(DATA_DIR, "streams", "*.sse")))
LIMIT = 1 << 20
REQUEST = "req_0123456789abcdef0123456789abcdef"

Event = Tuple[str, str, str]  # what the decoder dispatches: type, data, last event id
Chunk = Union[bytes, BaseException]


def run_json(status: str = "queued", **extra: Any) -> str:
    run = {
        "id": "run_1", "object": "thread.run", "created_at": 1710351818,
        "thread_id": "thread_1", "assistant_id": "asst_1", "status": status, "model": "gpt-4o",
    }  # fmt: skip
    run.update(extra)
    return json.dumps(run, separators=(",", ":"))


def sse(event: str, data: str) -> bytes:
    return ("event: %s\ndata: %s\n\n" % (event, data)).encode()


DONE = b"event: done\ndata: [DONE]\n\n"


def decode(chunks: Sequence[bytes], limit: int = LIMIT) -> Tuple[List[Event], Any]:
    decoder = threadrun._EventDecoder(limit)
    events: List[Event] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    return events, decoder


def chunkings(data: bytes) -> Iterator[Tuple[str, List[bytes]]]:
    yield "whole", [data]
    yield "byte by byte", [data[i : i + 1] for i in range(len(data))]
    for cut in range(1, len(data)):
        yield "split at %d" % cut, [data[:cut], data[cut:]]


def reference_events(stream: bytes) -> Tuple[List[Event], Optional[int]]:
    """The standard's interpretation (WHATWG HTML, "Interpreting an event stream"), step by
    step as it is written, with its buffers: the oracle of the decoder."""
    text = stream.decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = re.split("\r\n|\r|\n", text)[:-1]  # the last piece has no line end: dropped
    events: List[Event] = []
    event_type_buffer = data_buffer = last_event_id_buffer = ""
    reconnection_time = None
    for line in lines:
        if line == "":
            # Dispatch the event: not if the data buffer is empty; its last LF removed.
            if data_buffer != "":
                if data_buffer.endswith("\n"):
                    data_buffer = data_buffer[:-1]
                events.append((event_type_buffer or "message", data_buffer, last_event_id_buffer))
            event_type_buffer = data_buffer = ""
        elif line.startswith(":"):
            pass  # a comment: ignored
        else:
            # The field is the line up to its first colon (the whole line, without one), the
            # value what follows, less one leading space.
            field = line.split(":", 1)[0]
            value = line[len(field) + 1 :]
            if value.startswith(" "):
                value = value[1:]
            if field == "event":
                event_type_buffer = value
            elif field == "data":
                data_buffer += value + "\n"
            elif field == "id" and "\0" not in value:
                last_event_id_buffer = value
            elif field == "retry" and re.fullmatch("[0-9]+", value):
                reconnection_time = int(value)
            # Any other field is ignored.
    return events, reconnection_time


class Source:
    """A response body as RunStream sees it: chunks read in order, then b"" for ever.

    An exception in the list is raised by the read that reaches it.
    """

    def __init__(self, *chunks: Chunk) -> None:
        self.chunks = list(chunks)
        self.reads = 0
        self.released: List[bool] = []

    def read(self) -> bytes:
        self.reads += 1
        if not self.chunks:
            return b""
        chunk = self.chunks.pop(0)
        if isinstance(chunk, BaseException):
            raise chunk
        return chunk

    def release(self, reusable: bool) -> None:
        self.released.append(reusable)

    def stream(self, limit: int = LIMIT, request_id: Optional[str] = REQUEST) -> Any:
        return RunStream(self.read, self.release, max_event_bytes=limit, request_id=request_id)


def split(data: bytes, size: int) -> List[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# --------------------------------------------------------------------------------------------
# The decoder: WHATWG event-stream interpretation
# --------------------------------------------------------------------------------------------

# (name, stream, events dispatched as (type, data, last event id), retry)
WHATWG_CASES: List[Tuple[str, bytes, List[Event], Optional[int]]] = [
    ("LF", b"event: a\ndata: x\n\n", [("a", "x", "")], None),
    ("CRLF", b"event: a\r\ndata: x\r\n\r\n", [("a", "x", "")], None),
    ("CR", b"event: a\rdata: x\r\r", [("a", "x", "")], None),
    ("mixed line ends", b"data: 1\r\n\rdata: 2\n\r\ndata: 3\r\r",
     [("message", "1", ""), ("message", "2", ""), ("message", "3", "")], None),
    ("LF CR is two line ends", b"data: x\n\r", [("message", "x", "")], None),
    ("data lines joined with LF", b"data: a\ndata: b\ndata: c\n\n",
     [("message", "a\nb\nc", "")], None),
    ("one leading space removed, once", b"data:  two\ndata:\tx\n\n",
     [("message", " two\n\tx", "")], None),
    ("no space after the colon", b"data:x\n\n", [("message", "x", "")], None),
    ("colons after the first kept", b"data: a: b:c\n\n", [("message", "a: b:c", "")], None),
    ("comments ignored", b": ping\n:\ndata: x\n: more\n\n", [("message", "x", "")], None),
    ("only comments: nothing", b": keep-alive\n\n: again\n\n", [], None),
    ("unknown fields ignored", b"foo: bar\nDATA: no\ndata : no\ndata: yes\n\n",
     [("message", "yes", "")], None),
    ("field without colon: empty value", b"data\ndata\n\n", [("message", "\n", "")], None),
    ("empty data is still data", b"data:\n\n", [("message", "", "")], None),
    ("no data: no dispatch, type reset", b"event: a\n\ndata: x\n\n",
     [("message", "x", "")], None),
    ("event without value is message", b"event\ndata: x\n\nevent:\ndata: y\n\n",
     [("message", "x", ""), ("message", "y", "")], None),
    ("last event line wins", b"event: a\nevent: b\ndata: x\n\n", [("b", "x", "")], None),
    ("blank lines between events", b"\n\n\ndata: x\n\n\n\ndata: y\n\n",
     [("message", "x", ""), ("message", "y", "")], None),
    ("id kept across events", b"id: 7\ndata: a\n\ndata: b\n\nid\ndata: c\n\n",
     [("message", "a", "7"), ("message", "b", "7"), ("message", "c", "")], None),
    ("id with NUL ignored", b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
     [("message", "a", "1"), ("message", "b", "1")], None),
    ("id set without data", b"id: 5\n\ndata: a\n\n", [("message", "a", "5")], None),
    ("retry: digits", b"retry: 1500\ndata: a\n\n", [("message", "a", "")], 1500),
    ("retry: not digits ignored",
     b"retry: 20\nretry: 1.5\nretry: -1\nretry: 3a\nretry:\nretry: \xd9\xa1\xd9\xa2\n\n",
     [], 20),
    ("event at the end without blank line dropped", b"data: a\n\ndata: b\n", [("message", "a", "")],
     None),
    ("line without its end dropped", b"data: a\n\ndata: b", [("message", "a", "")], None),
    ("BOM at the start stripped", b"\xef\xbb\xbfdata: a\n\n", [("message", "a", "")], None),
    ("second BOM kept (a field name)", b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\ndata: b\n\n",
     [("message", "b", "")], None),
    ("BOM inside data kept", b"data: \xef\xbb\xbfa\n\n", [("message", "\ufeffa", "")], None),
    ("multi-byte characters", "event: é\ndata: €😀ü\n\n".encode(), [("é", "€😀ü", "")], None),
    ("U+2028 and NEL are not line ends", "data: a\u2028b\x85c\x1cd\n\n".encode(),
     [("message", "a\u2028b\x85c\x1cd", "")], None),
    ("done event", DONE, [("done", "[DONE]", "")], None),
]  # fmt: skip


class DecoderTest(unittest.TestCase):
    def test_whatwg_rules_at_every_chunking(self) -> None:
        for name, stream, expected, retry in WHATWG_CASES:
            self.assertEqual(reference_events(stream), (expected, retry), name)  # the oracle
            for how, chunks in chunkings(stream):
                with self.subTest(name, chunks=how):
                    events, decoder = decode(chunks)
                    self.assertEqual(events, expected)
                    self.assertEqual(decoder.retry, retry)
                    self.assertIsNone(decoder.failure)

    def test_split_inside_characters_and_crlf(self) -> None:
        # Every cut into three pieces of a stream of 2-, 3- and 4-byte characters and CRLFs.
        stream = "data: é€\r\ndata: 😀\r\n\r\nevent: ü\r\ndata: x\r\n\r\n".encode()
        expected = [("message", "é€\n😀", ""), ("ü", "x", "")]
        for first in range(1, len(stream)):
            for second in range(first, len(stream)):
                with self.subTest(cuts=(first, second)):
                    chunks = [stream[:first], stream[first:second], stream[second:]]
                    self.assertEqual(decode(chunks)[0], expected)

    def test_matches_the_reference_on_random_streams(self) -> None:
        pieces = ["data", "event", "id", "retry", ":", " ", "\r", "\n", "\r\n", "\n\n", "x",
                  "é", "😀", "7", "\x00", "\ufeff", "done"]  # fmt: skip
        rng = random.Random(12)
        for case in range(400):
            stream = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 60))).encode()
            cuts = sorted(rng.sample(range(len(stream) + 1), min(len(stream) + 1, 4)))
            if case % 2:  # cut after blank lines too, as a live stream's reads end
                cuts = sorted(set(cuts) | {m.end() for m in re.finditer(b"\n\n", stream)})
            chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)])]
            with self.subTest(case=case, stream=stream, chunks=chunks):
                events, decoder = decode(chunks)
                self.assertEqual((events, decoder.retry), reference_events(stream))

    def test_one_event_a_read(self) -> None:
        # The reads of a live stream: each ends with the blank line of its event.
        for name, reads, expected in (
            ("whole events", [b"data: a\n\n", b"event: b\ndata: c\n\n", b"data: d\n\n"],
             [("message", "a", ""), ("b", "c", ""), ("message", "d", "")]),
            ("after an unfinished line", [b"data: a\n\n", b"data: b", b"c\n\n"],
             [("message", "a", ""), ("message", "bc", "")]),
            ("after an unfinished event", [b"data: a\n", b"data: b\n\n"],
             [("message", "a\nb", "")]),
            ("after a CR", [b"data: a\r", b"\n\n", b"data: b\n\n"],
             [("message", "a", ""), ("message", "b", "")]),
            ("BOM in the first", [b"\xef\xbb\xbfdata: a\n\n", b"\xef\xbb\xbfdata: b\n\n"],
             [("message", "a", "")]),
            ("id kept", [b"id: 1\ndata: a\n\n", b"data: b\n\n"],
             [("message", "a", "1"), ("message", "b", "1")]),
        ):  # fmt: skip
            with self.subTest(name):
                self.assertEqual(decode(reads)[0], expected)
                self.assertEqual(reference_events(b"".join(reads))[0], expected)
        events, decoder = decode([b"data: a\n\n", b"data: " + b"x" * 100 + b"\n\n"], limit=50)
        self.assertEqual(events, [("message", "a", "")])
        self.assertIsInstance(decoder.failure, ResponseTooLargeError)
        # An event begun in one read and ended in the next counts whole against the limit.
        halves = [b"data: " + b"x" * 40 + b"\n", b"data: " + b"x" * 40 + b"\n\n"]
        events, decoder = decode(halves, limit=50)
        self.assertEqual(events, [])
        self.assertIsInstance(decoder.failure, ResponseTooLargeError)
        events, decoder = decode([b"data: a\n\n", b"data: \xff\n\n", b"data: b\n\n"])
        self.assertEqual(events, [("message", "a", "")])
        self.assertIsInstance(decoder.failure, ThreadRunError)

    def test_lines_of_many_chunks_are_joined_once(self) -> None:
        # A long data line arriving in many small chunks: linear, and whole at the end.
        value = "x" * 300_000
        events, _ = decode(split(("data: %s\n\n" % value).encode(), 100))
        self.assertEqual(events, [("message", value, "")])

    def test_invalid_utf8_is_an_error_after_the_lines_before_it(self) -> None:
        for name, stream in (
            ("stray continuation byte", b"data: a\n\ndata: \x80\n\ndata: c\n\n"),
            ("truncated sequence", b"data: a\n\ndata: \xe2\x82\n\n"),
            ("surrogate", b"data: a\n\ndata: \xed\xa0\x80\n\n"),
            ("overlong", b"data: a\n\ndata: \xc0\xaf\n\n"),
        ):
            with self.subTest(name):
                events, decoder = decode([stream])
                self.assertEqual(events, [("message", "a", "")])
                self.assertIsInstance(decoder.failure, ThreadRunError)
                self.assertIn("invalid UTF-8", str(decoder.failure))
                self.assertEqual(decoder.feed(b"data: d\n\n"), [])  # nothing after an error


# --------------------------------------------------------------------------------------------
# RunStream over the corpus
# --------------------------------------------------------------------------------------------

# What each stream of the API reference holds: the event types in order (done excluded) and
# the statuses of its runs. 01's thread.run.completed has its JSON on a line without "data:"
# (a field named '{"id"', ignored), so by the standard it has no data and is not dispatched.
CORPUS_EVENTS = {
    "01-post-threads-runs.sse": (
        ["thread.created", "thread.run.created", "thread.run.queued", "thread.run.in_progress",
         "thread.run.step.created", "thread.run.step.in_progress", "thread.message.created",
         "thread.message.in_progress", "thread.message.delta", "thread.message.delta",
         "thread.message.delta", "thread.message.completed", "thread.run.step.completed"],
        "Hello today?",
    ),
    "02-post-threads-runs.sse": (
        ["thread.created", "thread.run.created", "thread.run.queued", "thread.run.in_progress",
         "thread.run.step.created", "thread.run.step.in_progress"]
        + ["thread.run.step.delta"] * 5 + ["thread.run.requires_action"],
        "",
    ),
    "03-post-threads-thread_id-runs.sse": (
        ["thread.run.created", "thread.run.queued", "thread.run.in_progress",
         "thread.run.step.created", "thread.run.step.in_progress", "thread.message.created",
         "thread.message.in_progress", "thread.message.delta", "thread.message.delta",
         "thread.message.delta", "thread.message.completed", "thread.run.step.completed",
         "thread.run.completed"],
        "Hello today?",
    ),
    "05-post-threads-thread_id-runs-run_id-submit_tool_outputs.sse": (
        ["thread.run.step.completed", "thread.run.queued", "thread.run.in_progress",
         "thread.run.step.created", "thread.run.step.in_progress", "thread.message.created",
         "thread.message.in_progress"] + ["thread.message.delta"] * 5
        + ["thread.message.completed", "thread.run.step.completed", "thread.run.completed"],
        "The current weather sunny.",
    ),
}  # fmt: skip
CORPUS_EVENTS["04-post-threads-thread_id-runs.sse"] = CORPUS_EVENTS[
    "03-post-threads-thread_id-runs.sse"
]


def corpus_data(raw: bytes) -> List[Tuple[str, Any]]:
    """(type, JSON data) of every event of a corpus file, the stray "}" taken off."""
    events = []
    for event_type, data, _ in reference_events(raw)[0]:
        if event_type != "done":
            try:
                value = json.loads(data)
            except ValueError:
                value = json.loads(data[:-1])
            events.append((event_type, value))
    return events


def is_run_event(event_type: str) -> bool:
    return event_type.startswith("thread.run.") and "." not in event_type[len("thread.run.") :]


class CorpusTest(unittest.TestCase):
    def test_every_corpus_file_is_here(self) -> None:
        self.assertEqual(sorted(map(os.path.basename, STREAMS)), sorted(CORPUS_EVENTS))

    def test_each_stream_parses_into_its_events(self) -> None:
        for path in STREAMS:
            name = os.path.basename(path)
            with open(path, "rb") as file:
                raw = file.read()
            types, text = CORPUS_EVENTS[name]
            expected = corpus_data(raw)
            for size in (1, 2, 3, 7, 64, 1000, len(raw)):
                with self.subTest(name, chunk_size=size):
                    source = Source(*split(raw, size))
                    with source.stream() as stream:
                        events = list(stream)
                    self.assertEqual([event.event for event in events], types)
                    self.assertEqual(len(events), len(expected))
                    for event, (event_type, data) in zip(events, expected):
                        self.assertIsInstance(event, RunEvent)
                        if is_run_event(event_type):
                            self.assertIsInstance(event.data, ThreadRun)
                            self.assertEqual(event.data.to_dict(), data)
                            self.assertEqual(event.data.status, event_type.rsplit(".", 1)[1]
                                             .replace("created", "queued"))  # fmt: skip
                        else:
                            self.assertEqual(event.data, data)
                    runs = [event.data for event in events if is_run_event(event.event)]
                    self.assertIs(stream.run, runs[-1])
                    # The files end "data: [DONE]\n" without the blank line that would
                    # dispatch it: done is taken at the end of the body all the same.
                    self.assertEqual(source.released, [True])
                    source = Source(*split(raw, size))
                    with source.stream() as stream:
                        self.assertEqual("".join(stream.text_deltas()), text)
                    self.assertEqual(stream.until_done(), runs[-1])

    def test_stray_brace_after_an_object_is_tolerated(self) -> None:
        # The API reference's examples end some run objects with one "}" too many.
        run = run_json()
        for data in (run + "}", run + " } ", run + "}\t"):
            with self.subTest(data=data):
                events = list(Source(sse("thread.run.queued", data), DONE).stream())
                self.assertEqual(events[0].data, ThreadRun.from_json(run))
        step = '{"id":"step_1","object":"thread.run.step"}'
        events = list(Source(sse("thread.run.step.created", step + "}"), DONE).stream())
        self.assertEqual(events[0].data, json.loads(step))

    def test_anything_else_after_the_json_is_an_error(self) -> None:
        run = run_json()
        for data in (run + "}}", run + "]", run + "} x", run + "{}", "[1]}", "1}", '"a"}', "}"):
            with self.subTest(data=data):
                stream = Source(sse("thread.run.queued", data), DONE).stream()
                with self.assertRaises(ThreadRunError) as caught:
                    list(stream)
                self.assertIn("in event 'thread.run.queued': invalid JSON", str(caught.exception))


# --------------------------------------------------------------------------------------------
# RunStream: events, errors, release
# --------------------------------------------------------------------------------------------


class EventsTest(unittest.TestCase):
    def test_run_events_are_runs_others_are_json(self) -> None:
        body = b"".join([
            sse("thread.created", '{"id":"thread_1","object":"thread"}'),
            sse("thread.run.created", run_json(metadata={"k": "v"}, temperature=1.0)),
            sse("thread.run.cancelling", run_json("cancelling")),
            sse("thread.run.some_status_of_the_future", run_json("some_status_of_the_future")),
            sse("thread.run.step.delta", '{"id":"step_1","delta":{}}'),
            sse("thread.message.completed", '{"id":"msg_1","content":[]}'),
            sse("an.event.of.the.future", "[1, 2.5, null]"),
            DONE,
        ])  # fmt: skip
        events = list(Source(body).stream())
        self.assertEqual([type(event.data) for event in events],
                         [dict, ThreadRun, ThreadRun, ThreadRun, dict, dict, list])  # fmt: skip
        self.assertEqual(events[1].data.extra, {"temperature": 1.0})
        self.assertEqual(events[1].data.metadata, {"k": "v"})
        self.assertEqual(events[-1], ("an.event.of.the.future", [1, 2.5, None]))
        event_type, data = events[0]
        self.assertEqual((event_type, data), ("thread.created", events[0].data))
        self.assertEqual(repr(events[-1]), "RunEvent(event='an.event.of.the.future', "
                                           "data=[1, 2.5, None])")  # fmt: skip

    def test_data_done_without_event_type_ends_too(self) -> None:
        source = Source(sse("thread.run.queued", run_json()), b"data: [DONE]\n\n")
        self.assertEqual([event.event for event in source.stream()], ["thread.run.queued"])
        self.assertEqual(source.released, [True])

    def test_events_after_done_are_not_read(self) -> None:
        source = Source(DONE + sse("thread.run.queued", run_json()))
        self.assertEqual(list(source.stream()), [])

    def test_until_done_returns_the_last_run(self) -> None:
        source = Source(sse("thread.run.queued", run_json()),
                        sse("thread.run.completed", run_json("completed")), DONE)  # fmt: skip
        stream = source.stream()
        self.assertEqual(stream.until_done().status, "completed")
        self.assertEqual(stream.run.status, "completed")
        self.assertEqual(source.released, [True])

    def test_until_done_without_a_run_is_an_error(self) -> None:
        with self.assertRaises(APIConnectionError) as caught:
            Source(sse("thread.created", "{}"), DONE).stream().until_done()
        self.assertIn("without a run event", str(caught.exception))
        self.assertEqual(caught.exception.request_id, REQUEST)

    def test_text_deltas(self) -> None:
        def delta(*parts: Any) -> bytes:
            return sse("thread.message.delta", json.dumps({"delta": {"content": list(parts)}}))

        text = {"type": "text", "text": {"value": "Hé"}}
        image = {"type": "image_file", "image_file": {"file_id": "f"}}
        citation = {"index": 0, "type": "file_citation", "text": "[1]", "start_index": 0,
                    "end_index": 3, "file_citation": {"file_id": "file_1"}}  # fmt: skip
        source = Source(delta(text, image, {"type": "text", "text": {"value": "llo"}}),
                        sse("thread.message.delta", '{"delta":{"role":"assistant"}}'),
                        sse("thread.message.completed", '{"content":[]}'),
                        # Every shape the API's types allow: text and value are optional.
                        delta({"index": 0, "type": "text", "text": {"annotations": [citation]}}),
                        delta({"type": "text"}), delta({"type": "text", "text": {"value": None}}),
                        delta({"type": "text", "text": "plain"}),  # a server's own shape
                        delta({"type": "text", "text": {"value": "!"}}), DONE)  # fmt: skip
        self.assertEqual(list(source.stream().text_deltas()), ["Héllo", "plain", "!"])
        self.assertEqual(source.released, [True])
        for part, path in (
            ({"type": "text", "text": {"value": 1}}, "delta['content'][0]['text']['value']"),
            ({"type": "text", "text": ["x"]}, "delta['content'][0]['text']"),
        ):
            with self.subTest(part=part):
                source = Source(delta(part), DONE)
                with self.assertRaises(ThreadRunError) as caught:
                    list(source.stream().text_deltas())
                self.assertIn("in event 'thread.message.delta': " + path, str(caught.exception))
                self.assertEqual(source.released, [False])

    def test_id_and_retry_are_kept(self) -> None:
        stream = Source(b"retry: 3000\nid: 1\n" + sse("a", "{}") + b"id: 2\n" + sse("b", "{}")
                        + DONE).stream()  # fmt: skip
        self.assertEqual((stream.last_event_id, stream.retry), ("", None))
        next(stream)
        self.assertEqual((stream.last_event_id, stream.retry), ("1", 3000))
        next(stream)
        self.assertEqual(stream.last_event_id, "2")


class ErrorsTest(unittest.TestCase):
    def assert_error_after(self, source: Source, count: int, limit: int = LIMIT) -> Any:
        """count events come, then the error; then iteration has stopped, released unused."""
        stream = source.stream(limit)
        events = [next(stream) for _ in range(count)]
        self.assertEqual(len(events), count)
        with self.assertRaises(Exception) as caught:
            next(stream)
        self.assertEqual(list(stream), [])
        self.assertEqual(source.released, [False])
        self.assertEqual(getattr(caught.exception, "request_id", None), REQUEST)
        return caught.exception

    def test_error_event(self) -> None:
        for data, message, code, kind in (
            ('{"code":"server_error","message":"Sorry, something went wrong.","type":"x"}',
             "Sorry, something went wrong. (server_error)", "server_error", "x"),
            ('{"error":{"message":"Rate limit.","code":"rate_limit_exceeded"}}',
             "Rate limit. (rate_limit_exceeded)", "rate_limit_exceeded", None),
            ("not json at all", "not json at all", None, None),
            ("{}", "(no message)", None, None),
        ):  # fmt: skip
            with self.subTest(data=data):
                source = Source(sse("thread.run.queued", run_json()) + sse("error", data), DONE)
                error = self.assert_error_after(source, 1)
                self.assertIsInstance(error, StreamError)
                self.assertIsInstance(error, threadrun.APIError)
                self.assertEqual(str(error), "the server sent an error event: " + message)
                self.assertEqual((error.code, error.type), (code, kind))
                inner = json.loads(data) if data.startswith("{") else data
                self.assertEqual(error.body, inner.get("error", inner) if data[0] == "{" else data)
                copy = pickle.loads(pickle.dumps(error))
                self.assertEqual((type(copy), str(copy)), (StreamError, str(error)))
                self.assertEqual((copy.code, copy.request_id), (code, REQUEST))

    def test_stream_ending_before_done(self) -> None:
        for name, tail in (
            ("between events", b""),
            ("mid-event", b"event: thread.run.completed\ndata: {"),
            ("after data, before the blank line", b"data: {}\n"),
            ("done line without its end", b"event: done\ndata: [DONE]"),
            ("done cut", b"event: done\ndata: [DO"),
        ):
            with self.subTest(name):
                source = Source(sse("thread.run.queued", run_json()) + tail)
                error = self.assert_error_after(source, 1)
                self.assertIs(type(error), APIConnectionError)
                self.assertIn("ended before its done event", str(error))

    def test_connection_error_while_reading(self) -> None:
        timeout = threadrun.APITimeoutError("read timed out")
        source = Source(sse("thread.run.queued", run_json()), timeout)
        self.assertIs(self.assert_error_after(source, 1), timeout)

    def test_invalid_json_names_the_event(self) -> None:
        for event_type, data, where in (
            ("thread.message.delta", "{", "invalid JSON"),
            ("thread.message.delta", "", "invalid JSON: the document is empty"),
            ("thread.message.delta", '{"x": NaN}', "NaN is not a JSON number"),
            ("thread.message.delta", '{"x": 1e400}', "too large for a number"),
            ("thread.run.queued", run_json()[:-1], "invalid JSON"),
            ("thread.run.queued", '{"id": "run_1", "object": "thread.run"}', "missing"),
            ("thread.run.failed", run_json(created_at=-1), "created_at: expected Unix seconds"),
        ):
            with self.subTest(event_type=event_type, data=data):
                source = Source(sse("thread.created", "{}") + sse(event_type, data), DONE)
                error = self.assert_error_after(source, 1)
                self.assertIsInstance(error, ThreadRunError)
                self.assertIn("in event %r: " % event_type, str(error))
                self.assertIn(where, str(error))
        two_lines = b"event: thread.run.queued\ndata: {\ndata: ]\n\n"
        error = self.assert_error_after(Source(two_lines), 0)
        self.assertEqual((error.line, error.column), (2, 1))
        error = self.assert_error_after(Source(sse("thread.run.queued", run_json(model=1))), 0)
        self.assertEqual(error.field, "model")

    def test_invalid_utf8(self) -> None:
        source = Source(sse("thread.created", "{}") + b'data: {"a": "\xff"}\n\n', DONE)
        error = self.assert_error_after(source, 1)
        self.assertIsInstance(error, ThreadRunError)
        self.assertIn("invalid UTF-8 in the event stream", str(error))

    def test_event_over_the_limit(self) -> None:
        limit = 1000
        # The event's bytes, line ends counted, up to the blank line that ends it.
        at_limit = sse("thread.message.delta", '{"v":"%s"}' % ("x" * 957))[:-1]
        self.assertEqual(len(at_limit), limit)
        for name, body, size in (
            ("at the limit", at_limit + b"\n" + DONE, None),
            ("one byte over", sse("a", "{}") + at_limit.replace(b'x"', b'xx"') + b"\n", 1),
            ("in one chunk with others", sse("a", "{}") + sse("b", "1" * 2000) + DONE, 1),
            ("data lines of many chunks", sse("a", "{}") + b"data: 1\n" * 200 + b"\n" + DONE, 1),
            ("a line that never ends", sse("a", "{}") + b"data: " + b"x" * 5000, 1),
            ("comments count", sse("a", "{}") + b": ping\n" * 200 + b"data: 1\n\n" + DONE, 1),
            ("CRLF counted as one", at_limit.replace(b"\n", b"\r\n") + b"\r\n" + DONE, None),
        ):
            for chunk_size in (1, 7, 100, 4096, 1 << 20):
                with self.subTest(name, chunk_size=chunk_size):
                    source = Source(*split(body, chunk_size))
                    if size is None:
                        self.assertEqual(len(list(source.stream(limit))), 1)
                        continue
                    error = self.assert_error_after(source, size, limit)
                    self.assertIsInstance(error, ResponseTooLargeError)
                    self.assertIn("over the limit of 1000 bytes", str(error))

    def test_a_line_that_never_ends_is_not_read_for_ever(self) -> None:
        reads = 0

        def endless() -> bytes:
            nonlocal reads
            reads += 1
            if reads > 1000:  # a failing decoder must fail the test, not hang it
                raise AssertionError("still reading after 100 kB")
            return b"data: " if reads == 1 else b"x" * 100

        with self.assertRaises(ResponseTooLargeError):
            list(RunStream(endless, lambda reusable: None, max_event_bytes=10_000))
        self.assertLessEqual(reads, 102)


SECRET = "sk-hooks-SECRET-0123456789abcdef0123456789abcdef"


def redact(value: Any) -> Any:
    """What a client passes: the secret taken out of a decoded value, at any depth."""
    if isinstance(value, str):
        return value.replace(SECRET, "[redacted]")
    if isinstance(value, dict):
        return {redact(k): redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


class HooksTest(unittest.TestCase):
    def stream(self, *chunks: bytes, **hooks: Any) -> Any:
        source = Source(*chunks)
        return RunStream(source.read, source.release, max_event_bytes=LIMIT, **hooks)

    def test_parse_run_makes_the_runs(self) -> None:
        seen: List[Any] = []

        def parse_run(data: Any) -> ThreadRun:
            seen.append(data)
            return ThreadRun.from_dict(dict(data, model="adapted"))

        body = sse("thread.run.queued", run_json()) + sse("thread.message.delta", "{}") + DONE
        events = list(self.stream(body, parse_run=parse_run))
        self.assertEqual([event.data.model for event in events[:1]], ["adapted"])
        self.assertEqual(events[1].data, {})
        self.assertEqual(seen, [json.loads(run_json())])

    def test_an_api_error_of_parse_run_keeps_its_type_and_body(self) -> None:
        class Invalid(ThreadRunError, threadrun.APIError):  # as a client's parse_run raises
            def __init__(self, message: str, body: Any) -> None:
                ThreadRunError.__init__(self, message)
                self.message, self.body = message, body
                self.code = self.param = self.type = None

        def parse_run(data: Any) -> ThreadRun:
            raise Invalid("the server sent run 'run_1'; it was not returned because: x", data)

        body = sse("thread.run.queued", run_json()) + DONE
        with self.assertRaises(Invalid) as cm:
            list(self.stream(body, parse_run=parse_run, redact=redact))
        self.assertEqual(cm.exception.body, json.loads(run_json()))
        self.assertEqual(str(cm.exception), cm.exception.message)
        self.assertTrue(cm.exception.message.startswith("in event 'thread.run.queued': the "))

    def test_errors_quote_the_data_only_redacted(self) -> None:
        long_value = "x" * 30 + SECRET  # quoted cut short: the secret no longer whole
        for name, body, error in (
            ("error event", sse("error", json.dumps({"error": {"message": "bad " + SECRET,
                                                              "code": SECRET}})),
             StreamError),
            ("plain-text error event", sse("error", "no: " + SECRET), StreamError),
            ("invalid run", sse("thread.run.queued", run_json(created_at=long_value)),
             ThreadRunError),
            ("invalid run, short", sse("thread.run.queued", run_json(model=[SECRET])),
             ThreadRunError),
            ("invalid delta", sse("thread.message.delta", json.dumps(
                {"delta": {"content": [{"type": "text", "text": {"value": [long_value]}}]}})),
             ThreadRunError),
        ):  # fmt: skip
            with self.subTest(name):
                pieces = {SECRET[i : i + 8] for i in range(len(SECRET) - 7)}
                for hooks in ({"redact": redact}, {}):
                    stream = self.stream(body + DONE, **hooks)
                    with self.assertRaises(error) as cm:
                        list(stream.text_deltas())
                    texts = [str(cm.exception), repr(cm.exception.args),
                             repr(getattr(cm.exception, "body", None)),
                             str(getattr(cm.exception, "message", ""))]  # fmt: skip
                    leaked = any(piece in text for piece in pieces for text in texts)
                    # Without the hook the data is quoted as it came: the test can fail.
                    self.assertEqual(leaked, not hooks, texts)
                    self.assertEqual(cm.exception.request_id, None)


class ConstructionTest(unittest.TestCase):
    def test_bad_arguments(self) -> None:
        def read() -> bytes:
            return b""

        for args, kwargs, error in (
            ((read, None), {"max_event_bytes": 10}, TypeError),
            ((b"", print), {"max_event_bytes": 10}, TypeError),
            ((read, print), {"max_event_bytes": 0}, ValueError),
            ((read, print), {"max_event_bytes": 1.5}, ValueError),
            ((read, print), {"max_event_bytes": True}, ValueError),
            ((read, print), {}, TypeError),
            ((read, print), {"max_event_bytes": 10, "parse_run": None}, TypeError),
            ((read, print), {"max_event_bytes": 10, "redact": "no"}, TypeError),
        ):
            with self.subTest(args=args, kwargs=kwargs), self.assertRaises(error):
                RunStream(*args, **kwargs)


if __name__ == "__main__":
    unittest.main()
