"""Run every threadrun benchmark against its floor and its peers, and check the targets.

    python benchmarks/run.py --setup          # once: benchmarks/.venv with the peers, then run
    python benchmarks/run.py                  # everything (uses benchmarks/.venv if present)
    python benchmarks/run.py --quick          # fewer rounds, cached footprint
    python benchmarks/run.py --only from_dict,import --json out.json

One table per benchmark. Rows: threadrun, the floor (the least pure Python can do for the
same result), then each peer; a peer that is not installed prints "skipped: not installed"
and never fails the run. Columns: time per op (median of the repeats), ops/s, and the time
relative to threadrun ("3.00x" = takes three times as long as threadrun). Timed candidates
of one table run in the same process on the same payload, their repeats interleaved (one
timing of each per round, the order rotated) so a noisy neighbour falls on all alike. The
targets, and the measure each is judged on (wall or CPU time, bytes...), are listed once in
_common.TARGETS. The peers live only in benchmarks/requirements.txt: the library itself
depends on nothing.

Benchmarks (--only NAME, repeatable or comma-separated): from_dict, from_json, to_dict,
to_json, import, client, memory, stream, footprint, versions; "parse" = the first four.

Adding a table: a function of the Suite that makes its rows (_common.Candidate: a key, a
label, a function to time or None when a peer is missing), times them (_common.timed_table,
or _common.measure with samplers of its own and _common.print_table), and hands its figures
to suite.judge(table, rows, {measure: {row key: figure}}); then a line in BENCHMARKS below,
and a line per target in _common.TARGETS, under the table's name: the two rows, the limit
and the measure.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import gc
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from typing import Any, Callable, Dict, List, Optional, Tuple

import _common
import bench_client
import bench_parse
import bench_stream
import peers as peers_module
from _common import (
    HERE,
    ROOT,
    TARGETS,
    Candidate,
    compact_json,
    fmt_count,
    fmt_time,
    measure,
    measures,
    notes,
    print_table,
    table_rows,
    timed_table,
)

import threadrun
from tests.support import interpreters

VENV = os.path.join(HERE, ".venv")
CACHE = os.path.join(HERE, ".cache")
REQUIREMENTS = os.path.join(HERE, "requirements.txt")
RUNTIME = os.path.join(ROOT, "threadrun", "__init__.py")


class Suite:
    """What the benchmarks share in one run: options, payload, peers, results, targets."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.quick: bool = args.quick
        self.rounds: int = args.repeat or (5 if args.quick else 21)
        self.peers = peers_module.load()
        self.data = peers_module.run_payload()
        self.body = compact_json(self.data)
        self.extra_keys = len(threadrun.ThreadRun.from_dict(self.data).extra)
        self.results: Dict[str, Any] = {}
        self.judged: List[_common.Judged] = []

    def judge(
        self, table: str, rows: List[Candidate], figures: Dict[str, Dict[str, float]]
    ) -> None:
        self.judged += _common.judge(table, rows, figures)


# --------------------------------------------------------------------------------------------
# from_dict / from_json / to_dict / to_json: threadrun and its floor (bench_parse), then peers
# --------------------------------------------------------------------------------------------

PARSE_TITLES = {
    "from_dict": "from_dict: dict (27 keys) -> object",
    "from_json": "from_json: {size} bytes of JSON -> object",
    "to_dict": "to_dict: object -> dict",
    "to_json": "to_json: object -> compact JSON",
}
DROPPED = "drops the 8 unknown keys (no `extra`)"


def peer_candidates(suite: Suite) -> Dict[str, List[Candidate]]:
    """The rows after threadrun's and the floors' in each parse table; func None: skipped."""
    p, data, body = suite.peers, suite.data, suite.body
    sdk = p.OpenAIRun.model_validate(data) if p.OpenAIRun else None
    flat = p.FlatModel.model_validate(data) if p.FlatModel else None
    struct = p.msgspec.convert(data, p.RunStruct) if p.msgspec else None
    mash = p.RunMashumaro.from_dict(data) if p.mashumaro else None
    plain = peers_module.RunDC(**{k: v for k, v in data.items() if k in _common.KNOWN})
    run = threadrun.ThreadRun.from_dict(data)

    return {
        "from_dict": [
            Candidate("openai", "openai: Run.model_validate (pydantic v2)",
                      (lambda: p.OpenAIRun.model_validate(data)) if p.OpenAIRun else None,
                      "validates nested tools/usage/... into models; keeps unknown keys"),
            Candidate("pydantic", "pydantic: flat 19-field BaseModel.model_validate",
                      (lambda: p.FlatModel.model_validate(data)) if p.FlatModel else None,
                      "same fields as ThreadRun, nested values Any, extra='allow'"),
            Candidate("msgspec", "msgspec: convert(dict, Struct)",
                      (lambda: p.msgspec.convert(data, p.RunStruct)) if p.msgspec else None,
                      "compiled C; strict types; " + DROPPED),
            Candidate("mashumaro", "mashumaro: DataClassDictMixin.from_dict",
                      (lambda: p.RunMashumaro.from_dict(data)) if p.mashumaro else None,
                      "converts (str(x), int(x)) rather than checks; " + DROPPED),
            Candidate("mashumaro frozen", "mashumaro: the same, frozen dataclass",
                      (lambda: p.RunMashumaroFrozen.from_dict(data)) if p.mashumaro else None,
                      "immutable like ThreadRun: fields set through object.__setattr__; "
                      + DROPPED),
            Candidate("cattrs", "cattrs: Converter.structure(dict, dataclass)",
                      (lambda: p.cattrs_converter.structure(
                          data, peers_module.RunDC)) if p.cattrs else None,
                      "converts (str(x), int(x)); " + DROPPED),
            Candidate("dacite", "dacite: from_dict(dataclass, dict)",
                      (lambda: p.dacite.from_dict(peers_module.RunDC, data)) if p.dacite else None,
                      "checks types; " + DROPPED),
        ],
        "from_json": [
            Candidate("openai", "openai: Run.model_validate_json",
                      (lambda: p.OpenAIRun.model_validate_json(body)) if p.OpenAIRun else None,
                      "pydantic-core parses JSON in Rust; nested models"),
            Candidate("pydantic", "pydantic: flat 19-field BaseModel.model_validate_json",
                      (lambda: p.FlatModel.model_validate_json(body)) if p.FlatModel else None),
            Candidate("msgspec", "msgspec: json.Decoder(Struct).decode",
                      (lambda: p.struct_decoder.decode(body)) if p.msgspec else None,
                      "compiled C; drops the 8 unknown keys"),
        ],
        "to_dict": [
            Candidate("openai", "openai: Run.model_dump()", sdk.model_dump if sdk else None,
                      "27 keys, nested models dumped (copies)"),
            Candidate("pydantic", "pydantic: flat 19-field model.model_dump()",
                      flat.model_dump if flat else None),
            Candidate("msgspec", "msgspec: to_builtins(Struct)",
                      (lambda: p.msgspec.to_builtins(struct)) if struct is not None else None,
                      "19 keys only (unknown keys were dropped)"),
            Candidate("mashumaro", "mashumaro: obj.to_dict()", mash.to_dict if mash else None,
                      "19 keys only"),
            Candidate("cattrs", "cattrs: Converter.unstructure(dataclass)",
                      (lambda: p.cattrs_converter.unstructure(plain)) if p.cattrs else None,
                      "19 keys only"),
            Candidate("asdict", "stdlib: dataclasses.asdict(ThreadRun)",
                      lambda: dataclasses.asdict(run),
                      "deep-copies; 'extra' stays nested"),
        ],
        "to_json": [
            Candidate("openai", "openai: Run.model_dump_json()",
                      sdk.model_dump_json if sdk else None, "pydantic-core serialises in Rust"),
            Candidate("pydantic", "pydantic: flat 19-field model.model_dump_json()",
                      flat.model_dump_json if flat else None),
            Candidate("msgspec", "msgspec: json.encode(Struct)",
                      (lambda: p.msgspec.json.encode(struct)) if struct is not None else None,
                      "compiled C; 19 keys only; returns bytes"),
        ],
    }  # fmt: skip


def parse_table(table: str, suite: Suite) -> None:
    rows = bench_parse.candidates(suite.data, suite.body)[table] + peer_candidates(suite)[table]
    title = PARSE_TITLES[table].format(size=len(suite.body))
    timings, errors = timed_table(title, rows, suite.rounds, versus="threadrun")
    suite.judge(table, rows, measures(timings))
    suite.results[table] = {
        "median_seconds": {key: t._asdict() for key, t in timings.items()},
        "skipped": [row.label for row in rows if row.func is None],
        "errors": errors,
    }


# --------------------------------------------------------------------------------------------
# import: a cold process per sample
# --------------------------------------------------------------------------------------------

IMPORT_FLAGS = ("-E", "-s")


def _spawn(code: str) -> Tuple[float, float]:
    """Wall and CPU seconds (user+sys of the child) of one `python -E -s -c code`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, *IMPORT_FLAGS, "-c", code],
        cwd=ROOT,
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _importtime_self(module: str, rounds: int) -> Optional[float]:
    """Median self time (s) of `module` under -X importtime, or None."""
    values = []
    for _ in range(rounds):
        proc = subprocess.run(
            [sys.executable, *IMPORT_FLAGS, "-X", "importtime", "-c", "import " + module],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            stdin=subprocess.DEVNULL,
        )
        for line in proc.stderr.splitlines():
            match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\S+)$", line)
            if match and match.group(3) == module:
                values.append(int(match.group(1)) / 1e6)
    return statistics.median(values) if values else None


IMPORT_CASES = (  # (row key, code); the floor: what a dataclass-and-json module imports
    ("bare", "pass"),
    ("floor", "import dataclasses, json"),
    ("threadrun", "import threadrun"),
    ("openai", "import openai"),
    ("pydantic", "import pydantic"),
    ("msgspec", "import msgspec"),
)


def bench_import(suite: Suite) -> None:
    rounds = 10 if suite.quick else 30
    rows = [
        Candidate(key, "python -c pass" if code == "pass" else "python -c '%s'" % code,
                  functools.partial(_spawn, code)
                  if key in ("bare", "floor", "threadrun") or getattr(suite.peers, key)
                  else None)
        for key, code in IMPORT_CASES
    ]  # fmt: skip
    live = [row for row in rows if row.func is not None]
    # Warm-up: -E ignores PYTHONDONTWRITEBYTECODE, so these runs write every .pyc that is
    # missing (threadrun's in the work tree, the peers' in site-packages, if pip did not).
    for _ in range(2):
        for row in live:
            row.func()  # type: ignore[misc]
    pyc = os.path.join(
        ROOT, "threadrun", "__pycache__", "__init__.%s.pyc" % sys.implementation.cache_tag
    )
    pyc_ok = os.path.exists(pyc)
    timings = measure([(row.key, row.func) for row in live], rounds)  # type: ignore[misc]
    wall = {key: t.wall for key, t in timings.items()}
    cost = {key: seconds - wall["bare"] for key, seconds in wall.items()}
    self_time = _importtime_self("threadrun", 5 if suite.quick else 15)

    def cells(key: str) -> List[str]:
        bare = key == "bare"
        return [
            fmt_time(wall[key]),
            fmt_time(timings[key].cpu),
            "-" if bare else fmt_time(cost[key]),
            "-" if bare or cost["threadrun"] <= 0 else "%.2fx" % (cost[key] / cost["threadrun"]),
            "%.2fx" % (wall[key] / wall["floor"]),
        ]

    self_note = []
    if self_time is not None:
        self_note.append("threadrun's own module body (-X importtime self, median): %s"
                         % fmt_time(self_time))  # fmt: skip
    print_table(
        "import: a fresh process per sample, median of %d rounds (cost = process - bare python)\n"
        "  interpreter: %s %s, cwd = repo root (so -c finds threadrun), .pyc written first%s"
        % (rounds, sys.executable, " ".join(IMPORT_FLAGS),
           "" if pyc_ok else " (NOT FOUND: %s)" % pyc),
        ["process", "wall", "cpu", "import cost", "cost vs threadrun", "wall vs dataclasses+json"],
        table_rows(rows, cells),
        self_note,
    )  # fmt: skip
    suite.judge("import", rows, {"wall": wall, "cost": cost})
    suite.results["import"] = {
        "wall_seconds": wall,
        "cpu_seconds": {key: t.cpu for key, t in timings.items()},
        "rounds": rounds,
        "threadrun_self_seconds": self_time,
        "pyc_written": pyc_ok,
    }


# --------------------------------------------------------------------------------------------
# client: retrieve over loopback keep-alive, the server in another process (bench_client)
# --------------------------------------------------------------------------------------------


def bench_client_table(suite: Suite) -> None:
    """bench_client.py's server, threadrun and floor, plus the official SDK on the same server."""
    p = suite.peers
    rounds = 5 if suite.quick else 15
    number = 200 if suite.quick else 1000
    label = "openai: client.beta.threads.runs.retrieve"

    def sdk(info: Dict[str, Any]) -> Tuple[List[Candidate], Callable[[], None]]:
        if not p.openai:
            return [Candidate("openai", label, None)], lambda: None
        client = p.openai.OpenAI(api_key=bench_client.API_KEY, base_url=info["base_url"])
        runs, thread_id, run_id = client.beta.threads.runs, info["thread_id"], info["run_id"]
        return [
            Candidate("openai", label, lambda: runs.retrieve(run_id, thread_id=thread_id))
        ], client.close

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the SDK flags the Assistants API deprecated
        rows, timings, errors, stats = bench_client.measure_client(rounds, number, more=sdk)
    bench_client.print_client_table(
        rows, timings, errors, "threadrun",
        "client: GET one run, and a page of messages, over loopback keep-alive (bench_client.py's "
        "server, in its own process); median of %d rounds x %d calls" % (rounds, number),
    )  # fmt: skip
    print("    * cpu = time.process_time() of the client process only; the server saw %s "
          "requests on %s connections, %s internal errors"
          % (stats.get("requests", "?"), stats.get("connections_opened", "?"),
             stats.get("errors", "?")))  # fmt: skip
    suite.judge("client", rows, measures(timings))
    suite.results["client"] = {
        "wall_seconds": {key: t.wall for key, t in timings.items()},
        "cpu_seconds": {key: t.cpu for key, t in timings.items()},
        "rounds": rounds,
        "calls_per_round": number,
        "server": stats,
    }


def bench_client_async_table(suite: Suite) -> None:
    """AsyncClient against its asyncio floor and AsyncOpenAI, then 500 concurrent polls."""
    rounds = 5 if suite.quick else 15
    number = 200 if suite.quick else 1000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the SDK flags the Assistants API deprecated
        rows, timings, errors = bench_client.measure_async_client(rounds, number)
    bench_client.print_client_table(
        rows, timings, errors, "floor",
        "client async: GET one run with AsyncClient over loopback keep-alive (bench_client.py's "
        "server, in its own process); median of %d rounds x %d calls" % (rounds, number),
    )  # fmt: skip
    suite.judge("client async", rows, measures(timings))
    polls = bench_client.concurrent_polls(500)
    print("    * %(polls)d concurrent polls on one loop: %(completed)d completed in "
          "%(wall_seconds).2f s; peak memory %(peak_bytes_per_poll).0f bytes per poll" % polls)
    suite.results["client async"] = {
        "wall_seconds": {key: t.wall for key, t in timings.items()},
        "cpu_seconds": {key: t.cpu for key, t in timings.items()},
        "rounds": rounds,
        "calls_per_round": number,
        "concurrent_polls": polls,
    }


def bench_stream_tables(suite: Suite) -> None:
    """bench_stream.py's tables: a recorded stream of 10,000+ events parsed (64 KiB reads, and
    one event per read) against the floor and the SDK, memory over a long stream, and the
    latency of a live stream's first event over loopback."""
    rounds = 3 if suite.quick else 11
    megabytes = 20 if suite.quick else 100
    samples = 30 if suite.quick else 200
    suite.judged += bench_stream.run_all(rounds, megabytes, samples)


# --------------------------------------------------------------------------------------------
# memory: bytes retained per parsed run
# --------------------------------------------------------------------------------------------


def retained_bytes(parse: Callable[[bytes], Any], body: bytes, count: int) -> float:
    """Bytes per object kept alive after parsing `count` distinct copies of `body`."""
    keep: List[Any] = [None] * count  # allocated before tracing: the list is not counted
    parse(body)  # warm-up: one-off caches of the parser are not counted
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for index in range(count):
            keep[index] = parse(body)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del keep
    gc.collect()
    return (after - before) / count


def bench_memory(suite: Suite) -> None:
    p = suite.peers
    count = 10000
    rows = [
        Candidate("threadrun", "threadrun: ThreadRun.from_json", threadrun.ThreadRun.from_json,
                  "nested values and extra kept"),
        Candidate("floor", "json.loads dict", json.loads, "all 27 keys and their key strings"),
        Candidate("openai", "openai: Run.model_validate_json",
                  p.OpenAIRun.model_validate_json if p.OpenAIRun else None, "nested models"),
        Candidate("pydantic", "pydantic: flat 19-field model",
                  p.FlatModel.model_validate_json if p.FlatModel else None),
        Candidate("msgspec", "msgspec: Decoder(Struct).decode",
                  p.struct_decoder.decode if p.msgspec else None, "drops the 8 unknown keys"),
    ]  # fmt: skip
    values = {
        row.key: retained_bytes(row.func, suite.body, count) for row in rows if row.func is not None
    }
    print_table(
        "memory: bytes retained per run, %d distinct runs parsed from bytes and kept "
        "(tracemalloc, after gc)" % count,
        ["object kept", "bytes/run", "vs threadrun"],
        table_rows(rows, lambda key: [fmt_count(values[key]),
                                      "%.2fx" % (values[key] / values["threadrun"])]),
        notes(rows),
    )  # fmt: skip
    suite.judge("memory", rows, {"bytes": values})
    suite.results["memory"] = {"bytes_per_run": values, "count": count}


# --------------------------------------------------------------------------------------------
# footprint
# --------------------------------------------------------------------------------------------


def _pin(name: str) -> str:
    """The requirement line of `name` in requirements.txt (or the bare name)."""
    try:
        with open(REQUIREMENTS) as file:
            for line in file:
                line = line.split("#")[0].strip()
                if re.match(r"%s\s*(==|>=|~=|$)" % re.escape(name), line):
                    return line
    except OSError:
        pass
    return name


def _site_packages(venv_dir: str) -> str:
    out = subprocess.run(
        [
            os.path.join(venv_dir, "bin", "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def _tree(path: str) -> Dict[str, Tuple[int, bool, int]]:
    """relative file path -> (size, in __pycache__, lines if a .py file else 0)"""
    files = {}
    for folder, _, names in os.walk(path):
        for name in names:
            full = os.path.join(folder, name)
            lines = 0
            if name.endswith(".py"):
                with open(full, "rb") as file:
                    lines = file.read().count(b"\n")
            files[os.path.relpath(full, path)] = (
                os.lstat(full).st_size,
                "__pycache__" in folder,
                lines,
            )
    return files


def measure_sdk_footprint() -> Dict[str, Any]:
    """Install the pinned openai into a fresh venv; what it adds over the empty venv."""
    requirement = _pin("openai")
    work = tempfile.mkdtemp(prefix="threadrun-footprint-")
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # pip compiles .pyc as on a normal machine
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    try:
        venv_dir = os.path.join(work, "venv")
        subprocess.run([sys.executable, "-m", "venv", venv_dir], check=True, env=env)
        site = _site_packages(venv_dir)
        before = _tree(site)
        dists_before = {n for n in os.listdir(site) if n.endswith(".dist-info")}
        pip = subprocess.run(
            [os.path.join(venv_dir, "bin", "python"), "-m", "pip", "install", "-q", requirement],
            env=env,
            capture_output=True,
            text=True,
        )
        if pip.returncode != 0:
            raise RuntimeError("pip install %s failed: %s" % (requirement, pip.stderr[-300:]))
        after = _tree(site)
        dists = sorted(
            n[: -len(".dist-info")]
            for n in os.listdir(site)
            if n.endswith(".dist-info") and n not in dists_before
        )
        added = {k: v for k, v in after.items() if k not in before}
        return {
            "requirement": requirement,
            "python": sys.version.split()[0],
            "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
            "wheels": dists,
            "files": len(added),
            "bytes": sum(size for size, _, _ in added.values()),
            "bytes_without_pyc": sum(size for size, pyc, _ in added.values() if not pyc),
            "py_lines": sum(lines for _, _, lines in added.values()),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench_footprint(suite: Suite) -> None:
    with open(RUNTIME, "rb") as file:
        source = file.read()
    lines = source.count(b"\n")
    cache_file = os.path.join(CACHE, "footprint.json")
    sdk: Optional[Dict[str, Any]] = None
    how = ""
    if suite.quick:
        try:
            with open(cache_file) as file:
                sdk = json.load(file)
            how = "cached from %s (--quick does not reinstall)" % sdk.get("measured_at")
        except (OSError, ValueError):
            how = "skipped with --quick (no cache yet: run once without --quick)"
    else:
        try:
            sdk = measure_sdk_footprint()
            os.makedirs(CACHE, exist_ok=True)
            with open(cache_file, "w") as file:
                json.dump(sdk, file, indent=2)
            how = "measured now: pip install into a fresh venv, minus the empty venv"
        except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
            how = "could not be measured: %s" % exc
    rows = [["threadrun: threadrun/__init__.py", "0", "1", fmt_count(len(source)), "-",
             fmt_count(lines)]]  # fmt: skip
    notes = []
    if sdk:
        rows.append([
            "official SDK: %s + dependencies" % sdk["requirement"],
            "%d" % (len(sdk["wheels"]) - 1),
            fmt_count(sdk["files"]),
            fmt_count(sdk["bytes_without_pyc"]),
            fmt_count(sdk["bytes"]),
            fmt_count(sdk["py_lines"]) if "py_lines" in sdk else "?",
        ])  # fmt: skip
        notes.append(
            "SDK %s (Python %s); %d wheels: %s"
            % (how, sdk["python"], len(sdk["wheels"]), ", ".join(sdk["wheels"]))
        )
    else:
        rows.append(["official SDK: openai", how])
    print_table(
        "footprint: what a project installs to use it",
        ["package", "dependencies", "files", "bytes w/o .pyc", "bytes with .pyc", "lines of .py"],
        rows,
        notes,
    )
    suite.results["footprint"] = {
        "threadrun_bytes": len(source),
        "threadrun_lines": lines,
        "sdk": sdk,
        "sdk_how": how,
    }


# --------------------------------------------------------------------------------------------
# versions: bench_parse on every interpreter that tests.support.interpreters() finds
# --------------------------------------------------------------------------------------------


def bench_versions(suite: Suite) -> None:
    # threadrun / floor of each table bench_parse times, in its order; a table may have a
    # target per range of Python versions, of which each interpreter judges its own.
    floor_targets = {
        table: [
            target
            for target in TARGETS
            if (target.table, target.numerator, target.denominator)
            == (table, "threadrun", "floor")
        ]
        for table in bench_parse.TABLES
    }
    # For reference, after from_json: json.loads then an object built with no checks, over
    # json.loads (where a target of from_json cannot be met, this shows what it leaves).
    (unchecked,) = [t for t in TARGETS if (t.table, t.numerator) == ("from_json", "floor object")]
    # A run lacking known keys against the full one (its own target, judged with the others).
    (sparse,) = [t for t in TARGETS if (t.table, t.numerator) == ("from_dict", "sparse")]
    rows = []
    results = {}
    pythons = [(i.release, i.path) for i in interpreters()]  # CPython by version, then PyPy
    for version_name, path in pythons:
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            out = handle.name
        try:
            cmd = [path, os.path.join(HERE, "bench_parse.py"), "--json", out]
            if suite.quick:
                cmd.append("--quick")
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if proc.returncode != 0:
                error = (proc.stderr.strip().splitlines() or ["?"])[-1][:80]
                rows.append([version_name, "error: " + error])
                continue
            with open(out) as file:
                result = json.load(file)
        finally:
            os.unlink(out)
        results[version_name] = result
        judged = {entry["name"]: entry for entry in result["targets"]}
        cells = [version_name]
        verdicts = []
        for table, targets in floor_targets.items():
            [entry] = [judged[target.name] for target in targets if target.name in judged]
            cells.append(fmt_time(result["seconds"][table]["threadrun"]))
            cells.append("%.2fx" % entry["value"])
            verdicts.append(entry["verdict"])
        cells.append("%.2fx" % judged[unchecked.name]["value"])
        cells.append("%.2fx" % judged[sparse.name]["value"])
        verdicts.append(judged[sparse.name]["verdict"])
        cells.append("ok" if verdicts == ["ok"] * len(verdicts) else "MISSED")
        rows.append(cells)
    if not pythons:
        print("\nversions: no interpreter found")
        return
    headers = ["python"]
    for table in floor_targets:
        headers += [table, "ratio"]
    headers.append("unchecked")
    headers.append("sparse")
    limits = "/".join(
        [" or ".join("%g" % t.limit for t in targets) for targets in floor_targets.values()]
        + ["%g" % sparse.limit]
    )
    headers.append("targets (%s)" % limits)
    print_table(
        "versions: benchmarks/bench_parse.py (threadrun vs its floor, wall time) on each "
        "interpreter (CPython, then PyPy); ratio = threadrun / floor; unchecked = "
        "json.loads + FloorRun (no checks) / json.loads; sparse = from_dict of the run lacking "
        "2 known keys / of the full run; from_dict's target is 1.1 on Python 3.10+, 1.3 before",
        headers,
        rows,
        first_width=8,
    )
    suite.results["versions"] = results


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------

BENCHMARKS: Dict[str, Callable[[Suite], None]] = {  # in the order they run
    "from_dict": functools.partial(parse_table, "from_dict"),
    "from_json": functools.partial(parse_table, "from_json"),
    "to_dict": functools.partial(parse_table, "to_dict"),
    "to_json": functools.partial(parse_table, "to_json"),
    "import": bench_import,
    "client": bench_client_table,
    "client_async": bench_client_async_table,
    "memory": bench_memory,
    "stream": bench_stream_tables,
    "footprint": bench_footprint,
    "versions": bench_versions,
}
ALIASES = {"parse": ("from_dict", "from_json", "to_dict", "to_json"), "all": tuple(BENCHMARKS)}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_state() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "threadrun/__init__.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return head + (" + uncommitted changes to threadrun/__init__.py" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def print_header(suite: Suite) -> Dict[str, Any]:
    with open(RUNTIME, "rb") as file:
        digest = hashlib.sha256(file.read()).hexdigest()[:12]
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 0
    meta = {
        "threadrun": threadrun.__version__,
        "runtime_sha256": digest,
        "git": git_state(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "nproc": cpus,
        "peers": suite.peers.versions,
        "quick": suite.quick,
        "repeat": suite.rounds,
    }
    print(
        "threadrun %s (threadrun/__init__.py sha256 %s, git %s)"
        % (meta["threadrun"], digest, meta["git"])
    )
    print(
        "Python %s %s (%s) on %s"
        % (meta["implementation"], meta["python"], sys.executable, meta["platform"])
    )
    print("CPU: %s, nproc %d" % (meta["cpu"], cpus))
    print(
        "peers: "
        + ", ".join(
            "%s %s" % (name, v or "(not installed)") for name, v in suite.peers.versions.items()
        )
    )
    for name, error in suite.peers.errors.items():
        print("  peer %s is installed but failed to load: %s" % (name, error))
    print(
        "payload: %d keys (%d unknown to ThreadRun), %d bytes of JSON: _common.payload() "
        'with instructions ""' % (len(suite.data), suite.extra_keys, len(suite.body))
    )
    print("mode: %s; load average %s" % ("--quick" if suite.quick else "full", load_average()))
    return meta


def load_average() -> str:
    try:
        return "%.2f %.2f %.2f" % os.getloadavg()
    except (AttributeError, OSError):
        return "unknown"


def parse_only(values: List[str]) -> List[str]:
    chosen: List[str] = []
    for value in values:
        for name in value.split(","):
            name = name.strip()
            if not name:
                continue
            names = ALIASES.get(name, (name,))
            for item in names:
                if item not in BENCHMARKS:
                    raise SystemExit(
                        "unknown benchmark %r; choose from %s (or parse, all)"
                        % (item, ", ".join(BENCHMARKS))
                    )
                if item not in chosen:
                    chosen.append(item)
    return [name for name in BENCHMARKS if name in chosen]


def in_venv(path: str) -> bool:
    return os.path.realpath(sys.prefix) == os.path.realpath(path)


def setup_venv() -> str:
    """Create benchmarks/.venv (if needed) and install requirements.txt into it."""
    python = os.path.join(VENV, "bin", "python")
    if not os.path.exists(python):
        print("creating %s" % VENV, flush=True)
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    print("installing %s into it" % os.path.relpath(REQUIREMENTS), flush=True)
    done = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", REQUIREMENTS]
    )
    if done.returncode != 0:  # a peer that did not install is skipped, not fatal
        print(
            "pip failed (exit %d): the peers it could not install will be skipped"
            % done.returncode,
            flush=True,
        )
    return python


def reexec(python: str, argv: List[str]) -> None:
    sys.stdout.flush()
    os.execv(python, [python, os.path.abspath(__file__), *argv])


def main(argv: Optional[List[str]] = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[1:]),
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="run only these benchmarks (repeatable, or a comma list)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write every result as JSON")
    parser.add_argument(
        "--quick", action="store_true", help="fewer rounds; footprint from cache; for a smoke run"
    )
    parser.add_argument(
        "--repeat", type=int, help="rounds of the in-process timings (default 21, 5 with --quick)"
    )
    parser.add_argument(
        "--setup",
        action="store_true",
        help="create benchmarks/.venv with requirements.txt, then run in it",
    )
    parser.add_argument(
        "--no-venv",
        action="store_true",
        help="run on this interpreter even if benchmarks/.venv exists",
    )
    args = parser.parse_args(argv)
    only = parse_only(args.only) if args.only else list(BENCHMARKS)

    passthrough = [a for a in argv if a not in ("--setup", "--no-venv")]
    if args.setup:
        python = setup_venv()
        reexec(python, [*passthrough, "--no-venv"])
    if (
        not args.no_venv
        and not in_venv(VENV)
        and os.path.exists(os.path.join(VENV, "bin", "python"))
    ):
        print("(running in benchmarks/.venv; --no-venv to stay on %s)" % sys.executable)
        reexec(os.path.join(VENV, "bin", "python"), [*passthrough, "--no-venv"])

    started = time.time()
    suite = Suite(args)
    meta = print_header(suite)
    failed = []
    for name in only:
        try:
            BENCHMARKS[name](suite)
        except Exception as exc:  # one broken benchmark must not hide the others
            failed.append(name)
            print("\n%s: FAILED: %s: %s" % (name, type(exc).__name__, exc))
            suite.results[name] = {"error": "%s: %s" % (type(exc).__name__, exc)}
        sys.stdout.flush()
    if suite.judged:
        _common.print_targets(suite.judged, "targets (one run on this Python)")
    if failed:
        print("\nbenchmarks that failed to run: %s" % ", ".join(failed))
    print("\nload average at the end: %s; took %.0f s" % (load_average(), time.time() - started))
    if args.json:
        with open(args.json, "w") as file:
            json.dump(
                {
                    "meta": meta,
                    "results": suite.results,
                    "targets": [
                        dict(target._asdict(), value=value, verdict=target.verdict(value))
                        for target, value in suite.judged
                    ],
                },
                file,
                indent=2,
                default=str,
            )


if __name__ == "__main__":
    main()
