"""The official openai SDK (a dev tool, never a dependency) pointed at
threadrun.testing.FakeRunsServer consumes its event streams, run steps and messages, and every
event the fake streams validates under the SDK's strict models. Skipped without openai.
"""

from __future__ import annotations

import unittest
import warnings
from typing import Any, List

from tests import load_testing
from tests.test_testing_stream import COMPLETED_EVENTS, MESSAGE, REQUIRES_ACTION_EVENTS, StreamTest

testing: Any = None  # threadrun.testing, set by setUpModule (skipped in single-file mode)


def setUpModule() -> None:
    global testing
    testing = load_testing()


class OfficialSDKStreamTest(StreamTest):
    """The official openai SDK consumes the fake's streams, and every event's data validates
    under its strict models (openai is a dev tool, never a dependency)."""

    def setUp(self) -> None:
        try:
            import openai
            from openai.lib.streaming import AssistantEventHandler
        except ImportError:
            self.skipTest("the openai package is not installed (a dev tool)")
        self.openai = openai
        self.Handler = AssistantEventHandler
        super().setUp()
        self.client = openai.OpenAI(api_key="test", base_url=self.server.base_url, max_retries=0)
        self.addCleanup(self.client.close)
        self.threads = self.client.beta.threads
        catcher = warnings.catch_warnings()
        catcher.__enter__()
        self.addCleanup(catcher.__exit__, None, None, None)
        warnings.simplefilter("ignore", DeprecationWarning)  # the SDK's about the Assistants API

    def tearDown(self) -> None:
        from openai.types.beta import Thread
        from openai.types.beta.threads import Message, MessageDeltaEvent, Run
        from openai.types.beta.threads.runs import RunStep, RunStepDeltaEvent

        models = {
            "thread": Thread,
            "thread.run": Run,
            "thread.run.step": RunStep,
            "thread.run.step.delta": RunStepDeltaEvent,
            "thread.message": Message,
            "thread.message.delta": MessageDeltaEvent,
        }
        for stream in self.server.streams:
            for name, data in stream.events:
                if name not in ("done", "error"):
                    with self.subTest(event=name):
                        models[data["object"]].model_validate(data, strict=True)

    def test_runs_stream_with_an_event_handler(self) -> None:
        class Handler(self.Handler):  # type: ignore[name-defined,misc]
            def __init__(self) -> None:
                super().__init__()
                self.names: List[str] = []
                self.text: List[str] = []

            def on_event(self, event: Any) -> None:
                self.names.append(event.event)

            def on_text_delta(self, delta: Any, snapshot: Any) -> None:
                self.text.append(delta.value)

        handler = Handler()
        with self.threads.runs.stream(
            thread_id="thread_1", assistant_id="asst_1", event_handler=handler
        ) as stream:
            stream.until_done()
        self.assertEqual(handler.names, COMPLETED_EVENTS[:-1])
        self.assertEqual("".join(handler.text), MESSAGE)
        final = stream.get_final_run()
        self.assertEqual((final.status, self.get(final.id)["status"]), ("completed", "completed"))

    def test_create_and_submit_tool_outputs_with_stream_true(self) -> None:
        self.server.default_statuses = ("queued", "in_progress", "requires_action")
        events = list(
            self.threads.runs.create(thread_id="thread_1", assistant_id="asst_1", stream=True)
        )
        self.assertEqual([e.event for e in events], REQUIRES_ACTION_EVENTS[:-1])
        run = events[-1].data
        [call] = run.required_action.submit_tool_outputs.tool_calls
        rest = list(
            self.threads.runs.submit_tool_outputs(
                thread_id="thread_1",
                run_id=run.id,
                tool_outputs=[{"tool_call_id": call.id, "output": "sunny"}],
                stream=True,
            )
        )
        self.assertEqual(rest[0].event, "thread.run.step.completed")
        self.assertEqual(rest[0].data.step_details.tool_calls[0].function.output, "sunny")
        self.assertEqual(
            (rest[-1].event, rest[-1].data.status), ("thread.run.completed", "completed")
        )
        steps = list(self.threads.runs.steps.list(run_id=run.id, thread_id="thread_1"))
        self.assertEqual([s.type for s in steps], ["message_creation", "tool_calls"])
        step = self.threads.runs.steps.retrieve(steps[1].id, thread_id="thread_1", run_id=run.id)
        self.assertEqual(step.step_details.tool_calls[0].id, call.id)

    def test_create_and_run(self) -> None:
        events = list(self.threads.create_and_run(assistant_id="asst_1", stream=True))
        self.assertEqual([e.event for e in events], ["thread.created", *COMPLETED_EVENTS[:-1]])
        with self.threads.create_and_run_stream(
            assistant_id="asst_1", thread={"messages": [{"role": "user", "content": "Hi"}]}
        ) as stream:
            stream.until_done()
            [message] = stream.get_final_messages()
        self.assertEqual(message.content[0].text.value, MESSAGE)
        thread_id = stream.get_final_run().thread_id
        listed = self.threads.messages.list(thread_id=thread_id, order="asc")
        self.assertEqual([m.role for m in listed], ["user", "assistant"])
        run = self.threads.create_and_run(assistant_id="asst_1")  # and without stream
        self.assertEqual(run.status, "queued")

    def test_awkward_splits_reach_the_sdk_whole(self) -> None:
        self.server.inject(testing.Fault(split_awkwardly=True, line_ending="\r\n"))
        with self.threads.runs.stream(thread_id="thread_1", assistant_id="asst_1") as stream:
            text = "".join(stream.text_deltas)
        self.assertEqual(text, MESSAGE)

    def test_error_event_and_dropped_stream(self) -> None:
        error = {"message": "The server had an error.", "type": "server_error", "code": None}
        self.server.inject(testing.Fault(after_events=4, error_event=error))
        with self.assertRaisesRegex(self.openai.APIError, "The server had an error."):
            list(self.threads.runs.create(thread_id="thread_1", assistant_id="a", stream=True))
        self.server.inject(testing.Fault(after_events=4, drop=True))
        seen = []
        with self.assertRaises(self.openai.APIConnectionError):
            for event in self.threads.runs.create(
                thread_id="thread_1", assistant_id="a", stream=True
            ):
                seen.append(event.event)
        self.assertEqual(seen, COMPLETED_EVENTS[:4])


if __name__ == "__main__":
    unittest.main()
