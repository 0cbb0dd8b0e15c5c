"""Specification of threadrun.testing.FakeRunsServer, exercised over raw loopback HTTP: lists,
injected faults, connections, the record of requests, authentication, malformed requests,
and what the official SDK's models make of the fake's JSON.

As tests/test_testing.py, it uses http.client and socket only, never threadrun's client.
"""

from __future__ import annotations

import http.client
import itertools
import json
import socket
import threading
import time
import unittest
from typing import Any, Dict, List, Optional, Tuple

from tests import load_testing
from tests.test_testing import RUN_KEYS, ServerTest, api_error

testing: Any = None  # threadrun.testing, set by setUpModule (skipped in single-file mode)


def setUpModule() -> None:
    global testing
    testing = load_testing()


class ListTest(ServerTest):
    def setUp(self) -> None:
        self.ticks = itertools.count(1000)
        self.options = {"clock": lambda: next(self.ticks)}
        super().setUp()
        # created_at 1000, 1002, ... : each run gets its own second (entering a status ticks too)
        self.ids = [self.server.add_run(statuses=("queued",))["id"] for _ in range(5)]

    def page(self, query: str = "", thread: str = "thread_1") -> Dict[str, Any]:
        resp = self.call("GET", f"/v1/threads/{thread}/runs{query}")
        self.assertEqual(resp.status, 200, resp.raw)
        return resp.json  # type: ignore[no-any-return]

    def ids_of(self, page: Dict[str, Any]) -> List[str]:
        return [r["id"] for r in page["data"]]

    def test_default_is_newest_first(self) -> None:
        page = self.page()
        self.assertEqual(self.ids_of(page), self.ids[::-1])
        self.assertEqual(page["object"], "list")
        self.assertEqual(
            (page["first_id"], page["last_id"], page["has_more"]), (self.ids[4], self.ids[0], False)
        )
        self.assertEqual(page["data"][0], self.server.get_run(self.ids[4]))

    def test_pages_desc_with_after(self) -> None:
        seen: List[str] = []
        query = "?limit=2"
        pages = []
        while True:
            page = self.page(query)
            pages.append((self.ids_of(page), page["has_more"]))
            seen += self.ids_of(page)
            if not page["has_more"]:
                break
            query = f"?limit=2&after={page['last_id']}"
        ids = self.ids
        self.assertEqual(
            pages, [([ids[4], ids[3]], True), ([ids[2], ids[1]], True), ([ids[0]], False)]
        )

    def test_pages_asc_with_after(self) -> None:
        ids = self.ids
        page = self.page("?order=asc&limit=3")
        self.assertEqual((self.ids_of(page), page["has_more"]), (ids[:3], True))
        self.assertEqual((page["first_id"], page["last_id"]), (ids[0], ids[2]))
        page = self.page(f"?order=asc&limit=3&after={ids[2]}")
        self.assertEqual((self.ids_of(page), page["has_more"]), (ids[3:], False))

    def test_before_cursor(self) -> None:
        ids = self.ids
        page = self.page(f"?order=asc&limit=2&before={ids[4]}")
        self.assertEqual((self.ids_of(page), page["has_more"]), ([ids[2], ids[3]], True))
        page = self.page(f"?order=asc&limit=2&before={ids[2]}")
        self.assertEqual((self.ids_of(page), page["has_more"]), ([ids[0], ids[1]], False))
        page = self.page(f"?limit=10&before={ids[1]}")  # desc: the newer ones
        self.assertEqual((self.ids_of(page), page["has_more"]), ([ids[4], ids[3], ids[2]], False))
        page = self.page(f"?order=asc&after={ids[0]}&before={ids[3]}")
        self.assertEqual(self.ids_of(page), [ids[1], ids[2]])

    def test_empty_pages(self) -> None:
        self.server.add_thread("thread_empty")
        empty = {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}
        self.assertEqual(self.page(thread="thread_empty"), empty)
        self.assertEqual(self.page(f"?after={self.ids[0]}"), empty)

    def test_default_limit_is_20(self) -> None:
        for _ in range(17):
            self.server.add_run()
        page = self.page()
        self.assertEqual((len(page["data"]), page["has_more"]), (20, True))
        self.assertEqual(len(self.page("?limit=100")["data"]), 22)

    def test_same_second_runs_keep_creation_order(self) -> None:
        ids = [self.server.add_run("thread_2", created_at=7)["id"] for _ in range(4)]
        self.assertEqual(self.ids_of(self.page(thread="thread_2")), ids[::-1])
        self.assertEqual(self.ids_of(self.page("?order=asc", thread="thread_2")), ids)

    def test_listing_does_not_advance(self) -> None:
        run = self.server.add_run(statuses=("queued", "in_progress"))
        self.page()
        self.page()
        self.assertEqual(self.server.get_run(run["id"])["status"], "queued")

    def test_bad_parameters(self) -> None:
        cases = [
            ("?limit=0", "limit", "integer_below_min_value"),
            ("?limit=101", "limit", "integer_above_max_value"),
            ("?limit=ten", "limit", "invalid_type"),
            ("?order=sideways", "order", "invalid_value"),
            ("?after=run_nope", "after", "invalid_value"),
            ("?before=run_nope", "before", "invalid_value"),
        ]
        for query, param, code in cases:
            with self.subTest(query=query):
                resp = self.call("GET", "/v1/threads/thread_1/runs" + query)
                self.assertEqual(resp.status, 400)
                self.assertEqual(
                    (resp.json["error"]["param"], resp.json["error"]["code"]), (param, code)
                )
        self.assertEqual(
            self.call("GET", "/v1/threads/thread_1/runs?limit=0").json["error"]["message"],
            "Invalid 'limit': integer below minimum value. Expected a value >= 1, but got 0"
            " instead.",
        )


class FaultTest(ServerTest):
    def test_fail_next(self) -> None:
        self.server.fail_next(503, headers={"Retry-After": "1"})
        resp = self.call("POST", "/v1/threads/t/runs", {"assistant_id": "a"})
        self.assertError(
            resp,
            503,
            api_error(
                "The engine is currently overloaded, please try again later.", type="server_error"
            ),
        )
        self.assertEqual(resp.headers["Retry-After"], "1")
        self.assertIsNone(resp.headers["openai-poll-after-ms"])
        self.assertEqual(self.call("GET", "/v1/threads/t/runs").status, 404)  # nothing created
        self.assertEqual(self.create(thread="t")["status"], "queued")
        self.assertEqual([r.method for r in self.server.requests], ["POST", "GET", "POST"])
        self.assertEqual(self.server.pending_faults, 0)

    def test_count_path_and_method_filters(self) -> None:
        run = self.create()
        path = f"/v1/threads/thread_1/runs/{run['id']}"
        self.server.fail_next(500, count=2, path=path, method="get")
        self.assertEqual(self.server.pending_faults, 2)
        self.assertEqual(self.call("GET", "/v1/threads/thread_1/runs").status, 200)
        self.assertEqual(self.call("POST", path, {}).status, 200)
        self.assertEqual(self.call("GET", path).status, 500)
        self.assertEqual(self.call("GET", path + "?x=1").status, 500)  # path ignores query
        self.assertEqual(self.server.pending_faults, 0)
        self.assertEqual(self.get(run["id"])["status"], "in_progress")  # failed GETs: no step

    def test_faults_apply_in_order_with_api_bodies(self) -> None:
        self.server.fail_next(500)
        self.server.fail_next(429)
        self.server.fail_next(409)
        self.assertError(
            self.call("GET", "/v1/x"),
            500,
            api_error(
                "The server had an error while processing your request. Sorry about that!",
                type="server_error",
            ),
        )
        self.assertError(
            self.call("GET", "/v1/x"),
            429,
            api_error(
                "Rate limit reached for requests. Please try again later.",
                code="rate_limit_exceeded",
                type="requests",
            ),
        )
        self.assertError(self.call("GET", "/v1/x"), 409, api_error("Conflict."))

    def test_fail_next_custom_body(self) -> None:
        self.server.fail_next(400, body={"error": {"message": "custom"}})
        self.server.fail_next(
            502, body="<html>bad gateway</html>", headers={"Content-Type": "text/html"}
        )
        self.assertEqual(self.call("GET", "/v1/x").json, {"error": {"message": "custom"}})
        resp = self.call("GET", "/v1/x")
        self.assertEqual((resp.status, resp.raw), (502, b"<html>bad gateway</html>"))
        self.assertEqual(resp.headers.get_all("Content-Type"), ["text/html"])

    def test_delay_next(self) -> None:
        self.server.delay_next(0.2)
        started = time.monotonic()
        run = self.create()
        self.assertGreaterEqual(time.monotonic() - started, 0.2)
        started = time.monotonic()
        self.get(run["id"])
        self.assertLess(time.monotonic() - started, 0.2)

    def test_delay_trips_a_client_timeout(self) -> None:
        self.server.delay_next(0.5)
        conn = self.connect(timeout=0.05)
        with self.assertRaises(socket.timeout):
            self.call("GET", "/v1/x", conn=conn)

    def test_drop_next(self) -> None:
        self.server.drop_next()
        with self.assertRaises(ConnectionError):  # http.client.RemoteDisconnected
            self.create()
        self.assertEqual(len(self.server.requests), 1)
        self.conn.close()
        self.assertEqual(self.call("GET", "/v1/threads/thread_1/runs").status, 404)  # not handled
        self.assertEqual(self.server.connections_opened, 2)

    def test_delay_then_drop(self) -> None:
        self.server.inject(testing.Fault(delay=0.1, drop=True), count=2)
        for _ in range(2):
            self.conn.close()
            with self.assertRaises(ConnectionError):
                self.call("GET", "/v1/x")
        self.assertEqual(self.call("GET", "/v1/x").status, 404)

    def test_redirect_next_to_another_origin(self) -> None:
        with testing.FakeRunsServer() as other:
            target = other.base_url + "/threads/thread_1/runs"
            run = self.create()
            self.server.redirect_next(target)
            self.server.redirect_next("/v1/elsewhere", status=301)
            resp = self.call("GET", f"/v1/threads/thread_1/runs/{run['id']}")
            self.assertEqual((resp.status, resp.headers["Location"], resp.raw), (307, target, b""))
            resp = self.call("GET", "/v1/x")
            self.assertEqual((resp.status, resp.headers["Location"]), (301, "/v1/elsewhere"))
            self.assertEqual(self.server.get_run(run["id"])["status"], "queued")
            self.assertEqual(other.requests, [])

    def test_oversized_next(self) -> None:
        run = self.create()
        self.server.oversized_next(50_000)
        resp = self.call("GET", f"/v1/threads/thread_1/runs/{run['id']}")
        self.assertEqual(len(resp.raw), 50_000)
        self.assertEqual(resp.headers["Content-Length"], "50000")
        body = resp.json
        self.assertEqual((body["id"], body["status"]), (run["id"], "in_progress"))  # handled
        self.assertEqual(set(body["x_padding"]), {"x"})
        self.assertEqual(list(body)[:-1], RUN_KEYS)
        self.server.oversized_next(10)  # shorter than the body: sent unpadded
        self.assertNotIn("x_padding", self.get(run["id"]))

    def test_invalid_next(self) -> None:
        self.server.invalid_next(b'{"id": "run_1", "obj')
        self.server.invalid_next(
            b"<html>oops</html>", status=502, headers={"Content-Type": "text/html; charset=utf-8"}
        )
        resp = self.call("GET", "/v1/x")
        self.assertEqual((resp.status, resp.raw), (200, b'{"id": "run_1", "obj'))
        self.assertEqual(resp.headers["Content-Type"], "application/json")
        resp = self.call("GET", "/v1/x")
        self.assertEqual((resp.status, resp.raw), (502, b"<html>oops</html>"))
        self.assertEqual(resp.headers["Content-Type"], "text/html; charset=utf-8")

    def test_fault_can_close_the_connection(self) -> None:
        self.server.fail_next(503, headers={"Connection": "close"})
        resp = self.call("GET", "/v1/x")
        self.assertEqual((resp.status, resp.headers["Connection"]), (503, "close"))
        self.call("GET", "/v1/x")
        self.assertEqual(self.server.connections_opened, 2)

    def test_fault_validation(self) -> None:
        for kwargs in ({"status": 42}, {"delay": -1}, {"pad_to": -1}):
            with self.subTest(kwargs=kwargs), self.assertRaises(ValueError):
                testing.Fault(**kwargs)
        with self.assertRaises(ValueError):
            self.server.inject(testing.Fault(status=500), count=0)
        self.assertTrue(testing.Fault(path="/a", method="POST").matches("post", "/a"))
        self.assertFalse(testing.Fault(path="/a").matches("GET", "/a/b"))


class ConnectionTest(ServerTest):
    def test_keep_alive_reuses_one_connection(self) -> None:
        self.call("GET", "/v1/x")
        self.call("POST", "/v1/threads/t/runs", {"assistant_id": "a"})
        self.assertEqual(self.server.connections_opened, 1)
        first, second = self.server.requests
        self.assertEqual(first.connection_id, second.connection_id)
        self.call("GET", "/v1/x", conn=self.connect())
        self.assertEqual(self.server.connections_opened, 2)
        self.assertEqual(self.server.open_connections, 2)
        self.assertNotEqual(self.server.requests[-1].connection_id, first.connection_id)

    def test_keep_alive_off_closes_after_each_response(self) -> None:
        self.server.keep_alive = False
        resp = self.call("GET", "/v1/x")
        self.assertEqual(resp.headers["Connection"], "close")
        self.call("GET", "/v1/x")  # http.client reconnects after Connection: close
        self.assertEqual(self.server.connections_opened, 2)
        ids = [r.connection_id for r in self.server.requests]
        self.assertEqual(len(set(ids)), 2)

    def test_idle_connections_are_closed(self) -> None:
        self.server.close_idle_after(0.3)
        self.call("GET", "/v1/x", conn=self.connect())
        self.call("GET", "/v1/x")
        self.call("GET", "/v1/x")  # requests in time keep the connection
        self.assertEqual(self.server.connections_opened, 2)
        self.wait_until(lambda: self.server.open_connections == 0)
        with self.assertRaises(ConnectionError):  # the stale socket: the client must reconnect
            self.call("GET", "/v1/x")
        self.conn.close()
        self.assertEqual(self.call("GET", "/v1/x").status, 404)
        self.assertEqual(self.server.connections_opened, 3)

    def test_close_connections(self) -> None:
        self.call("GET", "/v1/x")
        self.assertEqual(self.server.close_connections(), 1)
        self.wait_until(lambda: self.server.open_connections == 0)
        with self.assertRaises(ConnectionError):
            self.call("GET", "/v1/x")

    def test_client_close_is_seen(self) -> None:
        self.call("GET", "/v1/x")
        self.assertEqual(self.server.open_connections, 1)
        self.conn.close()
        self.wait_until(lambda: self.server.open_connections == 0)

    def test_malformed_request_gets_json_error(self) -> None:
        for data, status in ((b"GARBAGE\r\n\r\n", 400), (b"BREW /v1 HTTP/1.1\r\n\r\n", 501)):
            with self.subTest(data=data):
                raw = self.raw_exchange(data)
                head, _, body = raw.partition(b"\r\n\r\n")
                self.assertTrue(head.startswith(f"HTTP/1.1 {status} ".encode()), head)
                self.assertIn(b"\r\nConnection: close", head)
                self.assertIn(b"\r\nContent-Type: application/json", head)
                self.assertEqual(json.loads(body)["error"]["type"], "invalid_request_error")

    def test_http10_client_gets_a_closed_connection(self) -> None:
        raw = self.raw_exchange(b"GET /v1/x HTTP/1.0\r\n\r\n")
        head, _, body = raw.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 404 "))
        self.assertEqual(json.loads(body)["error"]["message"], "Invalid URL (GET /v1/x)")

    def test_two_requests_pipelined_on_one_socket(self) -> None:
        raw = self.raw_exchange(
            b"GET /v1/a HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /v1/b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        self.assertEqual(raw.count(b"HTTP/1.1 404 "), 2)
        self.assertEqual([r.path for r in self.server.requests], ["/v1/a", "/v1/b"])
        self.assertEqual(self.server.connections_opened, 1)


class RecordingTest(ServerTest):
    def test_request_is_recorded(self) -> None:
        body = {"assistant_id": "asst_1", "metadata": {"k": "é"}}
        self.call(
            "POST",
            "/v1/threads/thread%201/runs?include%5B%5D=a&include%5B%5D=b&x=",
            body,
            headers={"Authorization": "Bearer sk-1", "X-Custom": "yes"},
        )
        record = self.server.requests[-1]
        self.assertEqual(record.method, "POST")
        self.assertEqual(record.path, "/v1/threads/thread%201/runs")
        self.assertEqual(
            record.target, "/v1/threads/thread%201/runs?include%5B%5D=a&include%5B%5D=b&x="
        )
        self.assertEqual(record.query, {"include[]": ["a", "b"], "x": [""]})
        self.assertEqual(record.headers["authorization"], "Bearer sk-1")
        self.assertEqual(record.headers["x-custom"], "yes")
        self.assertEqual(record.headers["CONTENT-TYPE"], "application/json")
        self.assertEqual(record.body, json.dumps(body).encode())
        self.assertEqual(record.json, body)
        self.assertEqual(record.connection_id, 1)
        first_id = self.call("GET", "/v1/threads/thread%201/runs").json["first_id"]
        self.assertEqual(self.server.get_run(first_id)["thread_id"], "thread 1")  # decoded

    def test_body_less_and_unparsable_bodies(self) -> None:
        self.call("GET", "/v1/x")
        self.call("POST", "/v1/x", b"<xml/>")
        get, post = self.server.requests
        self.assertEqual((get.body, get.json, get.query), (b"", None, {}))
        self.assertEqual((post.body, post.json), (b"<xml/>", None))

    def test_requests_is_a_snapshot(self) -> None:
        self.call("GET", "/v1/x")
        snapshot = self.server.requests
        snapshot.clear()
        self.assertEqual(len(self.server.requests), 1)

    def test_clear(self) -> None:
        run = self.create()
        self.server.fail_next(500)
        self.server.clear()
        self.assertEqual(
            (self.server.requests, self.server.pending_faults, self.server.connections_opened),
            ([], 0, 0),
        )
        resp = self.call("GET", f"/v1/threads/thread_1/runs/{run['id']}")
        self.assertError(resp, 404, api_error("No thread found with id 'thread_1'."))
        self.call("GET", "/v1/x", conn=self.connect())
        self.assertEqual(self.server.connections_opened, 1)
        self.assertEqual([r.connection_id for r in self.server.requests], [1, 2])  # still unique

    def test_concurrent_clients(self) -> None:
        created: List[str] = []
        lock = threading.Lock()

        def worker() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=5)
            try:
                for _ in range(5):
                    run = self.call(
                        "POST", "/v1/threads/t/runs", {"assistant_id": "a"}, conn=conn
                    ).json
                    with lock:
                        created.append(run["id"])
            finally:
                conn.close()

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        self.assertEqual(len(set(created)), 40)
        listed = self.call("GET", "/v1/threads/t/runs?limit=100").json["data"]
        self.assertEqual(sorted(r["id"] for r in listed), sorted(created))
        self.assertEqual((len(self.server.requests), self.server.connections_opened), (41, 9))

    def test_settings_are_checked_when_set(self) -> None:
        for name, value in (
            ("default_statuses", ("queued", "not_a_status")),
            ("default_after_tool_outputs", ()),
            ("default_tool_calls", ["not a call"]),
        ):
            with self.subTest(name):
                before = getattr(self.server, name)
                with self.assertRaises(ValueError):
                    setattr(self.server, name, value)
                self.assertEqual(getattr(self.server, name), before)
        self.server.default_statuses = ["in_progress", "completed"]
        self.assertEqual(self.server.default_statuses, ("in_progress", "completed"))

    def test_bug_in_the_fake_is_a_500_and_recorded(self) -> None:
        def broken_clock() -> float:
            raise ZeroDivisionError("the clock is broken")

        self.server.clock = broken_clock
        resp = self.call("POST", "/v1/threads/t/runs", {"assistant_id": "a"})
        self.assertEqual((resp.status, resp.json["error"]["type"]), (500, "server_error"))
        [error] = self.server.errors
        self.assertIn("the clock is broken", error)
        self.server.clock = time.time
        self.assertEqual(self.create("t")["status"], "queued")  # still serving
        self.server.clear()
        self.assertEqual(self.server.errors, [])
        self.server.clear()
        self.assertEqual(self.server.errors, [])


class AuthTest(ServerTest):
    options = {"api_key": "sk-test-123456789"}
    good = {"Authorization": "Bearer sk-test-123456789", "OpenAI-Beta": "assistants=v2"}

    def test_api_key_is_checked(self) -> None:
        resp = self.call("GET", "/v1/x", headers={"OpenAI-Beta": "assistants=v2"})
        self.assertEqual(resp.status, 401)
        self.assertTrue(resp.json["error"]["message"].startswith("You didn't provide an API key."))
        resp = self.call(
            "GET", "/v1/x", headers=dict(self.good, Authorization="Bearer sk-wrong-987654321")
        )
        self.assertError(
            resp,
            401,
            api_error(
                "Incorrect API key provided: sk-********4321. You can find your API key at"
                " https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            ),
        )
        self.assertEqual(self.call("GET", "/v1/x", headers=self.good).status, 404)

    def test_beta_header_is_required_on_runs_routes(self) -> None:
        no_beta = {"Authorization": self.good["Authorization"], "OpenAI-Beta": ""}
        for beta in ("", "assistants=v1"):
            with self.subTest(beta=beta):
                resp = self.call(
                    "GET", "/v1/threads/t/runs", headers=dict(no_beta, **{"OpenAI-Beta": beta})
                )
                self.assertError(
                    resp,
                    400,
                    api_error(
                        "You must provide the 'OpenAI-Beta' header to access the Assistants API."
                        " Please try again by setting the header 'OpenAI-Beta: assistants=v2'."
                    ),
                )
        self.assertEqual(self.call("GET", "/v1/x", headers=no_beta).status, 404)
        headers = dict(self.good, **{"OpenAI-Beta": "other=1, assistants=v2"})
        self.assertEqual(self.call("GET", "/v1/threads/t/runs", headers=headers).status, 404)
        self.server.require_beta_header = False
        self.assertEqual(self.call("GET", "/v1/threads/t/runs", headers=no_beta).status, 404)


BAD_JSON = "We could not parse the JSON body of your request."


def nested(depth: int, inner: bytes = b"1") -> bytes:
    return b"[" * depth + inner + b"]" * depth


class MalformedRequestTest(ServerTest):
    """Every malformed request gets a JSON error response, never silence or a traceback."""

    def exchange(self, data: bytes) -> Tuple[int, Dict[str, str], Any]:
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as sock:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        raw = b"".join(chunks)
        self.assertTrue(raw, "no response at all")
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:])
        return int(lines[0].split()[1]), headers, json.loads(body)

    def post(self, body: bytes, path: str = "/v1/threads/t/runs") -> bytes:
        return (
            b"POST %s HTTP/1.1\r\nHost: x\r\nOpenAI-Beta: assistants=v2\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (path.encode(), len(body), body)
        )

    def test_every_malformed_request_gets_a_json_error(self) -> None:
        post = self.post
        deep = nested(900)
        deep_tool = b'{"type":"function","function":{"name":"f","parameters":%s}}' % deep
        deep_object = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
        long_header = b"GET /v1/x HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n"
        bad_chunk = b"POST /v1/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
        submit = "/v1/threads/t/runs/r/submit_tool_outputs"
        cases = [
            ("garbled request line", b"GARBAGE\r\n\r\n", 400),
            ("unknown method", b"BREW /v1 HTTP/1.1\r\n\r\n", 501),
            ("bad Content-Length", b"POST /v1/x HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400),
            ("bad chunk size", bad_chunk, 400),
            ("header line too long", long_header, 431),
            ("too many headers", b"GET /v1/x HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n", 431),
            ("request line too long", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414),
            ("nested past the recursion limit", post(nested(100_000)), 400),
            ("object nested past the limit", post(deep_object), 400),
            ("nested array param", post(b'{"assistant_id":"a","tools":%s}' % deep), 400),
            ("deep tool echoed back", post(b'{"assistant_id":"a","tools":[%s]}' % deep_tool), 400),
            ("deep metadata", post(b'{"assistant_id":"a","metadata":{"k":%s}}' % deep), 400),
            ("deep tool outputs", post(deep, submit), 400),
            ("invalid UTF-8", post(b'{"assistant_id":"\xff"}'), 400),
            ("lone surrogate escape", post(b'{"assistant_id":"a","model":"\\ud800"}'), 200),
        ]
        for name, data, status in cases:
            with self.subTest(name):
                got, headers, body = self.exchange(data)
                self.assertEqual(got, status, body)
                self.assertEqual(headers["Content-Type"], "application/json")
                if status >= 400:
                    self.assertEqual(sorted(body["error"]), ["code", "message", "param", "type"])
        self.assertEqual(self.server.errors, [])

    def test_nesting_limit_is_128_levels(self) -> None:
        # The body object is level 1, so tools nested 127 arrays deep make 128 levels in all.
        ok = self.call(
            "POST", "/v1/threads/t/runs", b'{"assistant_id":"a","tools":%s}' % nested(127)
        )
        self.assertEqual(ok.status, 200, ok.raw[:200])
        self.assertEqual(json.dumps(ok.json["tools"], separators=(",", ":")).encode(), nested(127))
        too_deep = b'{"assistant_id":"a","tools":%s}' % nested(128)
        resp = self.call("POST", "/v1/threads/t/runs", too_deep)
        self.assertEqual(resp.status, 400)
        self.assertTrue(resp.json["error"]["message"].startswith(BAD_JSON))

    def test_too_deep_json_is_the_apis_parse_error(self) -> None:
        for body in (nested(100_000), nested(900)):
            with self.subTest(depth=body.count(b"[")):
                resp = self.call("POST", "/v1/threads/t/runs", body)
                self.assertEqual(resp.status, 400)
                self.assertTrue(resp.json["error"]["message"].startswith(BAD_JSON))
                self.assertEqual(self.server.requests[-1].json, None)


class OfficialSDKModelTest(ServerTest):
    """The fake's runs validate under the official SDK's strict model: what a client is tested
    against is what the spec allows (openai is a dev tool, never a dependency)."""

    def setUp(self) -> None:
        try:
            from openai.types.beta.threads import Run
        except ImportError:
            self.skipTest("the openai package is not installed (a dev tool)")
        self.Run = Run
        super().setUp()

    def assertStrict(self, run: Dict[str, Any]) -> None:
        self.Run.model_validate(run, strict=True)

    def test_every_status_of_a_posted_run(self) -> None:
        self.server.default_statuses = ("queued", "in_progress", "requires_action")
        self.server.default_after_tool_outputs = ("in_progress", "completed")
        run = self.create()
        seen = [run]
        seen.append(self.get(run["id"]))
        seen.append(self.get(run["id"]))
        [call] = seen[-1]["required_action"]["submit_tool_outputs"]["tool_calls"]
        resp = self.call(
            "POST",
            f"/v1/threads/thread_1/runs/{run['id']}/submit_tool_outputs",
            {"tool_outputs": [{"tool_call_id": call["id"], "output": "ok"}]},
        )
        seen.extend([resp.json, self.get(run["id"])])
        self.assertEqual(
            [r["status"] for r in seen],
            ["queued", "in_progress", "requires_action", "in_progress", "completed"],
        )
        for run in seen:
            with self.subTest(status=run["status"]):
                self.assertStrict(run)
                self.assertEqual(run["instructions"], "")

    def test_every_status_of_a_stored_run_and_a_list(self) -> None:
        for end in ("failed", "cancelled", "incomplete", "expired", "completed", "cancelling"):
            with self.subTest(end=end):
                run = self.server.add_run(statuses=("queued", end))
                self.assertStrict(run)
                self.assertStrict(self.get(run["id"]))
        cancelling = self.call("POST", f"/v1/threads/thread_1/runs/{self.create()['id']}/cancel")
        self.assertStrict(cancelling.json)
        for run in self.call("GET", "/v1/threads/thread_1/runs?limit=100").json["data"]:
            self.assertStrict(run)

    def test_instructions_given_are_echoed(self) -> None:
        run = self.create(instructions="Be brief.", model="gpt-4o-mini", temperature=0.5)
        self.assertStrict(run)
        self.assertEqual(run["instructions"], "Be brief.")


class TypeHintsTest(unittest.TestCase):
    """Tools that read annotations (pydantic, cattrs, typeguard) resolve the public API's on
    every supported Python: no PEP 604/585 syntax hiding behind the __future__ import."""

    def test_get_type_hints_on_the_public_api(self) -> None:
        import typing

        testing = load_testing()
        targets: List[Any] = [testing.Fault, testing.RecordedRequest, testing.FakeRunsServer]
        targets.append(testing.RecordedStream)
        targets += [
            getattr(testing.FakeRunsServer, name)
            for name in dir(testing.FakeRunsServer)
            if not name.startswith("_") and callable(getattr(testing.FakeRunsServer, name))
        ]
        targets += [testing.FakeRunsServer.__init__, testing.Fault.matches]
        for target in targets:
            with self.subTest(getattr(target, "__qualname__", target)):
                typing.get_type_hints(target)
        hints = typing.get_type_hints(testing.Fault)
        self.assertEqual(hints["status"], Optional[int])
        self.assertEqual(
            typing.get_type_hints(testing.RecordedRequest)["query"], Dict[str, List[str]]
        )


if __name__ == "__main__":
    unittest.main()
