"""The command line's ``create [--stream]`` and ``demo --stream``, run as subprocesses against
a FakeRunsServer on loopback (as tests/test_cli.py runs every other command)."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import unittest
from typing import Any, Dict, List

from tests import test_cli as cli

MESSAGE = "The weather in San Francisco is 70 \u00b0F and sunny \u2600\ufe0f."


def setUpModule() -> None:
    cli.setUpModule()  # SkipTest in single-file mode: the CLI is package-only


class CreateTest(cli.CLITest):
    def script(self, *statuses: str) -> None:
        """Runs created from now to the end of the test follow ``statuses``."""
        saved = self.server.default_statuses
        self.server.default_statuses = statuses
        self.addCleanup(setattr, self.server, "default_statuses", saved)

    def sent(self, run_id: str) -> List[Any]:
        """The events of the stream that created ``run_id``. Not streams[-1]: a request an
        earlier test gave up on (a fault's delay) may open its stream later, on this server."""
        [events] = [stream.events for stream in self.server.streams
                    if stream.events and stream.events[0][1].get("id") == run_id]  # fmt: skip
        return events

    def events(self, stdout: str) -> List[Dict[str, Any]]:
        return [json.loads(line) for line in stdout.splitlines()]

    def test_create_prints_the_run(self) -> None:
        thread = self.thread()
        proc = cli.run_cli(
            *self.url(), "create", thread, "asst_1", "--instructions", "Be brief.",
            "--model", "gpt-4o-mini", "--metadata", "user=u1", "--metadata", "k=a=b",
        )  # fmt: skip
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertClean(proc)
        run = json.loads(proc.stdout)
        self.assertEqual((run["thread_id"], run["status"]), (thread, "queued"))
        request = self.server.requests[-1]
        self.assertEqual(request.json, {"assistant_id": "asst_1", "instructions": "Be brief.",
                                        "model": "gpt-4o-mini",
                                        "metadata": {"user": "u1", "k": "a=b"}})  # fmt: skip
        self.assertEqual(self.server.get_run(run["id"])["metadata"], {"user": "u1", "k": "a=b"})

    def test_stream_prints_each_event_and_exits_as_wait(self) -> None:
        for statuses, code in (
            (("queued", "in_progress", "completed"), 0),
            (("queued", "in_progress", "requires_action"), 3),
            (("queued", "in_progress", "failed"), 4),
            (("queued", "cancelling", "cancelled"), 4),
            (("queued", "in_progress", "expired"), 4),
            # The stream ended, the run goes on: neither success nor failure.
            (("queued", "cancelling"), 8),
            (("queued", "in_progress"), 8),
        ):
            with self.subTest(statuses[-1]):
                self.script(*statuses)
                proc = cli.run_cli(*self.url(), "create", self.thread(), "asst_1", "--stream")
                self.assertEqual(proc.returncode, code, proc.stderr)
                self.assertClean(proc)
                printed = self.events(proc.stdout)
                sent = self.sent(printed[0]["data"]["id"])
                self.assertEqual([(e["event"], e["data"]) for e in printed], sent[:-1])
                self.assertEqual(self.events(proc.stdout)[-1]["data"]["status"], statuses[-1])
                self.assertNotIn("sunny", proc.stderr)  # text on stderr on a terminal only
                self.assertIs(self.server.requests[-1].json["stream"], True)

    def test_stream_errors(self) -> None:
        fault = cli.testing.Fault(after_events=2, error_event={"message": "Overloaded."})
        drop = cli.testing.Fault(after_events=3, drop=True)
        stall = cli.testing.Fault(after_events=1, stall=4.0)
        before_head = cli.testing.Fault(delay=4.0, method="POST")
        before_events = cli.testing.Fault(after_events=0, stall=4.0)
        for name, inject, args, code, words, printed in (
            ("error event", fault, [], 1, "Overloaded.", 2),
            ("dropped", drop, [], 1, "cut", 3),
            ("deadline", stall, ["--deadline", "1"], 5, "deadline", 1),
            ("deadline before the answer", before_head, ["--deadline", "1"], 5,
             "did not begin within stream_timeout", 0),
            ("deadline before the first event", before_events, ["--deadline", "1"], 5,
             "deadline", 0),
            ("silence", stall, ["--request-timeout", "1"], 1, "sent nothing for 1 s", 1),
        ):  # fmt: skip
            with self.subTest(name):
                self.server.inject(inject)
                proc = cli.run_cli(*self.url(), "create", self.thread(), "asst_1", "--stream",
                                   *args)  # fmt: skip
                self.assertOneError(proc, code, words)
                self.assertEqual(len(self.events(proc.stdout)), printed)

    def test_bad_arguments(self) -> None:
        for args in (["--metadata", "novalue"], ["--metadata", "=v"], ["--deadline", "0"],
                     ["--stream", "--bogus"]):  # fmt: skip
            with self.subTest(args):
                proc = cli.run_cli(*self.url(), "create", "thread_x", "asst_1", *args)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertNotIn("Traceback", proc.stderr)
        proc = cli.run_cli(*self.url(), "create", "thread_x", "a/b", "--stream")
        self.assertOneError(proc, 2, "assistant_id")
        proc = cli.run_cli(*self.url(), "create", "thread_x", "asst_1", "--deadline", "5")
        self.assertOneError(proc, 2, "--stream")
        self.assertEqual(proc.stdout, "")

    def test_timestamps_iso_reads_a_server_that_writes_them(self) -> None:
        server = cli.testing.FakeRunsServer(api_key=cli.KEY, flavour="fastapi").start()
        self.addCleanup(server.stop)
        url = ["--base-url", server.base_url]
        proc = cli.run_cli(*url, "create", "thread_1", "asst_1", "--stream")
        self.assertOneError(proc, 1, "in event 'thread.run.created'", "--timestamps iso")
        proc = cli.run_cli(*url, "create", "thread_1", "asst_1", "--stream", "--timestamps",
                           "iso")  # fmt: skip
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIsInstance(self.events(proc.stdout)[-1]["data"]["completed_at"], int)

    @unittest.skipIf(os.name == "nt", "needs a pseudo-terminal")
    def test_text_live_on_a_terminal(self) -> None:
        self.script("queued", "in_progress", "completed")
        code, out, err = cli.run_on_terminal(
            [*self.url(), "create", self.thread(), "asst_1", "--stream"],
            cli.cli_env(TERM="xterm"),
        )
        self.assertEqual(code, 0, err)
        self.assertIn(MESSAGE + "\r\n", err)  # the pty turns \n into \r\n
        run = self.events(out)[-1]
        self.assertEqual(run["event"], "thread.run.completed")
        # Which run was started, and how it ended, on a line of its own at the end.
        self.assertTrue(err.endswith("\n%s: completed\r\n" % run["data"]["id"]), err)

    @unittest.skipIf(os.name == "nt", "needs a pseudo-terminal")
    def test_ctrl_c_names_the_run_started(self) -> None:
        import pty

        self.server.inject(cli.testing.Fault(after_event="thread.run.in_progress", stall=30.0))
        master, slave = pty.openpty()
        child = cli.start_interruptible_cli(
            *self.url(), "create", self.thread(), "asst_1", "--stream",
            env=cli.cli_env(TERM="xterm"), stdout=subprocess.PIPE, stderr=slave,
        )  # fmt: skip
        os.close(slave)
        try:
            lines = [child.stdout.readline() for _ in range(3)]  # created, queued, in_progress
            child.send_signal(signal.SIGINT)  # stalled after in_progress: Ctrl-C
            self.assertEqual(child.wait(30), 130)
            err = b""
            while select.select([master], [], [], 1)[0]:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child is gone
                    break
                if not data:
                    break
                err += data
        finally:
            os.close(master)
            if child.poll() is None:
                child.kill()
            child.stdout.close()
        run = json.loads(lines[-1])["data"]
        self.assertEqual(run["status"], "in_progress")
        self.assertTrue(err.decode().startswith("%s: in_progress\r\n" % run["id"]), err)
        self.assertIn("interrupted", err.decode())


class DemoStreamTest(cli.CLITest):
    def test_demo_stream_end_to_end(self) -> None:
        env = cli.cli_env(OPENAI_API_KEY=None)
        proc = cli.run_cli("demo", "--stream", env=env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)
        data = json.loads(proc.stdout)
        self.assertEqual(data["status"], "completed")
        self.assertEqual(data["metadata"], {"source": "threadrun demo --stream"})
        statuses = re.findall(r"(?m)^\[ *[0-9.]+s\] run_\w+: (\w+)", proc.stderr)
        self.assertEqual(
            statuses, ["queued", "in_progress", "requires_action", "in_progress", "completed"]
        )
        self.assertIn("get_current_weather", proc.stderr)
        self.assertIn(MESSAGE + "\n", proc.stderr)  # the answer, as it was written


if __name__ == "__main__":
    unittest.main()
