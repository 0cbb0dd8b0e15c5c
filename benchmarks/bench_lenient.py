"""The cost of reading a run through ``threadrun.lenient``, as a ratio to ``from_dict`` alone.

    python benchmarks/bench_lenient.py [--repeat N] [--quick]

Standard library only. Times, per run (``_common.measure``: calibrated samples, rounds
interleaved, medians, wall time), ``ThreadRun.from_dict`` of the benchmark payload (the floor
of this table: what every adapter adds to), then ``from_dict(lenient(data))`` on the same run
as a reference server writes it, on the same run as a quirky server writes it (``created_at``
in milliseconds, ``"model": null``, a metadata value that is not a string), and on one with
ISO-8601 timestamps; and ``from_dict(iso_timestamps(data))`` on that last one, for comparison.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from typing import Any, Dict, List, Optional

from _common import Candidate, payload, timed_table

import threadrun
from threadrun import ThreadRun

TIMESTAMPS = (
    "created_at", "expires_at", "started_at", "cancelled_at", "failed_at", "completed_at",
)  # fmt: skip


def iso(seconds: int) -> str:
    moment = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.549940Z")


def variants(data: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    quirky = dict(data, created_at=data["created_at"] * 1000 + 780, model=None,
                  metadata=dict(data.get("metadata") or {}, stream=True))  # fmt: skip
    with_iso = dict(data)
    for field in TIMESTAMPS:
        if isinstance(with_iso.get(field), int):
            with_iso[field] = iso(with_iso[field])
    return {"reference": data, "quirky": quirky, "iso": with_iso}


def candidates(data: Dict[str, Any]) -> List[Candidate]:
    runs = variants(data)
    lenient, iso_timestamps = threadrun.lenient, threadrun.iso_timestamps
    from_dict = ThreadRun.from_dict
    reference, quirky, with_iso = runs["reference"], runs["quirky"], runs["iso"]
    assert from_dict(lenient(quirky)).created_at == data["created_at"]
    assert from_dict(lenient(with_iso)) == from_dict(iso_timestamps(with_iso))
    return [
        Candidate("floor", "from_dict (a reference run)", lambda: from_dict(reference)),
        Candidate("lenient", "from_dict(lenient(...)), a reference run",
                  lambda: from_dict(lenient(reference))),
        Candidate("lenient quirky", "from_dict(lenient(...)), ms + null model + metadata",
                  lambda: from_dict(lenient(quirky))),
        Candidate("lenient iso", "from_dict(lenient(...)), ISO-8601 timestamps",
                  lambda: from_dict(lenient(with_iso))),
        Candidate("iso", "from_dict(iso_timestamps(...)), ISO-8601 timestamps",
                  lambda: from_dict(iso_timestamps(with_iso))),
    ]  # fmt: skip


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=21, help="rounds (default 21)")
    parser.add_argument("--quick", action="store_true", help="5 rounds, for a smoke run")
    args = parser.parse_args(argv)
    rounds = 5 if args.quick else args.repeat
    print("threadrun %s on Python %s (%s), %d rounds, median per run"
          % (threadrun.__version__, sys.version.split()[0], sys.platform, rounds))  # fmt: skip
    try:
        with open("/proc/loadavg") as file:
            print("load average: %s" % " ".join(file.read().split()[:3]))
    except OSError:
        pass
    timed_table("lenient", candidates(payload()), rounds, versus="floor")


if __name__ == "__main__":
    main()
