"""Specification of threadrun.testing.FakeRunsServer's event streams, run steps, messages and
create-thread-and-run, exercised over raw loopback HTTP (http.client and sockets only).

The bytes are checked as the API sends them (the reference examples are in
../shared/corpus/openapi-streams): each event is ``event: NAME\\ndata: JSON\\n\\n``, the stream
ends with ``event: done\\ndata: [DONE]\\n\\n``, in HTTP/1.1 chunks.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
import unittest
from typing import Any, Dict, List, Optional, Tuple

from tests import load_testing
from tests.test_testing import RUN_KEYS, ServerTest

testing: Any = None  # threadrun.testing, set by setUpModule (skipped in single-file mode)

MESSAGE = "The weather in San Francisco is 70 \u00b0F and sunny \u2600\ufe0f."
DONE = ("done", "[DONE]")
EVENT = re.compile(rb"event: ([a-z._]+)\ndata: ([^\n]*)\n\n")
# What a run going queued -> in_progress -> completed streams, in order.
COMPLETED_EVENTS = [
    "thread.run.created", "thread.run.queued", "thread.run.in_progress",
    "thread.run.step.created", "thread.run.step.in_progress",
    "thread.message.created", "thread.message.in_progress",
] + ["thread.message.delta"] * 11 + [
    "thread.message.completed", "thread.run.step.completed", "thread.run.completed", "done",
]  # fmt: skip
REQUIRES_ACTION_EVENTS = [
    "thread.run.created", "thread.run.queued", "thread.run.in_progress",
    "thread.run.step.created", "thread.run.step.in_progress",
    "thread.run.step.delta", "thread.run.step.delta", "thread.run.requires_action", "done",
]  # fmt: skip


def setUpModule() -> None:
    global testing
    testing = load_testing()


def parse_stream(body: bytes) -> List[Tuple[str, Any]]:
    """The events of a stream framed exactly as the API frames them (anything else fails)."""
    events: List[Tuple[str, Any]] = []
    pos = 0
    while pos < len(body):
        found = EVENT.match(body, pos)
        if found is None:
            raise AssertionError("not an event at byte %d: %r" % (pos, body[pos : pos + 80]))
        name, data = found.group(1).decode(), found.group(2).decode("utf-8")
        events.append((name, data if data == "[DONE]" else json.loads(data)))
        pos = found.end()
    return events


def dechunk(raw: bytes) -> Tuple[bytes, List[bytes], bool]:
    """(head, chunk payloads, whether the terminating chunk came) of a raw chunked response."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    chunks = []
    while rest:
        size_line, sep, rest = rest.partition(b"\r\n")
        if not sep:
            break
        size = int(size_line, 16)
        if size == 0:
            return head, chunks, True
        if len(rest) < size + 2:
            break  # cut in the middle of a chunk
        chunks.append(rest[:size])
        rest = rest[size + 2 :]
    return head, chunks, False


class StreamTest(ServerTest):
    PATH = "/v1/threads/thread_1/runs"
    BODY = {"assistant_id": "asst_1"}

    def stream(
        self, path: str, body: Dict[str, Any], conn: Optional[http.client.HTTPConnection] = None
    ) -> Tuple[http.client.HTTPResponse, List[Tuple[str, Any]]]:
        resp = self.open_stream(path, body, conn)
        raw = resp.read()
        return resp, parse_stream(raw)

    def open_stream(
        self, path: str, body: Dict[str, Any], conn: Optional[http.client.HTTPConnection] = None
    ) -> http.client.HTTPResponse:
        conn = conn or self.conn
        headers = {"OpenAI-Beta": "assistants=v2", "Content-Type": "application/json"}
        conn.request("POST", path, json.dumps(dict(body, stream=True)), headers)
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        return resp

    def raw_stream(self, path: str, body: Dict[str, Any], version: str = "HTTP/1.1") -> bytes:
        """The raw response bytes, read from a socket until the server closes it."""
        payload = json.dumps(dict(body, stream=True)).encode()
        request = (
            "POST %s %s\r\nHost: 127.0.0.1\r\nOpenAI-Beta: assistants=v2\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
            % (path, version, len(payload))
        ).encode() + payload
        return self.raw_exchange(request)

    def read_events(self, resp: http.client.HTTPResponse, count: int) -> List[Tuple[str, Any]]:
        """Read exactly ``count`` events from an open stream (line by line, as they arrive)."""
        raw = b""
        for _ in range(count * 3):
            raw += resp.readline()
        return parse_stream(raw)

    def names(self, events: List[Tuple[str, Any]]) -> List[str]:
        return [name for name, _ in events]

    def requires_action_run(self) -> Tuple[Dict[str, Any], List[Tuple[str, Any]]]:
        self.server.default_statuses = ("queued", "in_progress", "requires_action")
        _, events = self.stream("/v1/threads/thread_1/runs", {"assistant_id": "asst_1"})
        return events[-2][1], events


class StreamFramingTest(StreamTest):
    def test_a_completed_run_streams_as_the_api_does(self) -> None:
        resp, events = self.stream("/v1/threads/thread_1/runs", {"assistant_id": "asst_1"})
        self.assertEqual(resp.headers["Content-Type"], "text/event-stream; charset=utf-8")
        self.assertEqual(resp.headers["Transfer-Encoding"], "chunked")
        self.assertEqual(self.names(events), COMPLETED_EVENTS)
        self.assertEqual(events[-1], DONE)
        runs = [(name, data) for name, data in events if name.startswith("thread.run.")]
        for name, data in runs:
            if data.get("object") == "thread.run":
                with self.subTest(event=name):
                    self.assertEqual(list(data), RUN_KEYS)  # a full run, every time
                    if name != "thread.run.created":
                        self.assertEqual(name, "thread.run." + data["status"])
        deltas = [d["delta"]["content"][0]["text"]["value"] for n, d in events if "delta" in n]
        self.assertEqual("".join(deltas), MESSAGE)
        [message] = [d for n, d in events if n == "thread.message.completed"]
        self.assertEqual(message["content"][0]["text"]["value"], MESSAGE)
        self.assertEqual((message["status"], message["role"]), ("completed", "assistant"))
        run = events[-2][1]
        self.assertEqual((run["status"], run["usage"]["total_tokens"]), ("completed", 356))
        # the run, its steps and its messages hold what the stream said
        self.assertEqual(self.get(run["id"]), run)
        self.assertEqual(self.server.get_run(run["id"]), run)
        [step] = self.call("GET", "/v1/threads/thread_1/runs/%s/steps" % run["id"]).json["data"]
        self.assertEqual(step, next(d for n, d in events if n == "thread.run.step.completed"))
        messages = self.call("GET", "/v1/threads/thread_1/messages").json["data"]
        self.assertEqual(messages, [message])
        self.assertEqual(step["step_details"]["message_creation"]["message_id"], message["id"])

    def test_an_event_read_is_an_event_recorded(self) -> None:
        resp = self.open_stream(self.PATH, self.BODY)
        read: List[Tuple[str, Any]] = []
        for _ in COMPLETED_EVENTS:  # up to done, not the end of the body
            read += self.read_events(resp, 1)
            self.assertEqual(self.server.streams[0].events[: len(read)], read)
        [recorded] = self.server.streams
        self.assertTrue(recorded.finished)
        self.assertEqual(recorded.events[-1], DONE)
        resp.read()

    def test_the_connection_is_kept_alive_after_a_stream(self) -> None:
        self.stream("/v1/threads/thread_1/runs", {"assistant_id": "asst_1"})
        self.create()
        self.assertEqual(self.server.connections_opened, 1)

    def test_exact_bytes_in_one_chunk_per_event(self) -> None:
        raw = self.raw_stream("/v1/threads/thread_1/runs", {"assistant_id": "asst_1"})
        head, chunks, terminated = dechunk(raw)
        self.assertTrue(terminated)
        self.assertIn(b"Transfer-Encoding: chunked", head.split(b"\r\n"))
        self.assertNotIn(b"Content-Length", head)
        [recorded] = self.server.streams
        self.assertEqual(b"".join(chunks), recorded.body)
        self.assertEqual([parse_stream(c)[0] for c in chunks], recorded.events)
        self.assertEqual(chunks[-1], b"event: done\ndata: [DONE]\n\n")
        self.assertTrue(recorded.finished and recorded.ended)
        self.assertEqual(recorded.request.json, {"assistant_id": "asst_1", "stream": True})

    def test_http10_client_gets_the_stream_until_close(self) -> None:
        raw = self.raw_stream("/v1/threads/thread_1/runs", {"assistant_id": "a"}, "HTTP/1.0")
        head, _, body = raw.partition(b"\r\n\r\n")
        self.assertNotIn(b"Transfer-Encoding", head)
        self.assertIn(b"Connection: close", head)
        self.assertEqual(self.names(parse_stream(body)), COMPLETED_EVENTS)

    def test_other_endings(self) -> None:
        for end, last in (("failed", "thread.run.failed"), ("cancelled", "thread.run.cancelled")):
            with self.subTest(end=end):
                self.server.default_statuses = ("queued", end)
                _, events = self.stream("/v1/threads/thread_1/runs", {"assistant_id": "a"})
                self.assertEqual(
                    self.names(events), ["thread.run.created", "thread.run.queued", last, "done"]
                )
        self.server.default_statuses = ("queued", "in_progress", "incomplete")
        _, events = self.stream("/v1/threads/thread_1/runs", {"assistant_id": "a"})
        [message] = [d for n, d in events if n == "thread.message.incomplete"]
        self.assertEqual(message["incomplete_details"], {"reason": "max_tokens"})
        self.assertEqual(events[-2][0], "thread.run.incomplete")

    def test_a_run_that_stops_in_progress_stops_its_step(self) -> None:
        # As the API streams it: the step the run was in fails or expires with it, and the
        # message it was writing ends incomplete.
        for end in ("failed", "expired"):
            with self.subTest(end=end):
                self.server.default_statuses = ("queued", "in_progress", end)
                _, events = self.stream("/v1/threads/thread_1/runs", {"assistant_id": "a"})
                self.assertEqual(self.names(events), [
                    "thread.run.created", "thread.run.queued", "thread.run.in_progress",
                    "thread.run.step.created", "thread.run.step.in_progress",
                    "thread.message.created", "thread.message.in_progress",
                    "thread.message.incomplete", "thread.run.step." + end,
                    "thread.run." + end, "done",
                ])  # fmt: skip
                step, run = events[-3][1], events[-2][1]
                self.assertEqual((step["status"], step["last_error"]),
                                 (end, run["last_error"]))  # fmt: skip
                self.assertIsInstance(step[end + "_at"], int)
                message = events[-4][1]
                self.assertEqual(message["incomplete_details"], {"reason": "run_" + end})
                self.assertEqual(self.server.get_steps(run["id"]), [step])

    def test_message_text_is_configurable(self) -> None:
        self.server.default_message = "  Two  words \n"
        _, events = self.stream("/v1/threads/thread_1/runs", {"assistant_id": "a"})
        deltas = [d["delta"]["content"][0]["text"] for n, d in events if "delta" in n]
        self.assertEqual([d["value"] for d in deltas], ["  Two", "  words", " \n"])
        self.assertEqual(deltas[0]["annotations"], [])  # only the first delta, as the API
        with self.assertRaises(ValueError):
            self.server.default_message = None

    def test_stream_false_and_bad_stream_values(self) -> None:
        run = self.create(stream=False)
        self.assertEqual(run["status"], "queued")
        resp = self.call("POST", "/v1/threads/t/runs", {"assistant_id": "a", "stream": 1})
        self.assertEqual((resp.status, resp.json["error"]["param"]), (400, "stream"))


def collapsed(names: List[str]) -> List[str]:
    """The event names with each run of repeated deltas as one."""
    return [n for i, n in enumerate(names) if not (n.endswith(".delta") and names[i - 1] == n)]


class ReferenceSequenceTest(StreamTest):
    """The fake streams the event sequences of the API reference's examples
    (../shared/corpus/openapi-streams/*.sse; repeated deltas counted once, as their number
    depends on the text)."""

    MESSAGE = [
        "thread.run.step.created", "thread.run.step.in_progress",
        "thread.message.created", "thread.message.in_progress", "thread.message.delta",
        "thread.message.completed", "thread.run.step.completed", "thread.run.completed", "done",
    ]  # fmt: skip
    START = ["thread.run.created", "thread.run.queued", "thread.run.in_progress"]
    TOOLS = ["thread.run.step.created", "thread.run.step.in_progress", "thread.run.step.delta"]

    def test_reference_examples(self) -> None:
        self.server.default_after_tool_outputs = ("queued", "in_progress", "completed")
        thread_runs = "/v1/threads/runs"
        cases = [
            ("01-post-threads-runs", thread_runs, ["thread.created", *self.START, *self.MESSAGE]),
            ("03-post-threads-thread_id-runs", self.PATH, self.START + self.MESSAGE),
            ("02-post-threads-runs", thread_runs,
             ["thread.created", *self.START, *self.TOOLS, "thread.run.requires_action", "done"]),
        ]  # fmt: skip
        for name, path, expected in cases:
            with self.subTest(name):
                if "02" in name:
                    self.server.default_statuses = ("queued", "in_progress", "requires_action")
                _, events = self.stream(path, {"assistant_id": "asst_1"})
                self.assertEqual(collapsed(self.names(events)), expected)
        with self.subTest("05-post-threads-thread_id-runs-run_id-submit_tool_outputs"):
            run = events[-2][1]
            [call] = run["required_action"]["submit_tool_outputs"]["tool_calls"]
            path = "/v1/threads/%s/runs/%s/submit_tool_outputs" % (run["thread_id"], run["id"])
            _, rest = self.stream(path, {"tool_outputs": [{"tool_call_id": call["id"]}]})
            expected = ["thread.run.step.completed", *self.START[1:], *self.MESSAGE]
            self.assertEqual(collapsed(self.names(rest)), expected)


class RequiresActionStreamTest(StreamTest):
    def test_requires_action_ends_the_stream_then_submit_streams_the_rest(self) -> None:
        run, events = self.requires_action_run()
        self.assertEqual(self.names(events), REQUIRES_ACTION_EVENTS)
        [call] = run["required_action"]["submit_tool_outputs"]["tool_calls"]
        first, second = [d["delta"]["step_details"]["tool_calls"][0] for n, d in events[5:7]]
        self.assertEqual(
            (first["id"], first["function"]["name"]), (call["id"], call["function"]["name"])
        )
        self.assertEqual(
            first["function"]["arguments"] + second["function"]["arguments"],
            call["function"]["arguments"],
        )
        self.assertEqual(self.get(run["id"]), run)  # waits for tool outputs
        path = "/v1/threads/thread_1/runs/%s/submit_tool_outputs" % run["id"]
        outputs = {"tool_outputs": [{"tool_call_id": call["id"], "output": "70 degrees"}]}
        _, rest = self.stream(path, outputs)
        after = ["thread.run.step.completed", "thread.run.in_progress", *COMPLETED_EVENTS[3:]]
        self.assertEqual(self.names(rest), after)
        tool_step = rest[0][1]
        self.assertEqual(tool_step["type"], "tool_calls")
        self.assertEqual(
            tool_step["step_details"]["tool_calls"][0]["function"]["output"], "70 degrees"
        )
        self.assertEqual(self.get(run["id"]), rest[-2][1])
        self.assertEqual(rest[-2][1]["status"], "completed")

    def test_tool_outputs_without_stream_answer_json(self) -> None:
        run, _ = self.requires_action_run()
        [call] = run["required_action"]["submit_tool_outputs"]["tool_calls"]
        path = "/v1/threads/thread_1/runs/%s/submit_tool_outputs" % run["id"]
        resp = self.call("POST", path, {"tool_outputs": [{"tool_call_id": call["id"]}]})
        self.assertEqual(resp.json["status"], "in_progress")

    def test_a_refused_submit_is_a_json_error(self) -> None:
        run, _ = self.requires_action_run()
        path = "/v1/threads/thread_1/runs/%s/submit_tool_outputs" % run["id"]
        resp = self.call("POST", path, {"tool_outputs": [], "stream": True})
        self.assertEqual((resp.status, resp.headers["Content-Type"]), (400, "application/json"))
        self.assertEqual(self.get(run["id"])["status"], "requires_action")


class CreateThreadAndRunTest(StreamTest):
    def test_json(self) -> None:
        thread = {"messages": [{"role": "user", "content": "Weather?"}], "metadata": {"k": "v"}}
        body = {"assistant_id": "asst_1", "thread": thread, "instructions": "Be brief."}
        resp = self.call("POST", "/v1/threads/runs", body)
        run = resp.json
        self.assertEqual((resp.status, list(run)), (200, RUN_KEYS))
        self.assertRegex(run["thread_id"], r"^thread_[0-9a-f]{24}$")
        self.assertEqual((run["status"], run["instructions"]), ("queued", "Be brief."))
        self.assertEqual(self.get(run["id"], run["thread_id"])["status"], "in_progress")
        [message] = self.server.get_messages(run["thread_id"])
        self.assertEqual((message["role"], message["run_id"]), ("user", None))
        self.assertEqual(message["content"][0]["text"]["value"], "Weather?")
        again = self.call("POST", "/v1/threads/runs", {"assistant_id": "asst_1"}).json
        self.assertNotEqual(again["thread_id"], run["thread_id"])

    def test_stream_starts_with_thread_created(self) -> None:
        _, events = self.stream("/v1/threads/runs", {"assistant_id": "asst_1"})
        self.assertEqual(self.names(events), ["thread.created", *COMPLETED_EVENTS])
        thread = events[0][1]
        self.assertEqual(
            sorted(thread), ["created_at", "id", "metadata", "object", "tool_resources"]
        )
        self.assertEqual(events[1][1]["thread_id"], thread["id"])
        messages = self.call("GET", "/v1/threads/%s/messages" % thread["id"]).json["data"]
        self.assertEqual(messages[0]["content"][0]["text"]["value"], MESSAGE)

    def test_bad_bodies(self) -> None:
        cases = [
            ({}, "assistant_id", "missing_required_parameter"),
            ({"assistant_id": "a", "thread": []}, "thread", "invalid_type"),
            ({"assistant_id": "a", "thread": {"x": 1}}, "thread.x", "unknown_parameter"),
            ({"assistant_id": "a", "additional_instructions": "x"}, "additional_instructions",
             "unknown_parameter"),
            ({"assistant_id": "a", "thread": {"messages": [{"role": "system", "content": "x"}]}},
             "thread.messages[0].role", "invalid_value"),
            ({"assistant_id": "a", "thread": {"messages": [{"role": "user"}]}},
             "thread.messages[0].content", "missing_required_parameter"),
            ({"assistant_id": "a", "thread": {"metadata": {"k": 1}}}, "thread.metadata.k",
             "invalid_type"),
        ]  # fmt: skip
        for body, param, code in cases:
            with self.subTest(body=body):
                resp = self.call("POST", "/v1/threads/runs", dict(body, stream=True))
                self.assertEqual(
                    (resp.status, resp.headers["Content-Type"]), (400, "application/json")
                )
                self.assertEqual(
                    (resp.json["error"]["param"], resp.json["error"]["code"]), (param, code)
                )
        self.assertEqual(self.server.streams, [])

    def test_additional_messages_join_the_thread(self) -> None:
        messages = [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
        run = self.create(additional_messages=messages)
        [message] = self.server.get_messages(run["thread_id"])
        self.assertEqual(message["content"], messages[0]["content"])


class StreamFaultTest(StreamTest):
    def test_stall_until_an_event_keeps_the_run_where_the_stream_is(self) -> None:
        for after, status in ((3, "in_progress"), (5, "in_progress"), (1, "queued")):
            with self.subTest(after=after):
                resume = threading.Event()
                self.server.inject(testing.Fault(after_events=after, stall=resume))
                resp = self.open_stream(self.PATH, self.BODY, self.connect())
                first = self.read_events(resp, after)
                run_id = first[0][1]["id"]
                for _ in range(2):  # GETs neither move a streamed run nor see past the stream
                    self.assertEqual(self.get(run_id)["status"], status)
                [recorded] = [s for s in self.server.streams if s.events[0] == first[0]]
                self.assertEqual((len(recorded.events), recorded.ended), (after, False))
                resume.set()
                rest = parse_stream(resp.read())
                self.assertEqual(self.names(first + rest), COMPLETED_EVENTS)
                self.assertEqual(self.get(run_id)["status"], "completed")

    def test_a_cancel_during_a_stream_is_streamed(self) -> None:
        resume = threading.Event()
        self.server.inject(testing.Fault(after_events=3, stall=resume))
        resp = self.open_stream(self.PATH, self.BODY, self.connect())
        run_id = self.read_events(resp, 3)[0][1]["id"]
        cancel = self.call("POST", "/v1/threads/thread_1/runs/%s/cancel" % run_id)
        self.assertEqual(cancel.json["status"], "cancelling")
        resume.set()
        rest = parse_stream(resp.read())
        self.assertEqual(
            self.names(rest), ["thread.run.cancelling", "thread.run.cancelled", "done"]
        )
        self.assertEqual(self.get(run_id), rest[1][1])

    def test_stall_for_seconds(self) -> None:
        self.server.inject(testing.Fault(after_events=2, stall=0.05))
        started = time.monotonic()
        _, events = self.stream(self.PATH, self.BODY)
        self.assertGreaterEqual(time.monotonic() - started, 0.04)
        self.assertEqual(self.names(events), COMPLETED_EVENTS)

    def test_stop_ends_a_stall(self) -> None:
        self.server.inject(testing.Fault(after_events=1, stall=threading.Event()))
        resp = self.open_stream(self.PATH, self.BODY)
        self.read_events(resp, 1)
        started = time.monotonic()
        self.server.stop()
        self.assertLess(time.monotonic() - started, 3.0)

    def test_drop_after_events(self) -> None:
        for after in (0, 1, 4, len(COMPLETED_EVENTS) - 1):
            with self.subTest(after=after):
                self.server.inject(testing.Fault(after_events=after, drop=True))
                raw = self.raw_stream(self.PATH, self.BODY)
                _, chunks, terminated = dechunk(raw)
                self.assertFalse(terminated)
                events = parse_stream(b"".join(chunks))
                self.assertEqual(self.names(events), COMPLETED_EVENTS[:after])
                recorded = self.server.streams[-1]
                self.assertEqual((recorded.events, recorded.finished), (events, False))
                # the run carried on, as a real run does when its stream breaks
                run = self.server.get_run(recorded_run_id(self))
                self.assertEqual(run["status"], "completed")

    def test_client_sees_a_cut_stream(self) -> None:
        self.server.inject(testing.Fault(after_events=2, drop=True))
        resp = self.open_stream(self.PATH, self.BODY)
        with self.assertRaises(http.client.IncompleteRead):
            resp.read()

    def test_error_event(self) -> None:
        error = {"message": "The server had an error.", "type": "server_error", "code": None}
        self.server.inject(testing.Fault(after_events=3, error_event=error))
        raw = self.raw_stream(self.PATH, self.BODY)
        _, chunks, terminated = dechunk(raw)
        self.assertTrue(terminated)  # a clean end of the body, without done
        events = parse_stream(b"".join(chunks))
        self.assertEqual(events[3:], [("error", {"error": error})])
        self.assertEqual(
            chunks[-1],
            b'event: error\ndata: {"error":{"message":"The server had an'
            b' error.","type":"server_error","code":null}}\n\n',
        )
        self.assertFalse(self.server.streams[-1].finished)
        # a client that saw the end of the body sees the run where it went on to
        self.server.inject(testing.Fault(after_events=1, error_event=error))
        resp = self.open_stream(self.PATH, self.BODY)
        run_id = parse_stream(resp.read())[0][1]["id"]
        self.assertEqual(self.get(run_id)["status"], "completed")

    def test_awkward_splits(self) -> None:
        self.server.inject(testing.Fault(split_awkwardly=True, line_ending="\r\n"))
        raw = self.raw_stream(self.PATH, self.BODY)
        _, chunks, terminated = dechunk(raw)
        self.assertTrue(terminated)
        body = b"".join(chunks)
        self.assertEqual(body, self.server.streams[-1].body)
        self.assertEqual(self.names(parse_stream(body.replace(b"\r\n", b"\n"))), COMPLETED_EVENTS)
        pairs = list(zip(chunks, chunks[1:]))
        inside_char = [a for a, b in pairs if a[-1] >= 0xC0 and 0x80 <= b[0] < 0xC0]
        # the three non-ASCII characters of the message, in its deltas and in the whole message
        self.assertEqual(len(inside_char), 6)
        self.assertEqual(
            sum(1 for a, b in pairs if a.endswith(b"\r") and b.startswith(b"\n")),
            body.count(b"\r\n"),
        )
        self.assertEqual(
            sum(1 for a, b in pairs if a.endswith(b"\nda") and b.startswith(b"ta: ")),
            len(COMPLETED_EVENTS),
        )

    def test_one_byte_chunks_and_cr_line_endings(self) -> None:
        self.server.inject(testing.Fault(chunk_bytes=1, line_ending="\r"))
        _, chunks, terminated = dechunk(self.raw_stream(self.PATH, self.BODY))
        self.assertTrue(terminated)
        self.assertEqual({len(c) for c in chunks}, {1})
        body = b"".join(chunks)
        self.assertNotIn(b"\n", body)
        self.assertEqual(self.names(parse_stream(body.replace(b"\r", b"\n"))), COMPLETED_EVENTS)

    def test_stream_faults_match_streaming_requests_only(self) -> None:
        self.server.inject(testing.Fault(after_events=0, drop=True))
        self.assertEqual(self.create()["status"], "queued")  # not a stream: not for this fault
        self.assertEqual(self.server.pending_faults, 1)
        _, chunks, terminated = dechunk(self.raw_stream(self.PATH, self.BODY))
        self.assertEqual((chunks, terminated, self.server.pending_faults), ([], False, 0))
        self.server.fail_next(503)  # a plain fault answers a streaming request with its error
        resp = self.call("POST", self.PATH, dict(self.BODY, stream=True))
        self.assertEqual((resp.status, resp.json["error"]["type"]), (503, "server_error"))

    def test_events_after_a_named_one_then_a_bare_error(self) -> None:
        # Anything a server may send, at a place named by the event before it: an unknown
        # event, invalid JSON, then the spec's error event (its data the error itself).
        error = {"code": "server_error", "message": "Boom.", "param": None, "type": None}
        inserted = [("thread.run.frobnicated", {"object": "thread.run.frobnicated"}),
                    ("thread.message.delta", '{"x": NaN,}')]  # fmt: skip
        self.server.inject(testing.Fault(after_event="thread.run.queued", events=inserted,
                                         error_event=error, error_bare=True))  # fmt: skip
        raw = self.raw_stream(self.PATH, self.BODY)
        _, chunks, terminated = dechunk(raw)
        self.assertTrue(terminated)
        self.assertEqual(b"".join(chunks).split(b"\n\n")[-4:], [
            b'event: thread.run.frobnicated\ndata: {"object":"thread.run.frobnicated"}',
            b'event: thread.message.delta\ndata: {"x": NaN,}',
            b'event: error\ndata: {"code":"server_error","message":"Boom.","param":null,'
            b'"type":null}', b"",
        ])  # fmt: skip
        recorded = self.server.streams[-1]
        self.assertEqual([name for name, _ in recorded.events],
                         ["thread.run.created", "thread.run.queued", "thread.run.frobnicated",
                          "thread.message.delta", "error"])  # fmt: skip
        self.assertEqual(recorded.events[-2:], [("thread.message.delta", '{"x": NaN,}'),
                                                ("error", error)])  # fmt: skip
        self.assertFalse(recorded.finished)
        # Without an error, the stream goes on after them; only the first such event counts.
        self.server.inject(testing.Fault(after_event="thread.message.delta",
                                         events=[("x.y", [1])]))  # fmt: skip
        _, events = self.stream(self.PATH, self.BODY)
        names = self.names(events)
        self.assertEqual(names.count("x.y"), 1)
        self.assertEqual(names[names.index("x.y") - 1 : names.index("x.y") + 2],
                         ["thread.message.delta", "x.y", "thread.message.delta"])  # fmt: skip
        self.assertEqual(names[-1], "done")

    def test_fault_validation(self) -> None:
        for kwargs in (
            {"stall": 1.0},
            {"error_event": {"message": "x"}},
            {"events": [("a", {})]},
            {"after_events": 1, "after_event": "thread.run.queued"},
            {"after_event": "a", "events": [("a",)]},
            {"after_event": "a", "events": [(1, {})]},
            {"after_events": -1},
            {"after_events": 1, "stall": -1.0},
            {"line_ending": "\n\r"},
            {"chunk_bytes": 0},
        ):
            with self.subTest(kwargs=kwargs), self.assertRaises(ValueError):
                testing.Fault(**kwargs)


def recorded_run_id(test: StreamTest) -> str:
    """The id of the run the last stream request created (from the store: its stream may have
    been cut before the first event)."""
    runs = test.call("GET", "/v1/threads/thread_1/runs?limit=1").json["data"]
    return str(runs[0]["id"])


if __name__ == "__main__":
    unittest.main()
