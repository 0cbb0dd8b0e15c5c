"""The command line against servers that differ from the reference: ``--timestamps
iso`` for every command that reads runs, ``check`` and ``steps`` included, and ``threadrun
steps``.

``python -m threadrun`` runs as a subprocess against threadrun.testing.FakeRunsServer's
"fastapi" flavour on 127.0.0.1; nothing is ever sent beyond loopback.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import unittest
from typing import Any, Dict, List

from tests import load_testing, threadrun
from tests.test_cli import KEY, run_cli

TIMESTAMPS = (
    "created_at", "expires_at", "started_at", "cancelled_at", "failed_at", "completed_at",
)  # fmt: skip
ISO_RUN: Dict[str, Any] = {
    "id": "5f0c8b1e-0d7e-4f7a-9d3c-2b1a0e9f8c7d", "object": "thread.run",
    "created_at": "2026-11-29T16:30:14.549940Z", "thread_id": "t", "assistant_id": "a",
    "status": "completed", "model": "m", "started_at": "2026-11-29T16:30:15Z",
    "completed_at": "2026-11-29T18:30:20+02:00",
}  # fmt: skip


class ServersCLITest(unittest.TestCase):
    server: Any

    @classmethod
    def setUpClass(cls) -> None:
        testing = load_testing()
        cls.server = testing.FakeRunsServer(api_key=KEY, flavour="fastapi").start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()

    def setUp(self) -> None:
        self.thread = self.server.add_thread()
        self.tmp = tempfile.mkdtemp(prefix="threadrun-cli-servers-")
        self.addCleanup(shutil.rmtree, self.tmp)

    def cli(self, *args: str) -> Any:
        return run_cli("--base-url", self.server.base_url, *args)

    def assertSameTimes(self, printed: Dict[str, Any], run_id: str) -> None:
        raw = self.server.get_run(run_id)
        for field in TIMESTAMPS:
            expected = threadrun.iso_timestamps({field: raw[field]})[field]
            self.assertEqual(printed[field], expected, field)
        self.assertIsInstance(printed["created_at"], int)

    def test_get_and_cancel_read_iso_timestamps(self) -> None:
        run = self.server.add_run(self.thread, statuses=("in_progress",))
        for command in ("get", "cancel"):
            with self.subTest(command=command):
                proc = self.cli(command, self.thread, run["id"], "--timestamps", "iso")
                self.assertEqual(proc.returncode, 0, proc.stderr)
                printed = json.loads(proc.stdout)
                self.assertEqual(printed["id"], run["id"])
                self.assertSameTimes(printed, run["id"])

    def test_without_it_the_error_names_the_run_and_the_option(self) -> None:
        run = self.server.add_run(self.thread, statuses=("completed",))
        proc = self.cli("get", self.thread, run["id"])
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertEqual(proc.stdout, "")
        [line] = proc.stderr.splitlines()
        self.assertTrue(line.startswith(
            "threadrun: error: the server sent run %r of thread %r; it was not returned "
            "because: created_at: expected an integer timestamp, got string '"
            % (run["id"], self.thread)), line)  # fmt: skip
        self.assertIn("(a server that writes ISO-8601 timestamps: add --timestamps iso)", line)
        self.assertIn("(request id ", line)

    def test_list_and_wait(self) -> None:
        ids = [self.server.add_run(self.thread, statuses=("completed",))["id"] for _ in range(3)]
        proc = self.cli("list", self.thread, "--timestamps", "iso", "--order", "asc")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        printed = [json.loads(line) for line in proc.stdout.splitlines()]
        self.assertEqual([run["id"] for run in printed], ids)
        for run in printed:
            self.assertSameTimes(run, run["id"])
        waiting = self.server.add_run(self.thread, statuses=("queued", "requires_action"))
        proc = self.cli("wait", self.thread, waiting["id"], "--timestamps", "iso",
                        "--interval", "0")  # fmt: skip
        self.assertEqual(proc.returncode, 3, proc.stderr)  # requires action
        printed = json.loads(proc.stdout)
        self.assertIsNone(printed["required_action"])  # this server's way: see the steps
        self.assertSameTimes(printed, waiting["id"])

    def test_steps_as_json_lines(self) -> None:
        run = self.server.add_run(self.thread, statuses=("requires_action",))
        self.server.get_run(run["id"])
        self.cli("get", self.thread, run["id"], "--timestamps", "iso")  # now requires action
        stored = self.server.get_steps(run["id"])
        self.assertEqual([step["type"] for step in stored], ["tool_calls"])
        proc = self.cli("steps", self.thread, run["id"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        lines = proc.stdout.splitlines()
        self.assertEqual([json.loads(line) for line in lines], stored[::-1])
        self.assertTrue(all(line.isascii() and ": " not in line for line in lines))
        [call] = json.loads(lines[0])["step_details"]["tool_calls"]
        self.assertEqual(call["function"]["name"], "get_current_weather")

    def test_steps_order_limit_and_errors(self) -> None:
        run = self.server.add_run(self.thread, statuses=("requires_action",),
                                  after_tool_outputs=("completed",))  # fmt: skip
        self.cli("get", self.thread, run["id"], "--timestamps", "iso")
        [step] = self.server.get_steps(run["id"])
        calls = step["step_details"]["tool_calls"]
        outputs = [{"tool_call_id": call["id"], "output": "x"} for call in calls]
        with threadrun.Client(KEY, base_url=self.server.base_url,
                              run_adapter=threadrun.iso_timestamps) as client:  # fmt: skip
            client.submit_tool_outputs(self.thread, run["id"], outputs)
            client.retrieve(self.thread, run["id"])
        stored = self.server.get_steps(run["id"])
        self.assertEqual(len(stored), 2)
        proc = self.cli("steps", self.thread, run["id"], "--order", "asc", "--limit", "1")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual([json.loads(line) for line in proc.stdout.splitlines()], stored[:1])
        proc = self.cli("steps", self.thread, "00000000-0000-4000-8000-000000000000")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("threadrun: error: HTTP 404: Run not found in thread.", proc.stderr)
        # --timestamps iso reads a step's timestamps as it reads a run's, and prints them so.
        proc = self.cli("steps", self.thread, run["id"], "--timestamps", "iso", "--order", "asc")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        printed = [json.loads(line) for line in proc.stdout.splitlines()]
        for step, raw in zip(printed, stored):
            self.assertEqual(step["id"], raw["id"])
            for field in ("created_at", "completed_at"):
                self.assertEqual(step[field], threadrun.iso_timestamps({field: raw[field]})[field])
            self.assertIsInstance(step["created_at"], int)

    def write_runs(self, runs: List[Dict[str, Any]]) -> str:
        path = os.path.join(self.tmp, "runs.jsonl")
        with open(path, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(run) + "\n" for run in runs)
        return path

    def test_check_an_archive_of_iso_runs(self) -> None:
        bad = dict(ISO_RUN, completed_at="2026-02-30T00:00:00Z")
        path = self.write_runs([ISO_RUN] * 3 + [bad])
        for jobs in ("1", "2"):
            with self.subTest(jobs=jobs):
                proc = run_cli("check", "--json", "--jobs", jobs, "--timestamps", "iso", path)
                self.assertEqual(proc.returncode, 1, proc.stderr)
                summary = json.loads(proc.stdout)
                self.assertEqual((summary["valid"], summary["invalid"]), (3, 1))
                self.assertEqual(summary["duration_seconds"]["max"], 5)  # 16:30:15 -> 16:30:20
                self.assertEqual(
                    proc.stderr.splitlines(),
                    ["%s:4: completed_at: not a valid date and time: string "
                     "'2026-02-30T00:00:00Z'" % path],
                )  # fmt: skip
        proc = run_cli("check", "--json", path)
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(json.loads(proc.stdout)["valid"], 0)
        self.assertIn(":1: created_at: expected an integer timestamp, got string", proc.stderr)

    def test_check_an_iso_document_from_stdin(self) -> None:
        proc = run_cli("check", "--json", "--timestamps", "iso",
                       input=json.dumps([ISO_RUN, ISO_RUN], indent=2))  # fmt: skip
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(json.loads(proc.stdout)["valid"], 2)

    def test_which_commands_take_the_option(self) -> None:
        for command in ("get", "wait", "list", "cancel", "check", "steps", "create"):
            with self.subTest(command=command):
                proc = run_cli(command, "--help")
                self.assertIn("--timestamps {unix,iso}", proc.stdout)
        for command in ("demo",):
            with self.subTest(command=command):
                self.assertNotIn("--timestamps", run_cli(command, "--help").stdout)
        proc = run_cli("get", "t", "r", "--timestamps", "rfc")
        self.assertEqual(proc.returncode, 2)
        self.assertIn("invalid choice: 'rfc'", proc.stderr)


if __name__ == "__main__":
    unittest.main()
