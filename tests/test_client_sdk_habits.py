"""Habits of the openai SDK that mean something else here:
its keywords refused before anything is sent, naming threadrun's spelling, and a 404 for ids
given in the SDK's order says they look swapped.

Every request goes to a FakeRunsServer on 127.0.0.1.
"""

from __future__ import annotations

import unittest
from typing import Any, Callable, List, Tuple

from tests import threadrun
from tests.support import THREAD, ServerTest

INTERVAL = "poll_interval_ms is the openai SDK's keyword: threadrun's is %s, in seconds"
HANDLER = (
    "event_handler is the openai SDK's keyword: threadrun has no event handlers; iterate the "
    "RunStream"
)


class SdkKeywordsTest(ServerTest):
    def calls(self) -> List[Tuple[str, str, Callable[[], Any]]]:
        client = self.client()
        outputs = [{"tool_call_id": "call_1", "output": "x"}]
        handler = object()
        return [
            ("create_and_poll", INTERVAL % "poll_interval",
             lambda: client.create_and_poll(THREAD, "asst_1", poll_interval_ms=500)),
            ("submit_tool_outputs_and_poll", INTERVAL % "poll_interval",
             lambda: client.submit_tool_outputs_and_poll(THREAD, "run_1", outputs,
                                                          poll_interval_ms=500)),
            ("create_thread_and_run_poll", INTERVAL % "poll_interval",
             lambda: client.create_thread_and_run_poll("asst_1", poll_interval_ms=500)),
            ("poll", INTERVAL % "interval",
             lambda: client.poll(THREAD, "run_1", poll_interval_ms=500)),
            ("create", INTERVAL % "poll_interval",
             lambda: client.create(THREAD, "asst_1", poll_interval_ms=500)),
            ("stream", HANDLER, lambda: client.stream(THREAD, "asst_1", event_handler=handler)),
            ("submit_tool_outputs_stream", HANDLER,
             lambda: client.submit_tool_outputs_stream(THREAD, "run_1", outputs,
                                                       event_handler=handler)),
            ("create_thread_and_run_stream", HANDLER,
             lambda: client.create_thread_and_run_stream("asst_1", event_handler=handler)),
            ("retrieve", HANDLER, lambda: client.retrieve(THREAD, "run_1", event_handler=None)),
        ]  # fmt: skip

    def test_refused_before_anything_is_sent(self) -> None:
        for method, words, call in self.calls():
            with self.subTest(method=method):
                with self.assertRaises(TypeError) as caught:
                    call()
                self.assertIn(words, str(caught.exception))
                self.assertIn("nothing was sent", str(caught.exception))
        self.assertEqual(self.server.requests, [])

    def test_the_spelling_it_names_works(self) -> None:
        client = self.client(sleep=self.clock.sleep, clock=self.clock)
        self.assertEqual(client.create_and_poll(THREAD, "asst_1", poll_interval=0.5).status,
                         "completed")  # fmt: skip
        self.assertEqual(self.clock.sleeps, [0.5])
        run = self.add_run(statuses=("queued", "in_progress", "completed"))
        self.assertEqual(client.poll(THREAD, run["id"], interval=0.25).status, "completed")
        self.assertEqual(self.clock.sleeps, [0.5, 0.25])

    def test_other_unknown_keywords_of_poll(self) -> None:
        unexpected = r"^poll\(\) got an unexpected keyword argument 'bogus'$"
        with self.assertRaisesRegex(TypeError, unexpected):
            self.client().poll(THREAD, "run_1", bogus=1)
        self.assertEqual(self.server.requests, [])


class SwappedIdsTest(ServerTest):
    def test_a_404_for_swapped_ids_says_so(self) -> None:
        client = self.client(max_retries=0)
        run = self.add_run(statuses=("requires_action",))
        swapped = ("the thread id %r and the run id %r look swapped: threadrun takes "
                   "(thread_id, run_id), where the openai SDK's retrieve takes the run id "
                   "first" % (run["id"], THREAD))  # fmt: skip
        calls = [
            ("retrieve", lambda: client.retrieve(run["id"], THREAD)),
            ("cancel", lambda: client.cancel(run["id"], THREAD)),
            ("update", lambda: client.update(run["id"], THREAD, {"a": "b"})),
            ("poll", lambda: client.poll(run["id"], THREAD)),
            ("list_steps", lambda: list(client.list_steps(run["id"], THREAD))),
            ("submit_tool_outputs", lambda: client.submit_tool_outputs(run["id"], THREAD, [])),
        ]
        for name, call in calls:
            with self.subTest(method=name):
                with self.assertRaises(threadrun.NotFoundError) as caught:
                    call()
                self.assertIn(swapped, caught.exception.message)
        with self.assertRaises(threadrun.NotFoundError) as caught:
            list(client.list(run["id"]))
        self.assertIn("(the thread id %r looks like a run id)" % run["id"],
                      caught.exception.message)  # fmt: skip

    def test_other_404s_say_nothing_more(self) -> None:
        client = self.client(max_retries=0)
        for thread_id, run_id in ((THREAD, "run_missing"), ("thread_none", "run_1"),
                                  ("t", "r"), ("runner", "threads")):  # fmt: skip
            with self.subTest(ids=(thread_id, run_id)):
                with self.assertRaises(threadrun.NotFoundError) as caught:
                    client.retrieve(thread_id, run_id)
                self.assertNotIn("swapped", caught.exception.message)
                self.assertNotIn("looks like", caught.exception.message)

    def test_the_decision_alone(self) -> None:
        note = threadrun._swapped_ids_note
        cases = [
            ("/threads/run_1/runs/thread_1", "look swapped"),
            ("/threads/run_1/runs/run_2/cancel", "look swapped"),
            ("/threads/thread_1/runs/thread_2", "look swapped"),
            ("/threads/run_1/runs?limit=5", "looks like a run id"),
            ("/threads/thread_1/runs/run_1", ""),
            ("/threads/runs", ""),
            ("/assistants/run_1", ""),
            ("", ""),
        ]
        for path, words in cases:
            with self.subTest(path=path):
                if words:
                    self.assertIn(words, note(path))
                else:
                    self.assertEqual(note(path), "")


if __name__ == "__main__":
    unittest.main()
