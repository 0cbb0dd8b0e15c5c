"""Client configuration: settings, environment, headers as the server sees them, ids.

Part of the client's specification, tests/test_client_*.py (their rules: tests/support.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import unittest
from typing import Any, Callable, List, Tuple

from tests import threadrun
from tests.support import (
    AZURE_KEY,
    HOSTILE_IDS,
    KEY,
    THREAD,
    EnvTest,
    FakeClock,
    ServerTest,
    closed_port,
    isolated_name,
)


class ConfigTest(EnvTest):
    def test_default_base_url_is_https_openai(self) -> None:
        # Configuration only: this client is never used for a request.
        client = threadrun.Client(api_key="k")
        self.assertEqual(client.base_url, "https://api.openai.com/v1")

    def test_base_url_from_env(self) -> None:
        os.environ["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"
        os.environ["OPENAI_API_KEY"] = KEY
        client = threadrun.Client()
        self.assertEqual(client.base_url, "http://127.0.0.1:9/v1")

    def test_explicit_base_url_beats_env(self) -> None:
        os.environ["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"
        client = threadrun.Client(api_key=KEY, base_url="http://127.0.0.1:10/v2")
        self.assertEqual(client.base_url, "http://127.0.0.1:10/v2")

    def test_trailing_slash_of_base_url_is_dropped(self) -> None:
        client = threadrun.Client(api_key=KEY, base_url="http://127.0.0.1:9/v1/")
        self.assertEqual(client.base_url, "http://127.0.0.1:9/v1")

    def test_missing_key_names_the_env_var(self) -> None:
        with self.raises(threadrun.OpenAIError) as cm:
            threadrun.Client(base_url="http://127.0.0.1:9/v1")
        self.assertIn("OPENAI_API_KEY", str(cm.exception))
        self.assertNotIsInstance(cm.exception, threadrun.APIError)

    def test_empty_key_in_env_counts_as_missing(self) -> None:
        os.environ["OPENAI_API_KEY"] = ""
        with self.raises(threadrun.OpenAIError) as cm:
            threadrun.Client(base_url="http://127.0.0.1:9/v1")
        self.assertIn("OPENAI_API_KEY", str(cm.exception))

    def test_key_from_env_is_enough(self) -> None:
        os.environ["OPENAI_API_KEY"] = KEY
        client = threadrun.Client(base_url="http://127.0.0.1:9/v1")
        self.assertNotIn(KEY, repr(client))

    def test_azure_style_api_key_header_needs_no_key(self) -> None:
        client = threadrun.Client(
            base_url="http://127.0.0.1:9/v1", default_headers={"api-key": AZURE_KEY}
        )
        self.assertNotIn(AZURE_KEY, repr(client))
        self.assertNotIn(AZURE_KEY, str(client))

    def test_plain_http_to_other_hosts_is_refused_at_construction(self) -> None:
        # Construction only: nothing is sent to any of these hosts.
        for url in (
            "http://example.com/v1",
            "http://api.openai.com/v1",
            "http://10.0.0.1/v1",
            "http://127.0.0.1.example.com/v1",
            "http://localhost.example.com:8080/v1",
        ):
            with self.subTest(url=url):
                with self.raises(threadrun.OpenAIError) as cm:
                    threadrun.Client(api_key=KEY, base_url=url)
                self.assertNotIsInstance(cm.exception, threadrun.APIError)

    def test_plain_http_base_url_from_env_is_refused_too(self) -> None:
        os.environ["OPENAI_BASE_URL"] = "http://example.com/v1"
        with self.raises(threadrun.OpenAIError):
            threadrun.Client(api_key=KEY)

    def test_malformed_base_urls_are_refused(self) -> None:
        for url in (
            "ftp://127.0.0.1/v1",
            "127.0.0.1:9/v1",
            "http:///v1",
            "http://user:pw@127.0.0.1:9/v1",
            "http://127.0.0.1:9/v1?api-version=1",
            "http://127.0.0.1:99999/v1",
        ):
            with self.subTest(url=url), self.raises(threadrun.OpenAIError):
                threadrun.Client(api_key=KEY, base_url=url)

    def test_plain_http_to_other_hosts_allowed_when_asked(self) -> None:
        client = threadrun.Client(
            api_key=KEY, base_url="http://example.com/v1", allow_insecure_http=True
        )
        self.assertEqual(client.base_url, "http://example.com/v1")

    def test_plain_http_to_loopback_is_allowed(self) -> None:
        for url in (
            "http://127.0.0.1:9/v1",
            "http://127.1.2.3:9/v1",
            "http://localhost:9/v1",
            "http://LOCALHOST:9/v1",
            "http://[::1]:9/v1",
        ):
            with self.subTest(url=url):
                threadrun.Client(api_key=KEY, base_url=url)

    def test_https_to_any_host_is_allowed(self) -> None:
        client = threadrun.Client(api_key=KEY, base_url="https://example.com/openai/v1")
        self.assertEqual(client.base_url, "https://example.com/openai/v1")

    def test_default_timeout_is_a_positive_number(self) -> None:
        client = threadrun.Client(api_key=KEY, base_url="http://127.0.0.1:9/v1")
        self.assertIsInstance(client.timeout, (int, float))
        self.assertGreater(client.timeout, 0)
        self.assertLess(client.timeout, float("inf"))
        self.assertEqual(client.timeout, 60.0)

    def test_bad_settings_are_refused(self) -> None:
        url = "http://127.0.0.1:9/v1"
        for kwargs in ({"timeout": 0}, {"timeout": -1}, {"max_retries": -1},
                       {"max_response_bytes": 0}):  # fmt: skip
            with self.subTest(**kwargs), self.assertRaises((TypeError, ValueError)):
                threadrun.Client(api_key=KEY, base_url=url, **kwargs)

    def test_repr_never_shows_the_key(self) -> None:
        client = threadrun.Client(
            api_key=KEY, base_url="http://127.0.0.1:9/v1", organization="org_1", project="p"
        )
        self.assertNotIn(KEY, repr(client))
        self.assertNotIn(KEY, str(client))
        self.assertIn("127.0.0.1:9", repr(client))

    def test_trust_env_false_ignores_the_environment(self) -> None:
        os.environ["OPENAI_API_KEY"] = KEY
        os.environ["OPENAI_BASE_URL"] = "http://127.0.0.1:9/env"
        os.environ["OPENAI_ORG_ID"] = "org-env"
        with self.raises(threadrun.OpenAIError) as cm:
            threadrun.Client(trust_env=False)
        self.assertIn("no API key", str(cm.exception))
        client = threadrun.Client(api_key=KEY, trust_env=False)
        self.assertEqual(client.base_url, "https://api.openai.com/v1")  # configuration only
        self.assertIsNone(client.organization)


class NoServerTest(EnvTest):
    """Client behaviour that needs no fake server (also runs in single-file mode)."""

    def test_connection_refused_is_api_connection_error(self) -> None:
        clock = FakeClock()
        port = closed_port()
        client = threadrun.Client(
            api_key=KEY, base_url="http://127.0.0.1:%d/v1" % port, max_retries=0,
            sleep=clock.sleep, clock=clock,
        )  # fmt: skip
        self.addCleanup(client.close)
        with self.raises(threadrun.APIConnectionError) as cm:
            client.retrieve(THREAD, "run_1")
        self.assertNotIsInstance(cm.exception, threadrun.APITimeoutError)
        self.assertIsInstance(cm.exception, threadrun.APIError)
        self.assertIsInstance(cm.exception.__cause__, OSError)  # chained
        self.assertEqual(clock.sleeps, [])

    def test_connection_refused_is_retried(self) -> None:
        clock = FakeClock()
        client = threadrun.Client(
            api_key=KEY, base_url="http://127.0.0.1:%d/v1" % closed_port(), max_retries=2,
            sleep=clock.sleep, clock=clock,
        )  # fmt: skip
        self.addCleanup(client.close)
        with self.raises(threadrun.APIConnectionError):
            client.retrieve(THREAD, "run_1")
        self.assertEqual(len(clock.sleeps), 2)

    def test_bad_ids_are_refused_before_connecting(self) -> None:
        # The port is closed: reaching the network would give APIConnectionError instead.
        client = threadrun.Client(
            api_key=KEY, base_url="http://127.0.0.1:%d/v1" % closed_port(), max_retries=0
        )
        self.addCleanup(client.close)
        for bad in HOSTILE_IDS:
            with self.subTest(id=bad):
                with self.raises(threadrun.InvalidIdError):
                    client.retrieve(THREAD, bad)
                with self.raises(threadrun.InvalidIdError):
                    client.retrieve(bad, "run_1")

    def test_import_is_cheap_and_client_imports_http_client(self) -> None:
        file = os.path.abspath(threadrun.__file__)
        if os.path.basename(file) == "__init__.py":
            root = os.path.dirname(os.path.dirname(file))  # the package's parent
        else:
            root = os.path.dirname(file)  # single-file mode: the copied threadrun.py
        script = "\n".join([
            "import sys",
            "sys.path.insert(0, sys.argv[1])",
            "import threadrun",
            "print(threadrun.__file__)",
            "net = [m for m in ('http.client', 'urllib.request', 'ssl') if m in sys.modules]",
            "print('import:' + ','.join(net))",
            "threadrun.Client(api_key='k', base_url='http://127.0.0.1:9/v1')",
            "print('client:' + str('http.client' in sys.modules))",
        ])  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not isolated_name(k)}
        proc = subprocess.run(
            [sys.executable, "-I", "-c", script, root],
            capture_output=True,
            env=env,
            cwd=root,
            timeout=60,
        )
        out = proc.stdout.decode("utf-8", "replace").split()
        self.assertEqual(proc.returncode, 0, proc.stderr.decode("utf-8", "replace"))
        self.assertEqual(os.path.abspath(out[0]), file)
        self.assertEqual(out[1], "import:", "imported at import time: %s" % out[1])
        self.assertEqual(out[2], "client:True")

class HeadersTest(ServerTest):
    options = {"api_key": KEY, "require_beta_header": True}

    def test_standard_headers_on_get(self) -> None:
        run = self.add_run()
        self.client().retrieve(THREAD, run["id"])
        (request,) = self.server.requests
        headers = request.headers
        self.assertEqual(headers.get_all("Authorization"), ["Bearer " + KEY])
        self.assertEqual(headers.get_all("OpenAI-Beta"), ["assistants=v2"])
        self.assertEqual(headers["Accept"], "application/json")
        self.assertEqual(
            headers["User-Agent"],
            "threadrun/%s Python/%d.%d" % (threadrun.__version__, *sys.version_info[:2]),
        )
        self.assertEqual(request.body, b"")
        self.assertIsNone(headers["Idempotency-Key"])
        self.assertIsNone(headers["OpenAI-Organization"])
        self.assertIsNone(headers["OpenAI-Project"])

    def test_content_type_and_json_body_on_post(self) -> None:
        self.client().create(THREAD, "asst_1")
        (request,) = self.server.requests
        self.assertEqual(request.method, "POST")
        self.assertEqual(request.headers["Content-Type"], "application/json")
        self.assertEqual(request.headers["Accept"], "application/json")
        self.assertEqual(request.json, {"assistant_id": "asst_1"})
        self.assertEqual(int(request.headers["Content-Length"]), len(request.body))

    def test_env_defaults_reach_the_server(self) -> None:
        os.environ["OPENAI_API_KEY"] = KEY
        os.environ["OPENAI_BASE_URL"] = self.server.base_url
        os.environ["OPENAI_ORG_ID"] = "org-env"
        os.environ["OPENAI_PROJECT_ID"] = "proj_env"
        client = threadrun.Client(sleep=self.clock.sleep, clock=self.clock)
        self.addCleanup(client.close)
        self.assertEqual(client.base_url, self.server.base_url)
        run = self.add_run()
        self.assertEqual(client.retrieve(THREAD, run["id"]).id, run["id"])
        headers = self.server.requests[-1].headers
        self.assertEqual(headers["Authorization"], "Bearer " + KEY)
        self.assertEqual(headers["OpenAI-Organization"], "org-env")
        self.assertEqual(headers["OpenAI-Project"], "proj_env")

    def test_explicit_organization_and_project_beat_env(self) -> None:
        os.environ["OPENAI_ORG_ID"] = "org-env"
        os.environ["OPENAI_PROJECT_ID"] = "proj_env"
        run = self.add_run()
        self.client(organization="org-arg", project="proj_arg").retrieve(THREAD, run["id"])
        headers = self.server.requests[-1].headers
        self.assertEqual(headers.get_all("OpenAI-Organization"), ["org-arg"])
        self.assertEqual(headers.get_all("OpenAI-Project"), ["proj_arg"])

    def test_wrong_key_is_authentication_error_not_retried(self) -> None:
        run = self.add_run()
        client = self.client(api_key="sk-wrong-key-000000000000")
        with self.raises(threadrun.AuthenticationError) as cm:
            client.retrieve(THREAD, run["id"])
        self.assertEqual(cm.exception.status_code, 401)
        self.assertEqual(cm.exception.code, "invalid_api_key")
        self.assertEqual(self.sent(), 1)
        self.assertEqual(self.clock.sleeps, [])

class AzureStyleTest(ServerTest):
    """A compatible server that authenticates with an ``api-key`` header and wants
    ``?api-version=`` on every request."""

    def azure_client(self, **kwargs: Any) -> Any:
        return self.client(
            api_key=None,
            default_headers={"api-key": AZURE_KEY},
            default_query={"api-version": "2024-05-01-preview"},
            **kwargs,
        )

    def test_works_without_a_key_and_sends_no_authorization(self) -> None:
        client = self.azure_client()
        run = self.add_run(statuses=("queued", "requires_action"))
        client.retrieve(THREAD, run["id"])
        created = client.create(THREAD, "asst_1", metadata={"k": "v"})
        client.update(THREAD, created.id, {"k": "w"})
        client.cancel(THREAD, created.id)
        self.assertEqual(len(list(client.list(THREAD))), 2)
        self.assertEqual(self.sent(), 5)
        for request in self.server.requests:
            with self.subTest(method=request.method, path=request.path):
                self.assertIsNone(request.headers["Authorization"])
                self.assertEqual(request.headers.get_all("api-key"), [AZURE_KEY])
                self.assertEqual(request.query.get("api-version"), ["2024-05-01-preview"])
                self.assertEqual(request.headers["OpenAI-Beta"], "assistants=v2")

    def test_default_query_on_every_page_with_the_list_query(self) -> None:
        for i in range(3):
            self.add_run(id="run_%d" % i)
        client = self.azure_client()
        ids = [r.id for r in client.list(THREAD, limit=1, order="asc")]
        self.assertEqual(ids, ["run_0", "run_1", "run_2"])
        self.assertEqual(self.sent(), 3)
        for request in self.server.requests:
            self.assertEqual(request.query["api-version"], ["2024-05-01-preview"])
            self.assertEqual(request.query["limit"], ["1"])
            self.assertEqual(request.query["order"], ["asc"])

    def test_default_query_with_a_key_too(self) -> None:
        run = self.add_run()
        self.client(default_query={"api-version": "v"}).retrieve(THREAD, run["id"])
        (request,) = self.server.requests
        self.assertEqual(request.query, {"api-version": ["v"]})
        self.assertEqual(request.path, "/v1/threads/%s/runs/%s" % (THREAD, run["id"]))

    def test_default_headers_replace_the_client_headers_case_insensitively(self) -> None:
        self.server.require_beta_header = False
        run = self.add_run()
        client = self.client(
            default_headers={"openai-beta": "assistants=v1", "authorization": "Bearer " + KEY,
                             "user-agent": "mine/1"},
        )  # fmt: skip
        client.retrieve(THREAD, run["id"])
        headers = self.server.requests[-1].headers
        self.assertEqual(headers.get_all("OpenAI-Beta"), ["assistants=v1"])
        self.assertEqual(headers.get_all("Authorization"), ["Bearer " + KEY])
        self.assertEqual(headers.get_all("User-Agent"), ["mine/1"])

    def test_custom_default_header_is_sent(self) -> None:
        run = self.add_run()
        self.client(default_headers={"X-Custom": "yes"}).retrieve(THREAD, run["id"])
        headers = self.server.requests[-1].headers
        self.assertEqual(headers["X-Custom"], "yes")
        self.assertEqual(headers["Authorization"], "Bearer " + KEY)

class IdTest(ServerTest):
    def test_hostile_ids_are_refused_and_nothing_is_sent(self) -> None:
        client = self.client()
        run = self.add_run(statuses=("requires_action",))
        outputs = [{"tool_call_id": "call_1", "output": "x"}]
        calls: List[Tuple[str, Callable[..., Any], Callable[[str], Tuple[Any, ...]]]] = [
            ("retrieve run", client.retrieve, lambda bad: (THREAD, bad)),
            ("retrieve thread", client.retrieve, lambda bad: (bad, run["id"])),
            ("create", client.create, lambda bad: (bad, "asst_1")),
            ("update", client.update, lambda bad: (THREAD, bad, {"a": "b"})),
            ("cancel", client.cancel, lambda bad: (THREAD, bad)),
            ("cancel thread", client.cancel, lambda bad: (bad, run["id"])),
            ("submit", client.submit_tool_outputs, lambda bad: (THREAD, bad, outputs)),
            ("list", lambda *a: list(client.list(*a)), lambda bad: (bad,)),
            ("poll", client.poll, lambda bad: (THREAD, bad)),
            ("create_and_poll", client.create_and_poll, lambda bad: (bad, "asst_1")),
            ("submit_and_poll", client.submit_tool_outputs_and_poll,
             lambda bad: (bad, run["id"], outputs)),
        ]  # fmt: skip
        for bad in HOSTILE_IDS:
            for name, method, args in calls:
                with self.subTest(id=bad, method=name):
                    with self.raises(threadrun.InvalidIdError) as cm:
                        method(*args(bad))
                    self.assertIsInstance(cm.exception, threadrun.OpenAIError)
                    self.assertIsInstance(cm.exception, ValueError)
        self.assertEqual(self.server.requests, [])

    def test_non_string_ids_are_refused(self) -> None:
        client = self.client()
        for bad in (None, 123, b"run_1", ["run_1"]):
            with self.subTest(id=bad), self.assertRaises(threadrun.InvalidIdError):
                client.retrieve(THREAD, bad)
        self.assertEqual(self.server.requests, [])

    def test_unusual_but_legitimate_ids_are_percent_encoded(self) -> None:
        client = self.client()
        for run_id, encoded in (
            ("run:1", "run%3A1"),
            ("run+1", "run%2B1"),
            ("run@x", "run%40x"),
            ("r\u00fcn", "r%C3%BCn"),
            ("run;1=2", "run%3B1%3D2"),
            ("run_abc-DEF.9~", "run_abc-DEF.9~"),
        ):
            with self.subTest(id=run_id):
                self.add_run(id=run_id)
                got = client.retrieve(THREAD, run_id)
                self.assertEqual(got.id, run_id)
                self.assertEqual(
                    self.server.requests[-1].path, "/v1/threads/%s/runs/%s" % (THREAD, encoded)
                )

    def test_thread_id_is_percent_encoded_too(self) -> None:
        self.client().create("thread:1", "asst_1")
        self.assertEqual(self.server.requests[-1].path, "/v1/threads/thread%3A1/runs")


if __name__ == "__main__":
    unittest.main()
