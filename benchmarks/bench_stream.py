"""Event-stream parsing of RunStream against the floor and the official SDK.

    python benchmarks/bench_stream.py [--rounds N] [--quick] [--memory-mb N] [--samples N]

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
alike). Targets (the "stream" tables of ``_common.TARGETS``): threadrun at least 0.8x the
floor's speed (at most 1.25x its CPU), and at least 3x less CPU than the SDK. The SDK rows
are skipped when ``openai`` is not importable (``pip install openai`` in a dev venv).

Memory: RunStream over a stream of --memory-mb MB (default 100) made on the fly, in a child
process: the peak RSS and its growth while streaming, and tracemalloc's peak (a run of its
own), against the same over 10 MB.

Latency: how long after the server writes the first event of a stream the caller has it. A
server in a child process (raw sockets, loopback) answers each streaming request with the
response head, waits ``GAP`` seconds (the client is then blocked in its read, as on a live
stream), writes one run event whose run carries ``x_sent_at`` (``time.monotonic()`` just
before the write: the clock is system-wide), waits ``GAP`` again, then sends done and ends
the body. The caller, in a child process of its own (threadrun and http.client only), stamps
the event when ``next(stream)`` returns it; a client that waited for more data than the
event would show ``GAP`` or more. Rows: ``Client.stream()``, and the floor, ``http.client``
reading with ``read1`` until a blank line, the JSON decoded after the stamp. Figures: median,
p95 and max over the samples (the candidates interleaved). Target: threadrun's p95 within
5 ms (``"stream latency"`` in ``_common.TARGETS``, against a fixed 5 ms row).
"""

from __future__ import annotations

import argparse
import glob
import http.client
import json
import resource
import socket
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Tuple

import _common
from _common import ROOT, Candidate, Judged, fmt_count, fmt_time

import threadrun

STREAMS = "%s/tests/data/streams/*.sse" % ROOT
MIN_EVENTS = 10_000
READ_SIZE = 65536
DONE = b"event: done\ndata: [DONE]\n\n"
GAP = 0.01  # seconds the latency server waits before and after the first event
LATENCY_LIMIT = 0.005  # seconds: an event is handed over "within 5 ms" of its arrival


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
# Latency of the first event, over loopback, the server in a child process
# --------------------------------------------------------------------------------------------

LATENCY_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
    b"Transfer-Encoding: chunked\r\nx-request-id: req_latency\r\n\r\n"
)


def http_chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def latency_server(gap: float) -> None:
    """Serve streams over kept-alive connections, a thread each, until killed."""
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    print(listener.getsockname()[1], flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve_streams, args=(conn, gap), daemon=True).start()


def serve_streams(conn: socket.socket, gap: float) -> None:
    run = {
        "id": "run_latency", "object": "thread.run", "created_at": 1710351818,
        "thread_id": "thread_1", "assistant_id": "asst_1", "status": "queued",
        "model": "gpt-4o", "instructions": "", "tools": [], "metadata": {},
    }  # fmt: skip
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = conn.makefile("rb")
    while reader.readline():  # the request line; b"": the client closed
        length = 0
        while True:
            line = reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        reader.read(length)
        conn.sendall(LATENCY_HEAD)
        time.sleep(gap)  # the client now waits in its read
        sent_at = time.monotonic()
        data = json.dumps(dict(run, x_sent_at=sent_at), separators=(",", ":")).encode()
        conn.sendall(http_chunk(b"event: thread.run.created\ndata: " + data + b"\n\n"))
        time.sleep(gap)
        conn.sendall(http_chunk(DONE) + b"0\r\n\r\n")
    conn.close()


def threadrun_latency(client: Any) -> float:
    with client.stream("thread_1", "asst_1") as stream:
        event = next(stream)
        delivered = time.monotonic()
        stream.until_done()
    return delivered - event.data.extra["x_sent_at"]


def floor_latency(port: int) -> Callable[[], float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps({"assistant_id": "asst_1", "stream": True})
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}

    def sample() -> float:
        connection.request("POST", "/v1/threads/thread_1/runs", body, headers)
        response = connection.getresponse()
        received = b""
        while b"\n\n" not in received:
            received += response.read1(65536)
        delivered = time.monotonic()
        event = received.split(b"\n\n", 1)[0]
        data = json.loads(event.split(b"\ndata: ", 1)[1])
        response.read()
        return delivered - data["x_sent_at"]

    return sample


def latency_client(port: int, samples: int) -> None:
    """Take the samples, both candidates interleaved; print them as JSON."""
    client = threadrun.Client(api_key="bench", base_url="http://127.0.0.1:%d/v1" % port)
    candidates = [("threadrun", lambda: threadrun_latency(client)), ("floor", floor_latency(port))]
    taken: Dict[str, List[float]] = {key: [] for key, _ in candidates}
    for index in range(samples + 3):
        shift = index % len(candidates)
        for key, sample in candidates[shift:] + candidates[:shift]:
            value = sample()
            if index >= 3:  # the first ones warm up connections and code paths
                taken[key].append(value)
    client.close()
    print(json.dumps(taken))


def latency(samples: int) -> Tuple[List[List[str]], Dict[str, float]]:
    # Client and server each in a process of their own: the client's holds only threadrun
    # and http.client (not the SDK and peers, whose objects would make the collector's
    # pauses longer), and neither waits for the other's share of the GIL.
    server = subprocess.Popen(
        [sys.executable, __file__, "--latency-server", str(GAP)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        port = server.stdout.readline().strip()
        output = subprocess.run(
            [sys.executable, __file__, "--latency-client", port, "--samples", str(samples)],
            check=True, stdout=subprocess.PIPE, text=True,
        ).stdout  # fmt: skip
    finally:
        server.kill()
        server.wait()
    taken = json.loads(output)
    labels = {
        "threadrun": "threadrun: Client.stream(), next(stream)",
        "floor": "floor: http.client read1 to a blank line",
    }
    rows, figures = [], {"limit": LATENCY_LIMIT}
    for key, label in labels.items():
        values = sorted(taken[key])
        p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
        figures[key + " p95"] = p95
        rows.append([label, fmt_time(statistics.median(values)), fmt_time(p95),
                     fmt_time(values[-1])])  # fmt: skip
    return rows, figures


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def stream_table(
    table: str, how: str, body: bytes, count: int, sdk: List[Any], rounds: int
) -> List[Judged]:
    reads = reads_of(body, how)

    def on(func: Callable[[List[bytes]], int]) -> Callable[[], int]:
        return lambda: func(reads)

    candidates = [
        Candidate("threadrun", "threadrun RunStream", on(threadrun_stream)),
        Candidate("floor", "floor: split lines, json.loads each data", on(floor)),
    ] + [Candidate(key, label, None if func is None else on(func)) for key, label, func in sdk]
    ok, errors = _common.runnable(candidates)
    for candidate in ok:  # every candidate sees every event
        assert candidate.func is not None and candidate.func() == count, candidate.key
    timings = _common.measure_calls(ok, 1, rounds)
    mine = timings["threadrun"].cpu

    def cells(key: str) -> List[str]:
        cpu = timings[key].cpu
        return [fmt_time(cpu), fmt_count(count / cpu), "%.2fx" % (cpu / mine)]

    _common.print_table(
        "%s: %d events in %d reads (%s; median of %d rounds, CPU time per stream)"
        % (table, count, len(reads), how, rounds),
        ["candidate", "cpu/stream", "events/s", "vs threadrun"],
        _common.table_rows(candidates, cells, errors),
    )
    return _common.judge(table, candidates, {"cpu": {key: t.cpu for key, t in timings.items()}})


def rows_of(*keys: str) -> List[Candidate]:
    # judge() takes the rows a table has; these tables' rows are figures, not timed calls.
    return [Candidate(key, key, None) for key in keys]


def memory_table(megabytes: int) -> List[Judged]:
    rows = memory(megabytes)
    _common.print_table(
        "stream memory: RunStream over a stream made on the fly (child processes)",
        ["stream", "events", "peak RSS", "RSS growth", "tracemalloc peak"],
        [["%d MB" % size, fmt_count(row["events"]), "%d kB" % row["rss_kb"],
          "%d kB" % row["rss_growth_kb"], "%.0f kB" % (row["traced_peak"] / 1e3)]
         for size, row in rows],
    )  # fmt: skip
    peaks = {"short": rows[0][1]["traced_peak"], "long": rows[1][1]["traced_peak"]}
    return _common.judge("stream memory", rows_of("short", "long"), {"bytes": peaks})


def latency_table(samples: int) -> List[Judged]:
    rows, figures = latency(samples)
    _common.print_table(
        "stream latency: first event, server's write to the caller's hands (loopback; server "
        "in a child process; %d samples, %.0f ms of silence around the event)"
        % (samples, GAP * 1e3),
        ["candidate", "median", "p95", "max"],
        rows,
    )
    return _common.judge("stream latency", rows_of(*figures), {"seconds": figures})


def run_all(rounds: int, megabytes: int, samples: int) -> List[Judged]:
    body, count = recorded_stream()
    sdk_version, sdk = sdk_candidates()
    print("threadrun %s on Python %s (%s); recorded stream: %d events, %.1f MB; openai %s" % (
        threadrun.__version__, sys.version.split()[0], sys.platform, count, len(body) / 1e6,
        sdk_version or "not installed"))  # fmt: skip
    judged = stream_table("stream", "64 KiB reads", body, count, sdk, rounds)
    judged += stream_table("stream live", "one event per read", body, count, sdk, rounds)
    judged += memory_table(megabytes)
    judged += latency_table(samples)
    return judged


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 11)")
    parser.add_argument("--quick", action="store_true", help="3 rounds and 20 MB, a smoke run")
    parser.add_argument("--memory-mb", type=int, default=100, help="long stream size (100)")
    parser.add_argument("--samples", type=int, default=None, help="latency samples (200)")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--latency-server", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--latency-client", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child is not None:
        memory_child(args.memory_child, args.trace)
        return 0
    if args.latency_server is not None:
        latency_server(args.latency_server)
        return 0
    samples = args.samples or (30 if args.quick else 200)
    if args.latency_client is not None:
        latency_client(args.latency_client, samples)
        return 0
    rounds = args.rounds or (3 if args.quick else 11)
    megabytes = 20 if args.quick else args.memory_mb
    _common.print_targets(run_all(rounds, megabytes, samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
