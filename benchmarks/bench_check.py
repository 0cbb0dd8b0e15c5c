"""Throughput and memory of ``threadrun check`` on a large JSON Lines archive.

    python benchmarks/bench_check.py [--lines N] [--rounds R] [--quick] [--keep DIR]

Generates, in a temporary directory, a JSON Lines archive of realistic run objects (every
status; small runs as the API returns them, and larger ones with function tools, long
instructions, metadata, usage, tool calls; a few invalid and blank lines), then measures:

- throughput, in process: ``threadrun.archive.check_files`` (the whole command: reading,
  validating every line with ``ThreadRun.from_json``, counting, reporting the invalid lines to
  a null sink) beside the floor, a loop that only calls ``json.loads`` on each line of the
  same file, read the same way. The loops are timed as every table is (``_common.measure``:
  rounds interleaved, medians; one pass over the file per sample, wall time, the collector
  on). Target (``_common.TARGETS``): check at 0.75x the floor's rate or better. A third
  loop times ``ThreadRun.from_json`` alone on each line: the distance from it to check is
  check's own cost (line numbers, counting, the summary), the rest is the library's parse;
- the wall time of the real command in a subprocess (``python -m threadrun check FILE``),
  interpreter start-up included;
- memory: peak RSS (``ru_maxrss``) and tracemalloc peak of a fresh subprocess that runs check
  on a prefix of the archive and on the whole of one four times larger: flat memory means
  the two peaks are about equal whatever the number of lines;
- ``check --jobs N`` for N from 1 to every core, on the same archive: throughput (wall time,
  rounds interleaved as above; target: ``--jobs 2`` at 1.6x ``--jobs 1`` or better), the CPU
  time of all the processes (what splitting costs, whatever the machine's load), the peak
  RSS of the parent and of the largest worker (fresh subprocess), and ``--jobs 1`` with the
  progress line drawn (to a null sink) beside it. Every variant's output is checked equal to
  ``--jobs 1``'s first.

The file is read from the page cache after the first round, so this measures CPU, not disk.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Tuple, Type

from _common import (
    ROOT,
    Candidate,
    fmt_count,
    judge,
    measure,
    measure_calls,
    print_table,
    print_targets,
)

import threadrun
from threadrun import ThreadRun, ThreadRunError
from threadrun._cli_check import check_files
from threadrun.testing import WEATHER_TOOL, _run_object

STATUSES = [  # (status, weight): an archive is mostly finished runs
    ("completed", 62),
    ("failed", 6),
    ("cancelled", 4),
    ("expired", 3),
    ("incomplete", 3),
    ("requires_action", 5),
    ("in_progress", 7),
    ("queued", 8),
    ("cancelling", 2),
]
MODELS = ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "o3-mini"]
WORDS = [
    "you", "are", "a", "helpful", "assistant", "answer", "the", "question", "using", "tools",
    "provided", "be", "concise", "cite", "documents", "never", "invent", "facts", "when",
    "unsure", "ask", "user", "for", "clarification",
]  # fmt: skip

INVALID_LINES = [
    b'{"id": "run_bad", "object": "thread.run", "created_at": 1699075072',  # truncated
    b'{"id": 42, "object": "thread.run"}',
    b'{"id":"run_x","object":"thread.run","created_at":"yesterday","thread_id":"t",'
    b'"assistant_id":"a","status":"completed","model":"gpt-4o"}',
    b'{"id":"run_x","object":"thread.run","created_at":1,"thread_id":"t","assistant_id":"a",'
    b'"status":"completed","model":"gpt-4o","metadata":{"n":1}}',
    b"[]",
    b"garbage",
]


def make_run(rng: random.Random, index: int) -> Dict[str, Any]:
    status = rng.choices([s for s, _ in STATUSES], [w for _, w in STATUSES])[0]
    created = 1_700_000_000 + index * 7 + rng.randrange(5)
    started = None if status in ("queued",) else created + rng.randrange(3)
    run = _run_object(  # the fake server's run, every field as the API sends it
        id="run_%024x" % rng.getrandbits(96),
        created_at=created,
        assistant_id="asst_%03d" % rng.randrange(40),
        thread_id="thread_%024x" % rng.getrandbits(96),
        status=status,
        started_at=started,
        expires_at=None if status in ("completed", "failed", "cancelled") else created + 600,
        model=rng.choice(MODELS),
        instructions=None,
    )
    size = rng.random()
    if size < 0.35:
        run["instructions"] = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(20, 80)))
    if size < 0.10:  # the big ones: long instructions, several tools, full metadata
        run["instructions"] = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(300, 900)))
        run["tools"] = [WEATHER_TOOL, {"type": "code_interpreter"}, {"type": "file_search"}]
        files = ["file-%08x" % i for i in range(6)]
        run["tool_resources"] = {"code_interpreter": {"file_ids": files}}
        run["metadata"] = {"key_%d" % i: "value %d" % rng.randrange(10**6) for i in range(16)}
    elif rng.random() < 0.5:
        run["tools"] = [WEATHER_TOOL]
        run["metadata"] = {"user": "user_%d" % rng.randrange(1000), "session": "s%d" % index}
    end = None if started is None else started + int(rng.expovariate(1 / 12)) + 1
    if status in ("completed", "failed", "incomplete"):
        prompt = rng.randrange(100, 20_000)
        completion = rng.randrange(5, 2_000)
        run["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
    if status == "completed":
        run["completed_at"] = end
    elif status == "failed":
        run["failed_at"] = end
        run["last_error"] = {"code": "server_error", "message": "Sorry, something went wrong."}
    elif status == "cancelled":
        run["cancelled_at"] = end
    elif status == "incomplete":
        run["incomplete_details"] = {"reason": "max_completion_tokens"}
    elif status == "requires_action":
        run["tools"] = [WEATHER_TOOL]
        run["required_action"] = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {
                "tool_calls": [
                    {
                        "id": "call_%024x" % rng.getrandbits(96),
                        "type": "function",
                        "function": {
                            "name": "get_current_weather",
                            "arguments": '{"location":"Paris","unit":"celsius"}',
                        },
                    }
                ]
            },
        }
    return run


def generate(path: str, lines: int, seed: int = 20240601) -> Dict[str, int]:
    """Write ``lines`` lines: runs, and one invalid or blank line in about 2,000."""
    rng = random.Random(seed)
    # A pool of distinct runs, written over and over with fresh ids: fast to generate, and
    # still thousands of distinct shapes, sizes and durations.
    pool = [json.dumps(make_run(rng, i), separators=(",", ":")).encode() for i in range(4000)]
    counts = {"runs": 0, "invalid": 0, "blank": 0, "bytes": 0}
    with open(path, "wb") as out:
        for n in range(lines):
            if n % 2000 == 1999:
                if n % 6000 == 5999:
                    line = b""
                    counts["blank"] += 1
                else:
                    line = INVALID_LINES[(n // 2000) % len(INVALID_LINES)]
                    counts["invalid"] += 1
            else:
                line = pool[n % len(pool)].replace(b'"id":"run_', b'"id":"run_%08x' % n, 1)
                counts["runs"] += 1
            out.write(line + b"\n")
            counts["bytes"] += len(line) + 1
    return counts


class NullSink:
    """A text stream that drops everything."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def each_line(path: str, parse: Callable[[bytes], Any], error: Type[Exception]) -> int:
    """``parse`` on each line of the file (``error`` ignored), nothing else."""
    n = 0
    with open(path, "rb") as lines:
        for line in lines:
            try:
                parse(line)
            except error:
                pass
            n += 1
    return n


def floor(path: str) -> int:
    """The floor: json.loads on each line of the file, nothing else."""
    return each_line(path, json.loads, ValueError)


def parse_only(path: str) -> int:
    """For reference: ThreadRun.from_json on each line, nothing else (what check builds on)."""
    return each_line(path, ThreadRun.from_json, ThreadRunError)


def check(path: str) -> int:
    sink: Any = NullSink()
    return check_files([path], out=sink, err=sink)


MEMORY_SCRIPT = r"""
import json, resource, sys, tracemalloc
sys.path.insert(0, sys.argv[1])
from threadrun._cli_check import check_files
from threadrun.testing import _run_object
class Null:
    def write(self, text): return len(text)
    def flush(self): pass
if sys.argv[3] == "tracemalloc":
    tracemalloc.start()
check_files([sys.argv[2]], out=Null(), err=Null())
peak = tracemalloc.get_traced_memory()[1] if tracemalloc.is_tracing() else None
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rss_kib": rss, "traced_peak": peak}))
"""


def memory(path: str, mode: str) -> Dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, ROOT, path, mode],
        stdout=subprocess.PIPE,
        check=True,
    )
    result: Dict[str, Any] = json.loads(proc.stdout)
    return result


def subprocess_wall(path: str) -> float:
    start = time.perf_counter()
    with open(os.devnull, "wb") as null:
        proc = subprocess.run(
            [sys.executable, "-m", "threadrun", "check", path], cwd=ROOT, stdout=null, stderr=null
        )
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit("check exited with %d" % proc.returncode)
    return elapsed


JOBS_MEMORY_SCRIPT = r"""
import json, resource, sys
sys.path.insert(0, sys.argv[1])
from threadrun._cli_check import check_files
from threadrun.testing import _run_object
class Null:
    def write(self, text): return len(text)
    def flush(self): pass
check_files([sys.argv[2]], out=Null(), err=Null(), jobs=int(sys.argv[3]))
print(json.dumps({
    "parent_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "worker_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
}))
"""


def check_output(path: str, **options: Any) -> Tuple[int, str, str]:
    """check's exit status, --json summary and report (less the progress line's drawing)."""
    out, err = io.StringIO(), io.StringIO()
    status = check_files([path], out=out, err=err, as_json=True, **options)
    return status, out.getvalue(), re.sub("\r[^\n]*?\x1b\\[K", "", err.getvalue())


def with_workers(func: Callable[[], Any]) -> Callable[[], Tuple[float, float]]:
    """A sampler of one call of ``func``: wall time, and the CPU time of this process and of
    the worker processes it waited for."""

    def sample() -> Tuple[float, float]:
        before, wall = os.times(), time.perf_counter()
        func()
        wall, after = time.perf_counter() - wall, os.times()
        return wall, sum(after[:4]) - sum(before[:4])

    return sample


def jobs_table(path: str, lines: int, rounds: int) -> None:
    """check --jobs N from 1 to every core, and the progress line's cost."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    sink: Any = NullSink()
    options = {"jobs %d" % n: {"jobs": n} for n in range(1, max(cores or 1, 2) + 1)}
    options["progress"] = {"jobs": 1, "progress": True}
    expected = check_output(path)
    for key, option in options.items():
        if check_output(path, **option) != expected:
            raise SystemExit("check with %s: the output differs from --jobs 1" % key)
    candidates = [
        Candidate(key, "--jobs %d" % option["jobs"] + (", progress line" if key == "progress"
                  else ""), functools.partial(check_files, [path], out=sink, err=sink, **option))
        for key, option in options.items()
    ]  # fmt: skip
    load = os.getloadavg()[0]
    timings = measure([(c.key, with_workers(c.func)) for c in candidates if c.func], rounds)
    load = max(load, os.getloadavg()[0])
    rate = {key: lines / timing.wall for key, timing in timings.items()}
    rows = []
    for c in candidates:
        peaks = {"parent_kib": 0, "worker_kib": 0}
        if c.key != "progress":
            proc = subprocess.run(
                [sys.executable, "-c", JOBS_MEMORY_SCRIPT, ROOT, path, c.key.split()[1]],
                stdout=subprocess.PIPE,
                check=True,
            )
            peaks = json.loads(proc.stdout)
        rows.append([
            c.label, "%.3f" % timings[c.key].wall, fmt_count(rate[c.key]),
            "%.2f" % (rate[c.key] / rate["jobs 1"]), "%.3f" % timings[c.key].cpu,
            "%.1f" % (peaks["parent_kib"] / 1024) if peaks["parent_kib"] else "",
            "%.1f" % (peaks["worker_kib"] / 1024) if peaks["worker_kib"] else "",
        ])  # fmt: skip
    print_table(
        "check --jobs, %d lines (%.0f MB), %d cores, load average up to %.1f; median of %d "
        "interleaved rounds; output identical to --jobs 1" % (
            lines, os.path.getsize(path) / 1e6, cores or 1, load, rounds),
        ["", "seconds", "lines/s", "x jobs 1", "CPU s, all", "parent MiB", "worker MiB"],
        rows,
        first_width=34,
    )  # fmt: skip
    cpu = {key: timing.cpu for key, timing in timings.items()}
    print_targets(judge("check --jobs", candidates, {"rate": rate, "cpu": cpu}))
    print(
        "  CPU time of all processes, --jobs 2 / --jobs 1: %.2fx (what splitting costs; on two "
        "idle cores --jobs 2 could reach %.2fx)" % (cpu["jobs 2"] / cpu["jobs 1"],
                                                     2 * cpu["jobs 1"] / cpu["jobs 2"])
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, help="lines in the timed archive (default 200000)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--quick", action="store_true", help="20,000 lines, 3 rounds")
    parser.add_argument("--keep", metavar="DIR", help="write the archives here, keep them")
    parser.add_argument("--only-jobs", action="store_true", help="only the --jobs table")
    args = parser.parse_args()
    lines = args.lines or (20_000 if args.quick else 200_000)
    rounds = 3 if args.quick and args.rounds == 5 else args.rounds
    small, large = (10_000, 40_000) if args.quick else (100_000, 400_000)

    workdir = args.keep or tempfile.mkdtemp(prefix="threadrun-bench-check-")
    os.makedirs(workdir, exist_ok=True)
    try:
        print(
            "threadrun %s, Python %s, %s"
            % (threadrun.__version__, sys.version.split()[0], sys.platform)
        )
        archive = os.path.join(workdir, "runs-%d.jsonl" % lines)
        counts = generate(archive, lines)
        print(
            "archive: %d lines, %.1f MB (%d runs, %d invalid, %d blank), mean %d bytes/line"
            % (lines, counts["bytes"] / 1e6, counts["runs"], counts["invalid"], counts["blank"],
               counts["bytes"] // lines)
        )  # fmt: skip

        if args.only_jobs:
            jobs_table(archive, lines, rounds)
            return 0
        # Both read the file once before timing, so that every round finds it in the cache.
        floor(archive)
        parse_only(archive)
        status = check(archive)
        assert status == 1, "the archive has invalid lines: check must exit 1, not %d" % status
        candidates = [
            Candidate("floor", "floor: json.loads per line", lambda: floor(archive)),
            Candidate("from_json", "(ThreadRun.from_json per line)",
                      lambda: parse_only(archive)),
            Candidate("check", "check (in process)", lambda: check(archive)),
        ]  # fmt: skip
        timings = measure_calls(candidates, 1, rounds)
        rate = {key: lines / timing.wall for key, timing in timings.items()}
        wall = subprocess_wall(archive)
        rows = [
            [c.label, "%.3f" % timings[c.key].wall, fmt_count(rate[c.key]),
             "%.2f" % (rate[c.key] / rate["floor"])]
            for c in candidates
        ]  # fmt: skip
        rows.append(["python -m threadrun check (wall)", "%.3f" % wall, fmt_count(lines / wall),
                     ""])  # fmt: skip
        print_table(
            "throughput, %d lines, median of %d interleaved rounds (wall time)" % (lines, rounds),
            ["", "seconds", "lines/s", "x floor"],
            rows,
            first_width=34,
        )
        print_targets(judge("check", candidates, {"rate": rate}))

        large_file = os.path.join(workdir, "runs-%d.jsonl" % large)
        generate(large_file, large, seed=7)
        small_file = os.path.join(workdir, "runs-%d.jsonl" % small)
        with open(large_file, "rb") as source, open(small_file, "wb") as target:
            for n, line in enumerate(source):
                if n == small:
                    break
                target.write(line)
        peaks: List[Tuple[int, str, Dict[str, Any], Dict[str, Any]]] = [
            (size, path, memory(path, "rss"), memory(path, "tracemalloc"))
            for size, path in ((small, small_file), (large, large_file))
        ]
        print_table(
            "memory, fresh subprocess per measurement",
            ["lines", "file MB", "peak RSS MiB", "tracemalloc peak KiB"],
            [
                [fmt_count(size), "%.1f" % (os.path.getsize(path) / 1e6),
                 "%.1f" % (rss["rss_kib"] / 1024), "%.1f" % (traced["traced_peak"] / 1024)]
                for size, path, rss, traced in peaks
            ],
            first_width=12,
        )  # fmt: skip
        growth_rss = peaks[1][2]["rss_kib"] / peaks[0][2]["rss_kib"]
        growth_traced = peaks[1][3]["traced_peak"] / peaks[0][3]["traced_peak"]
        print(
            "4x the lines: peak RSS x%.2f, tracemalloc peak x%.2f (flat: ~1.0)"
            % (growth_rss, growth_traced)
        )
        jobs_table(archive, lines, rounds)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
