"""Threads and messages: Client.create_thread, retrieve_thread, update_thread,
delete_thread, create_message, list_messages and retrieve_message.

Against threadrun.testing.FakeRunsServer (each test its own, on 127.0.0.1), with its faults
for what a server does wrong, and a plain http.server for a server of another shape; nothing
is ever sent beyond loopback.
"""

from __future__ import annotations

import http.server
import json
import os
import threading
from typing import Any, Callable, Dict, List

from tests import DATA_DIR, threadrun
from tests.support import KEY, THREAD, ServerTest


class ThreadsTest(ServerTest):
    options = {"poll_after_ms": 0}

    def test_create_retrieve_update_delete_a_thread(self) -> None:
        client = self.client()
        thread = client.create_thread(metadata={"user": "u1"})
        self.assertIs(type(thread), dict)
        self.assertEqual(self.server.requests[-1].json, {"metadata": {"user": "u1"}})
        self.assertEqual(client.retrieve_thread(thread["id"]), thread)
        updated = client.update_thread(thread["id"], metadata={"k": "v"})
        self.assertEqual(updated, dict(thread, metadata={"k": "v"}))
        self.assertEqual(client.delete_thread(thread["id"]),
                         {"id": thread["id"], "object": "thread.deleted", "deleted": True})
        with self.raises(threadrun.NotFoundError):
            client.retrieve_thread(thread["id"])
        self.assertEqual(
            self.paths()[:4],
            [("POST", "/v1/threads"), ("GET", "/v1/threads/" + thread["id"]),
             ("POST", "/v1/threads/" + thread["id"]), ("DELETE", "/v1/threads/" + thread["id"])],
        )  # fmt: skip

    def test_create_thread_with_messages_sends_them_as_given(self) -> None:
        client = self.client()
        parts = [{"type": "text", "text": "In simple terms."}]
        thread = client.create_thread([{"role": "user", "content": "What is AI?"},
                                       {"content": parts, "metadata": {"k": "v"}}])  # fmt: skip
        self.assertEqual(self.server.requests[-1].json, {"messages": [
            {"role": "user", "content": "What is AI?"},
            {"role": "user", "content": parts, "metadata": {"k": "v"}},  # role: user by default
        ]})  # fmt: skip
        texts = [threadrun.message_text(m) for m in client.list_messages(thread["id"], order="asc")]
        self.assertEqual(texts, ["What is AI?", "In simple terms."])

    def test_messages_create_list_retrieve(self) -> None:
        client = self.client()
        thread_id = client.create_thread()["id"]
        first = client.create_message(thread_id, "Hello")
        self.assertEqual(self.server.requests[-1].json, {"role": "user", "content": "Hello"})
        second = client.create_message(thread_id, [{"type": "text", "text": "Hi!"}],
                                       role="assistant", metadata={"k": "v"})  # fmt: skip
        self.assertEqual(self.server.requests[-1].json, {
            "role": "assistant", "content": [{"type": "text", "text": "Hi!"}],
            "metadata": {"k": "v"}})  # fmt: skip
        self.assertEqual(list(client.list_messages(thread_id)), [second, first])  # newest first
        self.assertEqual(client.retrieve_message(thread_id, first["id"]), first)
        self.assertEqual(self.server.get_messages(thread_id), [first, second])  # as sent

    def test_list_messages_pages_lazily_as_list_does(self) -> None:
        client = self.client()
        thread_id = client.create_thread([{"content": str(i)} for i in range(5)])["id"]
        before = len(self.server.requests)
        messages = client.list_messages(thread_id, order="asc", limit=2)
        self.assertEqual(len(self.server.requests), before)  # nothing sent before the first item
        self.assertEqual(threadrun.message_text(next(messages)), "0")
        self.assertEqual([threadrun.message_text(m) for m in messages], ["1", "2", "3", "4"])
        queries = [r.query for r in self.server.requests[before:]]
        ids = [m["id"] for m in self.server.get_messages(thread_id)]
        self.assertEqual(queries, [
            {"order": ["asc"], "limit": ["2"]},
            {"order": ["asc"], "limit": ["2"], "after": [ids[1]]},
            {"order": ["asc"], "limit": ["2"], "after": [ids[3]]},
        ])  # fmt: skip
        got = client.list_messages(thread_id, None, "desc", 10, ids[4], ids[1])  # positional
        self.assertEqual([m["id"] for m in got], [ids[3], ids[2]])

    def test_the_answer_of_a_run(self) -> None:
        client = self.client(run_adapter=threadrun.iso_timestamps)
        thread_id = client.create_thread([{"role": "user", "content": "Weather?"}])["id"]
        run = client.create_and_poll(thread_id, "asst_1", poll_interval=0)
        self.assertEqual(run.status, "completed")
        [answer] = client.list_messages(thread_id, run_id=run.id)
        self.assertEqual(self.server.requests[-1].query["run_id"], [run.id])
        self.assertEqual(threadrun.message_text(answer), self.server.default_message)
        self.assertEqual((answer["role"], answer["run_id"]), ("assistant", run.id))

    def test_ids_are_checked_and_quoted_as_run_ids(self) -> None:
        client = self.client()
        calls = [
            lambda bad: client.retrieve_thread(bad),
            lambda bad: client.update_thread(bad, metadata={}),
            lambda bad: client.delete_thread(bad),
            lambda bad: client.create_message(bad, "hi"),
            lambda bad: list(client.list_messages(bad)),
            lambda bad: list(client.list_messages(THREAD, run_id=bad)),
            lambda bad: client.retrieve_message(bad, "msg_1"),
            lambda bad: client.retrieve_message(THREAD, bad),
        ]
        for index, call in enumerate(calls):
            for bad in ("", "..", "a/b", "a?b", "a b", "a%2F", "a\nb", 7):
                with self.subTest(call=index, bad=bad), self.raises(threadrun.InvalidIdError):
                    call(bad)
        self.assertEqual(self.server.requests, [])
        self.server.add_thread("thread_a+b:c")
        self.assertEqual(client.retrieve_thread("thread_a+b:c")["id"], "thread_a+b:c")
        self.assertEqual(self.server.requests[-1].path, "/v1/threads/thread_a%2Bb%3Ac")

    def test_content_that_is_not_text_or_parts_is_a_type_error_before_sending(self) -> None:
        client = self.client()
        for content in (5, None, {"type": "text", "text": "hi"}, ["hi"], [{"text": "hi"}],
                        [{"type": 1}], b"hi", ("hi",)):  # fmt: skip
            with self.subTest(content=content):
                with self.assertRaisesRegex(TypeError, r"^content(\[0\])? must be"):
                    client.create_message(THREAD, content)
                with self.assertRaisesRegex(TypeError, r"^messages\[0\]\['content'\]"):
                    client.create_thread([{"role": "user", "content": content}])
        for call, pattern in (
            (lambda: client.create_message(THREAD, "hi", role=None), "^role must be a str"),
            (lambda: client.create_thread("hi"), "^messages must be a list"),
            (lambda: client.create_thread(["hi"]), r"^messages\[0\] must be a mapping"),
            (lambda: client.create_thread([{"role": 1, "content": "x"}]),
             r"messages\[0\]\['role'\]"),
        ):  # fmt: skip
            with self.subTest(pattern=pattern), self.assertRaisesRegex(TypeError, pattern):
                call()
        self.assertEqual(self.server.requests, [])

    def test_sdk_per_request_keywords(self) -> None:
        client = self.client()
        options: Dict[str, Any] = {"extra_headers": {"X-Trace": "t1"}, "timeout": 5,
                                   "extra_query": {"q": "1"}}  # fmt: skip
        thread = client.create_thread(extra_body={"metadata": {"from": "extra"}}, **options)
        self.assertEqual(thread["metadata"], {"from": "extra"})
        client.retrieve_thread(thread["id"], **options)
        client.create_message(thread["id"], "hi", **options)
        list(client.list_messages(thread["id"], **options))
        for request in self.server.requests:
            self.assertEqual((request.headers["X-Trace"], request.query["q"]), ("t1", ["1"]))
        with self.assertRaisesRegex(TypeError, "extra_body is only for requests with a body"):
            client.retrieve_message(thread["id"], "msg_1", extra_body={"a": 1})
        with self.assertRaisesRegex(TypeError, "unexpected keyword argument 'nope'"):
            client.list_messages(thread["id"], nope=1)

    def test_posts_carry_one_idempotency_key_across_retries(self) -> None:
        client = self.client(max_retries=2)
        self.server.fail_next(503, path="/v1/threads", method="POST")
        self.server.fail_next(500, path="/v1/threads/%s/messages" % THREAD, method="POST")
        self.server.add_thread(THREAD)
        client.create_thread()
        client.create_message(THREAD, "hi")
        posts = [r for r in self.server.requests if r.method == "POST"]
        keys = [r.headers["Idempotency-Key"] for r in posts]
        self.assertEqual(len(posts), 4)
        self.assertEqual((keys[0], keys[2]), (keys[1], keys[3]))
        self.assertNotEqual(keys[0], keys[2])
        self.server.fail_next(502, method="DELETE")
        self.assertTrue(client.delete_thread(THREAD)["deleted"])  # retried
        self.assertIsNone(self.server.requests[-1].headers["Idempotency-Key"])

    def test_errors_are_typed_and_scrubbed(self) -> None:
        client = self.client(max_retries=0)
        body = {"error": {"message": "no thread for key %s" % KEY, "type": "invalid_request_error"}}
        self.server.fail_next(404, body=body)
        with self.raises(threadrun.NotFoundError) as cm:
            client.retrieve_thread(THREAD)
        self.assertIn("[redacted]", str(cm.exception))
        self.server.fail_next(429, body=body)
        with self.raises(threadrun.RateLimitError):
            client.create_message(THREAD, "hi")
        self.server.add_thread(THREAD)
        self.server.oversized_next(client.max_response_bytes + 1)
        with self.raises(threadrun.ResponseTooLargeError):
            list(client.list_messages(THREAD))

    def test_answers_that_are_not_the_object_asked_for(self) -> None:
        client = self.client(max_retries=0)
        thread_id = client.create_thread([{"content": "hi"}])["id"]
        [message] = client.list_messages(thread_id)
        cases: List[Any] = [
            (client.retrieve_thread, ("thread_x",), dict(id="thread_y " + KEY),
             "asked for thread 'thread_x', the server answered with thread 'thread_y [redacted]'"),
            (client.retrieve_message, (thread_id, message["id"]), dict(message, id=7),
             "the server answered with a message whose id is integer 7"),
            (client.retrieve_message, (thread_id, message["id"]),
             dict(message, thread_id="thread_other"),
             "asked for a message of thread %r, the server answered with a message of thread "
             "'thread_other'" % thread_id),
            (client.create_message, (thread_id, "x"), dict(message, thread_id="thread_other"),
             "the server answered with a message of thread 'thread_other'"),
        ]  # fmt: skip
        for call, args, answer, words in cases:
            with self.subTest(words=words):
                self.server.fail_next(200, body=answer)
                with self.raises(threadrun.APIError) as cm:
                    call(*args)
                self.assertIn(words, str(cm.exception))
        for body, words in ((b"[1]", "expected a thread object, got array [1]"),
                            (b"{", "invalid JSON")):  # fmt: skip
            self.server.invalid_next(body)
            with self.raises(threadrun.APIResponseValidationError) as cm:
                client.create_thread()
            self.assertIn(words, str(cm.exception))

    def test_a_page_that_is_not_a_list_object_names_the_page(self) -> None:
        client = self.client(max_retries=0)
        thread_id = client.create_thread([{"content": str(i)} for i in range(3)])["id"]
        message = next(client.list_messages(thread_id, limit=1, order="asc"))
        self.server.fail_next(200, body=message)  # a message where the page should be
        with self.raises(threadrun.APIResponseValidationError) as cm:
            list(client.list_messages(thread_id))
        self.assertEqual(str(cm.exception), "the server's answer (the first page) is not a "
                         "valid list page: data: expected a list page with a 'data' array")
        self.assertEqual(cm.exception.body, message)
        messages = client.list_messages(thread_id, limit=1, order="asc")
        next(messages)
        self.server.fail_next(200, body={"object": "list", "data": ["msg " + KEY]})
        with self.raises(threadrun.APIResponseValidationError) as cm:
            next(messages)
        self.assertIn("(data[0] of the page after %r)" % message["id"], str(cm.exception))
        self.assertIn("expected a message object, got string", str(cm.exception))


class LoopbackServer:
    """A plain http.server on 127.0.0.1 answering each GET with the bytes ``answer(path)``
    gives (the raw path, query included)."""

    def __init__(self, answer: Callable[[str], bytes]) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                body = answer(self.path)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = "http://127.0.0.1:%d/v1" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def reference(name: str) -> bytes:
    with open(os.path.join(DATA_DIR, "messages", name), "rb") as fh:
        return fh.read()


class LoopbackTest(ServerTest):
    def serve(self, answer: Callable[[str], bytes]) -> Any:
        server = LoopbackServer(answer)
        self.addCleanup(server.stop)
        return self.client(base_url=server.base_url, run_adapter=threadrun.iso_timestamps)

    def test_the_api_references_objects_come_back_as_sent(self) -> None:
        answers = {
            "/v1/threads/thread_abc123": "03-thread.json",
            "/v1/threads/thread_abc123/messages?order=asc": "05-list.json",
            "/v1/threads/thread_abc123/messages/msg_abc123": "06-message.json",
        }
        client = self.serve(lambda path: reference(answers[path]))
        self.assertEqual(client.retrieve_thread("thread_abc123"),
                         json.loads(reference("03-thread.json")))  # fmt: skip
        messages = list(client.list_messages("thread_abc123", order="asc"))
        self.assertEqual(messages, json.loads(reference("05-list.json"))["data"])
        self.assertEqual([threadrun.message_text(m) for m in messages],
                         ["How does AI work? Explain it in simple terms.", "Hello, what is AI?"])
        message = client.retrieve_message("thread_abc123", "msg_abc123")
        self.assertEqual(message, json.loads(reference("06-message.json")))

    def test_messages_are_dicts_as_sent_whatever_their_shape(self) -> None:
        # Text as a bare string, an ISO timestamp, an image part (as some servers write them).
        message = {"id": "msg_1", "object": "thread.message", "created_at": "2026-11-29T16:30:14Z",
                   "thread_id": THREAD, "role": "assistant", "run_id": "run_1",
                   "content": [{"type": "image_file", "image_file": {"file_id": "f"}},
                               {"type": "text", "text": "Sunny."}]}  # fmt: skip
        page = {"object": "list", "data": [message], "has_more": False}
        client = self.serve(lambda path: json.dumps(page if "?" in path else message).encode())
        [got] = client.list_messages(THREAD, run_id="run_1")
        self.assertEqual(got, message)  # no run_adapter: as the server wrote it
        self.assertEqual(threadrun.message_text(got), "Sunny.")
        self.assertEqual(client.retrieve_message(THREAD, "msg_1"), message)
