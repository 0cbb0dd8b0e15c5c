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
timing of each per round) so a noisy neighbour falls on all alike. The peers live only in
benchmarks/requirements.txt: the library itself depends on nothing.

Benchmarks (--only NAME, repeatable or comma-separated): from_dict, from_json, to_dict,
to_json, import, client, memory, footprint, versions; "parse" = the first four.
"""

from __future__ import annotations

import argparse
import dataclasses
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

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

import peers as peers_module  # noqa: E402
from bench_parse import FloorRun, TunedFloorRun, floor_to_dict, measure  # noqa: E402

import threadrun  # noqa: E402
from tests.support import interpreters  # noqa: E402
from threadrun import ThreadRun  # noqa: E402

VENV = os.path.join(HERE, ".venv")
CACHE = os.path.join(HERE, ".cache")
REQUIREMENTS = os.path.join(HERE, "requirements.txt")
RUNTIME = os.path.join(ROOT, "threadrun", "__init__.py")

BENCHMARKS = (
    "from_dict",
    "from_json",
    "to_dict",
    "to_json",
    "import",
    "client",
    "memory",
    "footprint",
    "versions",
)
ALIASES = {"parse": ("from_dict", "from_json", "to_dict", "to_json"), "all": BENCHMARKS}
SKIPPED = "skipped: not installed"

# --------------------------------------------------------------------------------------------
# Output helpers
# --------------------------------------------------------------------------------------------


def fmt_time(seconds: float) -> str:
    if seconds < 1e-6:
        return "%.0f ns" % (seconds * 1e9)
    if seconds < 1e-3:
        return "%.2f us" % (seconds * 1e6)
    if seconds < 1:
        return "%.2f ms" % (seconds * 1e3)
    return "%.2f s" % seconds


def fmt_bytes(count: float) -> str:
    if abs(count) < 10 * 1024:
        return "%.0f B" % count
    if abs(count) < 10 * 1024 * 1024:
        return "%.1f KiB" % (count / 1024)
    return "%.1f MiB" % (count / 1024 / 1024)


def print_table(headers: List[str], rows: List[List[str]], first_width: int = 46) -> None:
    full = [row for row in rows if len(row) == len(headers)]
    widths = [max([len(headers[i])] + [len(row[i]) for row in full]) for i in range(len(headers))]
    widths[0] = max([widths[0], first_width] + [len(row[0]) for row in rows])

    def line(cells: List[str]) -> str:
        if len(cells) == 2 and len(headers) > 2:  # a "skipped" row: name + one note
            return "  %-*s  %s" % (widths[0], cells[0], cells[1])
        out = ["%-*s" % (widths[0], cells[0])]
        out += ["%*s" % (widths[i], cells[i]) for i in range(1, len(cells))]
        return "  " + "  ".join(out)

    print(line(headers))
    for row in rows:
        print(line(row))


@dataclasses.dataclass
class Target:
    name: str
    measured: Optional[float]  # None: could not be measured (a peer missing, ...)
    limit: float
    kind: str  # ">=" or "<=", or "ref": a figure shown beside a target, not a target itself
    unit: str = "x"
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.measured is None:
            return "n/a"
        if self.kind == "ref":
            return "(reference)"
        ok = self.measured >= self.limit if self.kind == ">=" else self.measured <= self.limit
        return "ok" if ok else "MISSED"


class Suite:
    """State shared by the benchmarks: options, payload, peers, results and targets."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.quick: bool = args.quick
        self.repeat: int = args.repeat or (5 if args.quick else 21)
        self.peers = peers_module.load()
        self.data = peers_module.run_payload()
        self.body = json.dumps(self.data, separators=(",", ":")).encode()
        self.run = ThreadRun.from_dict(self.data)
        self.floor_run = FloorRun(self.data)
        assert self.run.to_dict() == self.data and floor_to_dict(self.floor_run) == self.data
        self.results: Dict[str, Any] = {}
        self.targets: List[Target] = []

    def timed_table(
        self,
        key: str,
        title: str,
        ours: str,
        candidates: List[Tuple[str, Optional[Callable[[], Any]], str]],
    ) -> Dict[str, float]:
        """Time the candidates (label, func or None when skipped, note) and print a table."""
        runnable = []
        errors: Dict[str, str] = {}
        for label, func, _ in candidates:
            if func is None:
                continue
            try:
                func()  # one call first: a broken peer is reported, not fatal
            except Exception as exc:
                errors[label] = "error: %s: %s" % (type(exc).__name__, str(exc)[:80])
                continue
            runnable.append((label, func))
        medians = measure(runnable, self.repeat)
        base = medians[ours]
        print("\n%s  (median of %d rounds; x = time relative to threadrun)" % (title, self.repeat))
        rows = []
        for label, func, _ in candidates:
            if label in errors:
                rows.append([label, errors[label]])
            elif func is None:
                rows.append([label, SKIPPED])
            else:
                seconds = medians[label]
                rows.append(
                    [label, fmt_time(seconds), f"{1 / seconds:,.0f}", "%.2fx" % (seconds / base)]
                )
        print_table(["candidate", "time/op", "ops/s", "vs threadrun"], rows)
        notes = [(label, note) for label, func, note in candidates if note and func is not None]
        for label, note in notes:
            print("    * %s: %s" % (label, note))
        self.results[key] = {
            "median_seconds": medians,
            "skipped": [label for label, func, _ in candidates if func is None],
            "errors": errors,
        }
        return medians

    def ratio_target(
        self,
        name: str,
        medians: Dict[str, float],
        numerator: str,
        denominator: str,
        limit: float,
        kind: str,
    ) -> None:
        if numerator in medians and denominator in medians:
            value: Optional[float] = medians[numerator] / medians[denominator]
        else:
            value = None
        self.targets.append(Target(name, value, limit, kind))


# --------------------------------------------------------------------------------------------
# from_dict / from_json / to_dict / to_json
# --------------------------------------------------------------------------------------------

TR_FROM_DICT = "threadrun: ThreadRun.from_dict"
FLOOR_FROM_DICT = "floor: plain __slots__ class (FloorRun)"
SDK_VALIDATE = "openai: Run.model_validate (pydantic v2)"
MASHUMARO = "mashumaro: DataClassDictMixin.from_dict"
MASHUMARO_FROZEN = "mashumaro: the same, frozen dataclass"


def bench_from_dict(suite: Suite) -> None:
    p, data = suite.peers, suite.data
    dropped = "drops the 8 unknown keys (no `extra`)"
    candidates: List[Tuple[str, Optional[Callable[[], Any]], str]] = [
        (TR_FROM_DICT, lambda: ThreadRun.from_dict(data), ""),
        (FLOOR_FROM_DICT, lambda: FloorRun(data), "no checks; extra by dict comprehension"),
        (
            "tuned floor: copy+pop split (TunedFloorRun)",
            lambda: TunedFloorRun(data),
            "no checks; extra split as from_dict does",
        ),
        (
            SDK_VALIDATE,
            (lambda: p.OpenAIRun.model_validate(data)) if p.OpenAIRun else None,
            "validates nested tools/usage/... into models; keeps unknown keys",
        ),
        (
            "pydantic: flat 19-field BaseModel.model_validate",
            (lambda: p.FlatModel.model_validate(data)) if p.FlatModel else None,
            "same fields as ThreadRun, nested values Any, extra='allow'",
        ),
        (
            "msgspec: convert(dict, Struct)",
            (lambda: p.msgspec.convert(data, p.RunStruct)) if p.msgspec else None,
            "compiled C; strict types; " + dropped,
        ),
        (
            MASHUMARO,
            (lambda: p.RunMashumaro.from_dict(data)) if p.mashumaro else None,
            "converts (str(x), int(x)) rather than checks; " + dropped,
        ),
        (
            MASHUMARO_FROZEN,
            (lambda: p.RunMashumaroFrozen.from_dict(data)) if p.mashumaro else None,
            "immutable like ThreadRun: fields set through object.__setattr__; " + dropped,
        ),
        (
            "cattrs: Converter.structure(dict, dataclass)",
            (lambda: p.cattrs_converter.structure(data, peers_module.RunDC)) if p.cattrs else None,
            "converts (str(x), int(x)); " + dropped,
        ),
        (
            "dacite: from_dict(dataclass, dict)",
            (lambda: p.dacite.from_dict(peers_module.RunDC, data)) if p.dacite else None,
            "checks types; " + dropped,
        ),
    ]
    medians = suite.timed_table(
        "from_dict", "from_dict: dict (27 keys) -> object", TR_FROM_DICT, candidates
    )
    suite.ratio_target(
        "from_dict: Run.model_validate / threadrun", medians, SDK_VALIDATE, TR_FROM_DICT, 4.0, ">="
    )
    suite.ratio_target(
        "from_dict: mashumaro / threadrun", medians, MASHUMARO, TR_FROM_DICT, 2.0, ">="
    )
    # Not a target: what the same comparison gives when mashumaro's model is immutable too.
    suite.ratio_target(
        "from_dict: mashumaro (frozen) / threadrun",
        medians,
        MASHUMARO_FROZEN,
        TR_FROM_DICT,
        2.0,
        "ref",
    )
    suite.ratio_target(
        "from_dict: threadrun / floor", medians, TR_FROM_DICT, FLOOR_FROM_DICT, 1.3, "<="
    )


TR_FROM_JSON = "threadrun: ThreadRun.from_json"
FLOOR_FROM_JSON = "floor: json.loads (dict only, no object)"
SDK_VALIDATE_JSON = "openai: Run.model_validate_json"


def bench_from_json(suite: Suite) -> None:
    p, body = suite.peers, suite.body
    candidates: List[Tuple[str, Optional[Callable[[], Any]], str]] = [
        (TR_FROM_JSON, lambda: ThreadRun.from_json(body), ""),
        (FLOOR_FROM_JSON, lambda: json.loads(body), ""),
        (
            SDK_VALIDATE_JSON,
            (lambda: p.OpenAIRun.model_validate_json(body)) if p.OpenAIRun else None,
            "pydantic-core parses JSON in Rust; nested models",
        ),
        (
            "pydantic: flat 19-field BaseModel.model_validate_json",
            (lambda: p.FlatModel.model_validate_json(body)) if p.FlatModel else None,
            "",
        ),
        (
            "msgspec: json.Decoder(Struct).decode",
            (lambda: p.struct_decoder.decode(body)) if p.msgspec else None,
            "compiled C; drops the 8 unknown keys",
        ),
    ]
    medians = suite.timed_table(
        "from_json", "from_json: %d bytes of JSON -> object" % len(body), TR_FROM_JSON, candidates
    )
    suite.ratio_target(
        "from_json: Run.model_validate_json / threadrun",
        medians,
        SDK_VALIDATE_JSON,
        TR_FROM_JSON,
        1.1,
        ">=",
    )
    suite.ratio_target(
        "from_json: threadrun / json.loads", medians, TR_FROM_JSON, FLOOR_FROM_JSON, 1.4, "<="
    )


TR_TO_DICT = "threadrun: run.to_dict()"
SDK_DUMP = "openai: Run.model_dump()"


def bench_to_dict(suite: Suite) -> None:
    p, data, run, floor_run = suite.peers, suite.data, suite.run, suite.floor_run
    sdk = p.OpenAIRun.model_validate(data) if p.OpenAIRun else None
    flat = p.FlatModel.model_validate(data) if p.FlatModel else None
    struct = p.msgspec.convert(data, p.RunStruct) if p.msgspec else None
    mash = p.RunMashumaro.from_dict(data) if p.mashumaro else None
    plain = peers_module.RunDC(**{k: v for k, v in data.items() if k in threadrun._KNOWN_KEYS})
    candidates: List[Tuple[str, Optional[Callable[[], Any]], str]] = [
        (TR_TO_DICT, run.to_dict, "27 keys, nested values shared"),
        ("floor: dict display of the attributes + extra", lambda: floor_to_dict(floor_run), ""),
        (SDK_DUMP, sdk.model_dump if sdk else None, "27 keys, nested models dumped (copies)"),
        ("pydantic: flat 19-field model.model_dump()", flat.model_dump if flat else None, ""),
        (
            "msgspec: to_builtins(Struct)",
            (lambda: p.msgspec.to_builtins(struct)) if struct is not None else None,
            "19 keys only (unknown keys were dropped)",
        ),
        ("mashumaro: obj.to_dict()", mash.to_dict if mash else None, "19 keys only"),
        (
            "cattrs: Converter.unstructure(dataclass)",
            (lambda: p.cattrs_converter.unstructure(plain)) if p.cattrs else None,
            "19 keys only",
        ),
        (
            "stdlib: dataclasses.asdict(ThreadRun)",
            lambda: dataclasses.asdict(run),
            "deep-copies; 'extra' stays nested",
        ),
    ]
    medians = suite.timed_table("to_dict", "to_dict: object -> dict", TR_TO_DICT, candidates)
    suite.ratio_target(
        "to_dict: Run.model_dump / threadrun", medians, SDK_DUMP, TR_TO_DICT, 3.0, ">="
    )


def bench_to_json(suite: Suite) -> None:
    p, data, run, floor_run = suite.peers, suite.data, suite.run, suite.floor_run
    sdk = p.OpenAIRun.model_validate(data) if p.OpenAIRun else None
    flat = p.FlatModel.model_validate(data) if p.FlatModel else None
    struct = p.msgspec.convert(data, p.RunStruct) if p.msgspec else None
    encoder = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
    ours = "threadrun: run.to_json()"
    candidates: List[Tuple[str, Optional[Callable[[], Any]], str]] = [
        (ours, run.to_json, ""),
        (
            "floor: JSONEncoder.encode(dict of attributes)",
            lambda: encoder.encode(floor_to_dict(floor_run)),
            "",
        ),
        (
            "openai: Run.model_dump_json()",
            sdk.model_dump_json if sdk else None,
            "pydantic-core serialises in Rust",
        ),
        (
            "pydantic: flat 19-field model.model_dump_json()",
            flat.model_dump_json if flat else None,
            "",
        ),
        (
            "msgspec: json.encode(Struct)",
            (lambda: p.msgspec.json.encode(struct)) if struct is not None else None,
            "compiled C; 19 keys only; returns bytes",
        ),
    ]
    suite.timed_table("to_json", "to_json: object -> compact JSON", ours, candidates)


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


def bench_import(suite: Suite) -> None:
    p = suite.peers
    rounds = 10 if suite.quick else 30
    bare, baseline, ours = (
        "python -c pass",
        "python -c 'import dataclasses, json'",
        "python -c 'import threadrun'",
    )
    cases: List[Tuple[str, Optional[str]]] = [
        (bare, "pass"),
        (baseline, "import dataclasses, json"),
        (ours, "import threadrun"),
        ("python -c 'import openai'", "import openai" if p.openai else None),
        ("python -c 'import pydantic'", "import pydantic" if p.pydantic else None),
        ("python -c 'import msgspec'", "import msgspec" if p.msgspec else None),
    ]
    runnable = [(label, code) for label, code in cases if code is not None]
    # Warm-up: -E ignores PYTHONDONTWRITEBYTECODE, so these runs write every .pyc that is
    # missing (threadrun's in the work tree, the peers' in site-packages, if pip did not).
    for _ in range(2):
        for _, code in runnable:
            _spawn(code)
    pyc = os.path.join(
        ROOT, "threadrun", "__pycache__", "__init__.%s.pyc" % sys.implementation.cache_tag
    )
    pyc_ok = os.path.exists(pyc)
    walls: Dict[str, List[float]] = {label: [] for label, _ in runnable}
    cpus: Dict[str, List[float]] = {label: [] for label, _ in runnable}
    for index in range(rounds):
        shift = index % len(runnable)  # rotate the order, so no case is always first
        for label, code in runnable[shift:] + runnable[:shift]:
            wall, cpu = _spawn(code)
            walls[label].append(wall)
            cpus[label].append(cpu)
    wall = {label: statistics.median(values) for label, values in walls.items()}
    cpu = {label: statistics.median(values) for label, values in cpus.items()}
    self_time = _importtime_self("threadrun", 5 if suite.quick else 15)
    print(
        "\nimport: a fresh process per sample, median of %d rounds (cost = process - bare "
        "python)" % rounds
    )
    print(
        "  interpreter: %s %s, cwd = repo root (so -c finds threadrun), .pyc written first%s"
        % (sys.executable, " ".join(IMPORT_FLAGS), "" if pyc_ok else " (NOT FOUND: %s)" % pyc)
    )
    our_cost = wall[ours] - wall[bare]
    rows = []
    for label, code in cases:
        if code is None:
            rows.append([label, SKIPPED])
            continue
        cost = wall[label] - wall[bare]
        rows.append(
            [
                label,
                fmt_time(wall[label]),
                fmt_time(cpu[label]),
                fmt_time(cost) if label != bare else "-",
                "%.2fx" % (cost / our_cost) if label != bare and our_cost > 0 else "-",
                "%.2fx" % (wall[label] / wall[baseline]),
            ]
        )
    print_table(
        ["process", "wall", "cpu", "import cost", "cost vs threadrun", "wall vs dataclasses+json"],
        rows,
    )
    if self_time is not None:
        print(
            "    * threadrun's own module body (-X importtime self, median): %s"
            % fmt_time(self_time)
        )
    suite.results["import"] = {
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "rounds": rounds,
        "threadrun_self_seconds": self_time,
        "pyc_written": pyc_ok,
    }
    sdk_label = "python -c 'import openai'"
    suite.targets.append(
        Target(
            "import: cost of openai / cost of threadrun",
            (wall[sdk_label] - wall[bare]) / our_cost
            if sdk_label in wall and our_cost > 0
            else None,
            20.0,
            ">=",
        )
    )
    suite.targets.append(
        Target(
            "import: threadrun process / dataclasses+json process",
            wall[ours] / wall[baseline],
            1.15,
            "<=",
        )
    )


# --------------------------------------------------------------------------------------------
# client: retrieve over loopback keep-alive, the server in another process
# --------------------------------------------------------------------------------------------


def bench_client(suite: Suite) -> None:
    """Reuses benchmarks/bench_client.py: its server process, its threadrun and floor
    candidates and its interleaved measure(); adds the official SDK against the same server."""
    import bench_client

    p = suite.peers
    rounds = 5 if suite.quick else 15
    calls = 200 if suite.quick else 1000
    ours = "threadrun: Client.retrieve"
    floor = "floor: http.client + json.loads + from_dict"
    sdk_label = "openai: client.beta.threads.runs.retrieve"
    server = bench_client.ServerProcess()
    sdk = None
    try:
        info = server.info
        pairs, close = bench_client.make_candidates(info)
        functions = dict(pairs)
        candidates: List[Tuple[str, Optional[Callable[[], Any]]]] = [
            (ours, functions["threadrun"]),
            (floor, functions["floor"]),
        ]
        if p.openai:
            sdk = p.openai.OpenAI(api_key=bench_client.API_KEY, base_url=info["base_url"])
            runs = sdk.beta.threads.runs
            thread_id, run_id = info["thread_id"], info["run_id"]
            candidates.append((sdk_label, lambda: runs.retrieve(run_id, thread_id=thread_id)))
        else:
            candidates.append((sdk_label, None))
        live = [(label, func) for label, func in candidates if func is not None]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the SDK flags the Assistants API deprecated
                for label, func in live:
                    assert func is not None
                    for _ in range(max(50, calls // 5)):  # warm-up: connect, fill caches
                        result = func()
                    assert result.status == "completed", (label, result)
                samples = bench_client.measure(live, rounds, calls)
        finally:
            close()
            if sdk is not None:
                sdk.close()
    finally:
        server.stop()
    stats = server.stats
    wall = {label: statistics.median(s["wall"]) for label, s in samples.items()}
    cpu = {label: statistics.median(s["cpu"]) for label, s in samples.items()}
    print(
        "\nclient: GET one run over loopback keep-alive (bench_client.py's server, in its own "
        "process); median of %d rounds x %d calls" % (rounds, calls)
    )
    print(
        "  cpu = time.process_time() of the client process only; the server saw %s requests "
        "on %s connections, %s internal errors"
        % (
            stats.get("requests", "?"),
            stats.get("connections_opened", "?"),
            stats.get("errors", "?"),
        )
    )
    rows = []
    for label, func in candidates:
        if func is None:
            rows.append([label, SKIPPED])
            continue
        rows.append(
            [
                label,
                fmt_time(wall[label]),
                fmt_time(cpu[label]),
                f"{1 / wall[label]:,.0f}",
                "%.2fx" % (cpu[label] / cpu[ours]),
                "%.2fx" % (wall[label] / wall[ours]),
            ]
        )
    print_table(
        ["candidate", "wall/call", "cpu/call", "calls/s", "cpu vs threadrun", "wall vs threadrun"],
        rows,
    )
    suite.results["client"] = {
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "rounds": rounds,
        "calls_per_round": calls,
        "server": stats,
    }
    suite.targets.append(
        Target(
            "client: SDK cpu / threadrun cpu",
            cpu[sdk_label] / cpu[ours] if sdk_label in cpu else None,
            4.0,
            ">=",
        )
    )
    suite.targets.append(
        Target("client: threadrun cpu / floor cpu", cpu[ours] / cpu[floor], 1.2, "<=")
    )


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
    ours = "threadrun: ThreadRun.from_json"
    floor = "json.loads dict"
    cases: List[Tuple[str, Optional[Callable[[bytes], Any]], str]] = [
        (ours, ThreadRun.from_json, "nested values and extra kept"),
        (floor, json.loads, "all 27 keys and their key strings"),
        (
            "openai: Run.model_validate_json",
            p.OpenAIRun.model_validate_json if p.OpenAIRun else None,
            "nested models",
        ),
        (
            "pydantic: flat 19-field model",
            p.FlatModel.model_validate_json if p.FlatModel else None,
            "",
        ),
        (
            "msgspec: Decoder(Struct).decode",
            p.struct_decoder.decode if p.msgspec else None,
            "drops the 8 unknown keys",
        ),
    ]
    values = {
        label: retained_bytes(func, suite.body, count)
        for label, func, _ in cases
        if func is not None
    }
    print(
        "\nmemory: bytes retained per run, %d distinct runs parsed from bytes and kept "
        "(tracemalloc, after gc)" % count
    )
    rows = []
    for label, func, _ in cases:
        if func is None:
            rows.append([label, SKIPPED])
            continue
        rows.append([label, f"{values[label]:,.0f}", "%.2fx" % (values[label] / values[ours])])
    print_table(["object kept", "bytes/run", "vs threadrun"], rows)
    for label, func, note in cases:
        if note and func is not None:
            print("    * %s: %s" % (label, note))
    suite.results["memory"] = {"bytes_per_run": values, "count": count}
    suite.targets.append(
        Target(
            "memory: threadrun bytes/run / dict bytes/run", values[ours] / values[floor], 1.0, "<="
        )
    )


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
    print("\nfootprint: what a project installs to use it")
    rows = [
        [
            "threadrun: threadrun/__init__.py",
            "0",
            "1",
            f"{len(source):,}",
            "-",
            f"{lines:,}",
        ]
    ]
    if sdk:
        rows.append(
            [
                "official SDK: %s + dependencies" % sdk["requirement"],
                "%d" % (len(sdk["wheels"]) - 1),
                f"{sdk['files']:,}",
                f"{sdk['bytes_without_pyc']:,}",
                f"{sdk['bytes']:,}",
                f"{sdk['py_lines']:,}" if "py_lines" in sdk else "?",
            ]
        )
    else:
        rows.append(["official SDK: openai", how])
    print_table(
        ["package", "dependencies", "files", "bytes w/o .pyc", "bytes with .pyc", "lines of .py"],
        rows,
    )
    if sdk:
        print(
            "    * SDK %s (Python %s); %d wheels: %s"
            % (how, sdk["python"], len(sdk["wheels"]), ", ".join(sdk["wheels"]))
        )
    suite.results["footprint"] = {
        "threadrun_bytes": len(source),
        "threadrun_lines": lines,
        "sdk": sdk,
        "sdk_how": how,
    }


# --------------------------------------------------------------------------------------------
# versions: bench_parse on every CPython that tests.support.interpreters() finds
# --------------------------------------------------------------------------------------------


def bench_versions(suite: Suite) -> None:
    titles = (
        ("from_dict", "from_dict"),
        ("to_dict", "to_dict"),
        ("from_json (bytes)", "from_json"),
    )
    ours = {
        "from_dict": "ThreadRun.from_dict",
        "to_dict": "run.to_dict",
        "from_json (bytes)": "ThreadRun.from_json",
    }
    rows = []
    results = {}
    pythons = [(i.release, i.path) for i in interpreters() if i.implementation == "cpython"]
    for version_name, path in pythons:
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            out = handle.name
        try:
            cmd = [path, os.path.join(HERE, "bench_parse.py"), "--json", out]
            if suite.quick:
                cmd.append("--quick")
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if proc.returncode != 0:
                rows.append(
                    [version_name, "error: " + (proc.stderr.strip().splitlines() or ["?"])[-1][:80]]
                )
                continue
            with open(out) as file:
                result = json.load(file)["results"]
        finally:
            os.unlink(out)
        results[version_name] = result
        cells = [version_name]
        verdict = "ok"
        for title, _ in titles:
            entry = result[title]
            cells.append(fmt_time(entry["medians_ns"][ours[title]] / 1e9))
            cells.append("%.2fx" % entry["ratio"])
            if entry["ratio"] > entry["target"]:
                verdict = "MISSED"
        cells.append(verdict)
        rows.append(cells)
    print(
        "\nversions: benchmarks/bench_parse.py (threadrun vs its floor) on each CPython; "
        "ratio = threadrun / floor"
    )
    if not pythons:
        print("  no CPython found")
        return
    headers = ["python"]
    for _, short in titles:
        headers += [short, "ratio"]
    headers.append("targets (1.3/1.2/1.4)")
    print_table(headers, rows, first_width=8)
    suite.results["versions"] = results


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------

RUNNERS: Dict[str, Callable[[Suite], None]] = {
    "from_dict": bench_from_dict,
    "from_json": bench_from_json,
    "to_dict": bench_to_dict,
    "to_json": bench_to_json,
    "import": bench_import,
    "client": bench_client,
    "memory": bench_memory,
    "footprint": bench_footprint,
    "versions": bench_versions,
}


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
        "repeat": suite.repeat,
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
        "payload: %d keys (%d unknown to ThreadRun), %d bytes of JSON: bench_parse.payload() "
        'with instructions ""' % (len(suite.data), len(suite.run.extra), len(suite.body))
    )
    print("mode: %s; load average %s" % ("--quick" if suite.quick else "full", load_average()))
    return meta


def load_average() -> str:
    try:
        return "%.2f %.2f %.2f" % os.getloadavg()
    except (AttributeError, OSError):
        return "unknown"


def print_targets(suite: Suite) -> None:
    print("\ntargets (one run on this Python)")
    rows = []
    for target in suite.targets:
        wanted = "%s %.2f%s" % (target.kind, target.limit, target.unit)
        rows.append(
            [
                target.name,
                "%.2f%s" % (target.measured, target.unit) if target.measured is not None else "-",
                wanted if target.kind != "ref" else "",
                target.verdict,
            ]
        )
    print_table(["target", "measured", "wanted", "result"], rows)
    missed = sum(t.verdict == "MISSED" for t in suite.targets)
    print(
        "  %d ok, %d MISSED, %d n/a"
        % (
            sum(t.verdict == "ok" for t in suite.targets),
            missed,
            sum(t.verdict == "n/a" and t.kind != "ref" for t in suite.targets),
        )
    )


def parse_only(values: List[str]) -> List[str]:
    chosen: List[str] = []
    for value in values:
        for name in value.split(","):
            name = name.strip()
            if not name:
                continue
            names = ALIASES.get(name, (name,))
            for item in names:
                if item not in RUNNERS:
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
            RUNNERS[name](suite)
        except Exception as exc:  # one broken benchmark must not hide the others
            failed.append(name)
            print("\n%s: FAILED: %s: %s" % (name, type(exc).__name__, exc))
            suite.results[name] = {"error": "%s: %s" % (type(exc).__name__, exc)}
        sys.stdout.flush()
    if suite.targets:
        print_targets(suite)
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
                        dict(dataclasses.asdict(t), verdict=t.verdict) for t in suite.targets
                    ],
                },
                file,
                indent=2,
                default=str,
            )


if __name__ == "__main__":
    main()
