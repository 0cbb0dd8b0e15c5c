"""Parse and serialise throughput of ThreadRun against the floor of pure Python.

    python benchmarks/bench_parse.py [--repeat N] [--quick]

Every candidate is timed in the same process on the same payload, the repeats interleaved
(one timing of each candidate per round) so that noise from a shared machine falls on all of
them alike; the figure kept is the median over rounds. Ratios are against the floor:

- from_dict floor: a plain class with ThreadRun's __slots__, filled by a plain __init__ from the
  same dict, unknown keys split off into ``extra`` the fastest way we know (``dict.copy`` and one
  pop per known key, which keeps the unknown keys' order) -- with no checks at all.
- to_dict floor: a dict display of the 19 attributes, updated with ``extra``.
- from_json floor: ``json.loads`` alone on the same bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import timeit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import threadrun  # noqa: E402
from threadrun import ThreadRun  # noqa: E402

CORPUS = os.path.join(os.path.dirname(HERE), "tests", "data", "22-completed.json")


def payload() -> dict:
    """A completed run with 27 keys, 8 of them unknown to the class, and 2 metadata pairs."""
    with open(CORPUS, "rb") as file:
        data = json.loads(file.read())
    data["metadata"] = {"user_id": "user_abc123", "session": "sess_42"}
    return data


KNOWN = frozenset(ThreadRun.__slots__[:-1])


class FloorRun:
    """The floor: ThreadRun's slots filled by a plain __init__, no checks, no freezing."""

    __slots__ = ThreadRun.__slots__

    def __init__(self, data):
        get = data.get
        self.id = data["id"]
        self.object = data["object"]
        self.created_at = data["created_at"]
        self.thread_id = data["thread_id"]
        self.assistant_id = data["assistant_id"]
        self.status = data["status"]
        self.required_action = get("required_action")
        self.last_error = get("last_error")
        self.expires_at = get("expires_at")
        self.started_at = get("started_at")
        self.cancelled_at = get("cancelled_at")
        self.failed_at = get("failed_at")
        self.completed_at = get("completed_at")
        self.incomplete_details = get("incomplete_details")
        self.model = data["model"]
        self.instructions = get("instructions")
        self.tools = get("tools")
        self.metadata = get("metadata")
        self.usage = get("usage")
        self.extra = {k: v for k, v in data.items() if k not in KNOWN}


class TunedFloorRun(FloorRun):
    """The same with ThreadRun.from_dict's own split: one dict copy, one pop per known key."""

    __slots__ = ()

    def __init__(self, data):
        extra = data.copy()
        pop = extra.pop
        self.id = pop("id")
        self.object = pop("object")
        self.created_at = pop("created_at")
        self.thread_id = pop("thread_id")
        self.assistant_id = pop("assistant_id")
        self.status = pop("status")
        self.required_action = pop("required_action", None)
        self.last_error = pop("last_error", None)
        self.expires_at = pop("expires_at", None)
        self.started_at = pop("started_at", None)
        self.cancelled_at = pop("cancelled_at", None)
        self.failed_at = pop("failed_at", None)
        self.completed_at = pop("completed_at", None)
        self.incomplete_details = pop("incomplete_details", None)
        self.model = pop("model")
        self.instructions = pop("instructions", None)
        self.tools = pop("tools", None)
        self.metadata = pop("metadata", None)
        self.usage = pop("usage", None)
        self.extra = extra


def floor_to_dict(run):
    data = {
        "id": run.id, "object": run.object, "created_at": run.created_at,
        "thread_id": run.thread_id, "assistant_id": run.assistant_id, "status": run.status,
        "required_action": run.required_action, "last_error": run.last_error,
        "expires_at": run.expires_at, "started_at": run.started_at,
        "cancelled_at": run.cancelled_at, "failed_at": run.failed_at,
        "completed_at": run.completed_at, "incomplete_details": run.incomplete_details,
        "model": run.model, "instructions": run.instructions, "tools": run.tools,
        "metadata": run.metadata, "usage": run.usage,
    }  # fmt: skip
    data.update(run.extra)
    return data


def measure(candidates, repeat, target_seconds=0.02):
    """Median seconds per call of each candidate, rounds interleaved."""
    numbers = {}
    for name, func in candidates:
        number, _ = timeit.Timer(func).autorange()
        numbers[name] = max(1, int(number * target_seconds / 0.2))
    samples = {name: [] for name, _ in candidates}
    for _ in range(repeat):
        for name, func in candidates:
            number = numbers[name]
            samples[name].append(timeit.Timer(func).timeit(number) / number)
    return {name: statistics.median(values) for name, values in samples.items()}


def table(title, medians, floor, target=None):
    print("\n%s" % title)
    print("  %-34s %12s %14s %8s" % ("candidate", "ns/op", "ops/s", "ratio"))
    base = medians[floor]
    for name, seconds in medians.items():
        print("  %-34s %12.0f %14.0f %7.2fx" % (name, seconds * 1e9, 1 / seconds, seconds / base))
    return base


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=21, help="rounds (default 21)")
    parser.add_argument("--quick", action="store_true", help="5 rounds, for a smoke run")
    parser.add_argument("--json", metavar="FILE", help="also write the medians as JSON")
    args = parser.parse_args(argv)
    repeat = 5 if args.quick else args.repeat

    data = payload()
    body = json.dumps(data, separators=(",", ":")).encode()
    run = ThreadRun.from_dict(data)
    floor_run = FloorRun(data)
    assert run.to_dict() == data and floor_to_dict(floor_run) == data

    print("threadrun %s on Python %s (%s), %d rounds, median per op" % (
        threadrun.__version__, sys.version.split()[0], sys.platform, repeat))
    print("payload: %d keys (%d unknown), %d bytes of JSON" % (
        len(data), len(run.extra), len(body)))
    results = {}
    checks = []
    for title, floor, ours, candidates, target in (
        ("from_dict", "floor: plain __slots__ class", "ThreadRun.from_dict", [
            ("ThreadRun.from_dict", lambda: ThreadRun.from_dict(data)),
            ("floor: plain __slots__ class", lambda: FloorRun(data)),
            ("tuned floor: copy+pop split", lambda: TunedFloorRun(data)),
        ], 1.3),
        ("to_dict", "floor: dict from attributes", "run.to_dict", [
            ("run.to_dict", run.to_dict),
            ("floor: dict from attributes", lambda: floor_to_dict(floor_run)),
        ], 1.2),
        ("from_json (bytes)", "floor: json.loads", "ThreadRun.from_json", [
            ("ThreadRun.from_json", lambda: ThreadRun.from_json(body)),
            ("floor: json.loads", lambda: json.loads(body)),
        ], 1.4),
    ):
        medians = measure(candidates, repeat)
        base = table(title, medians, floor)
        ratio = medians[ours] / base
        checks.append((title, ratio, target))
        results[title] = {"medians_ns": {k: v * 1e9 for k, v in medians.items()}, "ratio": ratio,
                          "target": target}
    print("\nratios against the floor (target):")
    for title, ratio, target in checks:
        print("  %-20s %5.2fx  (<= %.1fx) %s" % (title, ratio, target,
                                               "ok" if ratio <= target else "MISSED"))
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"python": sys.version.split()[0], "results": results}, file, indent=2)


if __name__ == "__main__":
    main()
