"""The command line, ``python -m threadrun``, run as a subprocess against a FakeRunsServer.

Every command is run the way a user runs it: a child ``python -m threadrun ...`` from the
repository root, with an environment holding a test key and no proxy, against the fake server
running in this process on loopback. A few checks of ``check``'s input detection call its
function in process (``threadrun.archive.check_files``), which is faster.
"""

from __future__ import annotations

import glob
import gzip
import io
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

from tests import DATA_DIR, load_testing
from tests.support import REPO, closed_port

KEY = "sk-test-cli-0123456789"
testing: Any = None  # threadrun.testing, set by setUpModule (skipped in single-file mode)
check: Any = None  # threadrun.archive


def setUpModule() -> None:
    global testing, check
    testing = load_testing()  # SkipTest in single-file mode: the CLI is package-only
    import threadrun.archive

    check = threadrun.archive


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


class CheckTest(CLITest):
    def test_corpus_files(self) -> None:
        files = sorted(glob.glob(os.path.join(DATA_DIR, "*.json")))
        proc = run_cli("check", "--json", *files)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr, "")
        summary = json.loads(proc.stdout)
        expected: Dict[str, int] = {}
        for path in files:
            with open(path, encoding="utf-8") as fh:
                status = json.load(fh)["status"]
            expected[status] = expected.get(status, 0) + 1
        self.assertEqual(summary["files"], len(files))
        self.assertEqual(
            (summary["runs"], summary["valid"], summary["invalid"]), (len(files), len(files), 0)
        )
        self.assertEqual(summary["by_status"], expected)
        proc = run_cli("check", *files)  # the human summary
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("%d runs in %d files: %d valid, 0 invalid" % ((len(files),) * 3), proc.stdout)

    def test_jsonl_with_invalid_lines(self) -> None:
        good = json.dumps(run_line())
        lines = [
            good,  # 1
            "",  # 2 blank: skipped
            '{"id": "run_2", "object": "thread.run"',  # 3 truncated
            json.dumps(run_line(created_at="yesterday")),  # 4
            "   ",  # 5 blank
            json.dumps(run_line(metadata={"n": 1})),  # 6
            "[1, 2]",  # 7
            good,  # 8
            json.dumps({k: v for k, v in run_line().items() if k != "model"}),  # 9
        ]
        path = self.write("some-invalid.jsonl", "\n".join(lines) + "\n")
        proc = run_cli("check", path)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertClean(proc)
        self.assertEqual(
            proc.stderr.splitlines(),
            [
                "%s:3: invalid JSON: Expecting ',' delimiter at column 39" % path,
                "%s:4: created_at: expected an integer timestamp, got string 'yesterday'" % path,
                "%s:6: metadata['n']: expected a string, got integer 1" % path,
                "%s:7: expected a JSON object at the top level, got array [1, 2]" % path,
                "%s:9: model: required key is missing" % path,
            ],
        )
        self.assertIn("7 runs in 1 file: 2 valid, 5 invalid", proc.stdout)

    def test_summary_numbers(self) -> None:
        def usage(prompt: int, completion: int) -> Dict[str, int]:
            return {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            }

        runs = [
            # durations 10, 1, 3, 2, 30 and 5 s; 7 runs with usage
            run_line(id="r1", started_at=100, completed_at=110, usage=usage(100, 10)),
            run_line(id="r2", started_at=100, completed_at=101, usage=usage(200, 20)),
            run_line(id="r3", started_at=100, completed_at=103, usage=usage(300, 30), model="o3"),
            run_line(id="r4", started_at=100, completed_at=102, usage=usage(400, 40)),
            run_line(id="r5", started_at=100, completed_at=130, usage=usage(500, 50),
                     assistant_id="asst_b"),
            run_line(id="r6", status="failed", started_at=100, failed_at=104, usage=usage(60, 6)),
            run_line(id="r7", status="queued"),
            run_line(id="r8", status="in_progress", started_at=100),
            run_line(id="r9", status="incomplete", started_at=200, completed_at=205,
                     usage={"prompt_tokens": 7, "completion_tokens": None}),
            run_line(id="r10", status="requires_action", completed_at=300),  # no started_at
        ]  # fmt: skip
        text = "\n".join(json.dumps(run) for run in runs) + "\n" + '{"id": 1}\n'
        path = self.write("summary.jsonl", text)
        proc = run_cli("check", "--json", path)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertEqual(proc.stderr, "%s:11: id: expected a string, got integer 1\n" % path)
        self.assertEqual(
            json.loads(proc.stdout),
            {
                "files": 1,
                "unreadable_files": 0,
                "runs": 11,
                "valid": 10,
                "invalid": 1,
                "by_status": {
                    "completed": 5,
                    "failed": 1,
                    "in_progress": 1,
                    "incomplete": 1,
                    "queued": 1,
                    "requires_action": 1,
                },
                "by_model": {"gpt-4o": 9, "o3": 1},
                "by_assistant": {"asst_a": 9, "asst_b": 1},
                "usage": {
                    "runs": 7,
                    "prompt_tokens": 100 + 200 + 300 + 400 + 500 + 60 + 7,
                    "completion_tokens": 10 + 20 + 30 + 40 + 50 + 6,
                    "total_tokens": 110 + 220 + 330 + 440 + 550 + 66,
                },
                # sorted: 1 2 3 5 10 30 (n=6); nearest rank: p50 = 3rd = 3, p95 = 6th = 30
                "duration_seconds": {
                    "runs": 6,
                    "p50": 3,
                    "p95": 30,
                    "max": 30,
                    "method": "nearest-rank",
                },
            },
        )
        proc = run_cli("check", path)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("11 runs in 1 file: 10 valid, 1 invalid", proc.stdout)
        self.assertRegex(proc.stdout, r"\n  p50 +3 s\n  p95 +30 s\n  max +30 s\n")
        self.assertRegex(proc.stdout, r"\n  prompt +1567\n  completion +156\n  total +1716\n")

    def test_mixed_files_and_stdin(self) -> None:
        jsonl = self.write(
            "a.jsonl", json.dumps(run_line(id="a1")) + "\n" + json.dumps(run_line(id="a2")) + "\n"
        )
        pretty = self.write("b.json", json.dumps(run_line(id="b1", status="failed"), indent=2))
        array = self.write(
            "c.json", json.dumps([run_line(id="c1"), {"id": "c2"}, run_line(id="c3")], indent=2)
        )
        with open(os.path.join(DATA_DIR, "06-requires_action.json"), encoding="utf-8") as fh:
            stdin = fh.read()
        proc = run_cli("check", "--json", jsonl, pretty, "-", array, input=stdin)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        # c2 is the second element of the array, whose "{" is on line 11 of c.json
        self.assertEqual(proc.stderr, "%s:11: object: required key is missing\n" % array)
        summary = json.loads(proc.stdout)
        self.assertEqual((summary["files"], summary["runs"], summary["valid"]), (4, 7, 6))
        self.assertEqual(summary["by_status"], {"completed": 4, "failed": 1, "requires_action": 1})
        # no file at all: stdin
        proc = run_cli("check", input=json.dumps(run_line()) + "\n")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("1 run in 1 file: 1 valid, 0 invalid", proc.stdout)

    def test_strange_names_in_the_summary(self) -> None:
        # A lone surrogate (from a "\\ud800" escape) and an escape sequence: the human summary
        # shows them escaped, never as raw bytes that would drive the terminal.
        line = json.dumps(run_line(status="\ud800", assistant_id="a\x1b[31mX", model="m\u00e9"))
        path = self.write("strange.jsonl", line + "\n")
        proc = run_cli("check", path)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("\\ud800", proc.stdout)
        self.assertIn("a\\x1b[31mX", proc.stdout)
        self.assertNotIn("\x1b", proc.stdout)
        self.assertIn("m\u00e9", proc.stdout)
        proc = run_cli("check", "--json", path)
        self.assertEqual(json.loads(proc.stdout)["by_status"], {"\ud800": 1})

    def test_unreadable_file(self) -> None:
        missing = os.path.join(self.tmp, "missing.jsonl")
        good = self.write("good.jsonl", json.dumps(run_line()) + "\n")
        proc = run_cli("check", missing, good)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)
        self.assertIn("threadrun: error: cannot read %r" % missing, proc.stderr)
        self.assertIn("1 run in 2 files: 1 valid", proc.stdout)
        proc = run_cli("check", self.tmp)  # a directory
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn(repr(self.tmp), proc.stderr)


class CheckInputTest(unittest.TestCase):
    """How check reads its input, in process (check_files) for speed."""

    def check(self, data: bytes) -> Any:
        out, err = io.StringIO(), io.StringIO()
        code = check.check_files(["-"], out=out, err=err, as_json=True, stdin=io.BytesIO(data))
        return code, json.loads(out.getvalue()), err.getvalue().splitlines()

    def test_blank_and_empty(self) -> None:
        for data in (b"", b"\n\n  \n", b"\r\n"):
            with self.subTest(data=data):
                code, summary, errors = self.check(data)
                self.assertEqual((code, summary["runs"], errors), (0, 0, []))

    def test_crlf_bom_and_no_final_newline(self) -> None:
        line = json.dumps(run_line()).encode()
        code, summary, errors = self.check(b"\xef\xbb\xbf" + line + b"\r\n\r\n" + line)
        self.assertEqual((code, summary["valid"], errors), (0, 2, []))

    def test_pretty_objects_one_after_another(self) -> None:
        # ``jq . runs.jsonl`` output: pretty-printed objects, one after the other
        text = "".join(json.dumps(run_line(id="r%d" % i), indent=2) + "\n" for i in range(3))
        code, summary, errors = self.check(text.encode())
        self.assertEqual((code, summary["valid"], errors), (0, 3, []))

    def test_pretty_object_with_an_error_names_its_line(self) -> None:
        text = "\n\n" + json.dumps(run_line(created_at=-1), indent=2)
        code, _, errors = self.check(text.encode())
        self.assertEqual(code, 1)
        self.assertEqual(len(errors), 1)
        self.assertTrue(errors[0].startswith("<stdin>:3: created_at: "), errors)

    def test_syntax_error_in_a_document(self) -> None:
        runs = ",\n".join(json.dumps(run_line(id="r%d" % i), indent=2) for i in range(3))
        text = "[\n" + runs.replace('"r1"', "oops") + "\n]\n"
        code, summary, errors = self.check(text.encode())
        self.assertEqual((code, summary["valid"], summary["invalid"]), (1, 1, 1))
        self.assertEqual(errors, ["<stdin>:12: invalid JSON: Expecting value at line 12 column 9"])
        # An array cut short on its first line is no unambiguous document: one bad line.
        code, summary, errors = self.check(b"[" + json.dumps(run_line()).encode() + b",\n")
        self.assertEqual((summary["valid"], summary["invalid"], len(errors)), (0, 1, 1))
        code, summary, errors = self.check(b"[\n" + json.dumps(run_line()).encode() + b",\n")
        self.assertEqual((summary["valid"], summary["invalid"], len(errors)), (1, 1, 1))

    def test_truncated_first_line_of_json_lines(self) -> None:
        # A first record cut short, then complete ones: still JSON Lines, not a document.
        line = json.dumps(run_line()).encode()
        code, summary, errors = self.check(line[:40] + b"\n" + line + b"\n" + line + b"\n")
        self.assertEqual((code, summary["valid"], summary["invalid"]), (1, 2, 1))
        self.assertTrue(errors[0].startswith("<stdin>:1: invalid JSON: "), errors)

    def test_nan_is_invalid(self) -> None:
        line = json.dumps(run_line(usage={"prompt_tokens": float("nan")}))
        for data in (line + "\n", "[" + line + "]"):
            with self.subTest(data=data[:1]):
                code, summary, errors = self.check(data.encode())
                self.assertEqual((code, summary["invalid"]), (1, 1), errors)

    def test_gzip(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "runs.jsonl.gz")
            with gzip.open(path, "wb") as fh:
                fh.write(json.dumps(run_line()).encode() + b"\n")
            out = io.StringIO()
            code = check.check_files([path], out=out, err=io.StringIO(), as_json=True)
        self.assertEqual((code, json.loads(out.getvalue())["valid"]), (0, 1))

    def test_corrupt_gzip_is_unreadable(self) -> None:
        data = gzip.compress(json.dumps(run_line()).encode() * 50)
        for name, content in (
            ("cut.gz", data[:-20]),
            ("bad.gz", data[:20] + b"x" * 40),
            ("not.gz", b"{}"),
        ):
            with self.subTest(name=name), tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, name)
                with open(path, "wb") as fh:
                    fh.write(content)
                err = io.StringIO()
                code = check.check_files([path], out=io.StringIO(), err=err)
                self.assertEqual(code, 2)
                self.assertIn("threadrun: error: cannot read %r: " % path, err.getvalue())


if __name__ == "__main__":
    unittest.main()
