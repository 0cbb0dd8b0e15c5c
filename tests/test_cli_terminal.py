"""What the command line shows fits the terminal: live lines cut to its width keeping the
status, the counts and the ETA; ``--help`` wrapped to its width, never past 80 columns when
it is unknown (a pipe); each command's help with its own exit statuses only. Real
subprocesses on pseudo-terminals of 40 and 80 columns.
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
import unittest
from typing import List

from tests import test_cli
from tests.test_cli import CLITest, cli_env, run_cli, run_line, run_on_terminal

WIDTHS = (40, 80)
COMMANDS = ("get", "create", "wait", "list", "steps", "ask", "messages", "cancel", "check", "demo")
# What a terminal shows of an escape sequence: nothing.
ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def setUpModule() -> None:
    test_cli.setUpModule()  # SkipTest in single-file mode: the CLI is package-only


def live_lines(err: str) -> List[str]:
    """Each drawing of the live line ("\\r", the line, erase to its end), as shown."""
    return [ESCAPE.sub("", line) for line in re.findall(r"\r([^\r\n]*)\x1b\[K", err)]


@unittest.skipIf(os.name == "nt", "needs a pseudo-terminal")
class HelpTest(unittest.TestCase):
    def test_wrapped_to_the_terminal_and_to_80_columns_on_a_pipe(self) -> None:
        for command in ("", *COMMANDS):
            args = [command, "--help"] if command else ["--help"]
            for width in WIDTHS:
                with self.subTest(command=command, width=width):
                    code, _, shown = run_on_terminal(args, columns=width, stdout_too=True)
                    self.assertEqual(code, 0, shown)
                    lines = shown.replace("\r\n", "\n").splitlines()
                    self.assertIn("exit status", shown)
                    self.assertEqual([line for line in lines if len(line) > width], [])
            with self.subTest(command=command, width="pipe"):
                printed = run_cli(*args).stdout
                self.assertEqual([line for line in printed.splitlines() if len(line) > 80], [])

    def test_each_command_shows_its_own_exit_statuses(self) -> None:
        expected = {
            "get": ["0", "1", "2", "6", "7", "130", "141"],
            "cancel": ["0", "1", "2", "6", "7", "130", "141"],
            "list": ["0", "1", "2", "6", "7", "130", "141"],
            "wait": ["0", "1", "2", "3", "4", "5", "6", "7", "130", "141"],
            "ask": ["0", "1", "2", "3", "4", "5", "6", "7", "130", "141"],
            "create": ["0", "1", "2", "3", "4", "5", "6", "7", "8", "130", "141"],
        }
        for command, codes in expected.items():
            with self.subTest(command):
                printed = run_cli(command, "--help").stdout
                table = printed.split("exit status:\n", 1)[1]
                self.assertEqual(re.findall(r"^  (\d+) ", table, re.M), codes)
                # No other command named in its table.
                others = [name for name in COMMANDS if name != command and name != "wait"]
                self.assertEqual([name for name in others if name + ":" in table], [])


@unittest.skipIf(os.name == "nt", "needs a pseudo-terminal")
class LiveLineTest(CLITest):
    def test_wait_keeps_the_status_and_the_time(self) -> None:
        for width in WIDTHS:
            with self.subTest(width=width):
                thread = self.thread()
                added = self.server.add_run(thread, statuses=("queued", "in_progress", "completed"))
                code, _, err = run_on_terminal(
                    [*self.url(), "wait", thread, added["id"], "--interval", "0.1"],
                    cli_env(TERM="xterm"), columns=width,
                )  # fmt: skip
                self.assertEqual(code, 0, err)
                drawn = live_lines(err)
                self.assertGreater(len(drawn), 1)
                self.assertEqual([line for line in drawn if len(line) >= width], [])
                self.assertIn("completed", drawn[-1])
                self.assertRegex(drawn[-1], r"\d+\.\ds")

    def test_demo(self) -> None:
        for width in WIDTHS:
            with self.subTest(width=width):
                code, _, err = run_on_terminal(["demo"], cli_env(TERM="xterm"), columns=width)
                self.assertEqual(code, 0, err)
                drawn = live_lines(err)
                self.assertEqual([line for line in drawn if len(line) >= width], [])
                self.assertIn("completed", drawn[-1])

    def test_check_keeps_the_counts(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "runs.jsonl")
            line = (run_line_text() + "\n").encode()
            with open(path, "wb") as fh:
                fh.write(line * (8 * 1024 * 1024 // len(line)))
            for width in WIDTHS:
                with self.subTest(width=width):
                    code, _, err = run_on_terminal(["check", path], columns=width)
                    self.assertEqual(code, 0, err)
                    drawn = [line for line in live_lines(err) if line]
                    self.assertGreater(len(drawn), 0)
                    self.assertEqual([line for line in drawn if len(line) >= width], [])
                    for shown in drawn:
                        self.assertRegex(shown, r"\b\d+ runs?\b")


def run_line_text() -> str:
    return json.dumps(run_line())


class WordsTest(unittest.TestCase):
    """What the terminal reads, said once and in the right number."""

    def test_one_at_before_the_position(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "runs.jsonl")
            with open(path, "w", encoding="utf-8") as fh:
                fh.write('{"id": "run_1", "object": "thread.run", "status": "queu\n')
            proc = run_cli("check", path)
        self.assertIn("Unterminated string starting at column ", proc.stderr)
        self.assertNotIn("at at", proc.stderr)

    def test_one_run(self) -> None:
        from threadrun import ThreadRun
        from threadrun._cli_check import _Meter

        meter = _Meter(io.StringIO(), [])
        meter.done.add(ThreadRun.from_dict(run_line()))
        self.assertRegex(meter._line(), r"\b1 run\b")
        meter.done.add(ThreadRun.from_dict(run_line()))
        self.assertRegex(meter._line(), r"\b2 runs\b")

    def test_a_missing_file_gives_its_error_and_no_summary(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            proc = run_cli("check", os.path.join(folder, "missing.jsonl"))
        self.assertEqual(proc.returncode, 2)
        self.assertEqual(proc.stdout, "")
        self.assertIn("cannot read", proc.stderr)
        self.assertIn("missing.jsonl", proc.stderr)


if __name__ == "__main__":
    unittest.main()
