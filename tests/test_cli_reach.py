"""The command line reaches every server the library reaches: ``--header``,
``--query`` and ``--allow-insecure-http``, shared by every command that talks to a server,
before or after the command's name.

Servers run on 127.0.0.1 only. A plain-http base URL that is not recognisably loopback is
written ``http://127.1:PORT``: the same address, numerically (no name is resolved), which the
client cannot tell is loopback and so refuses without ``--allow-insecure-http``.
"""

from __future__ import annotations

import json
import unittest
from typing import Any, Dict

from tests import load_testing
from tests.support import AZURE_KEY, RawServer, http_response
from tests.test_cli import KEY, cli_env, run_cli

# Every command that talks to a server, with arguments that make it send one request.
COMMANDS = (
    ("get", "thread_r", "{run}"), ("cancel", "thread_r", "{run}"), ("wait", "thread_r", "{run}"),
    ("list", "thread_r"), ("steps", "thread_r", "{run}"), ("create", "thread_r", "asst_1"),
)  # fmt: skip


def no_key_env() -> Dict[str, str]:
    env = cli_env()
    env.pop("OPENAI_API_KEY", None)
    return env


class HeadersAndQueryTest(unittest.TestCase):
    server: Any

    @classmethod
    def setUpClass(cls) -> None:
        cls.server = load_testing().FakeRunsServer(poll_after_ms=0).start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()

    def cli(self, *args: str) -> Any:
        return run_cli(*args, env=no_key_env())

    def test_azure_style_on_every_command(self) -> None:
        for command, *ids in COMMANDS:
            for where in ("before", "after"):
                run = self.server.add_run("thread_r", statuses=("in_progress", "completed"))
                args = [part.format(run=run["id"]) for part in ids]
                options = ["--base-url", self.server.base_url, "--header",
                           "api-key: " + AZURE_KEY, "--header", "X-Trace: t1",
                           "--query", "api-version=2024-05-01-preview"]  # fmt: skip
                if where == "before":
                    argv = [*options, command, *args]
                else:
                    argv = [command, *args, *options]
                with self.subTest(command=command, where=where):
                    seen = len(self.server.requests)
                    proc = self.cli(*argv)
                    self.assertEqual(proc.returncode, 0, proc.stderr)
                    sent = self.server.requests[seen:]
                    self.assertTrue(sent)
                    for request in sent:
                        self.assertEqual(request.headers["api-key"], AZURE_KEY)
                        self.assertEqual(request.headers["X-Trace"], "t1")
                        self.assertIsNone(request.headers["Authorization"])  # no key: none
                        self.assertEqual(request.query["api-version"], ["2024-05-01-preview"])

    def test_repeated_query_and_header_values(self) -> None:
        run = self.server.add_run("thread_r")
        seen = len(self.server.requests)
        proc = self.cli("--base-url", self.server.base_url, "--header", "api-key:" + AZURE_KEY,
                        "get", "thread_r", run["id"], "--query", "a=1", "--query", "b=x=y",
                        "--query", "empty=")  # fmt: skip
        self.assertEqual(proc.returncode, 0, proc.stderr)
        [request] = self.server.requests[seen:]
        self.assertEqual(request.query, {"a": ["1"], "b": ["x=y"], "empty": [""]})
        self.assertEqual(request.headers["api-key"], AZURE_KEY)  # the space is optional

    def test_without_any_credential(self) -> None:
        proc = self.cli("--base-url", self.server.base_url, "--header", "X-Trace: t",
                        "get", "t", "r")  # fmt: skip
        self.assertEqual(proc.returncode, 2)
        self.assertIn("no API key", proc.stderr)
        self.assertIn("AZURE_OPENAI_API_KEY", proc.stderr)

    def test_the_sdk_azure_variables(self) -> None:
        run = self.server.add_run("thread_r")
        env = dict(no_key_env(), AZURE_OPENAI_API_KEY=AZURE_KEY, OPENAI_API_VERSION="2024-05-01")
        seen = len(self.server.requests)
        proc = run_cli("--base-url", self.server.base_url, "get", "thread_r", run["id"], env=env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        [request] = self.server.requests[seen:]
        self.assertEqual(request.headers["api-key"], AZURE_KEY)
        self.assertIsNone(request.headers["Authorization"])
        self.assertEqual(request.query, {"api-version": ["2024-05-01"]})
        # The endpoint, as the SDK builds its base URL from it: ENDPOINT/openai.
        env["AZURE_OPENAI_ENDPOINT"] = self.server.base_url[: -len("/v1")] + "/"
        proc = run_cli("get", "thread_r", run["id"], env=env)
        self.assertEqual(proc.returncode, 1)  # the fake serves /v1 only: a 404, as asked
        self.assertEqual(self.server.requests[-1].path,
                         "/openai/threads/thread_r/runs/%s" % run["id"])  # fmt: skip
        self.assertNotIn(AZURE_KEY, proc.stderr)

    def test_azure_decision(self) -> None:
        from threadrun.__main__ import _azure_style

        env = {"AZURE_OPENAI_API_KEY": "az", "OPENAI_API_VERSION": "v1",
               "AZURE_OPENAI_ENDPOINT": "https://r.example/"}  # fmt: skip
        azure = ({"api-key": "az"}, {"api-version": "v1"}, "https://r.example/openai")
        cases = [
            # key, headers, query, base URL, environment -> what is sent
            (None, {}, {}, None, env, azure),
            ("sk", {}, {}, None, env, ({}, {}, None)),  # an OpenAI key: no Azure at all
            (None, {"Api-Key": "h"}, {}, None, env,
             ({"Api-Key": "h"}, {"api-version": "v1"}, "https://r.example/openai")),
            (None, {"X-Token": "t"}, {}, None, env, ({"X-Token": "t"}, {}, None)),
            (None, {}, {"api-version": "mine"}, "http://127.0.0.1:1/v1", env,
             ({"api-key": "az"}, {"api-version": "mine"}, "http://127.0.0.1:1/v1")),
            (None, {}, {}, None, dict(env, OPENAI_BASE_URL="https://b.example/v1"),
             ({"api-key": "az"}, {"api-version": "v1"}, None)),
            (None, {}, {}, None, {}, ({}, {}, None)),
        ]  # fmt: skip
        for key, headers, query, base_url, environment, expected in cases:
            with self.subTest(key=key, headers=headers, query=query, base_url=base_url):
                self.assertEqual(_azure_style(key, headers, query, base_url, environment),
                                 expected)  # fmt: skip

    def test_malformed_options_never_echo_the_value(self) -> None:
        cases = [
            (["--header", "api-key " + AZURE_KEY], "expected 'NAME: VALUE'"),
            (["--header", ": " + AZURE_KEY], "expected 'NAME: VALUE'"),
            (["--header", "api-key : " + AZURE_KEY], "expected 'NAME: VALUE'"),
            (["--header", "api key: " + AZURE_KEY], "--header has an invalid header name"),
            (["--header", "api-key: a\u2028" + AZURE_KEY], "character HTTP headers cannot carry"),
            (["--query", "novalue"], "expected KEY=VALUE"),
        ]
        for options, words in cases:
            with self.subTest(options=options):
                proc = self.cli("--base-url", self.server.base_url, *options, "get", "t", "r")
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertIn(words, proc.stderr)
                self.assertNotIn(AZURE_KEY, proc.stderr)


class CredentialHeaderScrubbedTest(unittest.TestCase):
    def test_an_echoing_server_never_shows_the_header_value(self) -> None:
        body = json.dumps({"error": {"message": "bad key %s for you" % AZURE_KEY}}).encode()
        server = RawServer(http_response(body, "401 Unauthorized",
                                         "Content-Type: application/json\r\n"))  # fmt: skip
        self.addCleanup(server.stop)
        proc = run_cli("--base-url", "http://127.0.0.1:%d/v1" % server.port,
                       "--header", "api-key: " + AZURE_KEY, "get", "t", "r", env=no_key_env())
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("HTTP 401: bad key [redacted] for you", proc.stderr)
        self.assertNotIn(AZURE_KEY, proc.stderr + proc.stdout)

    def test_a_step_timestamp_echoing_the_key(self) -> None:
        page = {"object": "list", "has_more": False, "data": [
            {"id": "step_1", "object": "thread.run.step", "created_at": "at " + KEY}]}
        server = RawServer(http_response(json.dumps(page).encode(), "200 OK",
                                         "Content-Type: application/json\r\n"))  # fmt: skip
        self.addCleanup(server.stop)
        for option in ("--lenient", "--timestamps=iso"):
            with self.subTest(option=option):
                proc = run_cli("--base-url", "http://127.0.0.1:%d/v1" % server.port,
                               "steps", "t", "r", option)  # fmt: skip
                self.assertEqual(proc.returncode, 1, proc.stderr)
                self.assertIn("threadrun: error: the server sent step 'step_1', whose "
                              "created_at: expected", proc.stderr)  # fmt: skip
                self.assertIn("[redacted]", proc.stderr)
                self.assertNotIn(KEY, proc.stderr + proc.stdout)
                self.assertNotIn(KEY[:12], proc.stderr)  # not even cut short


class InsecureHttpTest(unittest.TestCase):
    server: Any

    @classmethod
    def setUpClass(cls) -> None:
        cls.server = load_testing().FakeRunsServer().start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()

    def test_refused_naming_the_option_then_allowed(self) -> None:
        run = self.server.add_run("thread_r")
        url = "http://127.1:%d/v1" % self.server.port
        seen = len(self.server.requests)
        for command, *ids in COMMANDS:
            args = [part.format(run=run["id"]) for part in ids]
            with self.subTest(command=command):
                proc = run_cli("--base-url", url, command, *args)
                self.assertEqual(proc.returncode, 2)
                self.assertEqual(proc.stderr, "threadrun: error: refusing plain http:// to 127.1: "
                                 "the API key would travel unencrypted (use https://, or pass "
                                 "--allow-insecure-http)\n")  # fmt: skip
        self.assertEqual(len(self.server.requests), seen)  # nothing was sent
        for where in ("before", "after"):
            with self.subTest(where=where):
                argv = ["get", "thread_r", run["id"], "--allow-insecure-http"]
                if where == "before":
                    argv = argv[-1:] + argv[:-1]
                proc = run_cli("--base-url", url, *argv)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertEqual(json.loads(proc.stdout)["id"], run["id"])

    def test_every_api_command_lists_the_options(self) -> None:
        for command in ("get", "cancel", "wait", "list", "steps", "create"):
            with self.subTest(command=command):
                text = run_cli(command, "--help").stdout
                for option in ("--header 'NAME: VALUE'", "--query KEY=VALUE",
                               "--allow-insecure-http"):  # fmt: skip
                    self.assertIn(option, text)


if __name__ == "__main__":
    unittest.main()
