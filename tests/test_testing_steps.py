"""Specification of threadrun.testing.FakeRunsServer's run steps and of its "fastapi" flavour
(the dialect of common self-hosted Assistants servers), over raw loopback HTTP.

The flavour is checked on the raw JSON it sends, not through threadrun's client: its runs are
what threadrun's strict parser refuses by default.
"""

from __future__ import annotations

import datetime
import itertools
import re
import unittest
from typing import Any, Dict, List

from tests import load_testing
from tests.test_testing import RUN_KEYS, ServerTest

testing: Any = None  # threadrun.testing, set by setUpModule (skipped in single-file mode)

STEP_KEYS = [
    "id", "object", "created_at", "run_id", "assistant_id", "thread_id", "type", "status",
    "cancelled_at", "completed_at", "expired_at", "failed_at", "last_error", "step_details",
    "metadata", "usage",
]  # fmt: skip
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
RUN_TIMES = ["created_at", "started_at", "expires_at", "cancelled_at", "failed_at", "completed_at"]


def setUpModule() -> None:
    global testing
    testing = load_testing()


class StepsTest(ServerTest):
    def setUp(self) -> None:
        self.ticks = itertools.count(1000)
        self.options = {"clock": lambda: next(self.ticks)}
        super().setUp()

    def steps(self, run_id: str, query: str = "") -> Dict[str, Any]:
        resp = self.call("GET", "/v1/threads/thread_1/runs/%s/steps%s" % (run_id, query))
        self.assertEqual(resp.status, 200, resp.raw)
        return resp.json  # type: ignore[no-any-return]

    def submit(self, run: Dict[str, Any], output: str = "70 degrees") -> Dict[str, Any]:
        calls = run["required_action"]["submit_tool_outputs"]["tool_calls"]
        outputs = [{"tool_call_id": c["id"], "output": output} for c in calls]
        path = "/v1/threads/thread_1/runs/%s/submit_tool_outputs" % run["id"]
        resp = self.call("POST", path, {"tool_outputs": outputs})
        self.assertEqual(resp.status, 200, resp.raw)
        return resp.json  # type: ignore[no-any-return]

    def test_a_tool_calling_run_has_its_steps(self) -> None:
        run = self.server.add_run(tool_calls=[("a", {"x": 1}), ("b", "{}")])
        self.assertEqual(self.steps(run["id"])["data"], [])  # queued: nothing done yet
        self.get(run["id"])
        run = self.get(run["id"])
        [step] = self.steps(run["id"])["data"]
        self.assertEqual(list(step), STEP_KEYS)
        self.assertEqual(
            (step["object"], step["type"], step["status"], step["run_id"], step["thread_id"]),
            ("thread.run.step", "tool_calls", "in_progress", run["id"], "thread_1"),
        )
        calls = run["required_action"]["submit_tool_outputs"]["tool_calls"]
        expected = [dict(c, function=dict(c["function"], output=None)) for c in calls]
        self.assertEqual(step["step_details"], {"type": "tool_calls", "tool_calls": expected})
        self.submit(run)
        done = self.get(run["id"])
        self.assertEqual(done["status"], "completed")
        page = self.steps(run["id"])
        message_step, tool_step = page["data"]  # newest first
        self.assertEqual((tool_step["id"], tool_step["status"]), (step["id"], "completed"))
        self.assertLess(done["started_at"], tool_step["completed_at"])
        self.assertLess(tool_step["completed_at"], done["completed_at"])
        outputs = [c["function"]["output"] for c in tool_step["step_details"]["tool_calls"]]
        self.assertEqual(outputs, ["70 degrees", "70 degrees"])
        self.assertEqual(
            (message_step["type"], message_step["status"]), ("message_creation", "completed")
        )
        message_id = message_step["step_details"]["message_creation"]["message_id"]
        [message] = self.call("GET", "/v1/threads/thread_1/messages").json["data"]
        self.assertEqual((message["id"], message["run_id"]), (message_id, run["id"]))
        self.assertEqual(message["content"][0]["text"]["value"], self.server.default_message)
        self.assertEqual(self.server.get_steps(run["id"]), page["data"][::-1])
        one = self.call("GET", "/v1/threads/thread_1/runs/%s/steps/%s" % (run["id"], step["id"]))
        self.assertEqual(one.json, tool_step)

    def test_message_given_to_add_run(self) -> None:
        run = self.server.add_run(statuses=("in_progress", "completed"), message="Hi \u00e9")
        self.get(run["id"])
        [message] = self.server.get_messages("thread_1")
        self.assertEqual(message["content"][0]["text"]["value"], "Hi \u00e9")
        with self.assertRaises(ValueError):
            self.server.add_run(message=3)

    def test_step_statuses_follow_the_run(self) -> None:
        run = self.server.add_run(statuses=("requires_action",))
        self.call("POST", "/v1/threads/thread_1/runs/%s/cancel" % run["id"])
        [step] = self.steps(run["id"])["data"]
        self.assertEqual(step["status"], "in_progress")  # cancelling: not yet
        self.get(run["id"])
        [step] = self.steps(run["id"])["data"]
        self.assertEqual((step["status"], step["completed_at"]), ("cancelled", None))
        self.assertIsInstance(step["cancelled_at"], int)
        for end in ("failed", "expired", "cancelled"):
            with self.subTest(end=end):
                run = self.server.add_run(statuses=("queued", end))
                self.assertEqual(self.steps(run["id"])["data"], [])
                self.get(run["id"])
                self.assertEqual(self.steps(run["id"])["data"], [])  # nothing was done

    def test_multi_round_tool_calls_make_a_step_each(self) -> None:
        run = self.server.add_run(statuses=("requires_action", "requires_action", "completed"))
        run = self.submit(run)
        self.assertEqual(run["status"], "requires_action")
        run = self.submit(run, "second")
        page = self.steps(run["id"], "?order=asc")
        kinds = [(s["type"], s["status"]) for s in page["data"]]
        self.assertEqual(
            kinds, [("tool_calls", "completed")] * 2 + [("message_creation", "completed")]
        )

    def test_pagination(self) -> None:
        run = self.server.add_run(statuses=("requires_action", "requires_action", "completed"))
        self.submit(self.submit(run))
        ids = [s["id"] for s in self.server.get_steps(run["id"])]  # oldest first
        cases = [
            ("", ids[::-1], False),
            ("?order=asc&limit=2", ids[:2], True),
            ("?order=asc&after=%s" % ids[0], ids[1:], False),
            ("?order=asc&before=%s" % ids[2], ids[:2], False),
            ("?limit=1&after=%s" % ids[2], [ids[1]], True),
        ]
        for query, expected, more in cases:
            with self.subTest(query=query):
                page = self.steps(run["id"], query)
                self.assertEqual([s["id"] for s in page["data"]], expected)
                self.assertEqual(
                    (page["object"], page["first_id"], page["last_id"], page["has_more"]),
                    ("list", expected[0], expected[-1], more),
                )

    def test_errors(self) -> None:
        run = self.server.add_run()
        path = "/v1/threads/thread_1/runs/%s/steps" % run["id"]
        cases = [
            (path + "/step_x", 404, "No step found with id 'step_x'.", None),
            ("/v1/threads/thread_1/runs/run_x/steps", 404, "No run found with id 'run_x'.", None),
            ("/v1/threads/t_x/runs/%s/steps" % run["id"], 404, "No thread found with id 't_x'.",
             None),
            (path + "?after=step_x", 400, "Invalid 'after': no step with id 'step_x' in this run.",
             "after"),
            (path + "?limit=0", 400, "Invalid 'limit': integer below minimum value. Expected a"
             " value >= 1, but got 0 instead.", "limit"),
            ("/v1/threads/thread_x/messages", 404, "No thread found with id 'thread_x'.", None),
        ]  # fmt: skip
        for target, status, message, param in cases:
            with self.subTest(target=target):
                resp = self.call("GET", target)
                self.assertEqual((resp.status, resp.json["error"]["message"]), (status, message))
                self.assertEqual(resp.json["error"]["param"], param)


class FastAPIFlavourTest(ServerTest):
    # 2026-11-29T16:30:14.549940Z, as the server wrote it
    WHEN = datetime.datetime(2026, 11, 29, 16, 30, 14, 549940, datetime.timezone.utc)
    options = {"flavour": "fastapi", "clock": WHEN.timestamp}

    def test_runs_have_rfc3339_timestamps_and_uuid_ids(self) -> None:
        created = self.create(thread="6a5f4c42-2a36-4a5f-8a4e-1a2b3c4d5e6f")
        self.assertEqual(list(created), RUN_KEYS)
        self.assertRegex(created["id"], UUID)
        self.assertEqual(created["created_at"], "2026-11-29T16:30:14.549940Z")
        self.assertEqual(created["expires_at"], "2026-11-29T16:40:14.549940Z")
        for end, field in (("completed", "completed_at"), ("failed", "failed_at")):
            with self.subTest(end=end):
                run = self.server.add_run(statuses=("queued", "in_progress", end))
                self.get(run["id"])
                run = self.get(run["id"])
                self.assertEqual(run[field], "2026-11-29T16:30:14.549940Z")
                self.assertEqual(run["started_at"], "2026-11-29T16:30:14.549940Z")
        run = self.create()
        cancelled = self.call("POST", "/v1/threads/thread_1/runs/%s/cancel" % run["id"]).json
        cancelled = self.get(cancelled["id"])
        self.assertEqual(cancelled["cancelled_at"], "2026-11-29T16:30:14.549940Z")
        seen = set()
        for run in [created, *self.call("GET", "/v1/threads/thread_1/runs").json["data"]]:
            for field in RUN_TIMES:
                if run[field] is not None:
                    self.assertRegex(run[field], RFC3339)
                    seen.add(field)
        self.assertEqual(seen, set(RUN_TIMES))  # all six, each at least once

    def test_required_action_is_null_and_the_calls_are_in_the_steps(self) -> None:
        run = self.server.add_run(statuses=("requires_action",))
        self.assertRegex(run["thread_id"], "thread_1")
        run = self.get(run["id"])
        self.assertEqual((run["status"], run["required_action"]), ("requires_action", None))
        [step] = self.call("GET", "/v1/threads/thread_1/runs/%s/steps" % run["id"]).json["data"]
        self.assertRegex(step["id"], UUID)
        self.assertRegex(step["created_at"], RFC3339)
        [call] = step["step_details"]["tool_calls"]
        self.assertRegex(call["id"], UUID)
        self.assertEqual(call["function"]["name"], "get_current_weather")
        path = "/v1/threads/thread_1/runs/%s/submit_tool_outputs" % run["id"]
        resp = self.call("POST", path, {"tool_outputs": [{"tool_call_id": call["id"]}]})
        self.assertEqual((resp.status, resp.json["status"]), (200, "in_progress"))

    def test_fastapi_errors(self) -> None:
        run = self.create()
        runs = "/v1/threads/thread_1/runs"
        cases: List[Any] = [
            ("GET", runs + "/nope", None, 404, {"detail": "Run not found in thread."}),
            ("GET", "/v1/threads/nope/runs", None, 404, {"detail": "Thread not found."}),
            ("GET", runs + "/%s/steps/nope" % run["id"], None, 404,
             {"detail": "Run step not found."}),
            ("GET", "/v1/nowhere", None, 404, {"detail": "Not Found"}),
            ("POST", runs, {}, 422, {"detail": [
                {"loc": ["body", "assistant_id"], "msg": "Field required", "type": "missing"}]}),
            ("POST", runs, {"assistant_id": "a", "x": 1}, 422, {"detail": [
                {"loc": ["body", "x"], "msg": "Extra inputs are not permitted",
                 "type": "extra_forbidden"}]}),
            ("GET", runs + "?limit=0", None, 422, {"detail": [
                {"loc": ["query", "limit"], "msg": "Invalid 'limit': integer below minimum value."
                 " Expected a value >= 1, but got 0 instead.", "type": "value_error"}]}),
            ("POST", runs + "/%s/cancel" % run["id"], None, 200, None),
            ("POST", runs + "/%s/cancel" % run["id"], None, 400,
             {"detail": "Cannot cancel run with status 'cancelling'."}),
        ]  # fmt: skip
        for method, path, body, status, payload in cases:
            with self.subTest(method=method, path=path, body=body):
                resp = self.call(method, path, body)
                self.assertEqual(resp.status, status)
                if payload is not None:
                    self.assertEqual(resp.json, payload)
                    self.assertNotIn(b"\n", resp.raw)  # compact, as FastAPI answers

    def test_tool_output_errors_locate_the_item(self) -> None:
        run = self.server.add_run(statuses=("requires_action",))
        path = "/v1/threads/thread_1/runs/%s/submit_tool_outputs" % run["id"]
        resp = self.call("POST", path, {"tool_outputs": [{"output": "x"}]})
        [detail] = resp.json["detail"]
        self.assertEqual(
            (resp.status, detail["loc"]), (422, ["body", "tool_outputs", 0, "tool_call_id"])
        )

    def test_streams_speak_the_flavour(self) -> None:
        self.server.default_statuses = ("queued", "requires_action")
        resp = self.call("POST", "/v1/threads/runs", {"assistant_id": "a", "stream": True})
        events = [line for line in resp.raw.split(b"\n") if line.startswith(b"event: ")]
        self.assertEqual(events[0], b"event: thread.created")
        self.assertEqual(events[-2:], [b"event: thread.run.requires_action", b"event: done"])
        run = self.server.streams[-1].events[-2][1]
        self.assertRegex(run["thread_id"], UUID)
        self.assertEqual(
            (run["required_action"], run["started_at"]), (None, "2026-11-29T16:30:14.549940Z")
        )

    def test_unknown_flavour(self) -> None:
        with self.assertRaises(ValueError):
            testing.FakeRunsServer(flavour="django")
        self.assertEqual(self.server.flavour, "fastapi")
        self.assertRegex(self.server.add_thread(), UUID)


if __name__ == "__main__":
    unittest.main()
