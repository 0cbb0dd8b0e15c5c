"""Parse and serialise throughput of ThreadRun against the floor of pure Python.

    python benchmarks/bench_parse.py [--repeat N] [--quick] [--json FILE]

Standard library only, so that it runs on every supported Python (``run.py --only versions``
runs it on each). The candidates of a table are timed as every table is (``_common.measure``:
rounds interleaved, medians); ratios are against the floors of ``_common``: FloorRun for
from_dict, ``floor_to_dict`` for to_dict, ``json.loads`` for from_json. The targets are those of
``_common.TARGETS`` for these three tables, judged on wall time.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, List, Optional

from _common import (
    Candidate,
    FloorRun,
    TunedFloorRun,
    compact_json,
    floor_to_dict,
    judge,
    measures,
    payload,
    print_targets,
    sparse_payload,
    timed_table,
)

import threadrun
from threadrun import ThreadRun

TABLES = ("from_dict", "to_dict", "from_json")  # what this script times (run.py adds to_json)


def candidates(data: Dict[str, Any], body: bytes) -> Dict[str, List[Candidate]]:
    """threadrun and its floors, per table (run.py adds the peers after them)."""
    run = ThreadRun.from_dict(data)
    floor_run = FloorRun(data)
    sparse = sparse_payload()
    assert run.to_dict() == data and floor_to_dict(floor_run) == data
    assert ThreadRun.from_dict(sparse).to_dict() == sparse
    encoder = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
    return {
        "from_dict": [
            Candidate("threadrun", "threadrun: ThreadRun.from_dict",
                      lambda: ThreadRun.from_dict(data)),
            Candidate("floor", "floor: plain __slots__ class (FloorRun)", lambda: FloorRun(data),
                      "no checks; extra by dict comprehension"),
            Candidate("tuned floor", "tuned floor: copy+pop split (TunedFloorRun)",
                      lambda: TunedFloorRun(data), "no checks; extra split as from_dict does"),
            Candidate("sparse", "threadrun: the same run lacking 2 known keys",
                      lambda: ThreadRun.from_dict(sparse),
                      "no required_action, incomplete_details: 8 reference examples lack some"),
        ],
        "from_json": [
            Candidate("threadrun", "threadrun: ThreadRun.from_json",
                      lambda: ThreadRun.from_json(body)),
            Candidate("floor", "floor: json.loads (dict only, no object)",
                      lambda: json.loads(body)),
            Candidate("floor object", "json.loads + FloorRun (no checks at all)",
                      lambda: FloorRun(json.loads(body)),
                      "for reference: json.loads, then an object built with no checks"),
        ],
        "to_dict": [
            Candidate("threadrun", "threadrun: run.to_dict()", run.to_dict,
                      "27 keys, nested values shared"),
            Candidate("floor", "floor: dict display of the attributes + extra",
                      lambda: floor_to_dict(floor_run)),
        ],
        "to_json": [
            Candidate("threadrun", "threadrun: run.to_json()", run.to_json),
            Candidate("floor", "floor: JSONEncoder.encode(dict of attributes)",
                      lambda: encoder.encode(floor_to_dict(floor_run))),
        ],
    }  # fmt: skip


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=21, help="rounds (default 21)")
    parser.add_argument("--quick", action="store_true", help="5 rounds, for a smoke run")
    parser.add_argument("--json", metavar="FILE", help="also write the medians as JSON")
    args = parser.parse_args(argv)
    rounds = 5 if args.quick else args.repeat

    data = payload()
    body = compact_json(data)
    tables = candidates(data, body)
    print("threadrun %s on Python %s (%s), %d rounds, median per op"
          % (threadrun.__version__, sys.version.split()[0], sys.platform, rounds))  # fmt: skip
    print("payload: %d keys (%d unknown), %d bytes of JSON"
          % (len(data), len(ThreadRun.from_dict(data).extra), len(body)))  # fmt: skip
    judged = []
    seconds = {}
    for table in TABLES:
        timings, _ = timed_table(table, tables[table], rounds, versus="floor")
        judged += judge(table, tables[table], measures(timings))
        seconds[table] = {key: timing.wall for key, timing in timings.items()}
    print_targets(judged, "ratios against the floor (wall time)")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(
                {
                    "python": sys.version.split()[0],
                    "seconds": seconds,
                    "targets": [
                        {"name": target.name, "table": target.table, "value": value,
                         "wanted": target.wanted, "limit": target.limit,
                         "verdict": target.verdict(value)}
                        for target, value in judged
                    ],
                },
                file,
                indent=2,
            )  # fmt: skip


if __name__ == "__main__":
    main()
