"""docs/performance.md, made from the JSON of ``benchmarks/run.py``: its figures are never
written by hand.

    python benchmarks/run.py --json benchmarks/results.json   # measure (the full run)
    python benchmarks/performance_page.py                     # write docs/performance.md
    python benchmarks/performance_page.py --check             # exit 1 if the page differs

The prose around the tables says how the figures are made and what they compare; every
figure comes from the JSON (tests/test_performance_page.py checks that the page is what this
script makes of benchmarks/results.json).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, List, Sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import fmt_count, fmt_time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results.json")
PAGE = os.path.join(os.path.dirname(HERE), "docs", "performance.md")

INTRO = """\
# Performance

<!-- Made by benchmarks/performance_page.py from benchmarks/results.json: do not edit. -->

`benchmarks/run.py` times threadrun against the least that pure Python can do for the same
result (the *floor*) and against the usual alternatives (the *peers*), on one completed run
of 27 keys (8 of them unknown to `ThreadRun`). Every figure is the median of repeated
timings; the candidates of a table run in the same process on the same payload, their rounds
interleaved so that a noisy neighbour slows all of them alike. "x" is the time relative to
threadrun: above 1.00x is slower than threadrun, below is faster. The targets, and the measure
each is judged on, are listed once in `benchmarks/_common.py` (`TARGETS`).

Reproduce:

```
python benchmarks/run.py --setup                          # first time: the peers, then the full run
python benchmarks/run.py --json benchmarks/results.json   # later runs
python benchmarks/performance_page.py                     # this page, from that JSON
```
"""


def render(data: Dict[str, Any]) -> str:
    """The page for the JSON ``data`` of one run of benchmarks/run.py."""
    meta, results = data["meta"], data["results"]
    out: List[str] = [INTRO, "## This run", ""]
    peers = ", ".join(
        "%s %s" % (name, version) if version else "%s (not installed)" % name
        for name, version in sorted(meta["peers"].items())
    )
    out.append(
        "%s %s on %s (%s, %d cores), threadrun %s at commit %s; %s. Peers: %s."
        % (
            meta["implementation"], meta["python"], meta["platform"], meta["cpu"],
            meta["nproc"], meta["threadrun"], meta["git"],
            "a quick run (--quick, %d rounds): figures for a smoke check, noisier" % meta["repeat"]
            if meta["quick"] else "%d rounds" % meta["repeat"],
            peers,
        )
    )  # fmt: skip
    out.append("")
    for name, result in results.items():
        if "median_seconds" in result:
            out.extend(_timed(name, result["median_seconds"], result.get("skipped", [])))
        elif "wall_seconds" in result:
            out.extend(_wall_and_cpu(name, result))
        elif "bytes_per_run" in result:
            out.extend(_bytes(name, result))
        elif "threadrun_bytes" in result:
            out.extend(_footprint(result))
    if "versions" in results:
        out.extend(_versions(results["versions"]))
    out.extend(_targets(data["targets"]))
    return "\n".join(out).rstrip() + "\n"


def _ratio(value: float, base: float) -> str:
    return "%.2fx" % (value / base) if base else "-"


def _timed(name: str, medians: Dict[str, Dict[str, float]], skipped: Sequence[str]) -> List[str]:
    base = medians["threadrun"]["wall"]
    rows = ["## %s" % name, "", "| candidate | time/op | ops/s | vs threadrun |",
            "| --- | ---: | ---: | ---: |"]  # fmt: skip
    for key, timing in medians.items():
        wall = timing["wall"]
        rows.append("| %s | %s | %s | %s |" % (
            "**threadrun**" if key == "threadrun" else key, fmt_time(wall),
            fmt_count(1 / wall), _ratio(wall, base),
        ))  # fmt: skip
    if skipped:
        rows += ["", "Not installed in this run: %s." % "; ".join(skipped)]
    return [*rows, ""]


def _wall_and_cpu(name: str, result: Dict[str, Any]) -> List[str]:
    wall, cpu = result["wall_seconds"], result["cpu_seconds"]
    base = wall["threadrun"]
    rows = ["## %s" % name, "", "| candidate | wall | cpu | wall vs threadrun |",
            "| --- | ---: | ---: | ---: |"]  # fmt: skip
    for key in wall:
        rows.append("| %s | %s | %s | %s |" % (
            "**threadrun**" if key == "threadrun" else key, fmt_time(wall[key]),
            fmt_time(cpu[key]), _ratio(wall[key], base),
        ))  # fmt: skip
    return [*rows, ""]


def _bytes(name: str, result: Dict[str, Any]) -> List[str]:
    sizes = result["bytes_per_run"]
    rows = ["## %s (%d runs)" % (name, result["count"]), "",
            "| candidate | bytes per run | vs threadrun |", "| --- | ---: | ---: |"]  # fmt: skip
    for key, size in sizes.items():
        rows.append("| %s | %d | %s |" % (
            "**threadrun**" if key == "threadrun" else key, size,
            _ratio(size, sizes["threadrun"]),
        ))  # fmt: skip
    return [*rows, ""]


def _footprint(result: Dict[str, Any]) -> List[str]:
    rows = ["## footprint", "",
            "| package | dependencies | files | bytes w/o .pyc | lines of .py |",
            "| --- | ---: | ---: | ---: | ---: |",
            "| **threadrun**: `threadrun/__init__.py` | 0 | 1 | {:,} | {:,} |".format(
                result["threadrun_bytes"], result["threadrun_lines"])]  # fmt: skip
    sdk = result["sdk"]
    if sdk:
        rows.append("| official SDK: `{}` and its dependencies | {} | {:,} | {:,} | {:,} |".format(
            sdk["requirement"], len(sdk["wheels"]) - 1, sdk["files"], sdk["bytes_without_pyc"],
            sdk["py_lines"]))  # fmt: skip
    else:
        rows += ["", "The SDK: %s." % result["sdk_how"]]
    return [*rows, ""]


def _versions(versions: Dict[str, Any]) -> List[str]:
    rows = ["## Every supported Python", "",
            "| Python | target | measured | wanted | result |",
            "| --- | --- | ---: | ---: | --- |"]  # fmt: skip
    for label, found in versions.items():
        for target in found["targets"]:
            rows.append("| %s | %s | %s | %s | %s |" % (
                label, target["name"], _value(target["value"]), _wanted(target),
                target["verdict"],
            ))  # fmt: skip
    return [*rows, ""]


def _targets(targets: Sequence[Dict[str, Any]]) -> List[str]:
    rows = ["## Targets", "", "| target | measured | wanted | on | result |",
            "| --- | ---: | ---: | --- | --- |"]  # fmt: skip
    counts: Dict[str, int] = {}
    for target in targets:
        rows.append("| %s | %s | %s | %s | %s |" % (
            target["name"], _value(target["value"]), _wanted(target), target["on"],
            target["verdict"],
        ))  # fmt: skip
        counts[target["verdict"]] = counts.get(target["verdict"], 0) + 1
    rows += ["", "%d ok, %d MISSED, %d n/a (a peer not installed)." % (
        counts.get("ok", 0), counts.get("MISSED", 0), counts.get("n/a", 0))]  # fmt: skip
    return [*rows, ""]


def _value(value: Any) -> str:
    return "-" if value is None else "%.2fx" % value


def _wanted(target: Dict[str, Any]) -> str:
    if target["wanted"] == "ref":
        return ""
    return "%s %.2fx" % (target["wanted"], target["limit"])


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description="docs/performance.md from run.py's JSON")
    parser.add_argument("--json", default=RESULTS, help="the JSON of run.py --json")
    parser.add_argument("--page", default=PAGE, help="the page to write (or check)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the page differs")
    args = parser.parse_args(argv)
    with open(args.json, encoding="utf-8") as fh:
        page = render(json.load(fh))
    if args.check:
        with open(args.page, encoding="utf-8") as fh:
            same = fh.read() == page
        print("%s is %s" % (args.page, "up to date" if same else "NOT what the JSON makes"))
        return 0 if same else 1
    with open(args.page, "w", encoding="utf-8") as fh:
        fh.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
