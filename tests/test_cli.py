"""The command line, ``python -m threadrun``, run as a subprocess against a FakeRunsServer.

Every command is run the way a user runs it: a child ``python -m threadrun ...`` from the
repository root, with an environment holding a test key and no proxy, against the fake server
running in this process on loopback. ``check`` from the command line is in
tests/test_cli_check.py.
"""

from __future__ import annotations

import glob
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from typing import Any, Dict, List, Optional, Tuple

from tests import load_testing
from tests.support import REPO, closed_port

KEY = "sk-test-cli-0123456789"
testing: Any = None  # threadrun.testing, set by setUpModule (skipped in single-file mode)


def setUpModule() -> None:
    global testing
    testing = load_testing()  # SkipTest in single-file mode: the CLI is package-only


def cli_env(**changes: Optional[str]) -> Dict[str, str]:
    """The child's environment: ours without proxies, OPENAI_* or colour settings, plus a key."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.lower().endswith("_proxy")
        and not name.startswith("OPENAI_")
        and name not in ("PYTHONPATH", "NO_COLOR", "PYTHONWARNINGS")
    }
    env["OPENAI_API_KEY"] = KEY
    env["PYTHONIOENCODING"] = "utf-8"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run_cli(
    *args: str,
    env: Optional[Dict[str, str]] = None,
    timeout: float = 30,
    stdout: Any = subprocess.PIPE,
    stderr: Any = subprocess.PIPE,
    **options: Any,
) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    """``python -m threadrun ARGS`` as a user runs it: from the repository root, in cli_env()
    (or ``env``), its output captured as UTF-8 text unless ``stdout``/``stderr`` say where
    else; ``options`` (input, stdin, preexec_fn...) go to subprocess.run."""
    return subprocess.run(
        [sys.executable, "-m", "threadrun", *args],
        cwd=REPO,
        env=cli_env() if env is None else env,
        stdout=stdout,
        stderr=stderr,
        encoding="utf-8",
        timeout=timeout,
        **options,
    )


def start_cli(*args: str, env: Optional[Dict[str, str]] = None, **options: Any) -> Any:
    """The same child, started: a subprocess.Popen (``options`` go to it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "threadrun", *args],
        cwd=REPO,
        env=cli_env() if env is None else env,
        **options,
    )


def start_interruptible_cli(*args: str, **options: Any) -> Any:
    """start_cli(), the child getting SIGINT's default action as from an interactive shell.

    A disposition of SIG_IGN is inherited through exec, and Python leaves an ignored SIGINT
    ignored (rightly: that is how ``nohup`` and a shell's background jobs work). So when this
    suite itself runs with SIGINT ignored (``python -m unittest &`` in a script), a child
    would never see Ctrl-C. A handled signal is reset to its default at exec: install one
    while the child starts.
    """
    if threading.current_thread() is not threading.main_thread():
        return start_cli(*args, **options)  # signal.signal works in the main thread only
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return start_cli(*args, **options)
    finally:
        signal.signal(signal.SIGINT, previous)


def run_on_terminal(
    args: List[str],
    env: Optional[Dict[str, str]] = None,
    interrupt_after: Optional[float] = None,
    timeout: float = 60,
    columns: Optional[int] = None,
    stdout_too: bool = False,
) -> Tuple[int, str, str]:
    """``python -m threadrun ARGS`` with its stderr on a pseudo-terminal: (exit status, stdout,
    what the terminal received). ``interrupt_after``: Ctrl-C once the live line (a "\r") has
    been up that many seconds. The child gets ``timeout`` seconds to finish. ``columns``: the
    terminal's width (else the pty's default); ``stdout_too``: stdout on the terminal as well
    (the stdout returned is then "")."""
    import pty
    import select

    master, slave = pty.openpty()
    if columns is not None:
        import fcntl
        import struct
        import termios

        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    stdout = slave if stdout_too else subprocess.PIPE
    child = start_interruptible_cli(*args, env=env, stdout=stdout, stderr=slave)
    os.close(slave)
    output = b""
    start = time.monotonic()
    interrupted = False
    drawn: Optional[float] = None
    try:
        while time.monotonic() - start < timeout:
            # Ctrl-C once the live line has been up for interrupt_after seconds (not
            # before: a child still importing would die with a traceback, rightly).
            late = (
                interrupt_after is not None
                and drawn is not None
                and time.monotonic() - drawn > interrupt_after
            )
            if late and not interrupted:
                child.send_signal(signal.SIGINT)
                interrupted = True
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed its end
                    break
                if not data:
                    break
                output += data
                if drawn is None and b"\r" in output:
                    drawn = time.monotonic()
            elif child.poll() is not None:
                break
        try:
            child.wait(10)  # the pty closes a moment before the process ends
        except subprocess.TimeoutExpired:
            child.kill()  # it would block the read below; the return code tells
        printed = child.stdout.read() if child.stdout else b""
        child.wait(10)
    finally:
        os.close(master)
        if child.poll() is None:
            child.kill()
        if child.stdout:
            child.stdout.close()
    return child.returncode, printed.decode("utf-8"), output.decode("utf-8")


def run_line(**fields: Any) -> Dict[str, Any]:
    data: Dict[str, Any] = {
        "id": "run_1",
        "object": "thread.run",
        "created_at": 1700000000,
        "thread_id": "thread_1",
        "assistant_id": "asst_a",
        "status": "completed",
        "model": "gpt-4o",
    }
    data.update(fields)
    return data


class CLITest(unittest.TestCase):
    server: Any
    tmp: str
    counter = 0

    @classmethod
    def setUpClass(cls) -> None:
        cls.server = testing.FakeRunsServer(api_key=KEY, poll_after_ms=5).start()
        cls.tmp = tempfile.mkdtemp(prefix="threadrun-cli-test-")

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()
        for path in glob.glob(os.path.join(cls.tmp, "*")):
            os.remove(path)
        os.rmdir(cls.tmp)

    def thread(self) -> str:
        CLITest.counter += 1
        return "thread_cli_%d" % CLITest.counter

    def url(self) -> List[str]:
        return ["--base-url", self.server.base_url]

    def write(self, name: str, text: str) -> str:
        path = os.path.join(self.tmp, name)
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        return path

    def assertClean(self, proc: subprocess.CompletedProcess) -> None:  # type: ignore[type-arg]
        self.assertNotIn("Traceback", proc.stderr)
        self.assertNotIn("threadrun: error:", proc.stderr)

    def assertOneError(
        self,
        proc: subprocess.CompletedProcess,  # type: ignore[type-arg]
        code: int,
        *needles: str,
    ) -> str:
        self.assertEqual(proc.returncode, code, proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)
        errors = [
            line for line in proc.stderr.splitlines() if line.startswith("threadrun: error: ")
        ]
        self.assertEqual(len(errors), 1, proc.stderr)
        for needle in needles:
            self.assertIn(needle, errors[0])
        return str(errors[0])


class GetCancelListTest(CLITest):
    def test_get_prints_the_run_compact_when_piped(self) -> None:
        thread = self.thread()
        added = self.server.add_run(thread, statuses=("queued", "in_progress"))
        proc = run_cli(*self.url(), "get", thread, added["id"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr, "")
        lines = proc.stdout.splitlines()
        self.assertEqual(len(lines), 1, "compact: one line when stdout is not a terminal")
        data = json.loads(lines[0])
        self.assertEqual(data["id"], added["id"])
        self.assertEqual(data["status"], "in_progress")  # the GET moved it one step
        self.assertEqual(data["tool_resources"], {})  # unknown keys kept
        request = self.server.requests[-1]
        self.assertEqual(request.headers["Authorization"], "Bearer " + KEY)

    def test_get_indent_and_options_after_the_command(self) -> None:
        thread = self.thread()
        added = self.server.add_run(thread)
        proc = run_cli("get", thread, added["id"], "--indent", "4", *self.url())
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(proc.stdout.startswith('{\n    "id": '), proc.stdout[:40])
        self.assertEqual(json.loads(proc.stdout)["id"], added["id"])
        proc = run_cli("get", thread, added["id"], "--compact", *self.url())
        self.assertEqual(len(proc.stdout.splitlines()), 1)

    def test_base_url_from_the_environment(self) -> None:
        thread = self.thread()
        added = self.server.add_run(thread)
        proc = run_cli(
            "get", thread, added["id"], env=cli_env(OPENAI_BASE_URL=self.server.base_url)
        )
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(json.loads(proc.stdout)["id"], added["id"])

    def test_api_key_option(self) -> None:
        thread = self.thread()
        added = self.server.add_run(thread)
        env = cli_env(OPENAI_API_KEY=None)
        proc = run_cli(*self.url(), "--api-key", KEY, "get", thread, added["id"], env=env)
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_cancel(self) -> None:
        thread = self.thread()
        added = self.server.add_run(thread, statuses=("in_progress",))
        proc = run_cli(*self.url(), "cancel", thread, added["id"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(json.loads(proc.stdout)["status"], "cancelling")
        self.assertEqual(
            self.server.requests[-1].path, "/v1/threads/%s/runs/%s/cancel" % (thread, added["id"])
        )
        # A second cancel is refused by the server: an API error, exit 1.
        proc = run_cli(*self.url(), "cancel", thread, added["id"])
        self.assertOneError(proc, 1, "HTTP 400", "Cannot cancel run", "request id req_")
        self.assertEqual(proc.stdout, "")

    def test_list_streams_json_lines(self) -> None:
        thread = self.thread()
        ids = [self.server.add_run(thread, created_at=1700000000 + i)["id"] for i in range(5)]
        proc = run_cli(*self.url(), "list", thread)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        lines = proc.stdout.splitlines()
        self.assertEqual([json.loads(line)["id"] for line in lines], ids[::-1])  # desc
        self.assertTrue(all(line.startswith('{"id":') for line in lines))

    def test_list_limit_and_order(self) -> None:
        thread = self.thread()
        ids = [self.server.add_run(thread, created_at=1700000000 + i)["id"] for i in range(5)]
        proc = run_cli(*self.url(), "list", thread, "--limit", "2", "--order", "asc")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual([json.loads(line)["id"] for line in proc.stdout.splitlines()], ids[:2])
        query = self.server.requests[-1].query
        self.assertEqual(query["limit"], ["2"])
        self.assertEqual(query["order"], ["asc"])
        # More than a page: the page size is capped at the API's 100, pages are followed.
        proc = run_cli(*self.url(), "list", thread, "--limit", "150")
        self.assertEqual(len(proc.stdout.splitlines()), 5)
        self.assertEqual(self.server.requests[-1].query["limit"], ["100"])

    def test_list_pages(self) -> None:
        thread = self.thread()
        for i in range(7):
            self.server.add_run(thread, created_at=1700000000 + i)
        before = len(self.server.requests)
        proc = run_cli(*self.url(), "list", thread, "--limit", "3")
        self.assertEqual(len(proc.stdout.splitlines()), 3)
        self.assertEqual(len(self.server.requests) - before, 1, "stops once it has printed N")
        proc = run_cli(*self.url(), "list", thread, "--limit", "6")
        self.assertEqual(len(proc.stdout.splitlines()), 6)


class ErrorTest(CLITest):
    def test_not_found(self) -> None:
        thread = self.thread()
        self.server.add_run(thread)
        proc = run_cli(*self.url(), "get", thread, "run_missing")
        line = self.assertOneError(proc, 1, "HTTP 404", "No run found with id 'run_missing'")
        self.assertRegex(line, r"\(request id req_[0-9a-f]{32}\)$")
        self.assertEqual(proc.stdout, "")

    def test_wrong_key(self) -> None:
        thread = self.thread()
        added = self.server.add_run(thread)
        env = cli_env(OPENAI_API_KEY="sk-wrong-key-000000")
        proc = run_cli(*self.url(), "get", thread, added["id"], env=env)
        self.assertOneError(proc, 1, "HTTP 401", "Incorrect API key")
        self.assertNotIn("sk-wrong-key-000000", proc.stderr)

    def test_missing_key(self) -> None:
        before = len(self.server.requests)
        for env in (cli_env(OPENAI_API_KEY=None), cli_env(OPENAI_API_KEY="")):
            proc = run_cli(*self.url(), "get", "thread_1", "run_1", env=env)
            self.assertOneError(proc, 2, "OPENAI_API_KEY")
            self.assertEqual(proc.stdout, "")
        self.assertEqual(len(self.server.requests), before, "nothing was sent")

    def test_bad_arguments(self) -> None:
        cases = [
            ["get", "thread_1"],  # RUN_ID missing
            [],  # no command
            ["frobnicate"],
            ["list", "thread_1", "--limit", "0"],
            ["list", "thread_1", "--order", "sideways"],
            ["wait", "thread_1", "run_1", "--timeout", "soon"],
            ["wait", "thread_1", "run_1", "--deadline", "-1"],
            ["wait", "thread_1", "run_1", "--deadline", "inf"],
            ["--request-timeout", "nan", "get", "thread_1", "run_1"],
            ["wait", "thread_1", "run_1", "--interval", "-1"],
            ["--timeout", "0", "get", "thread_1", "run_1"],
            ["--max-retries", "-1", "get", "thread_1", "run_1"],
            ["get", "thread_1", "run_1", "--compact", "--indent", "2"],
        ]
        for args in cases:
            with self.subTest(args=args):
                proc = run_cli(*args)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertNotIn("Traceback", proc.stderr)
                self.assertIn("error:", proc.stderr)
                self.assertEqual(proc.stdout, "")

    def test_bad_ids_and_urls_are_usage_errors(self) -> None:
        proc = run_cli(*self.url(), "get", "thread_1", "run/../other")
        self.assertOneError(proc, 2, "run_id")
        proc = run_cli("--base-url", "http://example.com/v1", "get", "thread_1", "run_1")
        self.assertOneError(proc, 2, "http://")

    def test_connection_refused(self) -> None:
        url = "http://127.0.0.1:%d/v1" % closed_port()
        proc = run_cli("--base-url", url, "--max-retries", "0", "get", "thread_1", "run_1")
        self.assertOneError(proc, 1, "127.0.0.1")
        self.assertEqual(proc.stdout, "")

    def test_invalid_run_from_the_server(self) -> None:
        thread = self.thread()
        added = self.server.add_run(thread)
        self.server.invalid_next(b'{"id": "run_1", "object": "thread.run"}', method="GET")
        proc = run_cli(*self.url(), "get", thread, added["id"])
        self.assertOneError(
            proc, 1, "the server sent run 'run_1'; it was not returned because: created_at: "
            "required key is missing", "request id req_",
        )  # fmt: skip

    def test_help_and_version(self) -> None:
        proc = run_cli("--help")
        self.assertEqual(proc.returncode, 0)
        for code in ("0 ", "1 ", "2 ", "3 ", "4 ", "5 ", "130 "):
            self.assertIn("\n  " + code, proc.stdout)
        self.assertIn("OPENAI_API_KEY", proc.stdout)
        for command in ("get", "wait", "list", "cancel", "check", "demo"):
            with self.subTest(command=command):
                proc = run_cli(command, "--help")
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertIn("example", proc.stdout)
                self.assertIn("threadrun %s" % command, proc.stdout)
        proc = run_cli("--version")
        self.assertEqual(proc.returncode, 0)
        self.assertIn("threadrun 0.", proc.stdout)

    def test_importing_the_cli_does_not_import_testing(self) -> None:
        code = "import sys, threadrun.__main__; print('threadrun.testing' in sys.modules)"
        proc = subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO,
            env=cli_env(),
            stdout=subprocess.PIPE,
            text=True,
            timeout=30,
        )
        self.assertEqual(proc.stdout.strip(), "False")


class WaitTest(CLITest):
    def wait(self, statuses: Any, *extra: str, **fields: Any) -> Any:
        thread = self.thread()
        added = self.server.add_run(thread, statuses=statuses, **fields)
        proc = run_cli(*self.url(), "wait", thread, added["id"], "--interval", "0.01", *extra)
        return added, proc

    def test_completed_exit_0(self) -> None:
        added, proc = self.wait(("queued", "in_progress", "completed"))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertClean(proc)
        data = json.loads(proc.stdout)
        self.assertEqual((data["id"], data["status"]), (added["id"], "completed"))
        # Not a terminal: one plain line per status change, no control characters.
        lines = proc.stderr.splitlines()
        self.assertEqual([line.rsplit(": ", 1)[-1] for line in lines], ["in_progress", "completed"])
        self.assertNotIn("\r", proc.stderr)
        self.assertNotIn("\x1b", proc.stderr)

    def test_requires_action_exit_3(self) -> None:
        _, proc = self.wait(("queued", "requires_action"))
        self.assertEqual(proc.returncode, 3, proc.stderr)
        data = json.loads(proc.stdout)
        self.assertEqual(data["status"], "requires_action")
        calls = data["required_action"]["submit_tool_outputs"]["tool_calls"]
        self.assertEqual(calls[0]["function"]["name"], "get_current_weather")
        self.assertIn("requires_action (tool calls: get_current_weather)", proc.stderr)

    def test_failed_exit_4(self) -> None:
        _, proc = self.wait(("queued", "failed"))
        self.assertEqual(proc.returncode, 4, proc.stderr)
        self.assertEqual(json.loads(proc.stdout)["status"], "failed")
        self.assertIn("failed (server_error: Sorry, something went wrong.)", proc.stderr)
        self.assertClean(proc)

    def test_other_terminal_statuses_exit_4(self) -> None:
        for status in ("cancelled", "expired", "incomplete"):
            with self.subTest(status=status):
                _, proc = self.wait(("in_progress", status))
                self.assertEqual(proc.returncode, 4, proc.stderr)
                self.assertEqual(json.loads(proc.stdout)["status"], status)

    def test_poll_timeout_exit_5_prints_the_last_run(self) -> None:
        added, proc = self.wait(("in_progress",), "--deadline", "0.2")
        self.assertEqual(proc.returncode, 5, proc.stderr)
        data = json.loads(proc.stdout)
        self.assertEqual((data["id"], data["status"]), (added["id"], "in_progress"))
        self.assertOneError(proc, 5, "still in_progress")

    def test_request_timeout_option_of_wait(self) -> None:
        # The request timeout is --request-timeout (or --timeout before the command); the
        # poll deadline is --deadline.
        added, proc = self.wait(("queued", "completed"), "--request-timeout", "5")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        thread = added["thread_id"]
        proc = run_cli(*self.url(), "--timeout", "5", "wait", thread, added["id"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertNotIn("warning", proc.stderr)

    def test_old_timeout_of_wait_is_the_deadline_with_a_warning(self) -> None:
        _, proc = self.wait(("in_progress",), "--timeout", "0.2")
        self.assertOneError(proc, 5, "still in_progress")
        self.assertIn(
            "threadrun: warning: 'wait --timeout' is deprecated: it is the deadline, "
            "spelt '--deadline' now\n",
            proc.stderr,
        )

    def test_api_error_while_waiting(self) -> None:
        thread = self.thread()
        added = self.server.add_run(thread, statuses=("queued", "in_progress", "completed"))
        self.server.fail_next(404, method="GET")
        proc = run_cli(*self.url(), "wait", thread, added["id"])
        self.assertOneError(proc, 1, "HTTP 404", "request id")
        self.assertEqual(proc.stdout, "")

    @unittest.skipIf(os.name == "nt", "POSIX signals")
    def test_ctrl_c_exit_130(self) -> None:
        thread = self.thread()
        added = self.server.add_run(thread, statuses=("in_progress",))
        child = start_interruptible_cli(
            *self.url(), "wait", thread, added["id"], "--interval", "0.05",
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="utf-8",
        )  # fmt: skip
        watchdog = threading.Timer(30, child.kill)  # never hang the suite
        watchdog.start()
        try:
            assert child.stderr is not None
            first = child.stderr.readline()  # the first status: it is polling by now
            self.assertIn("in_progress", first)
            time.sleep(0.1)
            child.send_signal(signal.SIGINT)
            out, err = child.communicate(timeout=20)
        finally:
            watchdog.cancel()
            if child.poll() is None:
                child.kill()
                child.communicate()
        self.assertEqual(child.returncode, 130, first + err)
        self.assertNotIn("Traceback", err)
        self.assertEqual(err.strip().splitlines()[-1], "threadrun: interrupted")
        self.assertEqual(out, "")


@unittest.skipIf(os.name == "nt", "needs a pseudo-terminal")
class TerminalTest(CLITest):
    """stderr on a pseudo-terminal: the live status line."""

    def test_live_line(self) -> None:
        thread = self.thread()
        added = self.server.add_run(
            thread, statuses=("queued", "in_progress", "in_progress", "completed")
        )
        code, out, err = run_on_terminal(
            [*self.url(), "wait", thread, added["id"], "--interval", "0.2"], cli_env(TERM="xterm")
        )
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out)["status"], "completed")
        self.assertIn("\r", err)
        self.assertIn("\x1b[K", err)  # clear to the end of the line
        self.assertIn("\x1b[32m", err)  # completed in green
        self.assertTrue(err.endswith("\x1b[K\r\n"), repr(err[-80:]))  # a final line, ended
        self.assertIn("completed", err.rsplit("\r", 2)[-2])

    def test_no_color(self) -> None:
        thread = self.thread()
        added = self.server.add_run(thread, statuses=("queued", "completed"))
        env = cli_env(TERM="xterm", NO_COLOR="1")
        code, _, err = run_on_terminal([*self.url(), "wait", thread, added["id"]], env)
        self.assertEqual(code, 0, err)
        self.assertIn("\r", err)
        self.assertNotIn("\x1b[3", err)  # no colour, still the live line

    def test_ctrl_c_tidies_the_line(self) -> None:
        thread = self.thread()
        added = self.server.add_run(thread, statuses=("in_progress",))
        code, out, err = run_on_terminal(
            [*self.url(), "wait", thread, added["id"], "--interval", "0.05"],
            cli_env(TERM="xterm"),
            interrupt_after=0.3,
        )
        self.assertEqual(code, 130, err)
        self.assertEqual(out, "")
        self.assertNotIn("Traceback", err)
        self.assertTrue(err.endswith("\r\x1b[Kthreadrun: interrupted\r\n"), repr(err[-120:]))


class DemoTest(CLITest):
    def test_demo_end_to_end(self) -> None:
        # No key, and a proxy that does not exist: the demo needs neither.
        env = cli_env(OPENAI_API_KEY=None, HTTP_PROXY="http://127.0.0.1:%d" % closed_port())
        start = time.monotonic()
        proc = run_cli("demo", env=env)
        elapsed = time.monotonic() - start
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)
        data = json.loads(proc.stdout)
        self.assertEqual(data["status"], "completed")
        self.assertEqual(data["usage"]["total_tokens"], 356)
        statuses = re.findall(r"(?m)^\[ *[0-9.]+s\] run_\w+: (\w+)", proc.stderr)
        self.assertEqual(
            statuses, ["queued", "in_progress", "requires_action", "in_progress", "completed"]
        )
        self.assertIn("get_current_weather", proc.stderr)
        self.assertLess(elapsed, 15)


if __name__ == "__main__":
    unittest.main()
