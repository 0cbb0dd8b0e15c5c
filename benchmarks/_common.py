"""What every benchmark shares: the payload, ThreadRun's shape, the floors, the measuring loop,
the targets and the table printer.

Standard library only, and Python 3.7 syntax: ``bench_parse.py`` runs on every supported
interpreter. The peers (``peers.py``) build their models from the shape defined here.

Method, for every timed table: the candidates run in the same process, their samples taken
in interleaved rounds (one sample of each per round, the order rotated each round so that no
candidate always goes first), and the figure kept is the median over rounds; a noisy neighbour
on a shared machine slows all of them alike. Each sample records wall time
(``time.perf_counter``) and CPU time of this process (``time.process_time``); each target
says which of the two it is judged on (``TARGETS``).
"""

from __future__ import annotations

import gc
import json
import os
import re
import statistics
import sys
import time
import timeit
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for _path in (HERE, ROOT):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import threadrun  # noqa: E402

CORPUS = os.path.join(ROOT, "tests", "data", "22-completed.json")
SKIPPED = "skipped: not installed"

# --------------------------------------------------------------------------------------------
# The payload
# --------------------------------------------------------------------------------------------


def payload() -> Dict[str, Any]:
    """A completed run with 27 keys, 8 of them unknown to the class, and 2 metadata pairs."""
    with open(CORPUS, "rb") as file:
        data: Dict[str, Any] = json.loads(file.read())
    data["metadata"] = {"user_id": "user_abc123", "session": "sess_42"}
    return data


def sparse_payload() -> Dict[str, Any]:
    """The payload lacking the known keys that 8 of the 23 reference examples lack
    (``required_action``; ``incomplete_details`` too in 2 of them)."""
    lacking = ("required_action", "incomplete_details")
    # Decoded as a parsed run is, not made by deleting keys from the payload: the slots del
    # leaves behind slow down iterating the dict (FloorRun took 1.3x its time on PyPy) and
    # copying it (CPython copies a dict without them at once); no parsed run has them.
    data = {key: value for key, value in payload().items() if key not in lacking}
    return json.loads(compact_json(data))  # type: ignore[no-any-return]


def compact_json(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


# --------------------------------------------------------------------------------------------
# ThreadRun's shape, from threadrun itself: the floors and the peers' models are built from it
# --------------------------------------------------------------------------------------------

FIELDS = threadrun._FIELDS[:-1]  # the 19 known fields, in ThreadRun's order ("extra" is last)
KNOWN = threadrun._KNOWN_KEYS
REQUIRED = threadrun._REQUIRED_KEYS


def model_fields() -> List[Tuple[str, Any, Any]]:
    """(name, type, default) of the 19 fields as a model declares them: the types are
    ThreadRun's annotations; the required fields come first (dataclasses and Structs want
    them before defaulted ones; the order changes no work done); ``tools`` and ``metadata``
    default to an empty list and dict, every other optional field to None. A required field
    has dataclasses.MISSING for default."""
    import dataclasses
    import typing

    hints = typing.get_type_hints(threadrun.ThreadRun, localns=vars(typing))
    empty = {list: [], dict: {}}
    fields = []
    for name in sorted(FIELDS, key=lambda name: name not in REQUIRED):  # stable: keeps order
        kind = getattr(hints[name], "__origin__", None)
        default = dataclasses.MISSING if name in REQUIRED else empty.get(kind)
        fields.append((name, hints[name], default))
    return fields


# --------------------------------------------------------------------------------------------
# The floors: the least pure Python can do for the same result, with no checks at all
# --------------------------------------------------------------------------------------------
#
# Their methods are straight-line code generated from FIELDS (as dataclasses generates
# __init__), so they are exactly what one would write by hand, field after field:
#
#     self.id = data["id"]                          # FloorRun: required
#     self.required_action = get("required_action") # FloorRun: optional
#     self.id = pop("id")                           # TunedFloorRun
#     "id": run.id,                                 # floor_to_dict


def _compiled(name: str, lines: List[str]) -> Any:
    namespace: Dict[str, Any] = {"KNOWN": KNOWN}
    exec("\n    ".join(lines), namespace)
    return namespace[name]


class FloorRun:
    """from_dict's floor: ThreadRun's slots filled by a plain __init__, unknown keys split off
    by a dict comprehension; no checks, no freezing."""

    __slots__ = threadrun._FIELDS
    __init__ = _compiled(
        "__init__",
        ["def __init__(self, data):", "get = data.get"]
        + [
            ("self.%s = data[%r]" if name in REQUIRED else "self.%s = get(%r)") % (name, name)
            for name in FIELDS
        ]
        + ["self.extra = {k: v for k, v in data.items() if k not in KNOWN}"],
    )


class TunedFloorRun(FloorRun):
    """The same with ThreadRun.from_dict's own split: one dict copy, one pop per known key
    (which keeps the unknown keys' order)."""

    __slots__ = ()
    __init__ = _compiled(
        "__init__",
        ["def __init__(self, data):", "extra = data.copy()", "pop = extra.pop"]
        + [
            ("self.%s = pop(%r)" if name in REQUIRED else "self.%s = pop(%r, None)") % (name, name)
            for name in FIELDS
        ]
        + ["self.extra = extra"],
    )


floor_to_dict = _compiled(
    "floor_to_dict",
    ["def floor_to_dict(run):", "data = {"]
    + ["    %r: run.%s," % (name, name) for name in FIELDS]
    + ["}", "data.update(run.extra)", "return data"],
)
floor_to_dict.__doc__ = "to_dict's floor: a dict display of the 19 attributes, updated with extra."

# from_json's floor is json.loads alone on the same bytes; to_json's, a compact JSONEncoder on
# floor_to_dict's dict. The client's floor (raw http.client) is in bench_client.py, check's
# (json.loads per line) in bench_check.py, import's (`import dataclasses, json`) in run.py.

# --------------------------------------------------------------------------------------------
# The measuring loop
# --------------------------------------------------------------------------------------------


class Timing(NamedTuple):
    """Median seconds per call over the rounds."""

    wall: float
    cpu: float


Sample = Callable[[], Tuple[float, float]]  # one sample: (wall, cpu) seconds per call


def calls(func: Callable[[], Any], number: int, gc_off: bool = True) -> Sample:
    """A sampler: ``number`` calls of ``func``, after a gc.collect(). gc_off: the collector is
    off while they run, as in timeit (micro-benchmarks); a whole program (a client call, a
    check of a file) runs with it on, as it would for real."""

    def sample() -> Tuple[float, float]:
        gc.collect()
        was_on = gc.isenabled()
        if gc_off:
            gc.disable()
        try:
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(number):
                func()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        finally:
            if was_on:
                gc.enable()
        return wall / number, cpu / number

    return sample


def calibrated(func: Callable[[], Any], seconds: float = 0.02) -> Sample:
    """A sampler of ``func`` taking about ``seconds`` (the number of calls from timeit)."""
    number, taken = timeit.Timer(func).autorange()
    return calls(func, max(1, int(number * seconds / taken)))


def measure(samplers: Sequence[Tuple[str, Sample]], rounds: int) -> Dict[str, Timing]:
    """Median wall and CPU seconds per call of each sampler, rounds interleaved and rotated."""
    samplers = list(samplers)
    taken: Dict[str, List[Tuple[float, float]]] = {key: [] for key, _ in samplers}
    for index in range(rounds):
        shift = index % len(samplers) if samplers else 0
        for key, sample in samplers[shift:] + samplers[:shift]:
            taken[key].append(sample())
    return {
        key: Timing(statistics.median(s[0] for s in got), statistics.median(s[1] for s in got))
        for key, got in taken.items()
    }


def measure_calls(candidates: Sequence[Candidate], number: int, rounds: int) -> Dict[str, Timing]:
    """``measure`` of candidates that are whole programs (a client call, a stream, a check
    of a file): ``number`` calls a sample, the collector on as it would be for real."""
    samplers = [(c.key, calls(c.func, number, gc_off=False)) for c in candidates if c.func]
    return measure(samplers, rounds)


# --------------------------------------------------------------------------------------------
# The targets
# --------------------------------------------------------------------------------------------


class Target(NamedTuple):
    """A figure of one table compared with another: ``numerator / denominator`` (row keys of
    the table) on the measure ``on``, wanted ``<=`` or ``>=`` the limit. "ref": not a target,
    a figure printed beside the targets for reference."""

    name: str
    table: str
    numerator: str
    denominator: str
    wanted: str
    limit: float
    on: str

    def verdict(self, value: Optional[float]) -> str:
        if value is None:
            return "n/a"
        if self.wanted == "ref":
            return "(reference)"
        met = value <= self.limit if self.wanted == "<=" else value >= self.limit
        return "ok" if met else "MISSED"


# The measures a target is judged on ("on"):
#   wall   median wall time per call, in process (perf_counter)
#   cpu    median CPU time per call of this process (process_time): the client's, whose wall
#          time also holds the server's answer and the scheduler's whims
#   cost   wall time of a fresh `python -E -s -c CODE` minus that of `python -c pass`
#   rate   lines per second (the inverse of wall time per file: higher is better)
#   bytes  bytes kept alive per parsed run (tracemalloc, after gc); for a stream, its peak
#   seconds  a figure in seconds (a latency), here against a fixed limit row
#   (check --jobs: cpu is the CPU time of the parent and its worker processes)
MEASURES = ("wall", "cpu", "cost", "rate", "bytes", "seconds")


def _targets(text: str) -> Tuple[Target, ...]:
    """The targets written as a table (``TARGETS`` below): a table's name alone on a line,
    then a line per target, indented, its cells two spaces apart or more. A target's name
    is its table's, less any option ("check --jobs": "check"), a colon and the last cell."""
    targets = []
    table = ""
    for line in text.strip("\n").splitlines():
        if not line.startswith(" "):
            table = line
            continue
        cells = re.split(r" {2,}", line.strip())
        if len(cells) != 6 or cells[2] not in ("<=", ">=", "ref") or cells[4] not in MEASURES:
            raise ValueError("not a target of %s: %r" % (table, line))
        numerator, denominator, wanted, limit, on, name = cells
        name = "%s: %s" % (table.split(" --")[0], name)
        targets.append(Target(name, table, numerator, denominator, wanted, float(limit), on))
    return tuple(targets)


# Every speed and memory target, stated once. Floors: threadrun's figure over the floor's is
# the ratio; see the floors above.
# bench_stream.py: "stream" reads 64 KiB at a time, "stream live" one event per read; at
# least 0.8x the floor's speed is at most 1.25x its CPU. The SDK's stream parsing is what
# iterating its stream does (SSE decoding, json, typed event models): the target. Its SSE
# decoder plus json.loads alone, without the models, is shown for reference: 3x less than
# that would be less than json.loads of the same events costs.
#
# Under the name of each table, a line per target: the numerator and the denominator (row
# keys of the table), wanted, limit, the measure it is on, and the rest of its name.
TARGETS = _targets("""
from_dict
    openai            threadrun  >=   4.0   wall     Run.model_validate / threadrun
    mashumaro         threadrun  >=   2.0   wall     mashumaro / threadrun
    mashumaro frozen  threadrun  ref  2.0   wall     mashumaro (frozen) / threadrun
    threadrun         floor      <=   1.1   wall     threadrun / floor (Python 3.10+)
    threadrun         floor      <=   1.3   wall     threadrun / floor (Python 3.7-3.9)
    sparse            threadrun  <=   1.3   wall     run lacking 2 keys / full run
from_json
    openai            threadrun  >=   1.1   wall     Run.model_validate_json / threadrun
    threadrun         floor      <=   1.4   wall     threadrun / json.loads
    floor object      floor      ref  1.4   wall     json.loads + FloorRun / json.loads
to_dict
    threadrun         floor      <=   1.2   wall     threadrun / floor
    openai            threadrun  >=   3.0   wall     Run.model_dump / threadrun
import
    openai            threadrun  >=   20.0  cost     cost of openai / cost of threadrun
    threadrun         floor      <=   1.15  wall     threadrun process / dataclasses+json process
client
    openai            threadrun  >=   4.0   cpu      SDK cpu / threadrun cpu
    threadrun         floor      <=   1.2   cpu      threadrun cpu / floor cpu
    messages          messages floor  <=  1.2  cpu   list_messages cpu / floor cpu, per page
client async
    openai            threadrun  >=   4.0   cpu      AsyncOpenAI cpu / AsyncClient cpu
    threadrun         floor      <=   1.3   cpu      AsyncClient cpu / asyncio floor cpu
memory
    threadrun         floor      <=   1.0   bytes    threadrun bytes/run / dict bytes/run
stream
    threadrun         floor      <=   1.25  cpu      threadrun cpu / floor cpu
    openai            threadrun  ref  3.0   cpu      SDK SSEDecoder+json cpu / threadrun cpu
    openai typed      threadrun  >=   3.0   cpu      SDK typed events cpu / threadrun cpu
stream live
    threadrun         floor      <=   1.25  cpu      threadrun cpu / floor cpu
    openai            threadrun  ref  3.0   cpu      SDK SSEDecoder+json cpu / threadrun cpu
    openai typed      threadrun  >=   3.0   cpu      SDK typed events cpu / threadrun cpu
stream memory
    long              short      <=   1.1   bytes    traced peak at N MB / at 10 MB
stream latency
    threadrun p95     limit      <=   1.0   seconds  threadrun p95 / 5 ms
    floor p95         limit      ref  1.0   seconds  floor p95 / 5 ms
check
    check             floor      >=   0.75  rate     check rate / json.loads rate
check --jobs
    jobs 2            jobs 1     >=   1.6   rate     --jobs 2 rate / --jobs 1 rate
    progress          jobs 1     <=   1.03  cpu      CPU with the progress line / without
""")

Judged = Tuple[Target, Optional[float]]


def judge(
    table: str, rows: Sequence[Candidate], measures: Dict[str, Dict[str, float]]
) -> List[Judged]:
    """The targets of ``table`` between two of its ``rows``, each with its ratio (None when a
    row was not measured: a peer not installed), from the table's figures: measure ("wall",
    "cpu", ...) -> row key -> figure."""
    keys = {row.key for row in rows}
    return [
        (target, ratio(target, measures))
        for target in TARGETS
        if target.table == table
        and {target.numerator, target.denominator} <= keys
        and applies_here(target)
    ]


def applies_here(target: Target) -> bool:
    """Whether ``target`` is this interpreter's: a name ending "(Python 3.10+)" or "(Python
    3.7-3.9)" is one of those Python versions' only (PyPy's by the version it implements)."""
    found = re.search(r"\(Python 3\.(\d+)(\+|-3\.(\d+))\)$", target.name)
    if not found:
        return True
    low = int(found.group(1))
    high = int(found.group(3)) if found.group(3) else 99
    return sys.version_info[0] == 3 and low <= sys.version_info[1] <= high


def ratio(target: Target, measures: Dict[str, Dict[str, float]]) -> Optional[float]:
    """``target``'s numerator over its denominator, from a table's figures (None when either
    was not measured)."""
    figures = measures.get(target.on, {})
    if target.numerator in figures and figures.get(target.denominator):
        return figures[target.numerator] / figures[target.denominator]
    return None


def print_targets(judged: List[Judged], title: str = "targets") -> None:
    rows = [
        [
            target.name,
            "%.2fx" % value if value is not None else "-",
            "%s %.2fx" % (target.wanted, target.limit) if target.wanted != "ref" else "",
            target.on,
            target.verdict(value),
        ]
        for target, value in judged
    ]
    print_table(title, ["target", "measured", "wanted", "on", "result"], rows)
    verdicts = [target.verdict(value) for target, value in judged if target.wanted != "ref"]
    print(
        "  %d ok, %d MISSED, %d n/a"
        % (verdicts.count("ok"), verdicts.count("MISSED"), verdicts.count("n/a"))
    )


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


class Candidate(NamedTuple):
    """A row of a timed table: ``key`` names it for the targets ("threadrun", "floor", a
    peer); ``func`` is None when its package is not installed."""

    key: str
    label: str
    func: Optional[Callable[[], Any]]
    note: str = ""


def fmt_time(seconds: float) -> str:
    if seconds < 1e-6:
        return "%.0f ns" % (seconds * 1e9)
    if seconds < 1e-3:
        return "%.2f us" % (seconds * 1e6)
    if seconds < 1:
        return "%.2f ms" % (seconds * 1e3)
    return "%.2f s" % seconds


def fmt_count(value: float) -> str:
    return f"{value:,.0f}"


def print_table(
    title: str,
    headers: List[str],
    rows: List[List[str]],
    notes: Sequence[str] = (),
    first_width: int = 46,
) -> None:
    """The one table layout: a title line, then aligned columns (the first left-aligned, the
    others right-aligned). A row of two cells when there are more columns (a row skipped or
    in error) is the label and one note; ``notes`` are printed below as "* note"."""
    full = [row for row in rows if len(row) == len(headers)]
    widths = [max([len(headers[i])] + [len(row[i]) for row in full]) for i in range(len(headers))]
    widths[0] = max([widths[0], first_width] + [len(row[0]) for row in rows])

    def line(cells: List[str]) -> str:
        if len(cells) == 2 and len(headers) > 2:
            return "  %-*s  %s" % (widths[0], cells[0], cells[1])
        out = ["%-*s" % (widths[0], cells[0])]
        out += ["%*s" % (widths[i], cells[i]) for i in range(1, len(cells))]
        return "  " + "  ".join(out)

    print("\n" + title)
    print(line(headers))
    for row in rows:
        print(line(row))
    for note in notes:
        print("    * " + note)


def runnable(candidates: Sequence[Candidate]) -> Tuple[List[Candidate], Dict[str, str]]:
    """The candidates that run: each is called once first, so that a broken peer is reported
    in its row rather than failing the table."""
    ok, errors = [], {}
    for candidate in candidates:
        if candidate.func is None:
            continue
        try:
            candidate.func()
        except Exception as exc:
            errors[candidate.key] = "error: %s: %s" % (type(exc).__name__, str(exc)[:80])
            continue
        ok.append(candidate)
    return ok, errors


def timed_table(
    title: str, candidates: Sequence[Candidate], rounds: int, versus: str
) -> Tuple[Dict[str, Timing], Dict[str, str]]:
    """Time the candidates (calibrated samples, wall time) and print their table, with each
    time relative to the row ``versus``; returns the medians and the rows in error."""
    ok, errors = runnable(candidates)
    timings = measure([(c.key, calibrated(c.func)) for c in ok if c.func is not None], rounds)
    base = timings[versus].wall

    def cells(key: str) -> List[str]:
        wall = timings[key].wall
        return [fmt_time(wall), fmt_count(1 / wall), "%.2fx" % (wall / base)]

    print_table(
        "%s  (median of %d rounds; x = time relative to %s)" % (title, rounds, versus),
        ["candidate", "time/op", "ops/s", "vs " + versus],
        table_rows(candidates, cells, errors),
        notes(candidates),
    )
    return timings, errors


def table_rows(
    candidates: Sequence[Candidate],
    cells: Callable[[str], List[str]],
    errors: Optional[Dict[str, str]] = None,
) -> List[List[str]]:
    """A table's rows: each label, then its cells(key), or the note of a row skipped (its
    package not installed) or in error."""
    errors = errors or {}
    return [
        [c.label, errors[c.key]]
        if c.key in errors
        else [c.label, SKIPPED]
        if c.func is None
        else [c.label, *cells(c.key)]
        for c in candidates
    ]


def notes(candidates: Sequence[Candidate]) -> List[str]:
    return ["%s: %s" % (c.label, c.note) for c in candidates if c.note and c.func is not None]


def measures(timings: Dict[str, Timing]) -> Dict[str, Dict[str, float]]:
    """The measures of an in-process timed table, for judge()."""
    return {
        "wall": {key: t.wall for key, t in timings.items()},
        "cpu": {key: t.cpu for key, t in timings.items()},
    }
