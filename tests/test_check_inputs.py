"""``check --jobs N`` on inputs that are not regular files, its bound on workers, and a path given
twice: the output is that of ``--jobs 1``, never a hang, never an EMFILE
taken for an output failure.

Real files, FIFOs, pipes and process substitutions (bash), through ``python -m threadrun``.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from typing import Any, List

from tests import SINGLE_FILE
from tests.test_cli import REPO, cli_env, run_cli

if not SINGLE_FILE:
    from threadrun import _cli_check
    from threadrun.testing import _run_object


def run_line(index: int) -> str:
    run = _run_object(id="run_%d" % index, created_at=1700000000 + index, assistant_id="asst_1",
                      thread_id="thread_1", status="completed", started_at=1700000000 + index,
                      completed_at=1700000000 + index + index % 7)  # fmt: skip
    if index % 97 == 0:
        run["created_at"] = "soon"
    return json.dumps(run) + "\n"


@unittest.skipIf(SINGLE_FILE, "check is not part of the single file")
class NotRegularFilesTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="threadrun-check-inputs-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.path = os.path.join(self.tmp, "runs.jsonl")
        with open(self.path, "w") as fh:
            fh.writelines(run_line(index) for index in range(2000))
        self.other = os.path.join(self.tmp, "other.jsonl")
        with open(self.other, "w") as fh:
            fh.writelines(run_line(index) for index in range(2000, 2300))

    def shell(self, command: str) -> Any:
        """``command`` in bash, with CHECK standing for ``python -m threadrun check``."""
        check = "%s -m threadrun check" % sys.executable
        return subprocess.run(
            ["bash", "-c", command.replace("CHECK", check)], cwd=REPO, env=cli_env(),
            capture_output=True, encoding="utf-8", timeout=120,
        )  # fmt: skip

    def test_same_output_as_one_process(self) -> None:
        fifo = os.path.join(self.tmp, "fifo")
        os.mkfifo(fifo)
        inputs = {
            "fifo": "(cat %s > %s &) ; CHECK --jobs J %s %s" % (self.path, fifo, self.other, fifo),
            "piped /dev/stdin": "cat %s | CHECK --jobs J /dev/stdin %s" % (self.path, self.other),
            "piped -": "cat %s | CHECK --jobs J %s - %s" % (self.path, self.other, self.other),
            "process substitution": "CHECK --jobs J <(cat %s) %s" % (self.path, self.other),
            "a directory": "CHECK --jobs J %s %s" % (self.tmp, self.other),
        }
        for name, command in inputs.items():
            with self.subTest(input=name):
                one = self.shell(command.replace("J", "1"))
                self.assertIn(one.returncode, (1, 2), one.stderr)  # invalid runs; the directory
                self.assertIn("runs in", one.stdout)
                for jobs in ("2", "3"):
                    many = self.shell(command.replace("J", jobs))
                    self.assertEqual((many.returncode, many.stdout), (one.returncode, one.stdout))
                    self.assertEqual(self.without_notes(many.stderr), one.stderr)

    def without_notes(self, text: str) -> str:
        return "".join(line for line in text.splitlines(True)
                       if not line.startswith("threadrun: note: "))  # fmt: skip

    def test_the_same_path_twice(self) -> None:
        with open(self.path, "rb") as fh:
            whole = gzip.compress(fh.read())
        truncated = os.path.join(self.tmp, "cut.jsonl.gz")
        with open(truncated, "wb") as fh:
            fh.write(whole[: len(whole) // 2])
        for paths in ([truncated, truncated], [self.path, self.path], [truncated, self.path,
                                                                          truncated]):
            summaries = []
            for jobs in ("1", "2"):
                with self.subTest(paths=paths, jobs=jobs):
                    proc = run_cli("check", "--json", "--jobs", jobs, *paths)
                    summary = json.loads(proc.stdout)
                    self.assertEqual(summary["files"], len(paths))
                    self.assertEqual(summary["unreadable_files"], paths.count(truncated))
                    summaries.append((proc.returncode, summary, proc.stderr))
            self.assertEqual(summaries[0], summaries[1])


@unittest.skipIf(SINGLE_FILE, "check is not part of the single file")
class WorkerBoundTest(unittest.TestCase):
    def test_the_decision(self) -> None:
        cases: List[Any] = [
            # requested, cores, descriptor limit -> workers, words of the note
            (2, 4, 1024, 2, ""),
            (0, 4, 1024, 4, ""),
            (4, 4, None, 4, ""),
            (600, 2, 1024, 2, "--jobs 600: using 2 workers, one per usable core"),
            (3, 1, 1024, 1, "--jobs 3: using 1 worker, one per usable core"),
            (64, 64, 100, 12, "--jobs 64: using 12 workers (ulimit -n 100 allows no more)"),
            (0, 64, 70, 2, "--jobs 64: using 2 workers (ulimit -n 70 allows no more)"),
            (8, 8, 20, 1, "--jobs 8: using 1 worker (ulimit -n 20 allows no more)"),
        ]
        for requested, cores, limit, workers, words in cases:
            with self.subTest(requested=requested, cores=cores, limit=limit):
                got, note = _cli_check._jobs_within(requested, cores, limit)
                self.assertEqual(got, workers)
                if words:
                    self.assertIn(words, note)
                else:
                    self.assertEqual(note, "")

    def test_many_jobs_under_a_low_descriptor_limit(self) -> None:
        tmp = tempfile.mkdtemp(prefix="threadrun-check-jobs-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "runs.jsonl")
        with open(path, "w") as fh:
            fh.writelines(run_line(index) for index in range(3000))
        one = run_cli("check", "--jobs", "1", path)
        for limit in ("1024", "67"):
            with self.subTest(limit=limit):
                proc = subprocess.run(
                    ["bash", "-c", 'ulimit -n %s && exec "$@"' % limit, "bash", sys.executable,
                     "-m", "threadrun", "check", "--jobs", "600", path],
                    cwd=REPO, env=cli_env(), capture_output=True, encoding="utf-8", timeout=120,
                )  # fmt: skip
                self.assertEqual(proc.returncode, one.returncode, proc.stderr)  # never 6
                self.assertEqual(proc.stdout, one.stdout)
                note, *rest = proc.stderr.splitlines(True)
                self.assertTrue(note.startswith("threadrun: note: --jobs 600: "), note)
                self.assertLessEqual(len(note), 80)
                self.assertEqual("".join(rest), one.stderr)

    def test_the_library_says_workers_could_not_start(self) -> None:
        # check_files itself takes jobs as given (the command line caps them first): beyond
        # the descriptors, starting a worker fails, and that is said, never an output error.
        tmp = tempfile.mkdtemp(prefix="threadrun-check-emfile-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "runs.jsonl")
        with open(path, "w") as fh:
            fh.writelines(run_line(index) for index in range(2000))
        script = ("import sys\nfrom threadrun import _cli_check\ntry:\n"
                  "    _cli_check.check_files([sys.argv[1]], jobs=200, range_bytes=1000)\n"
                  "except _cli_check.WorkerDied as exc:\n    print(exc)\n")  # fmt: skip
        proc = subprocess.run(
            ["bash", "-c", 'ulimit -n 48 && exec "$@"', "bash", sys.executable, "-c", script,
             path],
            cwd=REPO, env=dict(cli_env(), PYTHONPATH=REPO), capture_output=True,
            encoding="utf-8", timeout=120,
        )  # fmt: skip
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertRegex(proc.stdout, r"^cannot start worker process \d+ of 200: Too many open "
                                      r"files \(try a smaller --jobs\)\n$")  # fmt: skip


if __name__ == "__main__":
    unittest.main()
