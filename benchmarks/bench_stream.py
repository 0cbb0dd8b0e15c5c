"""Event-stream parsing of RunStream against the floor and the official SDK (issue 12, §5).

    python benchmarks/bench_stream.py [--repeat N] [--quick] [--memory-mb N]

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

Times are CPU seconds (``time.process_time``) per stream, median of rounds in which every
candidate runs once (interleaved, so a noisy neighbour falls on all alike). Targets: threadrun
at least 0.8x the floor's speed, and at least 3x less CPU than the SDK. The SDK rows are
skipped when ``openai`` is not importable (``pip install openai`` in a dev venv).

Memory: RunStream over a stream of --memory-mb MB (default 100) made on the fly, in a child
process: the peak RSS and its growth while streaming, and tracemalloc's peak (a run of its
own), against the same over 10 MB.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import threadrun  # noqa: E402

STREAMS = os.path.join(ROOT, "tests", "data", "streams", "*.sse")
MIN_EVENTS = 10_000
READ_SIZE = 65536
DONE = b"event: done\ndata: [DONE]\n\n"
TARGET_FLOOR = 0.8  # threadrun's speed over the floor's, at least
TARGET_SDK = 3.0  # the SDK's CPU over threadrun's, at least


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
        return None, []

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
        ("openai SSEDecoder + json", sdk_untyped),
        ("openai typed events", sdk_typed),
    ]


def measure(candidates, reads, repeat):
    samples = {name: [] for name, _ in candidates}
    for _ in range(repeat):
        for name, func in candidates:
            start = time.process_time()
            func(reads)
            samples[name].append(time.process_time() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=11, help="rounds (default 11)")
    parser.add_argument("--quick", action="store_true", help="3 rounds and 20 MB, a smoke run")
    parser.add_argument("--memory-mb", type=int, default=100, help="long stream size (100)")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child is not None:
        memory_child(args.memory_child, args.trace)
        return 0
    repeat = 3 if args.quick else args.repeat
    megabytes = 20 if args.quick else args.memory_mb

    body, count = recorded_stream()
    sdk_version, sdk = sdk_candidates()
    print("threadrun %s on Python %s (%s), %d rounds, CPU time per stream, median" % (
        threadrun.__version__, sys.version.split()[0], sys.platform, repeat))  # fmt: skip
    print("recorded stream: %d events, %.1f MB; openai %s" % (
        count, len(body) / 1e6, sdk_version or "not installed"))  # fmt: skip
    candidates = [("threadrun RunStream", threadrun_stream), ("floor", floor), *sdk]
    met = True
    for how in ("64 KiB reads", "one event per read"):
        reads = reads_of(body, how)
        for name, func in candidates:  # every candidate sees every event
            assert func(reads) == count, name
        medians = measure(candidates, reads, repeat)
        mine = medians["threadrun RunStream"]
        print("\n%s (%d reads)" % (how, len(reads)))
        print("  %-28s %10s %12s %16s" % ("candidate", "ms/stream", "events/s", "CPU vs threadrun"))
        for name, seconds in medians.items():
            print("  %-28s %10.1f %12.0f %15.2fx" % (
                name, seconds * 1e3, count / seconds, seconds / mine))  # fmt: skip
        if not sdk:
            print("  %-28s skipped: not installed" % "openai")
        speed = medians["floor"] / mine
        print("  target: threadrun >= %.1fx the floor's speed: %.2fx %s" % (
            TARGET_FLOOR, speed, "met" if speed >= TARGET_FLOOR else "NOT MET"))  # fmt: skip
        met &= speed >= TARGET_FLOOR
        for name, _ in sdk:
            ratio = medians[name] / mine
            print("  target: %s uses >= %.0fx threadrun's CPU: %.2fx %s" % (
                name, TARGET_SDK, ratio, "met" if ratio >= TARGET_SDK else "NOT MET"))  # fmt: skip
            met &= ratio >= TARGET_SDK

    print("\nmemory: RunStream over a long stream, child process")
    print("  %-10s %10s %12s %18s %18s" % (
        "stream", "events", "peak RSS", "growth streaming", "tracemalloc peak"))  # fmt: skip
    for size, row in memory(megabytes):
        peak = row["traced_peak"] / 1e3
        print("  %-10s %10d %9d kB %15d kB %15.0f kB" % (
            "%d MB" % size, row["events"], row["rss_kb"], row["rss_growth_kb"], peak))  # fmt: skip
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
