"""The command line's ``ask`` and ``messages``, run as real subprocesses against a
FakeRunsServer on loopback (as tests/test_cli.py runs every other command), and on a
pseudo-terminal of 40 and 80 columns for the live text.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import unittest
from typing import Any, List, Tuple

from tests import test_cli as cli

MESSAGE = "The weather in San Francisco is 70 \u00b0F and sunny \u2600\ufe0f."
# A long answer, to be wrapped on a narrow terminal.
LONG = ("Paris will be mild tomorrow, with a light breeze from the west and clouds clearing "
        "by noon; expect sixteen degrees in the afternoon and a cool evening by the river.")


def setUpModule() -> None:
    cli.setUpModule()  # SkipTest in single-file mode: the CLI is package-only


def ids_on(stderr: str) -> Tuple[str, str]:
    """The thread and run ids ``ask`` wrote on stderr."""
    thread = re.findall(r"(?m)^thread: (\S+)$", stderr)
    run = re.findall(r"(?m)^run: (\S+)$", stderr)
    assert len(thread) == 1 and len(run) == 1, stderr
    return thread[0], run[0]


def screen_lines(output: str) -> List[str]:
    """What a terminal shows, line by line: colours dropped, each line as its last redraw
    after a carriage return left it (the live status line redraws itself so)."""
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", output)
    return [line.split("\r")[-1] for line in text.split("\r\n")]


class AskTest(cli.CLITest):
    def script(self, *statuses: str, message: str = MESSAGE) -> None:
        """Runs created from now to the end of the test follow ``statuses``."""
        saved = self.server.default_statuses, self.server.default_message
        self.server.default_statuses = statuses
        self.server.default_message = message
        self.addCleanup(setattr, self.server, "default_statuses", saved[0])
        self.addCleanup(setattr, self.server, "default_message", saved[1])

    def ask(self, *args: str, **options: Any) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
        return cli.run_cli(*self.url(), "ask", *args, **options)

    def test_ask_prints_the_answer_polled_or_streamed(self) -> None:
        self.script("queued", "in_progress", "completed")
        for way in ([], ["--stream"]):
            with self.subTest(way=way):
                proc = self.ask("asst_1", "What's the weather?", *way)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertClean(proc)
                self.assertEqual(proc.stdout, MESSAGE + "\n")
                thread_id, run_id = ids_on(proc.stderr)
                [question, answer] = self.server.get_messages(thread_id)
                self.assertEqual((question["role"], question["content"][0]["text"]["value"]),
                                 ("user", "What's the weather?"))  # fmt: skip
                self.assertEqual((answer["role"], answer["run_id"]), ("assistant", run_id))
                self.assertEqual(self.server.get_run(run_id)["thread_id"], thread_id)

    def test_ask_streamed_prints_the_messages_as_completed_not_the_deltas(self) -> None:
        # A citation-only delta (no text) and a delta of text the completed message does
        # not have: the answer is the assistant's completed message, whatever the deltas said.
        self.script("queued", "in_progress", "completed")
        citation = {"id": "msg_other", "object": "thread.message.delta", "delta": {"content": [
            {"index": 0, "type": "text", "text": {"annotations": [{"type": "file_citation"}]}},
            {"index": 1, "type": "text", "text": {"value": "not the answer"}}]}}  # fmt: skip
        self.server.inject(cli.testing.Fault(after_event="thread.message.in_progress",
                                             events=[("thread.message.delta", citation)]))
        proc = self.ask("asst_1", "What's the weather?", "--stream")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout, MESSAGE + "\n")

    def test_ask_in_a_thread_continues_the_conversation(self) -> None:
        self.script("queued", "completed")
        first = self.ask("asst_1", "Weather in Paris?")
        thread_id = ids_on(first.stderr)[0]
        proc = self.ask("asst_1", "And tomorrow?", "--thread", thread_id, "--instructions",
                        "Be brief.", "--model", "gpt-4o-mini")  # fmt: skip
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout, MESSAGE + "\n")
        self.assertEqual(ids_on(proc.stderr)[0], thread_id)
        roles = [m["role"] for m in self.server.get_messages(thread_id)]
        self.assertEqual(roles, ["user", "assistant", "user", "assistant"])
        [create] = [r for r in self.server.requests if r.path.endswith("/runs")][-1:]
        self.assertEqual(create.json, {"assistant_id": "asst_1", "instructions": "Be brief.",
                                       "model": "gpt-4o-mini"})  # fmt: skip

    def test_a_run_that_requires_action_exits_3_naming_its_tool_calls(self) -> None:
        self.script("queued", "requires_action")
        for way in ([], ["--stream"]):
            with self.subTest(way=way):
                proc = self.ask("asst_1", "Weather?", *way)
                self.assertOneError(proc, 3, "requires action", "runs no tools")
                self.assertEqual(proc.stdout, "")
                run = self.server.get_run(ids_on(proc.stderr)[1])
                [call] = run["required_action"]["submit_tool_outputs"]["tool_calls"]
                self.assertIn("  %s get_current_weather %s" % (
                    call["id"], call["function"]["arguments"]), proc.stderr)

    def test_a_run_that_ends_otherwise_exits_as_wait_with_its_error(self) -> None:
        for statuses, words in (
            (("queued", "failed"), "failed (server_error: Sorry, something went wrong.)"),
            (("queued", "cancelled"), "ended cancelled"),
            (("queued", "expired"), "ended expired"),
        ):
            for way in ([], ["--stream"]):
                with self.subTest(statuses[-1], way=way):
                    self.script(*statuses)
                    proc = self.ask("asst_1", "Weather?", *way)
                    self.assertOneError(proc, 4, words, ids_on(proc.stderr)[1])
                    self.assertEqual(proc.stdout, "")

    def test_deadline(self) -> None:
        self.script("queued", "in_progress", "in_progress", "in_progress", "completed")
        self.server.delay_next(3.0, method="GET")  # the first poll: one, none left for later tests
        proc = self.ask("asst_1", "Weather?", "--deadline", "0.5")
        self.assertOneError(proc, 5, "after polling for 0.5 s")
        stall = cli.testing.Fault(after_events=1, stall=4.0)
        self.server.inject(stall)
        proc = self.ask("asst_1", "Weather?", "--stream", "--deadline", "1")
        self.assertOneError(proc, 5, "deadline")
        self.assertEqual(proc.stdout, "")

    def test_connection_options_and_errors(self) -> None:
        self.script("completed")
        self.server.fail_next(503, path="/v1/threads", method="POST")
        proc = cli.run_cli("--max-retries", "0", *self.url(), "ask", "asst_1", "Q")
        self.assertOneError(proc, 1, "HTTP 503")
        env = cli.cli_env(OPENAI_API_KEY=None)
        proc = cli.run_cli("ask", "asst_1", "Q", *self.url(), "--api-key", "sk-wrong", env=env)
        self.assertOneError(proc, 1, "HTTP 401")
        self.assertNotIn("sk-wrong", proc.stderr)
        proc = cli.run_cli("ask", "asst_1", "Q", *self.url(), "--api-key", cli.KEY,
                           "--request-timeout", "5", env=env)  # fmt: skip
        self.assertEqual((proc.returncode, proc.stdout), (0, MESSAGE + "\n"), proc.stderr)
        for args, words in ((["a/b", "Q"], "assistant_id"), (["asst_1", "Q", "--thread", "t?x"],
                            "thread_id"), (["asst_1", "Q", "--deadline", "0"], "--deadline")):
            with self.subTest(args=args):
                proc = self.ask(*args)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertIn(words, proc.stderr)
                self.assertNotIn("Traceback", proc.stderr)
        proc = self.ask("asst_1", "Q", "--thread", "thread_nope")
        self.assertOneError(proc, 1, "HTTP 404", "thread_nope")

    def test_timestamps_iso_reads_a_server_that_writes_them(self) -> None:
        server = cli.testing.FakeRunsServer(api_key=cli.KEY, flavour="fastapi",
                                            poll_after_ms=5).start()  # fmt: skip
        self.addCleanup(server.stop)
        url = ["--base-url", server.base_url]
        proc = cli.run_cli(*url, "ask", "asst_1", "Weather?")
        self.assertOneError(proc, 1, "--timestamps iso")
        for way in ([], ["--stream"]):
            proc = cli.run_cli(*url, "ask", "asst_1", "Weather?", "--timestamps", "iso", *way)
            self.assertEqual((proc.returncode, proc.stdout), (0, MESSAGE + "\n"), proc.stderr)
        thread_id = ids_on(proc.stderr)[0]
        proc = cli.run_cli(*url, "messages", thread_id, "--timestamps", "iso", "--order", "asc")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        messages = [json.loads(line) for line in proc.stdout.splitlines()]
        self.assertEqual([type(m["created_at"]) for m in messages], [int, int])
        raw = cli.run_cli(*url, "messages", thread_id, "--order", "asc")
        self.assertIsInstance(json.loads(raw.stdout.splitlines()[0])["created_at"], str)

    def test_messages_prints_json_lines(self) -> None:
        self.script("queued", "completed")
        proc = self.ask("asst_1", "Weather?")
        thread_id, run_id = ids_on(proc.stderr)
        stored = self.server.get_messages(thread_id)
        proc = cli.run_cli(*self.url(), "messages", thread_id)
        self.assertEqual((proc.returncode, proc.stderr), (0, ""))
        self.assertEqual([json.loads(line) for line in proc.stdout.splitlines()], stored[::-1])
        for args, expected in ((["--order", "asc"], stored), (["--run", run_id], stored[1:]),
                               (["--limit", "1", "--order", "asc"], stored[:1])):  # fmt: skip
            with self.subTest(args=args):
                proc = cli.run_cli(*self.url(), "messages", thread_id, *args)
                self.assertEqual([json.loads(line) for line in proc.stdout.splitlines()],
                                 expected)  # fmt: skip
        proc = cli.run_cli(*self.url(), "messages", thread_id, "--run", "a/b")
        self.assertOneError(proc, 2, "run_id")

    @unittest.skipIf(os.name == "nt", "needs a pseudo-terminal")
    def test_the_answer_fits_the_terminal(self) -> None:
        self.script("queued", "in_progress", "completed", message=LONG)
        env = cli.cli_env(TERM="xterm")
        for columns in (40, 80):
            for way in ([], ["--stream"]):
                with self.subTest(columns=columns, way=way):
                    code, _, output = cli.run_on_terminal(
                        [*self.url(), "ask", "asst_1", "Q", *way], env, columns=columns,
                        stdout_too=True,
                    )  # fmt: skip
                    self.assertEqual(code, 0, output)
                    lines = screen_lines(output)
                    for line in lines:
                        self.assertLess(len(line), columns, line)
                    # Every segment a carriage return starts fits too: no redraw wraps.
                    for piece in re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", output).split("\r"):
                        self.assertLess(len(piece.strip("\n")), columns, piece)
                    shown = " ".join(line.strip() for line in lines if line.strip())
                    self.assertEqual(shown.count(LONG), 1, shown)  # every word, once, in order
                    ids_on("\n".join(lines))
        self.assertEqual(self.server.errors, [])

    def test_control_characters_never_drive_the_terminal(self) -> None:
        sneaky = "Red \x1b[31malert\x1b[0m, then\r\na second line."
        self.script("queued", "completed", message=sneaky)
        child = cli.start_cli(*self.url(), "ask", "asst_1", "Q", stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL)  # fmt: skip
        printed, _ = child.communicate(timeout=30)  # bytes: no newline translation
        self.assertEqual(printed, (sneaky + "\n").encode())  # piped: exactly as written
        for way in ([], ["--stream"]):
            with self.subTest(way=way):
                code, _, output = cli.run_on_terminal(
                    [*self.url(), "ask", "asst_1", "Q", *way], cli.cli_env(TERM="dumb"),
                    stdout_too=True,
                )  # fmt: skip
                self.assertEqual(code, 0, output)
                self.assertIn("Red \\x1b[31malert\\x1b[0m, then\r\na second line.\r\n", output)

    def test_ask_and_messages_share_every_connection_option(self) -> None:
        # An option added to the shared connection group reaches both with no code of theirs.
        import threadrun.__main__ as main

        parser = main.build_parser()
        [group] = [g for g in parser._action_groups if g.title.startswith("connection")]
        shared = {action.dest for action in group._group_actions}
        commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
        for name in ("ask", "messages"):
            with self.subTest(name):
                own = {action.dest for action in commands[name]._actions}
                self.assertLessEqual(shared | {"timestamps"}, own)


if __name__ == "__main__":
    unittest.main()
