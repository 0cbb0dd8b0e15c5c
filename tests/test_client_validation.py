"""Strict by default, never lossy: a 2xx answer the client cannot read
raises APIResponseValidationError carrying it whole and naming the run; error bodies in the
shapes other servers use give clean messages (section 2); tool_calls tells missing from null.

Every request goes to a server on 127.0.0.1 (threadrun.testing's FakeRunsServer); nothing is
ever sent beyond loopback.
"""

from __future__ import annotations

import json
import pickle
import unittest
from typing import Any, Dict

from tests import threadrun
from tests.support import KEY, THREAD, ServerTest, run_json

BAD_RUN = json.loads(run_json("run_bad", created_at="2026-11-29T16:30:14.549940Z"))


class ValidationErrorTest(ServerTest):
    def test_a_run_that_cannot_be_read_is_carried_whole(self) -> None:
        self.server.invalid_next(json.dumps(BAD_RUN).encode(), headers={"x-request-id": "req_v"})
        with self.raises(threadrun.APIResponseValidationError) as cm:
            self.client().retrieve(THREAD, "run_bad")
        error = cm.exception
        for cls in (threadrun.ThreadRunError, threadrun.APIError, ValueError):
            self.assertIsInstance(error, cls)
        self.assertEqual(error.body, BAD_RUN)
        self.assertEqual(error.request_id, "req_v")
        self.assertEqual(error.field, "created_at")
        self.assertEqual(
            str(error),
            "the server sent run 'run_bad' of thread 'thread_1'; it was not returned because: "
            "created_at: expected an integer timestamp, got string "
            "'2026-11-29T16:30:14.549940Z'",
        )
        self.assertEqual(error.message, str(error))
        self.assertEqual((error.code, error.param, error.type), (None, None, None))
        self.assertEqual(self.sent(), 1)  # not retried

    def test_a_created_run_says_so(self) -> None:
        self.server.add_thread(THREAD)
        self.server.invalid_next(json.dumps(BAD_RUN).encode())
        with self.raises(threadrun.APIResponseValidationError) as cm:
            self.client().create(THREAD, "asst_1")
        self.assertTrue(str(cm.exception).startswith(
            "the server created run 'run_bad' of thread 'thread_1'; it was not returned "
            "because: created_at: "), str(cm.exception))  # fmt: skip
        self.assertEqual(cm.exception.body["id"], "run_bad")

    def test_create_and_poll_says_so_too(self) -> None:
        self.server.add_thread(THREAD)
        self.server.invalid_next(json.dumps(BAD_RUN).encode())
        with self.raises(threadrun.APIResponseValidationError) as cm:
            self.client().create_and_poll(THREAD, "asst_1")
        self.assertIn("the server created run 'run_bad'", str(cm.exception))

    def test_other_posts_do_not_claim_a_creation(self) -> None:
        client = self.client()
        calls = {
            "cancel": lambda: client.cancel(THREAD, "run_bad"),
            "update": lambda: client.update(THREAD, "run_bad", {}),
            "submit_tool_outputs": lambda: client.submit_tool_outputs(THREAD, "run_bad", []),
        }
        for name, call in calls.items():
            with self.subTest(endpoint=name):
                self.server.invalid_next(json.dumps(BAD_RUN).encode())
                with self.raises(threadrun.APIResponseValidationError) as cm:
                    call()
                self.assertTrue(str(cm.exception).startswith("the server sent run 'run_bad'"))

    def test_answers_without_a_string_id(self) -> None:
        self.server.add_thread(THREAD)
        client = self.client()
        cases = [
            # (body, created?, expected message start, field, line)
            (b'{"id": 7}', False, "the server's answer is not a valid run: id: expected a "
             "string", "id", None),
            (b'{"id": 7}', True, "the server created a run; it was not returned because: id: ",
             "id", None),
            (b"[1, 2]", False, "the server's answer is not a valid run: expected a JSON object",
             None, None),
            (b'{"id": "run_', True, "the server created a run; it was not returned because: "
             "invalid JSON: ", None, 1),
            (b"<html>\n<b>ok</b>", False, "the server's answer is not a valid run: invalid JSON",
             None, 1),
        ]  # fmt: skip
        for body, created, start, field, line in cases:
            with self.subTest(body=body, created=created):
                self.server.invalid_next(body, headers={"x-request-id": "req_no_id"})
                with self.raises(threadrun.APIResponseValidationError) as cm:
                    if created:
                        client.create(THREAD, "asst_1")
                    else:
                        client.retrieve(THREAD, "run_1")
                error = cm.exception
                self.assertTrue(str(error).startswith(start), str(error))
                self.assertEqual(error.field, field)
                self.assertEqual(error.line, line)
                self.assertEqual(error.request_id, "req_no_id")
                try:
                    expected = json.loads(body)
                except ValueError:
                    expected = body.decode()  # not JSON: its text
                self.assertEqual(error.body, expected)

    def test_list_names_the_item_and_the_page(self) -> None:
        good = [json.loads(run_json("run_%d" % i)) for i in range(3)]
        bad = dict(good[1], metadata={"k": 5})
        pages = [
            {"object": "list", "data": good[:2], "has_more": True, "last_id": "run_1"},
            {"object": "list", "data": [good[2], bad], "has_more": False},
        ]
        for page in pages:
            self.server.invalid_next(json.dumps(page).encode(), headers={"x-request-id": "req_p"})
        seen = []
        with self.raises(threadrun.APIResponseValidationError) as cm:
            for run in self.client().list(THREAD, limit=2):
                seen.append(run.id)
        self.assertEqual(seen, ["run_0", "run_1"])  # the second page is refused whole
        error = cm.exception
        self.assertEqual(
            str(error),
            "the server sent run 'run_1' of thread 'thread_1' (data[1] of the page after "
            "'run_1'); it was not returned because: metadata['k']: expected a string, got "
            "integer 5",
        )
        self.assertEqual(error.field, "data[1]['metadata']['k']")
        self.assertEqual(error.body, pages[1])
        self.assertEqual(error.request_id, "req_p")

    def test_list_first_page_and_not_a_page(self) -> None:
        cases = [
            ({"object": "list", "data": [{"id": "run_x"}]}, "data[0]['object']",
             "the server sent run 'run_x' (data[0] of the first page); it was not returned "
             "because: object: required key is missing"),
            ({"object": "list", "data": ["run_x"]}, "data[0]",
             "the server's answer (data[0] of the first page) is not a valid run: expected a "
             "JSON object (dict), got string 'run_x'"),
            ({"object": "list"}, "data",
             "the server's answer (the first page) is not a valid list page: data: expected a "
             "list page with a 'data' array"),
            ([], "data", "the server's answer (the first page) is not a valid list page: "),
        ]  # fmt: skip
        for page, field, start in cases:
            with self.subTest(page=page):
                self.server.invalid_next(json.dumps(page).encode())
                with self.raises(threadrun.APIResponseValidationError) as cm:
                    list(self.client().list(THREAD))
                self.assertTrue(str(cm.exception).startswith(start), str(cm.exception))
                self.assertEqual(cm.exception.field, field)
                self.assertEqual(cm.exception.body, page)

    def test_the_body_is_scrubbed_and_the_message_too(self) -> None:
        echo = dict(BAD_RUN, created_at="Bearer " + KEY, instructions="use " + KEY)
        self.server.add_thread(THREAD)
        self.server.invalid_next(json.dumps(echo).encode())
        with self.raises(threadrun.APIResponseValidationError) as cm:
            self.client().create(THREAD, "asst_1")
        self.assertEqual(cm.exception.body["instructions"], "use [redacted]")
        self.assertEqual(cm.exception.body["id"], "run_bad")
        self.assertIn("[redacted]", str(cm.exception))

    def test_an_answer_that_is_not_json_keeps_its_scrubbed_text(self) -> None:
        self.server.invalid_next(("not json: %s" % KEY).encode())
        with self.raises(threadrun.APIResponseValidationError) as cm:
            self.client().retrieve(THREAD, "run_1")
        self.assertEqual(cm.exception.body, "not json: [redacted]")

    def test_survives_pickling(self) -> None:
        self.server.invalid_next(json.dumps(BAD_RUN).encode(), headers={"x-request-id": "req_pk"})
        with self.raises(threadrun.APIResponseValidationError) as cm:
            self.client().retrieve(THREAD, "run_bad")
        copy = pickle.loads(pickle.dumps(cm.exception))
        self.assertIs(type(copy), threadrun.APIResponseValidationError)
        for attr in ("message", "request_id", "body", "field", "line", "column"):
            self.assertEqual(getattr(copy, attr), getattr(cm.exception, attr), attr)
        self.assertEqual(str(copy), str(cm.exception))

    def test_the_hook_for_stream_events(self) -> None:
        # Client._parse_run is what a stream's run events go through: the adapter, then the
        # same error as a response's, placed by the event.
        client = self.client(run_adapter=threadrun.iso_timestamps)
        event = " (event 'thread.run.created')"
        run = client._parse_run(dict(BAD_RUN), "req_stream", "created", event)
        self.assertEqual((run.id, run.created_at), ("run_bad", 1795969814))
        with self.raises(threadrun.APIResponseValidationError) as cm:
            client._parse_run(dict(BAD_RUN, status=None), "req_stream", "created", event)
        self.assertEqual(
            str(cm.exception),
            "the server created run 'run_bad' of thread 'thread_1' (event "
            "'thread.run.created'); it was not returned because: status: expected a string, "
            "got null",
        )
        self.assertEqual(cm.exception.body, dict(BAD_RUN, status=None))  # before the adapter
        self.assertEqual(cm.exception.request_id, "req_stream")

    def test_except_thread_run_error_still_catches_it(self) -> None:
        self.server.invalid_next(json.dumps(BAD_RUN).encode())
        try:
            self.client().retrieve(THREAD, "run_bad")
        except threadrun.ThreadRunError as exc:
            self.assertEqual(exc.field, "created_at")
        else:
            self.fail("no error")


class ErrorBodyMessageTest(ServerTest):
    def check(self, status: int, body: Dict[str, Any], cls: Any, message: str) -> None:
        self.server.invalid_next(json.dumps(body).encode(), status=status)
        with self.raises(cls) as cm:
            self.client(max_retries=0).retrieve(THREAD, "run_1")
        self.assertEqual(str(cm.exception), message)
        self.assertEqual(cm.exception.message, message)
        self.assertEqual(cm.exception.body, body)  # kept whole

    def test_fastapi_and_plain_shapes(self) -> None:
        detail_list = {"detail": [
            {"loc": ["body", "assistant_id"], "msg": "Field required", "type": "missing"},
            {"loc": ["query", "limit"], "msg": "Input should be a valid integer",
             "type": "int_parsing"},
            {"loc": ["body", "tool_outputs", 0, "output"], "msg": "Field required",
             "type": "missing"},
        ]}  # fmt: skip
        cases = [
            (404, {"detail": "Run not found in thread."}, threadrun.NotFoundError,
             "HTTP 404: Run not found in thread."),
            (422, detail_list, threadrun.UnprocessableEntityError,
             "HTTP 422: body.assistant_id: Field required; query.limit: Input should be a "
             "valid integer; body.tool_outputs.0.output: Field required"),
            (422, {"detail": [{"msg": "no loc"}, "junk", {"loc": "x", "msg": "odd loc"}]},
             threadrun.UnprocessableEntityError, "HTTP 422: no loc; odd loc"),
            (400, {"message": "assistant_id is required"}, threadrun.BadRequestError,
             "HTTP 400: assistant_id is required"),
            (401, {"detail": "Not authenticated", "message": "ignored"},
             threadrun.AuthenticationError, "HTTP 401: Not authenticated"),
        ]  # fmt: skip
        for status, body, cls, message in cases:
            with self.subTest(body=body):
                self.check(status, body, cls, message)

    def test_unknown_shapes_show_the_start_of_the_body(self) -> None:
        for body in ({"detail": 5}, {"detail": []}, {"message": 3}, {"error": "plain"}):
            with self.subTest(body=body):
                self.check(400, body, threadrun.BadRequestError, "HTTP 400: " + json.dumps(body))

    def test_the_api_shape_is_unchanged(self) -> None:
        body = {"error": {"message": "No run.", "type": "invalid_request_error"}}
        self.server.invalid_next(json.dumps(body).encode(), status=404)
        with self.raises(threadrun.NotFoundError) as cm:
            self.client().retrieve(THREAD, "run_1")
        self.assertEqual(str(cm.exception), "HTTP 404: No run.")
        self.assertEqual(cm.exception.body, body["error"])

    def test_a_detail_echoing_the_key_is_scrubbed(self) -> None:
        self.server.invalid_next(json.dumps({"detail": "bad key " + KEY}).encode(), status=401)
        with self.raises(threadrun.AuthenticationError) as cm:
            self.client().retrieve(THREAD, "run_1")
        self.assertEqual(str(cm.exception), "HTTP 401: bad key [redacted]")


class ToolCallsMessagesTest(unittest.TestCase):
    def data_with(self, action: Any) -> Any:
        return json.loads(run_json(status="requires_action", required_action=action))

    def test_missing_is_not_null(self) -> None:
        # (a submit_tool_outputs action is checked by from_dict, with these words)
        cases = [
            ({"type": "submit_tool_outputs", "details": {"tool_calls": []}},
             "required_action['submit_tool_outputs']: is missing, expected an object (the "
             "object has 'type', 'details')"),
            ({"type": "submit_tool_outputs", "submit_tool_outputs": None},
             "required_action['submit_tool_outputs']: expected an object, got null"),
            ({"type": "submit_tool_outputs", "submit_tool_outputs": {}},
             "required_action['submit_tool_outputs']['tool_calls']: is missing, expected an "
             "array (the object is empty)"),
            ({"type": "submit_tool_outputs",
              "submit_tool_outputs": {"tool_calls": [{"id": "c", "type": "function"}]}},
             "required_action['submit_tool_outputs']['tool_calls'][0]['function']: is "
             "missing, expected an object (the object has 'id', 'type')"),
            ({"type": "submit_tool_outputs",
              "submit_tool_outputs": {"tool_calls": [{"id": "c", "function": {"name": None}}]}},
             "required_action['submit_tool_outputs']['tool_calls'][0]['function']['name']: "
             "expected a string, got null"),
        ]  # fmt: skip
        for action, message in cases:
            with self.subTest(action=action):
                with self.assertRaises(threadrun.ThreadRunError) as cm:
                    threadrun.ThreadRun.from_dict(self.data_with(action))
                self.assertEqual(str(cm.exception), message)

    def test_another_layout_has_no_tool_calls_to_read(self) -> None:
        action = {"submit_tool_outputs": {"tool_calls": []}}  # no type
        run = threadrun.ThreadRun.from_dict(self.data_with(action))
        with self.assertRaises(threadrun.ThreadRunError) as cm:
            run.tool_calls  # noqa: B018
        self.assertEqual(
            str(cm.exception),
            "required_action['type']: is missing, not 'submit_tool_outputs': no tool calls to "
            "read",
        )


if __name__ == "__main__":
    unittest.main()
