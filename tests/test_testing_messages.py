"""Specification of threadrun.testing.FakeRunsServer's threads and messages endpoints,
over raw loopback HTTP: the JSON it sends is compared with the API reference's objects
(tests/data/messages/), not read through threadrun's client.
"""

from __future__ import annotations

import json
import os
import unittest
from typing import Any, Dict, List

from tests import DATA_DIR
from tests.test_testing import ServerTest

MESSAGES_DIR = os.path.join(DATA_DIR, "messages")


def reference(name: str) -> Dict[str, Any]:
    with open(os.path.join(MESSAGES_DIR, name), encoding="utf-8") as fh:
        return json.load(fh)  # type: ignore[no-any-return]


THREAD_KEYS = sorted(reference("01-thread.json"))
MESSAGE_KEYS = set(reference("06-message.json"))
PAGE_KEYS = sorted(reference("05-list.json"))


class ThreadsTest(ServerTest):
    def new_thread(self, body: Any = None) -> Dict[str, Any]:
        resp = self.call("POST", "/v1/threads", {} if body is None else body)
        self.assertEqual(resp.status, 200, resp.raw)
        return resp.json  # type: ignore[no-any-return]

    def messages(self, thread_id: str, query: str = "") -> Dict[str, Any]:
        resp = self.call("GET", "/v1/threads/%s/messages%s" % (thread_id, query))
        self.assertEqual(resp.status, 200, resp.raw)
        return resp.json  # type: ignore[no-any-return]

    def test_thread_objects_are_the_references(self) -> None:
        thread = self.new_thread({"metadata": {"user": "abc123"}})
        self.assertEqual(sorted(thread), THREAD_KEYS)
        self.assertEqual((thread["object"], thread["metadata"]), ("thread", {"user": "abc123"}))
        self.assertRegex(thread["id"], "^thread_[0-9a-f]{24}$")
        path = "/v1/threads/" + thread["id"]
        self.assertEqual(self.call("GET", path).json, thread)
        resp = self.call("POST", path, {"metadata": {"modified": "true"}})
        self.assertEqual(resp.json, dict(thread, metadata={"modified": "true"}))
        resp = self.call("DELETE", path)
        self.assertEqual(resp.json, {"id": thread["id"], "object": "thread.deleted",
                                     "deleted": True})  # fmt: skip
        self.assertError(self.call("GET", path), 404, {"error": {
            "message": "No thread found with id '%s'." % thread["id"],
            "type": "invalid_request_error", "param": None, "code": None}})  # fmt: skip

    def test_deleting_a_thread_deletes_its_runs(self) -> None:
        run = self.server.add_run("thread_gone")
        self.assertEqual(self.call("DELETE", "/v1/threads/thread_gone").status, 200)
        with self.assertRaises(KeyError):
            self.server.get_run(run["id"])
        self.assertEqual(self.call("DELETE", "/v1/threads/thread_gone").status, 404)

    def test_a_new_threads_messages(self) -> None:
        thread = self.new_thread({"messages": [
            {"role": "user", "content": "Hello, what is AI?"},
            {"role": "user", "content": [{"type": "text", "text": "In simple terms."}],
             "metadata": {"k": "v"}},
        ]})  # fmt: skip
        page = self.messages(thread["id"], "?order=asc")
        self.assertEqual(sorted(page), PAGE_KEYS)
        first, second = page["data"]
        self.assertLessEqual(MESSAGE_KEYS, set(first))
        self.assertEqual(first["content"], reference("05-list.json")["data"][1]["content"])
        self.assertEqual((first["role"], first["thread_id"], first["run_id"]),
                         ("user", thread["id"], None))  # fmt: skip
        self.assertEqual(second["content"], [{"type": "text", "text": "In simple terms."}])

    def test_create_and_retrieve_a_message(self) -> None:
        thread_id = self.new_thread()["id"]
        path = "/v1/threads/%s/messages" % thread_id
        resp = self.call("POST", path, {"role": "user", "content": "How does AI work?",
                                        "metadata": {"user": "abc123"}})  # fmt: skip
        self.assertEqual(resp.status, 200, resp.raw)
        message = resp.json
        self.assertLessEqual(MESSAGE_KEYS, set(message))
        self.assertEqual(message["metadata"], {"user": "abc123"})
        self.assertEqual(message["content"][0]["text"]["value"], "How does AI work?")
        self.assertEqual(self.call("GET", path + "/" + message["id"]).json, message)
        self.assertError(self.call("GET", path + "/msg_nope"), 404, {"error": {
            "message": "No message found with id 'msg_nope'.",
            "type": "invalid_request_error", "param": None, "code": None}})  # fmt: skip

    def test_a_completed_run_writes_the_assistants_reply(self) -> None:
        thread_id = self.new_thread({"messages": [{"role": "user", "content": "Weather?"}]})["id"]
        run = self.server.add_run(thread_id, statuses=("queued", "completed"))
        self.assertEqual(self.messages(thread_id, "?run_id=" + run["id"])["data"], [])
        self.get(run["id"], thread_id)  # completed now
        [reply] = self.messages(thread_id, "?run_id=" + run["id"])["data"]
        self.assertEqual((reply["role"], reply["run_id"], reply["assistant_id"]),
                         ("assistant", run["id"], run["assistant_id"]))  # fmt: skip
        self.assertEqual(reply["content"][0]["text"]["value"], self.server.default_message)
        everything = self.messages(thread_id)["data"]  # newest first
        self.assertEqual([m["role"] for m in everything], ["assistant", "user"])

    def test_messages_page_as_the_runs_do(self) -> None:
        thread_id = self.new_thread({"messages": [
            {"role": "user", "content": str(i)} for i in range(5)]})["id"]  # fmt: skip
        ids: List[str] = []
        query = "?order=asc&limit=2"
        while True:
            page = self.messages(thread_id, query)
            ids += [m["id"] for m in page["data"]]
            if not page["has_more"]:
                break
            query = "?order=asc&limit=2&after=" + page["last_id"]
        self.assertEqual(ids, [m["id"] for m in self.server.get_messages(thread_id)])

    def test_invalid_requests_are_refused_as_the_api_does(self) -> None:
        thread_id = self.new_thread()["id"]
        messages = "/v1/threads/%s/messages" % thread_id
        for method, path, body, param in (
            ("POST", "/v1/threads", {"bogus": 1}, "bogus"),
            ("POST", "/v1/threads", {"messages": "hi"}, "messages"),
            ("POST", "/v1/threads", {"messages": [{"role": "user"}]}, "messages[0].content"),
            ("POST", "/v1/threads", {"metadata": {"k": 1}}, "metadata.k"),
            ("POST", "/v1/threads/" + thread_id, {"name": "x"}, "name"),
            ("POST", messages, {"content": "hi"}, "role"),
            ("POST", messages, {"role": "system", "content": "hi"}, "role"),
            ("POST", messages, {"role": "user", "content": 5}, "content"),
            ("POST", messages, {"role": "user", "content": [5]}, "content[0]"),
            ("POST", messages, {"role": "user", "content": [{}]}, "content[0].type"),
            ("POST", messages, {"role": "user", "content": "x", "attachments": {}}, "attachments"),
            ("GET", messages + "?limit=0", None, "limit"),
            ("GET", messages + "?order=up", None, "order"),
            ("GET", messages + "?after=msg_nope", None, "after"),
        ):
            with self.subTest(path=path, body=body):
                resp = self.call(method, path, body)
                self.assertEqual(resp.status, 400, resp.raw)
                self.assertEqual(resp.json["error"]["param"], param)
        self.assertEqual(self.server.get_messages(thread_id), [])  # nothing half-made
        resp = self.call("POST", "/v1/threads/nope/messages", {"role": "user", "content": "x"})
        self.assertEqual(resp.status, 404)

    def test_faults_apply_to_the_new_routes(self) -> None:
        self.server.fail_next(503, path="/v1/threads", method="POST")
        self.assertEqual(self.call("POST", "/v1/threads", {}).status, 503)
        self.assertEqual(self.call("POST", "/v1/threads", {}).status, 200)


class FastAPIThreadsTest(ServerTest):
    options = {"flavour": "fastapi"}

    def test_fastapi_speaks_its_own_dialect(self) -> None:
        resp = self.call("POST", "/v1/threads", {"messages": [{"role": "user", "content": "hi"}]})
        thread = resp.json
        self.assertRegex(thread["created_at"], r"^\d{4}-\d\d-\d\dT")
        [message] = self.call("GET", "/v1/threads/%s/messages" % thread["id"]).json["data"]
        self.assertRegex(message["id"], "^[0-9a-f-]{36}$")
        resp = self.call("GET", "/v1/threads/%s/messages/nope" % thread["id"])
        self.assertEqual((resp.status, resp.json), (404, {"detail": "Message not found."}))
        resp = self.call("POST", "/v1/threads/%s/messages" % thread["id"], {"content": "x"})
        self.assertEqual(resp.status, 422)
        self.assertEqual(resp.json["detail"][0]["loc"], ["body", "role"])


if __name__ == "__main__":
    unittest.main()
