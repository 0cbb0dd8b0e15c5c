"""Event-stream parsing of RunStream against the floor and the official SDK (issue 12, §5).

    python benchmarks/bench_stream.py [--rounds N] [--quick] [--memory-mb N]

The recorded stream: the events of the API reference's streams (tests/data/streams/, the
stray "}" of their examples taken off, as a real server sends them) repeated to at least
10,000 events, then done. Every candidate turns the same bytes into events with decoded data,
read two ways: in 64 KiB reads (a recorded stream, or a fast server), and one event per read
(a live stream, where each event arrives alone).

- threadrun: RunStream over the chunks (ThreadRun for run events, dicts for the others).
- floor: split the lines, json.loads each data payload: the least a parser can do.
- openai SSEDecoder + json: the official SDK's event-stream decoder
  (``openai._streaming.SSEDecoder``) and ``sse.json()``, untyped, as its Stream reads them.
- openai typed events: the same, then ``construct_type`` into ``AssistantStreamEvent``, as
  ``client.beta.threads.runs.create(stream=True)`` yields them.

Times are CPU seconds (``time.process_time``) per stream, the collector on, median of rounds
measured by ``_common.measure`` (interleaved and rotated, so a noisy neighbour falls on all
alike). Targets (``STREAM_TARGETS``, in ``_common.Target``'s form): threadrun at least 0.8x
the floor's speed (at most 1.25x its CPU), and at least 3x less CPU than the SDK. The SDK rows
are skipped when ``openai`` is not importable (``pip install openai`` in a dev venv).

Memory: RunStream over a stream of --memory-mb MB (default 100) made on the fly, in a child
process: the peak RSS and its growth while streaming, and tracemalloc's peak (a run of its
own), against the same over 10 MB.
"""

from __future__ import annotations

import argparse
import glob
import json
import resource
import subprocess
import sys
from typing import Any, Callable, Dict, List, Tuple

from _common import (
    ROOT,
    Candidate,
    Target,
    Timing,
    calls,
    fmt_count,
    fmt_time,
    measure,
    print_table,
    print_targets,
    runnable,
    table_rows,
)

import threadrun

STREAMS = "%s/tests/data/streams/*.sse" % ROOT
MIN_EVENTS = 10_000
READ_SIZE = 65536
DONE = b"event: done\ndata: [DONE]\n\n"
# Issue 12's targets, judged on CPU time per stream like the client's, in _common's form;
# "stream" reads 64 KiB at a time, "stream live" one event per read.
STREAM_TARGETS = (
    *(
        target
        for table in ("stream", "stream live")
        for target in (
            # at least 0.8x the floor's speed: at most 1.25x its time
            Target("%s: threadrun cpu / floor cpu" % table, table, "threadrun", "floor", "<=",
                   1.25, "cpu"),
            Target("%s: SDK SSEDecoder+json cpu / threadrun cpu" % table, table, "openai",
                   "threadrun", ">=", 3.0, "cpu"),
            Target("%s: SDK typed events cpu / threadrun cpu" % table, table, "openai typed",
                   "threadrun", ">=", 3.0, "cpu"),
        )
    ),
    Target("stream memory: traced peak at N MB / at 10 MB", "stream memory", "long", "short",
           "<=", 1.1, "bytes"),
)  # fmt: skip


def corpus_events():
    """(type, compact JSON) of every event of the corpus streams, done excluded."""
    events = []
    for path in sorted(glob.glob(STREAMS)):
        with open(path, encoding="utf-8") as file:
            event_type = "message"
            for line in file.read().split("\n"):
                if line.startswith("event: "):
                    event_type = line[7:]
                elif line.startswith("data: ") and event_type != "done":
                    data = line[6:]
                    try:
                        value = json.loads(data)
                    except ValueError:
                        value = json.loads(data[:-1])  # the examples' stray "}"
                    events.append((event_type, json.dumps(value, separators=(",", ":"))))
    return events


def recorded_stream(minimum=MIN_EVENTS):
    """One body of at least ``minimum`` events, and its event count."""
    events = corpus_events()
    rounds = -(-minimum // len(events))
    one = b"".join(b"event: %s\ndata: %s\n\n" % (t.encode(), d.encode()) for t, d in events)
    return one * rounds + DONE, len(events) * rounds


def reads_of(body, how):
    if how == "64 KiB reads":
        return [body[i : i + READ_SIZE] for i in range(0, len(body), READ_SIZE)]
    return [event + b"\n\n" for event in body.split(b"\n\n")[:-1]]


# --------------------------------------------------------------------------------------------
# Candidates: each takes the list of reads and returns the number of events it produced
# --------------------------------------------------------------------------------------------


def threadrun_stream(reads):
    chunks = iter(reads)
    stream = threadrun.RunStream(
        lambda: next(chunks, b""), lambda reusable: None, max_event_bytes=8 << 20
    )
    count = 0
    for _event in stream:
        count += 1
    return count


def floor(reads):
    # The whole body at once: no state kept between reads, the least work there is.
    count = 0
    loads = json.loads
    for line in b"".join(reads).split(b"\n"):
        if line[:6] == b"data: ":
            if line == b"data: [DONE]":
                break
            loads(line[6:])
            count += 1
    return count


def sdk_candidates():
    try:
        from openai import __version__
        from openai._models import construct_type
        from openai._streaming import SSEDecoder
        from openai.types.beta import AssistantStreamEvent
    except ImportError:
        return None, [
            ("openai", "openai SSEDecoder + json", None),
            ("openai typed", "openai typed events (AssistantStreamEvent)", None),
        ]

    def sdk_untyped(reads):
        count = 0
        for sse in SSEDecoder().iter_bytes(iter(reads)):
            if sse.data.startswith("[DONE]"):
                break
            sse.json()
            count += 1
        return count

    def sdk_typed(reads):
        count = 0
        for sse in SSEDecoder().iter_bytes(iter(reads)):
            if sse.data.startswith("[DONE]"):
                break
            value = {"event": sse.event, "data": sse.json()}
            construct_type(type_=AssistantStreamEvent, value=value)
            count += 1
        return count

    return __version__, [
        ("openai", "openai SSEDecoder + json", sdk_untyped),
        ("openai typed", "openai typed events (AssistantStreamEvent)", sdk_typed),
    ]


# --------------------------------------------------------------------------------------------
# Memory over a long stream, in a child process
# --------------------------------------------------------------------------------------------


def peak_rss_kb():
    # VmHWM belongs to the process image: ru_maxrss would carry the parent's peak across
    # fork and exec on Linux.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def memory_child(megabytes, trace):
    """Stream ``megabytes`` MB through RunStream; print the peak RSS growth and traced peak."""
    import tracemalloc

    events = corpus_events()
    block = b"".join(b"event: %s\ndata: %s\n\n" % (t.encode(), d.encode()) for t, d in events)
    chunk = block * max(1, READ_SIZE // len(block))
    left = megabytes * 1_000_000
    done_sent = False

    def read_chunk():
        nonlocal left, done_sent
        if left > 0:
            left -= len(chunk)
            return chunk
        if not done_sent:
            done_sent = True
            return DONE
        return b""

    stream = threadrun.RunStream(read_chunk, lambda reusable: None, max_event_bytes=8 << 20)
    before = peak_rss_kb()
    if trace:
        tracemalloc.start()
    count = sum(1 for _ in stream)
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    after = peak_rss_kb()
    print(json.dumps({"events": count, "rss_kb": after, "rss_growth_kb": after - before,
                      "traced_peak": peak}))  # fmt: skip


def memory(megabytes):
    rows = []
    for size in (10, megabytes):
        result = {}
        for trace in (False, True):
            output = subprocess.run(
                [sys.executable, __file__, "--memory-child", str(size)]
                + (["--trace"] if trace else []),
                check=True, stdout=subprocess.PIPE, text=True,
            ).stdout  # fmt: skip
            child = json.loads(output)
            result["events"] = child["events"]
            if trace:
                result["traced_peak"] = child["traced_peak"]
            else:
                result["rss_kb"] = child["rss_kb"]
                result["rss_growth_kb"] = child["rss_growth_kb"]
        rows.append((size, result))
    return rows


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def judge(table: str, figures: Dict[str, Dict[str, float]]) -> List[Tuple[Target, Any]]:
    # _common.judge reads _common.TARGETS; the stream's targets are kept here, in its form.
    judged = []
    for target in STREAM_TARGETS:
        if target.table == table:
            row = figures.get(target.on, {})
            value = None
            if target.numerator in row and row.get(target.denominator):
                value = row[target.numerator] / row[target.denominator]
            judged.append((target, value))
    return judged


def stream_table(
    table: str, how: str, body: bytes, count: int, sdk: List[Any], rounds: int
) -> List[Tuple[Target, Any]]:
    reads = reads_of(body, how)

    def on(func: Callable[[List[bytes]], int]) -> Callable[[], int]:
        return lambda: func(reads)

    candidates = [
        Candidate("threadrun", "threadrun RunStream", on(threadrun_stream)),
        Candidate("floor", "floor: split lines, json.loads each data", on(floor)),
    ] + [Candidate(key, label, None if func is None else on(func)) for key, label, func in sdk]
    ok, errors = runnable(candidates)
    for candidate in ok:  # every candidate sees every event
        assert candidate.func is not None and candidate.func() == count, candidate.key
    timings: Dict[str, Timing] = measure(
        [(c.key, calls(c.func, 1, gc_off=False)) for c in ok if c.func is not None], rounds
    )
    mine = timings["threadrun"].cpu

    def cells(key: str) -> List[str]:
        cpu = timings[key].cpu
        return [fmt_time(cpu), fmt_count(count / cpu), "%.2fx" % (cpu / mine)]

    print_table(
        "%s: %d events in %d reads (%s; median of %d rounds, CPU time per stream)"
        % (table, count, len(reads), how, rounds),
        ["candidate", "cpu/stream", "events/s", "vs threadrun"],
        table_rows(candidates, cells, errors),
    )
    return judge(table, {"cpu": {key: t.cpu for key, t in timings.items()}})


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 11)")
    parser.add_argument("--quick", action="store_true", help="3 rounds and 20 MB, a smoke run")
    parser.add_argument("--memory-mb", type=int, default=100, help="long stream size (100)")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child is not None:
        memory_child(args.memory_child, args.trace)
        return 0
    rounds = args.rounds or (3 if args.quick else 11)
    megabytes = 20 if args.quick else args.memory_mb

    body, count = recorded_stream()
    sdk_version, sdk = sdk_candidates()
    print("threadrun %s on Python %s (%s); recorded stream: %d events, %.1f MB; openai %s" % (
        threadrun.__version__, sys.version.split()[0], sys.platform, count, len(body) / 1e6,
        sdk_version or "not installed"))  # fmt: skip
    judged = stream_table("stream", "64 KiB reads", body, count, sdk, rounds)
    judged += stream_table("stream live", "one event per read", body, count, sdk, rounds)

    rows = memory(megabytes)
    print_table(
        "stream memory: RunStream over a stream made on the fly (child processes)",
        ["stream", "events", "peak RSS", "RSS growth", "tracemalloc peak"],
        [["%d MB" % size, fmt_count(row["events"]), "%d kB" % row["rss_kb"],
          "%d kB" % row["rss_growth_kb"], "%.0f kB" % (row["traced_peak"] / 1e3)]
         for size, row in rows],
    )  # fmt: skip
    peaks = {"short": rows[0][1]["traced_peak"], "long": rows[1][1]["traced_peak"]}
    judged += judge("stream memory", {"bytes": peaks})
    print_targets(judged)
    return 0


if __name__ == "__main__":
    sys.exit(main())
