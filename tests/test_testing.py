"""Specification of threadrun.testing.FakeRunsServer, exercised over raw loopback HTTP.

Deliberately uses http.client and socket only, never threadrun's client: the fake is the
yardstick the client is tested against, so it is checked on its own.
"""

from __future__ import annotations

import http.client
import itertools
import json
import socket
import threading
import time
import unittest
from typing import Any, Dict, List, Optional

from tests import load_testing
from tests.support import REQUEST_ID

testing: Any = None  # threadrun.testing, set by setUpModule (skipped in single-file mode)


def setUpModule() -> None:
    global testing
    testing = load_testing()


RUN_KEYS = [
    "id", "object", "created_at", "assistant_id", "thread_id", "status", "started_at",
    "expires_at", "cancelled_at", "failed_at", "completed_at", "required_action", "last_error",
    "model", "instructions", "tools", "tool_resources", "metadata", "incomplete_details",
    "usage", "temperature", "top_p", "max_prompt_tokens", "max_completion_tokens",
    "truncation_strategy", "response_format", "tool_choice", "parallel_tool_calls",
]  # fmt: skip


def api_error(
    message: str,
    param: Optional[str] = None,
    code: Optional[str] = None,
    type: str = "invalid_request_error",
) -> Dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


class Response:
    def __init__(self, resp: http.client.HTTPResponse) -> None:
        self.status = resp.status
        self.headers = resp.headers
        self.raw = resp.read()

    @property
    def json(self) -> Any:
        return json.loads(self.raw.decode("utf-8"))


class ServerTest(unittest.TestCase):
    options: Dict[str, Any] = {}

    def setUp(self) -> None:
        # load_testing(), not the module global: other modules' tests derive from this class.
        self.server = load_testing().FakeRunsServer(**self.options).start()
        self.addCleanup(self.stop_server)
        self.conn = self.connect()

    def stop_server(self) -> None:
        self.server.stop()
        self.assertEqual(self.server.errors, [])  # no bug inside the fake in any test

    def connect(self, timeout: float = 5.0) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=timeout)
        self.addCleanup(conn.close)
        return conn

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Optional[Dict[str, str]] = None,
        conn: Optional[http.client.HTTPConnection] = None,
    ) -> Response:
        conn = conn or self.conn
        hdrs = dict(headers or {})
        hdrs.setdefault("OpenAI-Beta", "assistants=v2")  # as every Assistants client must
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode("utf-8")
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body, headers=hdrs)
        return Response(conn.getresponse())

    def create(self, thread: str = "thread_1", **params: Any) -> Dict[str, Any]:
        params.setdefault("assistant_id", "asst_1")
        resp = self.call("POST", f"/v1/threads/{thread}/runs", params)
        self.assertEqual(resp.status, 200, resp.raw)
        return resp.json  # type: ignore[no-any-return]

    def get(self, run_id: str, thread: str = "thread_1") -> Dict[str, Any]:
        resp = self.call("GET", f"/v1/threads/{thread}/runs/{run_id}")
        self.assertEqual(resp.status, 200, resp.raw)
        return resp.json  # type: ignore[no-any-return]

    def assertError(self, resp: Response, status: int, body: Dict[str, Any]) -> None:
        self.assertEqual((resp.status, resp.json), (status, body))
        self.assertEqual(resp.headers["Content-Type"], "application/json")
        self.assertRegex(resp.headers["x-request-id"], REQUEST_ID)

    def raw_exchange(self, data: bytes) -> bytes:
        """Send raw bytes on a fresh socket; the raw answer, read until the server closes."""
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as sock:
            sock.sendall(data)
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)

    def wait_until(self, predicate: Any, timeout: float = 2.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                self.fail("condition not reached in time")
            time.sleep(0.005)


class LifecycleTest(ServerTest):
    def test_urls_point_at_loopback_port(self) -> None:
        self.assertGreater(self.server.port, 0)
        self.assertEqual(self.server.url, f"http://127.0.0.1:{self.server.port}")
        self.assertEqual(self.server.base_url, f"http://127.0.0.1:{self.server.port}/v1")
        self.assertIn(str(self.server.port), repr(self.server))

    def test_not_running(self) -> None:
        fresh = testing.FakeRunsServer()
        with self.assertRaises(RuntimeError):
            fresh.base_url  # noqa: B018
        fresh.stop()  # harmless
        with self.assertRaises(RuntimeError):
            self.server.start()

    def test_context_manager_starts_and_stops(self) -> None:
        with testing.FakeRunsServer() as server:
            port = server.port
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/v1/threads/t/runs/r")
            self.assertEqual(conn.getresponse().read()[:1], b"{")
        # the kept-alive connection was closed by the server, and nothing listens any more
        with self.assertRaises(ConnectionError):
            conn.request("GET", "/v1/threads/t/runs/r")
            conn.getresponse()
        conn.close()
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        self.assertEqual(repr(server), "<FakeRunsServer stopped>")

    def test_stop_is_quick_and_ends_connection_threads(self) -> None:
        for _ in range(3):
            self.call("GET", "/v1/threads/t/runs/r", conn=self.connect())  # idle keep-alives
        self.assertEqual(self.server.open_connections, 3)
        started = time.monotonic()
        self.server.stop()
        self.assertLess(time.monotonic() - started, 1.0)
        self.assertEqual(self.server.open_connections, 0)
        alive = [t for t in threading.enumerate() if t.name.startswith("FakeRunsServer")]
        self.assertEqual(alive, [])

    def test_stop_cuts_short_a_delayed_request(self) -> None:
        self.server.delay_next(30)
        errors: List[BaseException] = []

        def client() -> None:
            try:
                self.call("GET", "/v1/threads/t/runs/r", conn=self.connect(timeout=10))
            except BaseException as exc:  # the response may or may not make it out
                errors.append(exc)

        thread = threading.Thread(target=client)
        thread.start()
        self.wait_until(lambda: len(self.server.requests) == 1)
        started = time.monotonic()
        self.server.stop()
        self.assertLess(time.monotonic() - started, 2.0)
        thread.join(5)
        self.assertFalse(thread.is_alive())

    def test_restart_after_stop(self) -> None:
        self.server.stop()
        self.server.start()
        self.assertEqual(self.call("GET", "/v1/x", conn=self.connect()).status, 404)


class CreateTest(ServerTest):
    options = {"clock": lambda: 1_700_000_000.7}

    def test_defaults_have_the_full_run_shape(self) -> None:
        resp = self.call("POST", "/v1/threads/thread_1/runs", {"assistant_id": "asst_1"})
        self.assertEqual(resp.status, 200)
        run = resp.json
        self.assertEqual(list(run), RUN_KEYS)
        self.assertRegex(run["id"], r"^run_[0-9a-f]{24}$")
        expected = {
            "object": "thread.run", "created_at": 1_700_000_000, "assistant_id": "asst_1",
            "thread_id": "thread_1", "status": "queued", "started_at": None,
            "expires_at": 1_700_000_600, "cancelled_at": None, "failed_at": None,
            "completed_at": None, "required_action": None, "last_error": None,
            "model": "gpt-4o", "instructions": "", "tools": [], "tool_resources": {},
            "metadata": {}, "incomplete_details": None, "usage": None, "temperature": 1.0,
            "top_p": 1.0, "max_prompt_tokens": None, "max_completion_tokens": None,
            "truncation_strategy": {"type": "auto", "last_messages": None},
            "response_format": "auto", "tool_choice": "auto", "parallel_tool_calls": True,
        }  # fmt: skip
        self.assertEqual({k: v for k, v in run.items() if k != "id"}, expected)
        self.assertEqual(resp.headers["Content-Type"], "application/json")
        self.assertEqual(resp.headers["openai-poll-after-ms"], "5")
        self.assertEqual(int(resp.headers["Content-Length"]), len(resp.raw))
        self.assertRegex(resp.headers["x-request-id"], REQUEST_ID)
        self.assertEqual(self.server.get_run(run["id"]), run)

    def test_documented_params_echo_back(self) -> None:
        tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
        params = {
            "model": "gpt-4o-mini", "instructions": "Be brief.", "tools": tools,
            "metadata": {"k": "v"}, "temperature": 0.2, "top_p": 0.9,
            "max_prompt_tokens": 1000, "max_completion_tokens": 500,
            "truncation_strategy": {"type": "last_messages", "last_messages": 3},
            "tool_choice": {"type": "function", "function": {"name": "f"}},
            "parallel_tool_calls": False, "response_format": {"type": "json_object"},
            "reasoning_effort": "low",
        }  # fmt: skip
        run = self.create(additional_instructions="More.", additional_messages=[], **params)
        for key, value in params.items():
            self.assertEqual(run[key], value, key)
        self.assertNotIn("additional_instructions", run)
        self.assertNotIn("reasoning_effort", self.create())  # only when given

    def test_null_params_take_defaults(self) -> None:
        run = self.create(model=None, temperature=None, metadata=None)
        self.assertEqual((run["model"], run["temperature"], run["metadata"]), ("gpt-4o", 1.0, {}))

    def test_missing_assistant_id(self) -> None:
        resp = self.call("POST", "/v1/threads/thread_1/runs", {"model": "gpt-4o"})
        self.assertError(
            resp,
            400,
            api_error(
                "Missing required parameter: 'assistant_id'.",
                "assistant_id",
                "missing_required_parameter",
            ),
        )
        self.assertError(
            self.call("POST", "/v1/threads/thread_1/runs"),
            400,
            api_error(
                "Missing required parameter: 'assistant_id'.",
                "assistant_id",
                "missing_required_parameter",
            ),
        )

    def test_unknown_param(self) -> None:
        resp = self.call("POST", "/v1/threads/t/runs", {"assistant_id": "a", "temprature": 1})
        self.assertError(
            resp,
            400,
            api_error("Unknown parameter: 'temprature'.", "temprature", "unknown_parameter"),
        )

    def test_bad_param_values(self) -> None:
        cases = [
            ({"assistant_id": 5}, "assistant_id", "invalid_type"),
            ({"temperature": "hot"}, "temperature", "invalid_type"),
            ({"temperature": 2.5}, "temperature", "invalid_value"),
            ({"top_p": -0.1}, "top_p", "invalid_value"),
            ({"max_prompt_tokens": True}, "max_prompt_tokens", "invalid_type"),
            ({"max_completion_tokens": 1.5}, "max_completion_tokens", "invalid_type"),
            ({"tools": {}}, "tools", "invalid_type"),
            ({"parallel_tool_calls": "yes"}, "parallel_tool_calls", "invalid_type"),
            ({"metadata": []}, "metadata", "invalid_type"),
            ({"metadata": {"k": 1}}, "metadata.k", "invalid_type"),
            ({"metadata": {"k": "v" * 513}}, "metadata.k", "string_above_max_length"),
            (
                {"metadata": {str(i): "v" for i in range(17)}},
                "metadata",
                "object_above_max_properties",
            ),
            ({"metadata": {"k" * 65: "v"}}, "metadata", "invalid_value"),
            ({"stream": "yes"}, "stream", "invalid_type"),
        ]
        for params, param, code in cases:
            with self.subTest(params=params):
                body = dict({"assistant_id": "asst_1"}, **params)
                resp = self.call("POST", "/v1/threads/t/runs", body)
                self.assertEqual(resp.status, 400)
                error = resp.json["error"]
                self.assertEqual((error["param"], error["code"]), (param, code))
                self.assertEqual(error["type"], "invalid_request_error")
        # nothing was created, not even the thread
        self.assertError(
            self.call("GET", "/v1/threads/t/runs"), 404, api_error("No thread found with id 't'.")
        )

    def test_bad_json_body(self) -> None:
        for raw in (b"{not json", b'{"assistant_id": "a"', b"\xff\xfe"):
            with self.subTest(raw=raw):
                resp = self.call("POST", "/v1/threads/t/runs", raw)
                self.assertEqual(resp.status, 400)
                self.assertTrue(
                    resp.json["error"]["message"].startswith(
                        "We could not parse the JSON body of your request."
                    )
                )
        for raw in (b"[]", b'"x"', b"null", b"3"):
            with self.subTest(raw=raw):
                resp = self.call("POST", "/v1/threads/t/runs", raw)
                self.assertEqual(resp.status, 400)
                self.assertEqual(resp.json["error"]["code"], "invalid_type")

    def test_body_over_limit_is_rejected_and_connection_closed(self) -> None:
        self.server.max_body_bytes = 100
        body = json.dumps({"assistant_id": "a", "instructions": "x" * 200}).encode()
        resp = self.call("POST", "/v1/threads/t/runs", body)
        self.assertError(
            resp,
            400,
            api_error(
                f"Request body too large: {len(body)} bytes; this server accepts at most 100 bytes."
            ),
        )
        self.assertEqual(resp.headers["Connection"], "close")
        self.assertEqual(self.server.requests[-1].body, b"")
        self.assertEqual(self.create(thread="t")["status"], "queued")  # reconnects fine
        self.assertEqual(self.server.connections_opened, 2)

    def test_chunked_body(self) -> None:
        chunks = [b'{"assistant_id":', b' "asst_c", "metadata": {"a": "b"}}']
        self.conn.request(
            "POST",
            "/v1/threads/t/runs",
            body=iter(chunks),
            headers={"Transfer-Encoding": "chunked", "OpenAI-Beta": "assistants=v2"},
            encode_chunked=True,
        )
        resp = Response(self.conn.getresponse())
        self.assertEqual(resp.status, 200, resp.raw)
        self.assertEqual((resp.json["assistant_id"], resp.json["metadata"]), ("asst_c", {"a": "b"}))
        self.assertEqual(self.server.requests[-1].body, b"".join(chunks))
        self.assertEqual(self.get(resp.json["id"], "t")["status"], "in_progress")  # same socket

    def test_threads_must_exist_without_auto_create(self) -> None:
        self.server.auto_create_threads = False
        resp = self.call("POST", "/v1/threads/thread_x/runs", {"assistant_id": "a"})
        self.assertError(resp, 404, api_error("No thread found with id 'thread_x'."))
        self.assertEqual(self.server.add_thread("thread_x"), "thread_x")
        self.assertEqual(self.create(thread="thread_x")["thread_id"], "thread_x")
        self.assertRegex(self.server.add_thread(), r"^thread_[0-9a-f]{24}$")

    def test_poll_after_header_can_be_disabled(self) -> None:
        self.server.poll_after_ms = None
        resp = self.call("POST", "/v1/threads/t/runs", {"assistant_id": "a"})
        self.assertIsNone(resp.headers["openai-poll-after-ms"])
        self.server.poll_after_ms = 250
        self.assertEqual(
            self.call("GET", f"/v1/threads/t/runs/{resp.json['id']}").headers[
                "openai-poll-after-ms"
            ],
            "250",
        )
        # not on lists or errors
        self.assertIsNone(self.call("GET", "/v1/threads/t/runs").headers["openai-poll-after-ms"])
        self.assertIsNone(self.call("GET", "/v1/nope").headers["openai-poll-after-ms"])


class StatusSequenceTest(ServerTest):
    def setUp(self) -> None:
        self.ticks = itertools.count(1000)
        self.options = {"clock": lambda: next(self.ticks)}
        super().setUp()

    def test_created_run_goes_queued_in_progress_completed(self) -> None:
        run = self.create()
        self.assertEqual((run["status"], run["created_at"]), ("queued", 1000))
        self.assertIsNone(run["started_at"])
        run = self.get(run["id"])
        self.assertEqual(
            (run["status"], run["started_at"], run["completed_at"]), ("in_progress", 1002, None)
        )
        self.assertEqual(run["expires_at"], 1600)
        run = self.get(run["id"])
        self.assertEqual(
            (run["status"], run["started_at"], run["completed_at"]), ("completed", 1002, 1003)
        )
        self.assertIsNone(run["expires_at"])
        self.assertEqual(
            run["usage"], {"prompt_tokens": 345, "completion_tokens": 11, "total_tokens": 356}
        )
        self.assertEqual(self.get(run["id"]), run)  # terminal: stays

    def test_default_statuses_are_configurable(self) -> None:
        self.server.default_statuses = ("in_progress", "failed")
        run = self.create()
        self.assertEqual((run["status"], run["started_at"]), ("in_progress", 1001))
        run = self.get(run["id"])
        self.assertEqual((run["status"], run["failed_at"]), ("failed", 1002))
        self.assertEqual(
            run["last_error"], {"code": "server_error", "message": "Sorry, something went wrong."}
        )

    def test_add_run_defaults_to_a_tool_call(self) -> None:
        stored = self.server.add_run()
        self.assertEqual(
            (stored["status"], stored["thread_id"], stored["assistant_id"]),
            ("queued", "thread_1", "asst_fake"),
        )
        self.assertEqual(self.get(stored["id"])["status"], "in_progress")
        run = self.get(stored["id"])
        self.assertEqual(run["status"], "requires_action")
        action = run["required_action"]
        self.assertEqual(action["type"], "submit_tool_outputs")
        [call] = action["submit_tool_outputs"]["tool_calls"]
        self.assertRegex(call["id"], r"^call_[0-9a-f]{24}$")
        self.assertEqual(call["type"], "function")
        self.assertEqual(
            call["function"],
            {
                "name": "get_current_weather",
                "arguments": '{"location":"San Francisco, CA","unit":"fahrenheit"}',
            },
        )
        self.assertEqual(self.get(stored["id"]), run)  # waits for tool outputs
        self.assertEqual(self.server.get_run(stored["id"]), run)
        stored["status"] = "mutated"  # add_run returned a copy
        self.assertEqual(self.server.get_run(stored["id"])["status"], "requires_action")

    def test_add_run_tool_call_specs(self) -> None:
        raw = {"id": "call_raw", "type": "function", "function": {"name": "x"}}  # malformed
        run = self.server.add_run(
            "t",
            statuses=("requires_action",),
            tool_calls=[("lookup", '{"q":1}'), ("encode_me", {"a": [1, 2]}), raw],
        )
        calls = run["required_action"]["submit_tool_outputs"]["tool_calls"]
        self.assertEqual(
            [c["function"] for c in calls[:2]],
            [
                {"name": "lookup", "arguments": '{"q":1}'},
                {"name": "encode_me", "arguments": '{"a":[1,2]}'},
            ],
        )
        self.assertEqual(calls[2], raw)
        self.assertNotEqual(calls[0]["id"], calls[1]["id"])

    def test_add_run_fields_override(self) -> None:
        error = {"code": "rate_limit_exceeded", "message": "quota"}
        run = self.server.add_run(
            "t",
            statuses=("in_progress", "failed"),
            id="run_mine",
            model="o1",
            created_at=5,
            last_error=error,
            x_new_field=[1],
        )
        self.assertEqual(
            (run["id"], run["model"], run["created_at"], run["x_new_field"]),
            ("run_mine", "o1", 5, [1]),
        )
        run = self.get("run_mine", "t")
        self.assertEqual((run["status"], run["last_error"]), ("failed", error))
        with self.assertRaises(ValueError):
            self.server.add_run("t", id="run_mine")

    def test_null_instructions_when_stored_so(self) -> None:
        # The fake follows the spec (a string); a server that sends null is one add_run away.
        self.assertEqual(self.get(self.create()["id"])["instructions"], "")
        run = self.server.add_run(instructions=None)
        self.assertIsNone(run["instructions"])
        self.assertIsNone(self.get(run["id"])["instructions"])

    def test_add_run_validates_script(self) -> None:
        for kwargs in (
            {"statuses": ()},
            {"statuses": ("queued", "done")},
            {"statuses": ("completed", "in_progress")},
            {"after_tool_outputs": ()},
            {"tool_calls": ["just_a_name"]},
        ):
            with self.subTest(kwargs=kwargs), self.assertRaises(ValueError):
                self.server.add_run(**kwargs)
        with self.assertRaises(ValueError):
            testing.FakeRunsServer(default_statuses=("queued", "nope"))

    def test_other_terminal_statuses(self) -> None:
        incomplete = self.server.add_run(statuses=("in_progress", "incomplete"))
        run = self.get(incomplete["id"])
        self.assertEqual(run["incomplete_details"], {"reason": "max_completion_tokens"})
        self.assertIsNone(run["expires_at"])
        expired = self.server.add_run(statuses=("queued", "expired"))
        run = self.get(expired["id"])
        self.assertEqual(
            (run["status"], run["expires_at"], run["started_at"]),
            ("expired", expired["expires_at"], None),
        )

    def test_script_ending_unfinished_stays_there(self) -> None:
        run = self.server.add_run(statuses=("queued", "in_progress"))
        for _ in range(3):
            self.assertEqual(self.get(run["id"])["status"], "in_progress")

    def test_get_only_advances_its_own_run(self) -> None:
        a, b = self.create(), self.create()
        self.get(a["id"])
        self.assertEqual(self.server.get_run(b["id"])["status"], "queued")


class NotFoundTest(ServerTest):
    def test_unknown_run_and_thread(self) -> None:
        self.create(thread="thread_1")
        other = self.create(thread="thread_2")
        self.assertError(
            self.call("GET", "/v1/threads/thread_1/runs/run_x"),
            404,
            api_error("No run found with id 'run_x'."),
        )
        # a run of another thread is not found through this one
        self.assertError(
            self.call("GET", f"/v1/threads/thread_1/runs/{other['id']}"),
            404,
            api_error(f"No run found with id '{other['id']}'."),
        )
        for method, suffix in (("GET", ""), ("POST", "/run_x/cancel"), ("GET", "/run_x")):
            with self.subTest(method=method, suffix=suffix):
                resp = self.call(method, f"/v1/threads/thread_9/runs{suffix}")
                self.assertError(resp, 404, api_error("No thread found with id 'thread_9'."))

    def test_ids_are_percent_decoded(self) -> None:
        resp = self.call("GET", "/v1/threads/thread_1/runs/run%2Fa%20b")
        self.assertError(resp, 404, api_error("No thread found with id 'thread_1'."))
        self.create(thread="thread%201")
        resp = self.call("GET", "/v1/threads/thread%201/runs/run%2Fa%20b")
        self.assertError(resp, 404, api_error("No run found with id 'run/a b'."))
        self.assertEqual(self.server.requests[-1].path, "/v1/threads/thread%201/runs/run%2Fa%20b")

    def test_unknown_routes(self) -> None:
        run = self.create()
        for method, path in [
            ("GET", "/v1/foo"),
            ("GET", "/"),
            ("GET", "/v2/threads/thread_1/runs"),
            ("GET", "/v1/threads/thread_1/runs/"),
            ("GET", "/v1/threads//runs"),
            ("DELETE", f"/v1/threads/thread_1/runs/{run['id']}"),
            ("GET", f"/v1/threads/thread_1/runs/{run['id']}/cancel"),
            ("POST", f"/v1/threads/thread_1/runs/{run['id']}/steps"),
            ("PUT", "/v1/threads/thread_1/runs"),
        ]:
            with self.subTest(method=method, path=path):
                self.assertError(
                    self.call(method, path), 404, api_error(f"Invalid URL ({method} {path})")
                )

    def test_request_ids_are_unique(self) -> None:
        ids = {self.call("GET", "/v1/x").headers["x-request-id"] for _ in range(5)}
        self.assertEqual(len(ids), 5)


class UpdateCancelTest(ServerTest):
    def test_update_metadata(self) -> None:
        run = self.create(metadata={"a": "1"})
        path = f"/v1/threads/thread_1/runs/{run['id']}"
        resp = self.call("POST", path, {"metadata": {"b": "2"}})
        self.assertEqual(resp.status, 200)
        self.assertEqual((resp.json["metadata"], resp.json["status"]), ({"b": "2"}, "queued"))
        self.assertEqual(resp.headers["openai-poll-after-ms"], "5")
        self.assertEqual(self.server.get_run(run["id"])["metadata"], {"b": "2"})
        self.assertEqual(self.call("POST", path, {}).json["metadata"], {"b": "2"})
        self.assertError(
            self.call("POST", path, {"metadata": {"b": 2}}),
            400,
            api_error(
                "Invalid type for 'metadata.b': expected a string, but got an integer instead.",
                "metadata.b",
                "invalid_type",
            ),
        )
        self.assertError(
            self.call("POST", path, {"model": "x"}),
            400,
            api_error("Unknown parameter: 'model'.", "model", "unknown_parameter"),
        )
        self.assertEqual(self.call("POST", "/v1/threads/thread_1/runs/run_x", {}).status, 404)

    def test_cancel_then_cancelled(self) -> None:
        run = self.create()
        path = f"/v1/threads/thread_1/runs/{run['id']}/cancel"
        resp = self.call("POST", path)
        self.assertEqual((resp.status, resp.json["status"]), (200, "cancelling"))
        self.assertIsNone(resp.json["cancelled_at"])
        self.assertError(
            self.call("POST", path), 400, api_error("Cannot cancel run with status 'cancelling'.")
        )
        run = self.get(run["id"])
        self.assertEqual(run["status"], "cancelled")
        self.assertIsInstance(run["cancelled_at"], int)
        self.assertIsNone(run["expires_at"])
        self.assertEqual(self.get(run["id"])["status"], "cancelled")
        self.assertError(
            self.call("POST", path), 400, api_error("Cannot cancel run with status 'cancelled'.")
        )

    def test_cancel_terminal_run(self) -> None:
        run = self.server.add_run(statuses=("completed",))
        resp = self.call("POST", f"/v1/threads/thread_1/runs/{run['id']}/cancel")
        self.assertError(resp, 400, api_error("Cannot cancel run with status 'completed'."))
        self.assertEqual(self.server.get_run(run["id"])["status"], "completed")

    def test_cancel_while_requires_action(self) -> None:
        run = self.server.add_run(statuses=("requires_action",))
        resp = self.call("POST", f"/v1/threads/thread_1/runs/{run['id']}/cancel", {})
        self.assertEqual(resp.json["status"], "cancelling")
        self.assertIsNone(resp.json["required_action"])
        self.assertEqual(self.get(run["id"])["status"], "cancelled")


class SubmitToolOutputsTest(ServerTest):
    def submit(self, run_id: str, outputs: Any) -> Response:
        return self.call(
            "POST",
            f"/v1/threads/thread_1/runs/{run_id}/submit_tool_outputs",
            {"tool_outputs": outputs},
        )

    def test_only_in_requires_action(self) -> None:
        run = self.server.add_run()
        self.assertError(
            self.submit(run["id"], []),
            400,
            api_error('Runs in status "queued" do not accept tool outputs.'),
        )
        self.assertEqual(self.server.get_run(run["id"])["status"], "queued")

    def test_ids_must_match_pending_calls(self) -> None:
        run = self.server.add_run(
            statuses=("requires_action",), tool_calls=[("a", "{}"), ("b", "{}")]
        )
        a, b = [c["id"] for c in run["required_action"]["submit_tool_outputs"]["tool_calls"]]
        for outputs in (
            [{"tool_call_id": a, "output": "x"}],
            [{"tool_call_id": a, "output": "x"}, {"tool_call_id": "call_no"}],
            [{"tool_call_id": a}, {"tool_call_id": a}, {"tool_call_id": b}],
        ):
            with self.subTest(outputs=outputs):
                resp = self.submit(run["id"], outputs)
                given = [o["tool_call_id"] for o in outputs]
                self.assertError(
                    resp,
                    400,
                    api_error(
                        f"Expected tool outputs for call_ids {[a, b]}, got {given}.", "tool_outputs"
                    ),
                )
        self.assertEqual(self.server.get_run(run["id"]), run)

    def test_malformed_outputs(self) -> None:
        run = self.server.add_run(statuses=("requires_action",))
        path = f"/v1/threads/thread_1/runs/{run['id']}/submit_tool_outputs"
        for body, param, code in [
            ({}, "tool_outputs", "missing_required_parameter"),
            ({"tool_outputs": {}}, "tool_outputs", "invalid_type"),
            ({"tool_outputs": ["x"]}, "tool_outputs[0]", "invalid_type"),
            (
                {"tool_outputs": [{"output": "x"}]},
                "tool_outputs[0].tool_call_id",
                "missing_required_parameter",
            ),
            (
                {"tool_outputs": [{"tool_call_id": "c", "output": 1}]},
                "tool_outputs[0].output",
                "invalid_type",
            ),
            ({"tool_outputs": [{"tool_call_id": "c", "extra": 1}]}, "extra", "unknown_parameter"),
            ({"tool_outputs": [], "x": 1}, "x", "unknown_parameter"),
        ]:
            with self.subTest(body=body):
                error = self.call("POST", path, body).json["error"]
                self.assertEqual((error["param"], error["code"]), (param, code))

    def test_accepted_outputs_move_the_run_on(self) -> None:
        run = self.server.add_run(
            statuses=("requires_action",), tool_calls=[("a", "{}"), ("b", "{}")]
        )
        calls = run["required_action"]["submit_tool_outputs"]["tool_calls"]
        outputs = [{"tool_call_id": c["id"], "output": "ok"} for c in reversed(calls)]
        resp = self.submit(run["id"], outputs)
        self.assertEqual((resp.status, resp.json["status"]), (200, "in_progress"))
        self.assertIsNone(resp.json["required_action"])
        self.assertEqual(resp.headers["openai-poll-after-ms"], "5")
        self.assertEqual(self.get(run["id"])["status"], "completed")
        self.assertEqual(self.server.requests[-2].json, {"tool_outputs": outputs})

    def test_multi_round_script(self) -> None:
        run = self.server.add_run(
            statuses=("requires_action", "in_progress", "requires_action", "incomplete"),
            after_tool_outputs=("failed",),
        )
        first = run["required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"]
        resp = self.submit(run["id"], [{"tool_call_id": first, "output": "1"}])
        self.assertEqual(resp.json["status"], "in_progress")
        second_run = self.get(run["id"])
        self.assertEqual(second_run["status"], "requires_action")
        second = second_run["required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"]
        self.assertNotEqual(first, second)  # fresh call ids each round
        self.assertEqual(self.submit(run["id"], [{"tool_call_id": first}]).status, 400)
        resp = self.submit(run["id"], [{"tool_call_id": second, "output": "2"}])
        self.assertEqual(resp.json["status"], "incomplete")

    def test_after_tool_outputs_when_script_ends(self) -> None:
        run = self.server.add_run(
            statuses=("requires_action",), after_tool_outputs=("queued", "cancelling", "cancelled")
        )
        call = run["required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"]
        self.assertEqual(self.submit(run["id"], [{"tool_call_id": call}]).json["status"], "queued")
        self.assertEqual(self.get(run["id"])["status"], "cancelling")
        self.assertEqual(self.get(run["id"])["status"], "cancelled")

    def test_posted_runs_use_default_tool_script(self) -> None:
        self.server.default_statuses = ("queued", "requires_action")
        self.server.default_tool_calls = [("search", '{"q":"x"}')]
        self.server.default_after_tool_outputs = ("completed",)
        run = self.get(self.create()["id"])
        [call] = run["required_action"]["submit_tool_outputs"]["tool_calls"]
        self.assertEqual(call["function"], {"name": "search", "arguments": '{"q":"x"}'})
        resp = self.submit(run["id"], [{"tool_call_id": call["id"], "output": "r"}])
        self.assertEqual(resp.json["status"], "completed")


if __name__ == "__main__":
    unittest.main()
