"""``python -m threadrun.testing``: the fake server in the foreground, for a test suite in another
process or language, and ``testing.py`` copied in beside ``threadrun.py`` as
``threadrun_testing.py``, run with ``python -I``.

Real subprocesses and real signals; the servers listen on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import unittest
from typing import Any, List

from tests import SINGLE_FILE, threadrun
from tests.support import KEY, REPO, closed_port

SOURCE = os.path.join(REPO, "threadrun")

COPIED_IN = r"""
import sys
sys.path.insert(0, sys.argv[1])
import threadrun
import threadrun_testing
assert threadrun.__file__.startswith(sys.argv[1]), threadrun.__file__
assert threadrun_testing.__file__.startswith(sys.argv[1]), threadrun_testing.__file__
with threadrun_testing.FakeRunsServer(flavour="loose") as server:
    with threadrun.Client("k", base_url=server.base_url, run_adapter=threadrun.lenient) as client:
        run = client.create_and_poll("thread_1", "asst_1", poll_interval=0)
print(run.status, sorted(m for m in sys.modules if m.startswith("threadrun")))
"""


def child_env() -> dict:  # type: ignore[type-arg]
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["PYTHONPATH"] = REPO
    return env


@unittest.skipIf(SINGLE_FILE, "needs the package source (not meaningful in single-file mode)")
class ForegroundServerTest(unittest.TestCase):
    def start(self, *args: str, argv: Any = None) -> Any:
        process = subprocess.Popen(
            argv or [sys.executable, "-m", "threadrun.testing", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env(), cwd=REPO,
        )  # fmt: skip
        self.addCleanup(self.reap, process)
        return process

    @staticmethod
    def reap(process: Any) -> None:
        if process.poll() is None:
            process.kill()
        process.communicate()

    def base_url(self, process: Any) -> str:
        line = process.stdout.readline().decode()
        self.assertTrue(line.endswith("\n"), line)
        return line.rstrip("\n")

    def test_serves_until_a_signal_then_exits_0(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(signal=sig.name):
                process = self.start("--api-key", KEY, "--flavour", "fastapi")
                url = self.base_url(process)
                self.assertRegex(url, r"^http://127\.0\.0\.1:\d+/v1$")
                with threadrun.Client(KEY, base_url=url, max_retries=0,
                                      run_adapter=threadrun.iso_timestamps) as client:
                    run = client.create("thread_main", "asst_1")
                    self.assertEqual(client.retrieve("thread_main", run.id).id, run.id)
                with threadrun.Client("sk-wrong", base_url=url, max_retries=0) as client, \
                        self.assertRaises(threadrun.AuthenticationError):
                    client.retrieve("thread_main", run.id)
                process.send_signal(sig)
                out, err = process.communicate(timeout=30)
                self.assertEqual(process.returncode, 0, err)
                self.assertEqual((out, err), (b"", b""))  # nothing after the URL
                with self.assertRaises(OSError):
                    socket.create_connection(("127.0.0.1", int(url.split(":")[2][:-3])), 2)

    def test_port_and_flavour(self) -> None:
        port = closed_port()
        process = self.start("--port", str(port), "--flavour", "loose")
        url = self.base_url(process)
        self.assertEqual(url, "http://127.0.0.1:%d/v1" % port)
        with threadrun.Client("k", base_url=url, run_adapter=threadrun.lenient) as client:
            self.assertEqual(client.create("thread_main", "asst_1").model, "")
        busy = self.start("--port", str(port))
        out, err = busy.communicate(timeout=30)
        self.assertEqual(busy.returncode, 1)
        self.assertEqual(out, b"")
        self.assertIn(b"cannot listen", err)
        process.terminate()
        self.assertEqual(process.wait(30), 0)

    def test_usage_errors(self) -> None:
        cases: List[Any] = [
            (["--host", "0.0.0.0"], b"--host must be 127.0.0.1"),
            (["--host", "::1"], b"--host must be 127.0.0.1"),
            (["--port", "70000"], b"--port must be from 0 to 65535"),
            (["--flavour", "azure"], b"invalid choice: 'azure'"),
        ]
        for args, words in cases:
            with self.subTest(args=args):
                process = self.start(*args)
                out, err = process.communicate(timeout=30)
                self.assertEqual(process.returncode, 2)
                self.assertEqual(out, b"")
                self.assertIn(words, err)


@unittest.skipIf(SINGLE_FILE, "needs the package source (not meaningful in single-file mode)")
class CopiedInTest(unittest.TestCase):
    """The README's promise: testing.py works copied in beside threadrun.py as
    threadrun_testing.py."""

    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="threadrun-testing-copy-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        shutil.copyfile(os.path.join(SOURCE, "__init__.py"), os.path.join(self.tmp, "threadrun.py"))
        shutil.copyfile(os.path.join(SOURCE, "testing.py"),
                        os.path.join(self.tmp, "threadrun_testing.py"))  # fmt: skip

    def test_imported_beside_the_single_file(self) -> None:
        proc = subprocess.run(
            [sys.executable, "-I", "-c", COPIED_IN, self.tmp], cwd=self.tmp,
            capture_output=True, timeout=120, env=child_env(),
        )  # fmt: skip
        self.assertEqual(proc.returncode, 0, proc.stderr.decode())
        self.assertEqual(proc.stdout.decode().strip(),
                         "completed ['threadrun', 'threadrun_testing']")  # fmt: skip

    def test_run_as_a_script(self) -> None:
        script = os.path.join(self.tmp, "threadrun_testing.py")
        process = subprocess.Popen(
            [sys.executable, "-I", script, "--flavour", "fastapi"], cwd=self.tmp,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            url = process.stdout.readline().decode().strip()  # type: ignore[union-attr]
            adapter = threadrun.iso_timestamps
            with threadrun.Client("k", base_url=url, run_adapter=adapter) as client:
                self.assertEqual(client.create("thread_1", "asst_1").status, "queued")
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        self.assertEqual(process.returncode, 0, err)
        self.assertEqual(out, b"")


if __name__ == "__main__":
    unittest.main()
