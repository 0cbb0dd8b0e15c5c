"""Tested the way it will be used the client against a server that
speaks like common self-hosted Assistants servers -- threadrun.testing.FakeRunsServer's
"fastapi" flavour: RFC 3339 timestamps, bare UUID ids, FastAPI's error bodies, and
required_action null with the tool calls only in the run's steps.

Every request goes to that server on 127.0.0.1; nothing is ever sent beyond loopback.
"""

from __future__ import annotations

import re
import unittest
from typing import Any, List

from tests import threadrun
from tests.support import ServerTest

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIMESTAMPS = (
    "created_at", "expires_at", "started_at", "cancelled_at", "failed_at", "completed_at",
)  # fmt: skip


def pending_calls(client: Any, thread_id: str, run: Any) -> List[Any]:
    """The README's fallback: the calls of the run's tool_calls step still in progress."""
    return [
        threadrun.ToolCall(call["id"], call["function"]["name"], call["function"]["arguments"])
        for step in client.list_steps(thread_id, run.id)
        if step["type"] == "tool_calls" and step["status"] == "in_progress"
        for call in step["step_details"]["tool_calls"]
        if call["type"] == "function"
    ]


class FastAPIServerTest(ServerTest):
    options = {"flavour": "fastapi", "default_statuses": ("queued", "requires_action")}

    def adapted_client(self) -> Any:
        return self.client(run_adapter=threadrun.iso_timestamps)

    def test_a_whole_tool_calling_run(self) -> None:
        client = self.adapted_client()
        thread_id = self.server.add_thread()
        self.assertRegex(thread_id, UUID)
        run = client.create(thread_id, "asst_1")
        self.assertRegex(run.id, UUID)
        self.assertEqual(run.thread_id, thread_id)
        run = client.poll(thread_id, run.id)
        self.assertEqual(run.status, "requires_action")
        self.assertIsNone(run.required_action)  # this server's way
        self.assertEqual(run.tool_calls, ())
        calls = pending_calls(client, thread_id, run)
        self.assertEqual([call.name for call in calls], ["get_current_weather"])
        [step] = [s for s in client.list_steps(thread_id, run.id) if s["type"] == "tool_calls"]
        self.assertEqual(client.retrieve_step(thread_id, run.id, step["id"]), step)
        self.assertIsInstance(step["created_at"], str)  # steps are as the server sent them
        outputs = [{"tool_call_id": call.id, "output": "21 degrees"} for call in calls]
        run = client.submit_tool_outputs_and_poll(thread_id, run.id, outputs, poll_interval=0)
        self.assertEqual(run.status, "completed")
        # Every timestamp the server wrote is the run's integer, to the second.
        raw = self.server.get_run(run.id)
        for field in TIMESTAMPS:
            with self.subTest(field=field):
                expected = threadrun.iso_timestamps({field: raw[field]})[field]
                self.assertEqual(getattr(run, field), expected)
        self.assertIsInstance(raw["completed_at"], str)
        self.assertIsInstance(run.completed_at, int)
        steps = list(client.list_steps(thread_id, run.id, order="asc"))
        expected = [("tool_calls", "completed"), ("message_creation", "completed")]
        self.assertEqual([(s["type"], s["status"]) for s in steps], expected)
        [call] = steps[0]["step_details"]["tool_calls"]
        self.assertEqual(call["function"]["output"], "21 degrees")
        [listed] = list(client.list(thread_id))
        self.assertEqual(listed, run)

    def test_without_the_adapter_the_created_run_is_named_and_can_be_recovered(self) -> None:
        strict = self.client()
        thread_id = self.server.add_thread()
        with self.raises(threadrun.APIResponseValidationError) as cm:
            strict.create(thread_id, "asst_1")
        error = cm.exception
        run_id = error.body["id"]
        self.assertRegex(run_id, UUID)
        self.assertTrue(str(error).startswith(
            "the server created run %r of thread %r; it was not returned because: created_at: "
            "expected an integer timestamp, got string '" % (run_id, thread_id)), str(error))
        self.assertEqual(error.field, "created_at")
        self.assertIsNotNone(error.request_id)
        # The caller can find it, and cancel it, with the same error's data.
        self.assertEqual(self.server.get_run(run_id)["id"], run_id)
        cancelled = self.adapted_client().cancel(thread_id, run_id)
        self.assertEqual((cancelled.id, cancelled.status), (run_id, "cancelling"))
        with self.raises(threadrun.APIResponseValidationError) as listing:
            list(strict.list(thread_id))
        self.assertIn("(data[0] of the first page)", str(listing.exception))

    def test_fastapi_errors_read_cleanly(self) -> None:
        client = self.adapted_client()
        thread_id = self.server.add_thread()
        with self.raises(threadrun.NotFoundError) as cm:
            client.retrieve(thread_id, "00000000-0000-4000-8000-000000000000")
        self.assertEqual(str(cm.exception), "HTTP 404: Run not found in thread.")
        self.assertEqual(cm.exception.body, {"detail": "Run not found in thread."})
        with self.raises(threadrun.NotFoundError) as cm:
            list(client.list_steps(thread_id, "00000000-0000-4000-8000-000000000000"))
        self.assertEqual(str(cm.exception), "HTTP 404: Run not found in thread.")
        with self.raises(threadrun.UnprocessableEntityError) as cm:
            list(client.list(thread_id, limit=0))
        [detail] = cm.exception.body["detail"]
        self.assertEqual(detail["loc"], ["query", "limit"])
        self.assertEqual(str(cm.exception), "HTTP 422: query.limit: " + detail["msg"])


if __name__ == "__main__":
    unittest.main()
