"""Client endpoints: every method, listing, polling.

Part of the client's specification, tests/test_client_*.py (their rules: tests/support.py).
"""

from __future__ import annotations

import itertools
import json
import unittest
from typing import Any, List

from tests import threadrun
from tests.support import THREAD, ServerTest


class MethodsTest(ServerTest):
    def test_retrieve(self) -> None:
        run = self.add_run(metadata={"a": "b"}, custom_field={"x": [1, 2]})
        got = self.client().retrieve(THREAD, run["id"])
        self.assertIsInstance(got, threadrun.ThreadRun)
        self.assertEqual(got.to_dict(), self.server.get_run(run["id"]))
        self.assertEqual(got.metadata, {"a": "b"})
        self.assertEqual(got.extra["custom_field"], {"x": [1, 2]})
        self.assertEqual(self.paths(), [("GET", "/v1/threads/%s/runs/%s" % (THREAD, run["id"]))])

    def test_create_passes_params_through(self) -> None:
        params = {
            "model": "gpt-4o-mini",
            "instructions": "Be brief.",
            "additional_instructions": "Really brief.",
            "tools": [{"type": "code_interpreter"}],
            "metadata": {"user": "u1"},
            "temperature": 0.5,
            "top_p": 0.9,
            "max_completion_tokens": 100,
            "tool_choice": "auto",
            "parallel_tool_calls": False,
            "response_format": {"type": "json_object"},
        }
        run = self.client().create("thread_new", "asst_42", **params)
        (request,) = self.server.requests
        self.assertEqual(request.method, "POST")
        self.assertEqual(request.path, "/v1/threads/thread_new/runs")
        self.assertEqual(request.json, dict(params, assistant_id="asst_42"))
        self.assertEqual(run.assistant_id, "asst_42")
        self.assertEqual(run.thread_id, "thread_new")
        self.assertEqual(run.status, "queued")
        self.assertEqual(run.model, "gpt-4o-mini")
        self.assertEqual(run.instructions, "Be brief.")
        self.assertEqual(run.metadata, {"user": "u1"})
        self.assertEqual(run.tools, [{"type": "code_interpreter"}])
        self.assertEqual(run.extra["temperature"], 0.5)
        self.assertEqual(run.extra["parallel_tool_calls"], False)
        self.assertEqual(run.to_dict(), self.server.get_run(run.id))

    def test_create_include_goes_to_the_query(self) -> None:
        include = ["step_details.tool_calls[*].file_search.results[*].content"]
        self.client().create(THREAD, "asst_1", include=include)
        (request,) = self.server.requests
        self.assertEqual(request.query, {"include[]": include})
        self.assertEqual(request.json, {"assistant_id": "asst_1"})

    def test_create_stream_is_refused_without_a_request(self) -> None:
        with self.assertRaises(ValueError):
            self.client().create(THREAD, "asst_1", stream=True)
        self.assertEqual(self.sent(), 0)

    def test_update_metadata(self) -> None:
        run = self.add_run(metadata={"old": "1"})
        got = self.client().update(THREAD, run["id"], {"new": "2", "k": "v"})
        (request,) = self.server.requests
        self.assertEqual(request.method, "POST")
        self.assertEqual(request.path, "/v1/threads/%s/runs/%s" % (THREAD, run["id"]))
        self.assertEqual(request.json, {"metadata": {"new": "2", "k": "v"}})
        self.assertEqual(got.metadata, {"new": "2", "k": "v"})
        self.assertEqual(self.server.get_run(run["id"])["metadata"], {"new": "2", "k": "v"})

    def test_cancel(self) -> None:
        run = self.add_run(statuses=("queued", "in_progress", "completed"))
        client = self.client()
        got = client.cancel(THREAD, run["id"])
        (request,) = self.server.requests
        self.assertEqual(request.method, "POST")
        self.assertEqual(request.path, "/v1/threads/%s/runs/%s/cancel" % (THREAD, run["id"]))
        self.assertEqual(request.body, b"")
        self.assertEqual(got.status, "cancelling")
        self.assertEqual(client.retrieve(THREAD, run["id"]).status, "cancelled")

    def test_submit_tool_outputs(self) -> None:
        run = self.add_run(statuses=("requires_action",), tool_calls=[("a", "{}"), ("b", "{}")])
        client = self.client()
        calls = client.retrieve(THREAD, run["id"]).tool_calls
        self.assertEqual([c.name for c in calls], ["a", "b"])
        outputs = [{"tool_call_id": c.id, "output": "out-" + c.name} for c in calls]
        got = client.submit_tool_outputs(THREAD, run["id"], outputs)
        request = self.server.requests[-1]
        self.assertEqual(request.method, "POST")
        self.assertEqual(
            request.path, "/v1/threads/%s/runs/%s/submit_tool_outputs" % (THREAD, run["id"])
        )
        self.assertEqual(request.json, {"tool_outputs": outputs})
        self.assertEqual(got.status, "in_progress")
        self.assertEqual(got.tool_calls, ())

    def test_submit_tool_outputs_rejects_bad_items_without_a_request(self) -> None:
        run = self.add_run(statuses=("requires_action",))
        for bad in ([{"output": "x"}], [{"tool_call_id": 1, "output": "x"}], ["call_1"]):
            with self.subTest(outputs=bad), self.assertRaises(TypeError):
                self.client().submit_tool_outputs(THREAD, run["id"], bad)
        self.assertEqual(self.sent(), 0)

    def test_server_side_validation_error_is_bad_request(self) -> None:
        with self.raises(threadrun.BadRequestError) as cm:
            self.client().create(THREAD, "asst_1", temperature=5)
        error = cm.exception
        self.assertEqual(error.status_code, 400)
        self.assertEqual(error.param, "temperature")
        self.assertEqual(error.code, "invalid_value")
        self.assertEqual(error.type, "invalid_request_error")
        self.assertEqual(self.sent(), 1)

class ListTest(ServerTest):
    def setUp(self) -> None:
        super().setUp()
        self.ids = ["run_p%d" % i for i in range(5)]
        for run_id in self.ids:
            self.add_run(id=run_id)

    def test_list_is_lazy(self) -> None:
        client = self.client()
        runs = client.list(THREAD)
        self.assertEqual(self.sent(), 0)
        self.assertEqual([r.id for r in runs], self.ids[::-1])  # desc by default
        self.assertEqual(self.sent(), 1)
        self.assertEqual(self.paths(), [("GET", "/v1/threads/%s/runs" % THREAD)])

    def test_list_checks_the_thread_id_eagerly(self) -> None:
        with self.raises(threadrun.InvalidIdError):
            self.client().list("a/b")
        self.assertEqual(self.sent(), 0)

    def test_follows_has_more_and_last_id(self) -> None:
        runs = list(self.client().list(THREAD, limit=2, order="asc"))
        self.assertTrue(all(isinstance(r, threadrun.ThreadRun) for r in runs))
        self.assertEqual([r.id for r in runs], self.ids)
        requests = self.server.requests
        self.assertEqual(len(requests), 3)
        self.assertEqual([r.query.get("after") for r in requests],
                         [None, ["run_p1"], ["run_p3"]])  # fmt: skip
        self.assertEqual([r.query.get("limit") for r in requests], [["2"]] * 3)
        self.assertEqual([r.query.get("order") for r in requests], [["asc"]] * 3)

    def test_pages_are_fetched_only_as_needed(self) -> None:
        runs = self.client().list(THREAD, limit=2, order="desc")
        first_two = list(itertools.islice(runs, 2))
        self.assertEqual([r.id for r in first_two], ["run_p4", "run_p3"])
        self.assertEqual(self.sent(), 1)
        self.assertEqual(next(runs).id, "run_p2")
        self.assertEqual(self.sent(), 2)
        self.assertEqual(self.server.requests[-1].query["after"], ["run_p3"])

    def test_after_and_before(self) -> None:
        client = self.client()
        got = [r.id for r in client.list(THREAD, order="asc", after="run_p1")]
        self.assertEqual(got, ["run_p2", "run_p3", "run_p4"])
        self.assertEqual(self.server.requests[0].query["after"], ["run_p1"])
        got = [r.id for r in client.list(THREAD, order="asc", before="run_p3", limit=10)]
        self.assertEqual(got, ["run_p0", "run_p1", "run_p2"])
        self.assertEqual(self.server.requests[-1].query["before"], ["run_p3"])

    def test_exact_page_and_empty_thread(self) -> None:
        client = self.client()
        self.assertEqual(len(list(client.list(THREAD, limit=5))), 5)
        self.assertEqual(self.sent(), 1)
        self.server.add_thread("thread_empty")
        self.assertEqual(list(client.list("thread_empty")), [])
        self.assertEqual(self.sent(), 2)

    def test_unknown_thread_is_not_found_when_iterated(self) -> None:
        runs = self.client().list("thread_nope")
        with self.raises(threadrun.NotFoundError):
            list(runs)

    def test_a_cursor_that_comes_back_ends_the_listing(self) -> None:
        # A broken server (or proxy) answering with has_more and a last_id it gave before must
        # not make list() request the same pages for ever: a page pointing at itself, and two
        # pages pointing back at each other (A -> B -> A -> ...). The pages it serves before
        # the cursor comes back are answered, then the listing stops with an error.
        for cycle in (["run_p0"], ["run_p0", "run_p1"]):
            with self.subTest(cycle=cycle):
                before = self.sent()
                for run_id in cycle + cycle[:1]:
                    page = {"object": "list", "data": [self.server.get_run(run_id)],
                            "has_more": True, "first_id": run_id, "last_id": run_id}  # fmt: skip
                    self.server.invalid_next(json.dumps(page).encode())
                got = []
                with self.raises(threadrun.APIError) as cm:
                    for run in itertools.islice(self.client().list(THREAD), 10):
                        got.append(run.id)
                self.assertIn("the list does not advance", str(cm.exception))
                self.assertEqual(got, cycle + cycle[:1])
                self.assertEqual(self.sent() - before, len(cycle) + 1)

    def test_invalid_run_in_a_page_is_thread_run_error_with_request_id(self) -> None:
        page = {"object": "list", "data": [{"id": "run_x"}], "has_more": False,
                "first_id": "run_x", "last_id": "run_x"}  # fmt: skip
        self.server.invalid_next(
            json.dumps(page).encode(), headers={"x-request-id": "req_page_bad"}
        )
        with self.assertRaises(threadrun.ThreadRunError) as cm:
            list(self.client().list(THREAD))
        self.assertEqual(cm.exception.request_id, "req_page_bad")

class PollTest(ServerTest):
    def test_stops_at_requires_action_using_poll_after_header(self) -> None:
        run = self.add_run(statuses=("queued", "queued", "in_progress", "in_progress",
                                     "requires_action"))  # fmt: skip
        seen: List[str] = []
        got = self.client().poll(THREAD, run["id"], on_run=lambda r: seen.append(r.status))
        self.assertEqual(got.status, "requires_action")
        self.assertEqual(len(got.tool_calls), 1)
        self.assertEqual(seen, ["queued", "in_progress", "in_progress", "requires_action"])
        self.assertEqual(self.clock.sleeps, [0.005] * 3)  # openai-poll-after-ms: 5
        self.assertEqual(self.sent(), 4)

    def test_stops_at_terminal(self) -> None:
        for final in ("completed", "failed", "cancelled", "expired", "incomplete"):
            with self.subTest(status=final):
                run = self.add_run(statuses=("queued", "in_progress", final))
                before = self.sent()
                got = self.client().poll(THREAD, run["id"])
                self.assertEqual(got.status, final)
                self.assertTrue(got.is_terminal)
                self.assertEqual(self.sent() - before, 2)

    def test_already_terminal_run_needs_one_request_and_no_sleep(self) -> None:
        run = self.add_run(statuses=("completed",))
        self.assertEqual(self.client().poll(THREAD, run["id"]).status, "completed")
        self.assertEqual(self.sent(), 1)
        self.assertEqual(self.clock.sleeps, [])

    def test_poll_after_header_value_is_used(self) -> None:
        self.server.poll_after_ms = 250
        run = self.add_run(statuses=("queued", "queued", "in_progress", "completed"))
        self.client().poll(THREAD, run["id"])
        self.assertEqual(self.clock.sleeps, [0.25, 0.25])

    def test_one_second_default_without_the_header(self) -> None:
        self.server.poll_after_ms = None
        run = self.add_run(statuses=("queued", "queued", "in_progress", "completed"))
        got = self.client().poll(THREAD, run["id"])
        self.assertEqual(got.status, "completed")
        self.assertEqual(self.clock.sleeps, [1.0, 1.0])

    def test_interval_overrides_the_header(self) -> None:
        run = self.add_run(statuses=("queued", "queued", "in_progress", "completed"))
        self.client().poll(THREAD, run["id"], interval=0.3)
        self.assertEqual(self.clock.sleeps, [0.3, 0.3])

    def test_timeout_raises_with_the_last_run(self) -> None:
        run = self.add_run(statuses=("queued",))  # never moves on
        seen: List[Any] = []
        with self.raises(threadrun.PollTimeoutError) as cm:
            self.client().poll(THREAD, run["id"], interval=1.0, timeout=3.0, on_run=seen.append)
        error = cm.exception
        self.assertIsInstance(error, threadrun.APIError)
        self.assertIsInstance(error, TimeoutError)
        self.assertIsInstance(error.run, threadrun.ThreadRun)
        self.assertEqual(error.run.id, run["id"])
        self.assertEqual(error.run.status, "queued")
        self.assertIs(error.run, seen[-1])
        # Checks at 0, 1 and 2 s; one at 3 s would start at the deadline, with no time left
        # to answer: the error comes at 2 s instead (this test expected a 4th check before
        # the deadline is a bound on every request).
        self.assertEqual(self.clock.sleeps, [1.0, 1.0])
        self.assertEqual(self.sent(), 3)

    def test_timeout_never_sleeps_past_the_deadline(self) -> None:
        run = self.add_run(statuses=("queued",))
        with self.raises(threadrun.PollTimeoutError):
            self.client().poll(THREAD, run["id"], interval=2.0, timeout=3.0)
        # At 2 s the next check (at 4 s) would pass the deadline: no sleep to 3 s and a check
        # with no time left (never a sleep past it, such as [2.0, 1.0]).
        self.assertEqual(self.clock.sleeps, [2.0])
        self.assertEqual(self.clock.elapsed, 2.0)

    def test_create_and_poll(self) -> None:
        seen: List[str] = []
        got = self.client().create_and_poll(
            THREAD, "asst_1", model="gpt-4o-mini", metadata={"k": "v"},
            poll_interval=0.5, on_run=lambda r: seen.append(r.status),
        )  # fmt: skip
        self.assertEqual(got.status, "completed")
        self.assertEqual(got.model, "gpt-4o-mini")
        self.assertEqual(seen, ["in_progress", "completed"])
        self.assertEqual(self.clock.sleeps, [0.5])
        post = self.server.requests[0]
        self.assertEqual(post.method, "POST")
        self.assertEqual(post.json, {"assistant_id": "asst_1", "model": "gpt-4o-mini",
                                     "metadata": {"k": "v"}})  # fmt: skip
        self.assertEqual([m for m, _ in self.paths()], ["POST", "GET", "GET"])

    def test_create_and_poll_timeout(self) -> None:
        self.server.default_statuses = ("queued",)
        with self.raises(threadrun.PollTimeoutError) as cm:
            self.client().create_and_poll(THREAD, "asst_1", poll_interval=1, poll_timeout=2)
        self.assertEqual(cm.exception.run.status, "queued")
        self.assertEqual(self.clock.elapsed, 1.0)  # a check at 2 s would have no time left
        self.assertEqual([m for m, _ in self.paths()], ["POST", "GET", "GET"])

    def test_submit_tool_outputs_and_poll(self) -> None:
        run = self.add_run(
            statuses=("requires_action",), after_tool_outputs=("queued", "in_progress", "completed")
        )
        client = self.client()
        calls = client.retrieve(THREAD, run["id"]).tool_calls
        seen: List[str] = []
        got = client.submit_tool_outputs_and_poll(
            THREAD, run["id"], [{"tool_call_id": calls[0].id, "output": "72F"}],
            poll_interval=0.25, on_run=lambda r: seen.append(r.status),
        )  # fmt: skip
        self.assertEqual(got.status, "completed")
        self.assertEqual(seen, ["in_progress", "completed"])
        self.assertEqual(self.clock.sleeps, [0.25])
        submit = self.server.requests[1]
        self.assertEqual(submit.json, {"tool_outputs": [{"tool_call_id": calls[0].id,
                                                         "output": "72F"}]})  # fmt: skip

    def test_on_run_error_propagates_and_stops_polling(self) -> None:
        run = self.add_run(statuses=("queued", "in_progress", "completed"))

        def boom(_: Any) -> None:
            raise KeyError("stop")

        with self.assertRaises(KeyError):
            self.client().poll(THREAD, run["id"], on_run=boom)
        self.assertEqual(self.sent(), 1)


if __name__ == "__main__":
    unittest.main()
