"""Client redirects (same origin only) and forward proxies.

Part of the client's specification, tests/test_client_*.py (their rules: tests/support.py).
"""

from __future__ import annotations

import os
import unittest

from tests import threadrun
from tests.support import (
    KEY,
    THREAD,
    LoopbackProxy,
    ServerTest,
    closed_port,
    errors_in_chain,
    isolated_name,
)


class RedirectTest(ServerTest):
    def setUp(self) -> None:
        super().setUp()
        self.other = self.start_server()  # another port: another origin
        self.run_id = self.add_run()["id"]
        self.other.add_run(THREAD, id=self.run_id, statuses=("completed",))
        self.path = "/v1/threads/%s/runs/%s" % (THREAD, self.run_id)

    def test_redirect_to_another_origin_is_not_followed(self) -> None:
        for status in (301, 302, 303, 307, 308):
            with self.subTest(status=status):
                before = self.sent()
                self.server.redirect_next(self.other.url + self.path, status=status)
                with self.raises(threadrun.APIStatusError) as cm:
                    self.client().retrieve(THREAD, self.run_id)
                self.assertEqual(cm.exception.status_code, status)
                self.assertEqual(self.sent() - before, 1)  # not retried either
        self.assertEqual(self.other.requests, [])
        self.assertEqual(self.other.connections_opened, 0)
        self.assertEqual(self.clock.sleeps, [])

    def test_post_redirect_to_another_origin_is_not_followed(self) -> None:
        self.server.redirect_next(self.other.base_url + "/threads/%s/runs" % THREAD, status=307)
        with self.raises(threadrun.APIStatusError):
            self.client().create(THREAD, "asst_1")
        self.assertEqual(self.other.connections_opened, 0)
        self.assertEqual(self.other.requests, [])

    def test_same_machine_other_name_or_scheme_is_another_origin(self) -> None:
        for location in (
            "http://localhost:%d%s" % (self.other.port, self.path),
            "https://127.0.0.1:%d%s" % (self.server.port, self.path),
            "//127.0.0.1:%d%s" % (self.other.port, self.path),
        ):
            with self.subTest(location=location):
                self.server.redirect_next(location)
                with self.raises(threadrun.APIStatusError) as cm:
                    self.client().retrieve(THREAD, self.run_id)
                self.assertEqual(cm.exception.status_code, 307)
        self.assertEqual(self.other.connections_opened, 0)

    def test_same_origin_redirect_is_followed(self) -> None:
        # The API moved to a new prefix; the run is the one asked for (an answer about
        # another run is refused: see test_client_faults).
        old = "/old" + self.path
        self.server.redirect_next(self.server.url + self.path, path=old)
        got = self.client(base_url=self.server.url + "/old/v1").retrieve(THREAD, self.run_id)
        self.assertEqual(got.id, self.run_id)
        self.assertEqual(self.paths(), [("GET", old), ("GET", self.path)])
        self.assertEqual(self.server.requests[1].headers["Authorization"], "Bearer " + KEY)
        self.assertEqual(self.other.connections_opened, 0)

    def test_relative_same_origin_redirect_is_followed(self) -> None:
        self.server.redirect_next(self.path, status=308)
        client = self.client(base_url=self.server.url + "/old/v1")
        self.assertEqual(client.retrieve(THREAD, self.run_id).id, self.run_id)
        self.assertEqual(self.paths(), [("GET", "/old" + self.path), ("GET", self.path)])

    def test_same_origin_307_keeps_post_and_body(self) -> None:
        self.server.redirect_next("/v1/threads/thread_2/runs", status=307, method="POST")
        run = self.client().create(THREAD, "asst_1", metadata={"k": "v"})
        self.assertEqual(run.thread_id, "thread_2")
        first, second = self.server.requests
        self.assertEqual((second.method, second.path), ("POST", "/v1/threads/thread_2/runs"))
        self.assertEqual(second.json, {"assistant_id": "asst_1", "metadata": {"k": "v"}})
        self.assertEqual(second.headers["Idempotency-Key"], first.headers["Idempotency-Key"])

    def test_same_origin_303_after_post_becomes_a_get(self) -> None:
        self.server.redirect_next(self.path, status=303, method="POST")
        run = self.client().create(THREAD, "asst_1", metadata={"k": "v"})
        self.assertEqual(run.id, self.run_id)
        first, second = self.server.requests
        self.assertEqual((first.method, second.method), ("POST", "GET"))
        self.assertEqual(second.path, self.path)
        self.assertEqual(second.body, b"")
        self.assertIsNone(second.headers["Content-Type"])
        self.assertEqual(second.headers["Authorization"], "Bearer " + KEY)

    def test_redirect_loop_ends(self) -> None:
        self.server.redirect_next(self.path, count=50)
        with self.raises(threadrun.APIStatusError):
            self.client(max_retries=0).retrieve(THREAD, self.run_id)
        self.assertLess(self.sent(), 50)

class ProxyTest(ServerTest):
    def setUp(self) -> None:
        super().setUp()
        self.proxy = LoopbackProxy(self.server.port)
        self.addCleanup(self.proxy.stop)
        self.run_id = self.add_run()["id"]
        self.path = "/v1/threads/%s/runs/%s" % (THREAD, self.run_id)

    def test_http_proxy_is_used(self) -> None:
        for name in ("HTTP_PROXY", "http_proxy"):
            with self.subTest(variable=name):
                for var in [k for k in os.environ if isolated_name(k)]:
                    del os.environ[var]
                os.environ[name] = "http://127.0.0.1:%d" % self.proxy.port
                before_lines, before_sent = len(self.proxy.lines), self.sent()
                client = self.client(default_query={"api-version": "1"})
                self.assertEqual(client.retrieve(THREAD, self.run_id).id, self.run_id)
                client.close()
                self.assertEqual(
                    self.proxy.lines[before_lines:],
                    ["GET http://127.0.0.1:%d%s?api-version=1 HTTP/1.1"
                     % (self.server.port, self.path)],
                )  # fmt: skip
                self.assertEqual(self.sent() - before_sent, 1)  # forwarded
                self.assertEqual(self.server.requests[-1].headers["Authorization"], "Bearer " + KEY)

    def test_post_through_the_proxy(self) -> None:
        os.environ["HTTP_PROXY"] = "http://127.0.0.1:%d" % self.proxy.port
        run = self.client().create(THREAD, "asst_1", metadata={"via": "proxy"})
        self.assertEqual(run.metadata, {"via": "proxy"})
        self.assertEqual(
            self.proxy.lines,
            ["POST http://127.0.0.1:%d/v1/threads/%s/runs HTTP/1.1" % (self.server.port, THREAD)],
        )

    def test_proxy_credentials_are_sent_to_the_proxy(self) -> None:
        os.environ["HTTP_PROXY"] = "http://user:p%%40ss@127.0.0.1:%d" % self.proxy.port
        self.client().retrieve(THREAD, self.run_id)
        self.assertEqual(len(self.proxy.lines), 1)
        self.assertEqual(self.proxy.proxy_auth, ["Basic dXNlcjpwQHNz"])  # user:p@ss
        self.assertIsNone(self.server.requests[-1].headers["Proxy-Authorization"])

    def test_no_proxy_goes_direct(self) -> None:
        for no_proxy in ("127.0.0.1", "localhost,127.0.0.1", "*"):
            with self.subTest(no_proxy=no_proxy):
                os.environ["HTTP_PROXY"] = "http://127.0.0.1:%d" % self.proxy.port
                os.environ["NO_PROXY"] = no_proxy
                before = self.sent()
                client = self.client()
                self.assertEqual(client.retrieve(THREAD, self.run_id).id, self.run_id)
                client.close()
                self.assertEqual(self.proxy.lines, [])
                self.assertEqual(self.sent() - before, 1)
                self.assertEqual(self.server.requests[-1].target, self.path)

    def test_unreachable_proxy_is_connection_error_without_its_credentials(self) -> None:
        os.environ["HTTP_PROXY"] = "http://user:proxysecret@127.0.0.1:%d" % closed_port()
        with self.raises(threadrun.APIConnectionError) as cm:
            self.client(max_retries=0).retrieve(THREAD, self.run_id)
        for error in errors_in_chain(cm.exception):
            self.assertNotIn("proxysecret", str(error))
        self.assertEqual(self.sent(), 0)

    def test_trust_env_false_goes_direct(self) -> None:
        os.environ["HTTP_PROXY"] = "http://127.0.0.1:%d" % self.proxy.port
        self.assertEqual(self.client(trust_env=False).retrieve(THREAD, self.run_id).id, self.run_id)
        self.assertEqual(self.proxy.lines, [])
        self.assertEqual(self.server.requests[-1].target, self.path)

    def test_https_proxy_is_not_used_for_http(self) -> None:
        os.environ["HTTPS_PROXY"] = "http://127.0.0.1:%d" % self.proxy.port
        self.client().retrieve(THREAD, self.run_id)
        self.assertEqual(self.proxy.lines, [])
        self.assertEqual(self.sent(), 1)


if __name__ == "__main__":
    unittest.main()
