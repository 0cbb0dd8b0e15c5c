"""Per-call cost of Client.retrieve against the floor of a raw keep-alive http.client GET.

    python benchmarks/bench_client.py [--quick] [--calls N] [--rounds R] [--json FILE]

The server is threadrun.testing.FakeRunsServer in a SEPARATE process (this script run with
``--serve``), so that its CPU time never lands on the process being measured. It serves one
completed run (tests/data/22-completed.json) that does not advance, without the
``openai-poll-after-ms`` header, on 127.0.0.1 only.

Candidates, timed in this process on the same run, rounds interleaved (one timing of each
candidate per round, the order alternating) so that noise from a shared machine falls on both
alike; the figure kept is the median over rounds:

- threadrun: ``Client.retrieve(thread_id, run_id)`` (one client, one kept-alive connection).
- floor: a raw ``http.client.HTTPConnection`` kept alive, ``GET`` of the same path with the same
  headers, ``json.loads`` of the body and ``ThreadRun.from_dict`` -- the least a client built
  on http.client can do for the same result, with no retries, checks or error mapping.

Wall time per call (``time.perf_counter``) includes the server's answer; client-process CPU
time per call (``time.process_time``) is what the client itself costs. The target is
threadrun <= 1.2x the floor in wall time per call.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)

import threadrun  # noqa: E402
from threadrun import ThreadRun  # noqa: E402

CORPUS = os.path.join(REPO, "tests", "data", "22-completed.json")
API_KEY = "sk-bench-client-0123456789abcdef"
TARGET = 1.2


# ------------------------------------------------------------------------------------------
# The server process
# ------------------------------------------------------------------------------------------


def serve() -> int:
    """Serve the run until stdin closes; one JSON line at start, one at the end."""
    from threadrun.testing import FakeRunsServer

    with open(CORPUS, "rb") as file:
        data = json.loads(file.read())
    thread_id = data["thread_id"]
    fields = {k: v for k, v in data.items() if k != "thread_id"}
    server = FakeRunsServer(poll_after_ms=None, api_key=API_KEY)
    server.start()
    try:
        server.add_run(thread_id, statuses=("completed",), **fields)
        print(json.dumps({"port": server.port, "base_url": server.base_url,
                          "thread_id": thread_id, "run_id": data["id"]}), flush=True)  # fmt: skip
        sys.stdin.read()  # until the parent closes our stdin (or dies)
        print(json.dumps({"connections_opened": server.connections_opened,
                          "requests": len(server.requests),
                          "errors": len(server.errors)}), flush=True)  # fmt: skip
    finally:
        server.stop()
    return 0


class ServerProcess:
    """The ``--serve`` child: started here, always stopped by :meth:`stop`."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=REPO,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.stop()
            raise RuntimeError("the server process exited before listening")
        self.info: Dict[str, Any] = json.loads(line.decode("utf-8"))
        self.stats: Dict[str, Any] = {}

    def stop(self) -> None:
        proc = self.proc
        if proc.poll() is None:
            try:
                # communicate() closes the child's stdin, which ends its serve loop.
                out, _ = proc.communicate(timeout=10)
                for line in out.decode("utf-8", "replace").splitlines():
                    if line.strip():
                        self.stats = json.loads(line)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None and not stream.closed:
                stream.close()


# ------------------------------------------------------------------------------------------
# The candidates
# ------------------------------------------------------------------------------------------


def make_candidates(info: Dict[str, Any]) -> Tuple[List[Tuple[str, Callable[[], Any]]], Any]:
    client = threadrun.Client(api_key=API_KEY, base_url=info["base_url"], max_retries=0)
    thread_id, run_id = info["thread_id"], info["run_id"]

    def with_client() -> Any:
        return client.retrieve(thread_id, run_id)

    connection = http.client.HTTPConnection("127.0.0.1", info["port"], timeout=60)
    path = "/v1/threads/%s/runs/%s" % (thread_id, run_id)
    # The headers threadrun's client sends on a GET.
    headers = {
        "Accept": "application/json",
        "User-Agent": "threadrun/%s Python/%d.%d" % (threadrun.__version__, *sys.version_info[:2]),
        "OpenAI-Beta": "assistants=v2",
        "Authorization": "Bearer " + API_KEY,
    }
    loads, from_dict = json.loads, ThreadRun.from_dict

    def floor() -> Any:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError("floor: HTTP %d: %r" % (response.status, body[:200]))
        return from_dict(loads(body))

    def close() -> None:
        client.close()
        connection.close()

    return [("threadrun", with_client), ("floor", floor)], close


def measure(
    candidates: List[Tuple[str, Callable[[], Any]]], rounds: int, calls: int
) -> Dict[str, Dict[str, List[float]]]:
    """Seconds per call (wall and CPU) of each candidate per round, rounds interleaved."""
    samples: Dict[str, Dict[str, List[float]]] = {
        name: {"wall": [], "cpu": []} for name, _ in candidates
    }
    for index in range(rounds):
        order = candidates if index % 2 == 0 else candidates[::-1]
        for name, fn in order:
            gc.collect()
            wall0, cpu0 = time.perf_counter(), time.process_time()
            for _ in range(calls):
                fn()
            wall1, cpu1 = time.perf_counter(), time.process_time()
            samples[name]["wall"].append((wall1 - wall0) / calls)
            samples[name]["cpu"].append((cpu1 - cpu0) / calls)
    return samples


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and calls")
    parser.add_argument("--calls", type=int, default=None, help="calls per round (default 1000)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 15)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve()
    calls = args.calls or (200 if args.quick else 1000)
    rounds = args.rounds or (5 if args.quick else 15)
    if calls < 1 or rounds < 1:
        parser.error("--calls and --rounds must be >= 1")

    server = ServerProcess()
    try:
        candidates, close = make_candidates(server.info)
        try:
            results = [fn() for _, fn in candidates]
            if results[0] != results[1] or results[0].status != "completed":
                raise RuntimeError("the candidates disagree: %r" % (results,))
            for _, fn in candidates:  # warm up: connections open, caches filled
                for _ in range(max(50, calls // 5)):
                    fn()
            samples = measure(candidates, rounds, calls)
        finally:
            close()
    finally:
        server.stop()

    med = {
        name: {kind: statistics.median(values) for kind, values in kinds.items()}
        for name, kinds in samples.items()
    }
    floor = med["floor"]
    ratio_wall = med["threadrun"]["wall"] / floor["wall"]
    ratio_cpu = med["threadrun"]["cpu"] / floor["cpu"] if floor["cpu"] else float("nan")

    print("Client.retrieve vs raw http.client keep-alive GET + json.loads + ThreadRun.from_dict")
    print(
        "Python %s (%s), %d rounds x %d calls, interleaved, median per call; server in pid %d"
        % (platform.python_version(), platform.machine(), rounds, calls, server.proc.pid)
    )
    print()
    header = "%-10s %12s %12s %8s %12s %8s" % (
        "candidate", "wall us/op", "ops/s", "ratio", "CPU us/op", "ratio"
    )  # fmt: skip
    print(header)
    print("-" * len(header))
    for name in ("threadrun", "floor"):
        wall, cpu = med[name]["wall"], med[name]["cpu"]
        print(
            "%-10s %12.1f %12.0f %7.2fx %12.1f %7.2fx"
            % (name, wall * 1e6, 1 / wall, wall / floor["wall"], cpu * 1e6,
               cpu / floor["cpu"] if floor["cpu"] else float("nan"))
        )  # fmt: skip
    print()
    meets = ratio_wall <= TARGET
    print(
        "threadrun / floor: %.2fx wall, %.2fx client CPU; target <= %.1fx wall: %s"
        % (ratio_wall, ratio_cpu, TARGET, "met" if meets else "MISSED")
    )
    stats = server.stats
    if stats:
        print(
            "server: %s requests on %s connection(s), %s internal errors"
            % (stats.get("requests"), stats.get("connections_opened"), stats.get("errors"))
        )
    if args.json:
        report = {
            "python": platform.python_version(),
            "rounds": rounds,
            "calls": calls,
            "median_seconds_per_call": med,
            "samples": samples,
            "ratio_wall": ratio_wall,
            "ratio_cpu": ratio_cpu,
            "target": TARGET,
            "meets_target": meets,
            "server": stats,
        }
        with open(args.json, "w") as file:
            json.dump(report, file, indent=2)
            file.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
