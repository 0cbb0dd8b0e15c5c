"""``threadrun check``: what it accepts and reports, its failures, ``--jobs``, the progress line,
and the public :class:`threadrun.archive.Summary`.

Exit statuses, output failures and signals are tested on a real ``python -m threadrun check``
child; input detection and the summary in process, which is faster.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import multiprocessing
import os
import pickle
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from typing import Any, Dict, Iterator, List, Optional, Tuple

from tests import load_testing
from tests.support import REPO
from tests.test_cli import cli_env, run_cli, run_line, run_on_terminal

check: Any = None  # threadrun.archive, set by setUpModule (package-only)
driver: Any = None  # threadrun._cli_check: check as the command line drives it


def setUpModule() -> None:
    global check, driver
    load_testing()  # SkipTest in single-file mode: check is package-only
    import threadrun._cli_check
    import threadrun.archive

    check, driver = threadrun.archive, threadrun._cli_check


def valid_line(index: int, **fields: Any) -> str:
    durations = (index * 7) % 40
    data = run_line(
        id="run_%d" % index,
        status=("completed", "failed", "queued", "in_progress")[index % 4],
        model=("gpt-4o", "o3")[index % 2],
        assistant_id="asst_%d" % (index % 3),
        started_at=1000,
        completed_at=1000 + durations,
        usage={"prompt_tokens": index, "completion_tokens": 2, "total_tokens": index + 2},
    )
    data.update(fields)
    return json.dumps(data)


def archive(count: int, seed: int = 0) -> str:
    """JSON Lines with invalid lines spread through: truncated, wrong types, blank, arrays."""
    rng = random.Random(seed)
    lines = []
    for index in range(count):
        roll = rng.random()
        if roll < 0.03:
            lines.append(valid_line(index)[: rng.randint(1, 60)])
        elif roll < 0.05:
            lines.append(valid_line(index, created_at="yesterday"))
        elif roll < 0.06:
            lines.append("")
        elif roll < 0.065:
            lines.append("[1, 2]")
        else:
            lines.append(valid_line(index))
    return "\n".join(lines) + "\n"


class TempDir(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="threadrun-check-test-")

    def tearDown(self) -> None:
        shutil.rmtree(self.tmp)

    def write(self, name: str, data: Any) -> str:
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
        return path

    def check_in_process(self, paths: List[str], **options: Any) -> Tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = driver.check_files(paths, out=out, err=err, as_json=True, **options)
        return code, out.getvalue(), err.getvalue()


# --------------------------------------------------------------------------------------------
# Never silently wrong
# --------------------------------------------------------------------------------------------


class DetectionTest(TempDir):
    def test_damaged_first_lines_do_not_make_a_document(self) -> None:
        # Two damaged lines, then 1,000 valid runs: every valid run counted, both damaged
        # lines reported (before: "1 run: 0 valid, 1 invalid").
        good = [valid_line(index) for index in range(1000)]
        for damage in (
            [good[0][:40], good[1][:25]],  # cut inside a string, then after a comma
            [good[0][:-1], good[1][:-1]],  # each missing its closing brace
            ["{", "["],
            ['{"id": "run_x",', '  "object": '],
        ):
            with self.subTest(damage=damage):
                path = self.write("damaged.jsonl", "\n".join(damage + good) + "\n")
                code, out, err = self.check_in_process([path])
                summary = json.loads(out)
                self.assertEqual((code, summary["valid"], summary["invalid"]), (1, 1000, 2))
                self.assertEqual([line.split(":")[1] for line in err.splitlines()], ["1", "2"])

    def test_documents_are_still_recognised(self) -> None:
        runs = [json.loads(valid_line(index)) for index in range(5)]
        for name, text in (
            ("pretty", json.dumps(runs[0], indent=2)),
            ("array, pretty", json.dumps(runs, indent=2)),
            ("array, one line", json.dumps(runs)),
            ("jq . output", "".join(json.dumps(run, indent=2) + "\n" for run in runs)),
            ("array, first run on its line", "[" + ",\n".join(map(json.dumps, runs)) + "]"),
        ):  # fmt: skip
            with self.subTest(name=name):
                path = self.write("doc.json", text)
                code, out, err = self.check_in_process([path])
                self.assertEqual((code, err), (0, ""))
                self.assertEqual(json.loads(out)["valid"], 1 if name == "pretty" else 5)

    def test_a_broken_first_value_is_read_as_json_lines(self) -> None:
        # No unambiguous document: every line is reported, nothing is dropped silently.
        path = self.write("broken.json", '{"id": "r1",\n   "object": oops}\n\n\n')
        code, out, err = self.check_in_process([path])
        self.assertEqual((code, json.loads(out)["invalid"]), (1, 2))
        self.assertEqual(len(err.splitlines()), 2)

    def test_one_verdict_in_every_layout(self) -> None:
        # 1e400 and NaN are refused by ThreadRun.from_json; so in a document or an array,
        # where the run is reported and the next one read.
        bad_runs = {
            "1e400": valid_line(1)[:-1] + ', "temperature": 1e400}',
            "NaN": valid_line(1)[:-1] + ', "temperature": NaN}',
            "-Infinity": valid_line(1)[:-1] + ', "top_p": -Infinity}',
        }
        for what, bad in bad_runs.items():
            with self.assertRaises(check.ThreadRunError):
                check.ThreadRun.from_json(bad)
            runs = [valid_line(0), bad, valid_line(2)]
            for layout, text in (
                ("json lines", "\n".join(runs) + "\n"),
                ("array", "[\n" + ",\n".join(runs) + "\n]\n"),
                ("pretty", "\n".join(
                    json.dumps(json.loads(run), indent=2) if run != bad else
                    bad.replace(", ", ",\n  ") for run in runs)),
            ):  # fmt: skip
                with self.subTest(what=what, layout=layout):
                    path = self.write("layout.json", text)
                    code, out, err = self.check_in_process([path])
                    summary = json.loads(out)
                    self.assertEqual((code, summary["valid"], summary["invalid"]), (1, 2, 1))
                    self.assertEqual(len(err.splitlines()), 1, err)
                    self.assertIn("invalid JSON: %s" % what, err)


class LineLimitTest(TempDir):
    def test_a_huge_line_is_reported_without_taking_the_memory(self) -> None:
        # A 300 MB line (sparse: no disk, NUL bytes) between two valid runs, checked with
        # 200 MB of address space: reported as too large, the next line read.
        path = os.path.join(self.tmp, "huge.jsonl")
        with open(path, "wb") as fh:
            fh.write(valid_line(1).encode() + b"\n")
            fh.seek(300 * 1024 * 1024, os.SEEK_CUR)
            fh.write(b"\n" + valid_line(2).encode() + b"\n")
        proc = run_limited(["check", "--json", path], 400 * 1024 * 1024)
        self.assertNotIn("Traceback", proc.stderr)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertEqual(
            proc.stderr,
            "%s:2: line too large: %d bytes or more, the limit is %d (MAX_LINE_BYTES)\n"
            % (path, 300 * 1024 * 1024 + 1, check.MAX_LINE_BYTES),
        )
        summary = json.loads(proc.stdout)
        self.assertEqual((summary["valid"], summary["invalid"]), (2, 1))


    def test_a_document_beyond_memory_is_an_unreadable_file(self) -> None:
        # A whole-file document is read whole: when memory runs out, that file is reported
        # as unreadable (exit 2) and the other files are still checked.
        path = os.path.join(self.tmp, "big.json")
        with open(path, "w") as fh:
            # 100 MB: its bytes and then its text, each with the string decoded from it,
            # need more than the 200 MB given, whatever the interpreter's own size
            fh.write('[\n{"id": "' + "a" * (100 * 1024 * 1024) + '"}\n]\n')
        good = self.write("good.jsonl", valid_line(1) + "\n")
        for jobs in ("1", "2"):
            with self.subTest(jobs=jobs):
                proc = run_limited(["check", "--jobs", jobs, path, good], 200 * 1024 * 1024)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertEqual(
                    proc.stderr,
                    "threadrun: error: cannot read %r: out of memory (a whole-file JSON "
                    "document is read whole: convert it to JSON Lines)\n" % path,
                )
                self.assertIn("1 run in 2 files: 1 valid, 0 invalid", proc.stdout)
        with open(path, "rb") as stdin:
            proc = run_limited(["check", "-"], 200 * 1024 * 1024, stdin=stdin)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertEqual(
            proc.stderr,
            "threadrun: error: cannot read standard input: out of memory (a whole-file JSON "
            "document is read whole: convert it to JSON Lines)\n",
        )


def run_limited(args: List[str], address_space: int, stdin: Any = None) -> Any:
    """``python -m threadrun ARGS`` with ``address_space`` bytes of memory (ulimit -v)."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    return run_cli(*args, stdin=stdin, timeout=120, preexec_fn=limit)


@unittest.skipUnless(os.path.exists("/dev/full"), "needs /dev/full")
class OutputFailureTest(TempDir):
    def run_to(self, args: List[str], stdout: Any, stderr: Any = subprocess.PIPE) -> Any:
        return run_cli(*args, stdout=stdout, stderr=stderr, timeout=60)

    def test_check_to_a_full_disk(self) -> None:
        path = self.write("runs.jsonl", archive(200))
        for args in (["check", path], ["check", "--json", path], ["check", "--jobs", "2", path]):
            with self.subTest(args=args), open("/dev/full", "w") as full:
                proc = self.run_to(args, full)
                self.assertEqual(proc.returncode, 6, proc.stderr)
                self.assertNotIn("Traceback", proc.stderr)
                self.assertNotIn("Exception ignored", proc.stderr)
                self.assertTrue(
                    proc.stderr.endswith(
                        "threadrun: error: cannot write the output: No space left on device\n"
                    ),
                    proc.stderr,
                )

    def test_closed_stdout(self) -> None:
        path = self.write("runs.jsonl", archive(20))
        # stdout closed, as a shell's >&-
        proc = run_cli("check", path, stdout=None, timeout=60, preexec_fn=lambda: os.close(1))
        self.assertEqual(proc.returncode, 6, proc.stderr)
        self.assertEqual(proc.stderr, "threadrun: error: stdout is closed: nothing done\n")

    def test_check_report_to_a_full_disk(self) -> None:
        path = self.write("runs.jsonl", archive(200))
        with open("/dev/full", "w") as full:
            proc = self.run_to(["check", path], subprocess.PIPE, full)
        self.assertEqual((proc.returncode, proc.stdout), (6, ""))

    def test_get_and_cancel_say_what_the_server_did(self) -> None:
        testing = load_testing()
        key = cli_env()["OPENAI_API_KEY"]
        with testing.FakeRunsServer(api_key=key) as server:
            added = server.add_run("thread_full", status="in_progress")
            for command, said in (
                ("get", "nothing was changed on the server"),
                ("cancel", "the server accepted the cancellation (run %s is cancelling)"
                 % added["id"]),
            ):  # fmt: skip
                with self.subTest(command=command), open("/dev/full", "w") as full:
                    args = ["--base-url", server.base_url, command, "thread_full", added["id"]]
                    proc = self.run_to(args, full)
                    self.assertEqual(proc.returncode, 6, proc.stderr)
                    self.assertEqual(
                        proc.stderr,
                        "threadrun: error: cannot write the output: No space left on device; "
                        "%s\n" % said,
                    )
            # A reader that went away (| head): 141, and cancel still says what happened.
            added = server.add_run("thread_full", status="in_progress")
            read, write = os.pipe()
            os.close(read)
            with os.fdopen(write, "w") as closed:
                proc = self.run_to(
                    ["--base-url", server.base_url, "cancel", "thread_full", added["id"]], closed
                )
            self.assertEqual(proc.returncode, 141, proc.stderr)
            self.assertIn("the server accepted the cancellation", proc.stderr)


# --------------------------------------------------------------------------------------------
# --jobs
# --------------------------------------------------------------------------------------------


class JobsTest(TempDir):
    def files(self) -> List[str]:
        return [
            self.write("a.jsonl", archive(700, seed=1)),
            self.write("b.json", json.dumps([json.loads(valid_line(i)) for i in range(9)], indent=1)),  # noqa: E501
            self.write("tiny.jsonl", valid_line(1) + "\n" + valid_line(2)[:30] + "\n"),
            self.write("c.jsonl", archive(300, seed=2).rstrip("\n")),  # no final newline
            self.write("empty.jsonl", ""),
            os.path.join(self.tmp, "missing.jsonl"),
            self.gz("d.jsonl.gz", archive(200, seed=3)),
        ]  # fmt: skip

    def gz(self, name: str, text: str) -> str:
        import gzip

        return self.write(name, gzip.compress(text.encode()))

    def test_same_output_as_one_process(self) -> None:
        files = self.files()
        expected = self.check_in_process(files)
        self.assertEqual(expected[0], 2)
        self.assertGreater(len(expected[2].splitlines()), 50)
        for jobs in (2, 3, 8):
            for range_bytes in (1, 100, 4096, None):  # 1: a range per line
                with self.subTest(jobs=jobs, range_bytes=range_bytes):
                    got = self.check_in_process(files, jobs=jobs, range_bytes=range_bytes)
                    self.assertEqual(got, expected)

    def test_spawn_start_method(self) -> None:
        files = self.files()
        expected = self.check_in_process(files)
        got = self.check_in_process(files, jobs=2, range_bytes=5000, start_method="spawn")
        self.assertEqual(got, expected)

    def test_command_line_output_is_identical(self) -> None:
        files = self.files()
        files.insert(2, "-")
        stdin = archive(50, seed=9)
        for extra in ([], ["--json"]):
            with self.subTest(extra=extra):
                one = run_cli("check", *extra, *files, input=stdin)
                for jobs in ("2", "0"):
                    many = run_cli("check", "--jobs", jobs, *extra, *files, input=stdin)
                    self.assertEqual(
                        (many.returncode, many.stdout, many.stderr),
                        (one.returncode, one.stdout, one.stderr),
                    )
        self.assertEqual(one.returncode, 2)

    def test_help_says_how_files_are_split(self) -> None:
        proc = run_cli("check", "--help")
        text = " ".join(proc.stdout.split())
        self.assertIn(" -j N worker processes (default 1; 0: one per core)", text)
        self.assertIn("a .gz file cannot be split", text)
        for bad in ("-1", "two"):
            with self.subTest(jobs=bad):
                proc = run_cli("check", "--jobs", bad, os.devnull)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertIn("--jobs", proc.stderr)

    def big_archive(self, megabytes: int) -> str:
        line = (valid_line(1) + "\n").encode()
        path = os.path.join(self.tmp, "big.jsonl")
        with open(path, "wb") as fh:
            block = line * (1024 * 1024 // len(line))
            for _ in range(megabytes):
                fh.write(block)
        return path

    @contextlib.contextmanager
    def running(
        self, method: Optional[str], *args: str, started: int = 2
    ) -> Iterator[Tuple[subprocess.Popen, List[int]]]:  # type: ignore[type-arg]
        """``check ARGS`` in its own process group once ``started`` workers run (0: as soon
        as it has a child process): the process and its workers' ids. ``method``: the start
        method (None: the interpreter's default, with ``python -m threadrun``)."""
        if method is None:
            command = [sys.executable, "-m", "threadrun", "check", *args]
        else:
            command = [sys.executable, "-c", WITH_START_METHOD, method, "check", *args]
        proc = subprocess.Popen(
            command,
            cwd=REPO,
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            encoding="utf-8",
            start_new_session=True,  # its own process group, as a shell job
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            workers: List[int] = []
            while time.monotonic() < deadline:
                if started == 0 and child_pids(proc.pid):
                    break
                workers = worker_pids(proc.pid, method or DEFAULT_START_METHOD)
                if started and len(workers) >= started:
                    break
                time.sleep(0.005)  # polling for processes to appear: there is no event
            else:
                self.fail("the workers never started")
            yield proc, workers
        finally:
            with contextlib.suppress(ProcessLookupError):  # nothing left in the group
                os.killpg(proc.pid, signal.SIGKILL)  # it and any worker it left running
            proc.communicate()

    def test_ctrl_c_stops_every_worker(self) -> None:
        path = self.big_archive(150)
        for method in START_METHODS:
            with self.subTest(start_method=method), self.running(
                method, "--jobs", "2", path
            ) as (proc, workers):
                os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole group
                _, err = proc.communicate(timeout=60)
                self.assertEqual(proc.returncode, 130, err)
                self.assertEqual(err, "threadrun: interrupted\n")
                for pid in workers:
                    self.assertFalse(alive(pid), "worker %d left running" % pid)

    def test_ctrl_c_while_the_workers_start(self) -> None:
        # At the birth of the first child process (a forked worker, a spawned interpreter,
        # the forkserver): nothing may print a traceback, and no worker may be left running
        # (each holds the output pipes: communicate() would time out).
        path = self.big_archive(150)
        for method in START_METHODS:
            with self.subTest(start_method=method), self.running(
                method, "--jobs", "2", path, started=0
            ) as (proc, _):
                os.killpg(proc.pid, signal.SIGINT)
                _, err = proc.communicate(timeout=60)
                self.assertEqual(proc.returncode, 130, err)
                self.assertEqual(err, "threadrun: interrupted\n")

    def test_a_worker_that_dies_is_an_error_naming_the_file(self) -> None:
        path = self.big_archive(150)
        for method in START_METHODS:
            with self.subTest(start_method=method), self.running(
                method, "--jobs", "2", path
            ) as (proc, workers):
                os.kill(workers[0], signal.SIGKILL)
                out, err = proc.communicate(timeout=60)
                self.assertEqual(proc.returncode, 1, err)
                self.assertEqual(out, "")
                self.assertNotIn("Traceback", err)
                self.assertRegex(
                    err,
                    r"threadrun: error: a worker process died \(killed by signal 9\) "
                    r"while checking %r" % path,
                )
                for pid in workers:
                    self.assertFalse(alive(pid), "worker %d left running" % pid)


# ``python -c WITH_START_METHOD METHOD ARGS...``: ``python -m threadrun ARGS...`` with the
# --jobs workers started by METHOD.
WITH_START_METHOD = (
    "import multiprocessing, sys; multiprocessing.set_start_method(sys.argv[1]); "
    "from threadrun.__main__ import main; sys.exit(main(sys.argv[2:]))"
)
DEFAULT_START_METHOD = multiprocessing.get_context().get_start_method()
# The default (as ``python -m threadrun`` runs), then each other one.
START_METHODS: List[Optional[str]] = [None] + [
    method for method in multiprocessing.get_all_start_methods() if method != DEFAULT_START_METHOD
]


def child_pids(pid: int) -> List[int]:
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as fh:
            return [int(word) for word in fh.read().split()]
    except OSError:
        return []


def command_line(pid: int) -> bytes:
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as fh:
            return fh.read()
    except OSError:
        return b""


def worker_pids(pid: int, method: str) -> List[int]:
    """The --jobs workers of process ``pid``: its forked children, its spawned children once
    they run (not the resource tracker), or the children of its forkserver."""
    children = child_pids(pid)
    if method == "fork":
        return children
    if method == "spawn":
        return [child for child in children if b"spawn_main" in command_line(child)]
    servers = [child for child in children if b"forkserver" in command_line(child)]
    return [worker for server in servers for worker in child_pids(server)]


def alive(pid: int) -> bool:
    try:
        with open("/proc/%d/stat" % pid) as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


# --------------------------------------------------------------------------------------------
# The progress line
# --------------------------------------------------------------------------------------------


class ProgressTest(TempDir):
    def test_live_line_on_a_terminal(self) -> None:
        line = (valid_line(1) + "\n").encode()
        path = self.write("runs.jsonl", line * (40 * 1024 * 1024 // len(line)) + b"{oops\n")
        expected = run_cli("check", path)
        for jobs in ("1", "2"):
            with self.subTest(jobs=jobs):
                code, out, err = run_on_terminal(["check", "--jobs", jobs, path])
                self.assertEqual((code, out), (expected.returncode, expected.stdout))
                self.assertIn(" runs/s, ", err)
                self.assertRegex(err, r"\rthreadrun: [\d.]+ [kMG]?B of 4\d\.\d MB, \d+ runs")
                # cleared before the report line and at the end; the report line intact
                self.assertIn("\r\x1b[K%s:" % path, err)
                # after the report line, only the live line (it goes on while the check does)
                # and, last, its clearing: nothing of it is left on the screen
                report = expected.stderr.replace("\n", "\r\n")
                self.assertIn(report, err)
                tail = err.rsplit(report, 1)[1]
                self.assertRegex(tail, r"\A(?:\rthreadrun: [^\r\n]*\x1b\[K|\r\x1b\[K)*\Z")
                self.assertTrue(tail == "" or tail.endswith("\r\x1b[K"), repr(tail))
                code, out, err = run_on_terminal(["check", "--quiet", "--jobs", jobs, path])
                self.assertEqual(err, expected.stderr.replace("\n", "\r\n"))


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------


class SummaryTest(TempDir):
    def runs(self) -> List[Any]:
        return [check.ThreadRun.from_json(valid_line(index)) for index in range(300)]

    def test_merge_of_any_split_is_the_same(self) -> None:
        runs = self.runs()
        whole = check.Summary()
        for run in runs:
            whole.add(run)
        whole.invalid = 5
        rng = random.Random(7)
        for attempt in range(30):
            with self.subTest(attempt=attempt):
                shuffled = list(runs)
                rng.shuffle(shuffled)
                cuts = sorted(rng.sample(range(1, len(runs)), rng.randint(1, 12)))
                parts = []
                for start, end in zip([0, *cuts], [*cuts, len(runs)]):
                    part = check.Summary()
                    for run in shuffled[start:end]:
                        part.add(run)
                    parts.append(pickle.loads(pickle.dumps(part)))
                parts[rng.randrange(len(parts))].invalid = 5
                rng.shuffle(parts)
                # any grouping: fold left, fold right, or pairwise
                left = functools.reduce(lambda a, b: a.merge(b), copy_all(parts), check.Summary())
                right = functools.reduce(lambda a, b: b.merge(a), copy_all(parts)[::-1])
                self.assertEqual(left, whole)
                self.assertEqual(right, whole)
                self.assertEqual(left.to_dict(), whole.to_dict())

    def test_to_dict_is_what_check_json_prints(self) -> None:
        text = archive(400, seed=5)
        path = self.write("runs.jsonl", text)
        proc = run_cli("check", "--json", path)
        summary = check.Summary()
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                summary.add(check.ThreadRun.from_json(line))
            except check.ThreadRunError:
                summary.invalid += 1
        summary.files = 1
        self.assertEqual(summary.to_dict(), json.loads(proc.stdout))

    def test_percentiles_nearest_rank(self) -> None:
        for values, p50, p95 in (
            ([7], 7, 7),
            ([1, 2], 1, 2),
            (list(range(1, 101)), 50, 95),
            (list(range(1, 21)), 10, 19),
            ([5, 5, 5, 1], 5, 5),
        ):
            summary = check.Summary()
            for value in values:
                summary.add(check.ThreadRun.from_dict(run_line(started_at=0, completed_at=value)))
            result = summary.to_dict()["duration_seconds"]
            self.assertEqual((result["p50"], result["p95"], result["max"]), (p50, p95, max(values)))


class TwoFilesTest(TempDir):
    def test_summary_next_to_the_single_runtime_file(self) -> None:
        # What a worker needs, shipped as two files: threadrun.py (the runtime) and archive.py.
        for source, target in (("__init__.py", "threadrun.py"), ("archive.py", "archive.py")):
            shutil.copy(os.path.join(REPO, "threadrun", source), os.path.join(self.tmp, target))
        code = (
            "import sys; sys.path.insert(0, sys.argv[1])\n"
            "import json, archive, threadrun\n"
            "summary = archive.Summary()\n"
            "summary.add(threadrun.ThreadRun.from_json(sys.argv[2]))\n"
            "print(json.dumps(summary.to_dict()))\n"
        )
        proc = subprocess.run(
            [sys.executable, "-I", "-S", "-c", code, self.tmp, valid_line(3)],
            capture_output=True,
            encoding="utf-8",
            timeout=60,
        )
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(json.loads(proc.stdout)["by_status"], {"in_progress": 1})


def copy_all(parts: List[Any]) -> List[Any]:
    return [pickle.loads(pickle.dumps(part)) for part in parts]


# --------------------------------------------------------------------------------------------
# Dask and Spark: the recipes of docs/archives.md
# --------------------------------------------------------------------------------------------


def docs_block(title: str) -> str:
    """The Python block under the heading ``title`` of docs/archives.md."""
    with open(os.path.join(REPO, "docs", "archives.md"), encoding="utf-8") as fh:
        text = fh.read()
    section = text[text.index(title) :]
    start = section.index("```python\n") + len("```python\n")
    return section[start : section.index("```\n", start)]


class EngineRecipeTest(TempDir):
    """The recipes of docs/archives.md, run as written on archive/ in a temporary directory."""

    def run_recipe(self, engine: str, paths: List[str], **env: str) -> None:
        code = docs_block("## The function each worker runs") + docs_block("## " + engine)
        namespace: Dict[str, Any] = {"__name__": "readme"}
        # Workers import threadrun from the repository, whatever the current directory.
        env["PYTHONPATH"] = REPO
        cwd, path, saved = os.getcwd(), list(sys.path), dict(os.environ)
        sys.path.insert(0, REPO)
        os.environ.update(env)
        os.chdir(self.tmp)
        try:
            with contextlib.redirect_stdout(io.StringIO()) as printed:
                exec(compile(code, "docs/archives.md (%s)" % engine, "exec"), namespace)
        finally:
            os.chdir(cwd)
            sys.path[:] = path
            os.environ.clear()
            os.environ.update(saved)
        expected = json.loads(run_cli("check", "--json", *paths).stdout)
        self.assertEqual(namespace["summary"].to_dict(), expected)
        self.assertEqual(printed.getvalue(), "%s\n" % expected)
        self.assertEqual(expected["files"], len(paths))
        self.assertGreater(expected["invalid"], 50)

    def archives(self, gz: bool = False) -> List[str]:
        os.mkdir(os.path.join(self.tmp, "archive"))
        paths = [
            self.write(os.path.join("archive", "runs-%d.jsonl" % index), archive(900, seed=index))
            for index in range(3)
        ]
        if gz:
            import gzip

            data = gzip.compress(archive(500).encode())
            paths.append(self.write(os.path.join("archive", "runs-3.jsonl.gz"), data))
        return sorted(paths)

    def test_dask(self) -> None:
        try:
            import dask.bag  # noqa: F401
        except ImportError:
            self.skipTest("dask[bag] is not installed")
        self.run_recipe("Dask", self.archives())

    def test_spark(self) -> None:
        try:
            import pyspark  # noqa: F401
        except ImportError:
            self.skipTest("pyspark is not installed")
        if shutil.which("java") is None:
            self.skipTest("pyspark needs a JDK")
        # Everything on loopback: the driver binds 127.0.0.1, and no web UI is started.
        self.run_recipe(
            "Spark",
            self.archives(gz=True),
            SPARK_LOCAL_IP="127.0.0.1",
            PYSPARK_SUBMIT_ARGS="--conf spark.ui.enabled=false "
            "--conf spark.driver.bindAddress=127.0.0.1 pyspark-shell",
        )


if __name__ == "__main__":
    unittest.main()
