"""Per-call cost of Client.retrieve (and of a page of Client.list_messages) against the floor
of a raw keep-alive http.client GET; of AsyncClient.retrieve against a raw asyncio floor; and
500 concurrent AsyncClient polls on one event loop.

    python benchmarks/bench_client.py [--quick] [--calls N] [--rounds R] [--json FILE]

The server is threadrun.testing.FakeRunsServer in a SEPARATE process (this script run with
``--serve``), so that its CPU time never lands on the process being measured. It serves one
completed run (tests/data/22-completed.json) that does not advance, without the
``openai-poll-after-ms`` header, and a thread of 20 messages (one page), on 127.0.0.1 only.

Candidates, timed in this process on the same run as every table is (``_common.measure``:
rounds interleaved, medians; each sample a batch of calls, the collector on):

- threadrun: ``Client.retrieve(thread_id, run_id)`` (one client, one kept-alive connection).
- floor: a raw ``http.client.HTTPConnection`` kept alive, ``GET`` of the same path with the same
  headers, ``json.loads`` of the body and ``ThreadRun.from_dict`` -- the least a client built
  on http.client can do for the same result, with no retries, checks or error mapping.
- messages: ``list(Client.list_messages(thread_id, limit=20))``, one page of 20 messages (the
  reference's message shape, a sentence of text each), as dicts.
- messages floor: the same raw connection's ``GET`` of that page and ``json.loads(body)["data"]``.

The async table, on the same server: ``AsyncClient.retrieve`` against a floor of one kept-alive
``asyncio.open_connection``: write the same GET, read the head and the Content-Length body,
``json.loads``, ``ThreadRun.from_dict``; and the official SDK's ``AsyncOpenAI`` when ``openai``
is importable (run this script with benchmarks/.venv's python). Each call of each row is one
``loop.run_until_complete`` on the same loop, a cost all rows share. Then 500 runs, each
``queued`` then ``in_progress`` then ``completed``, polled concurrently by one AsyncClient
(``asyncio.gather`` of 500 ``poll``, interval 0.05 s): their wall time, the connections the
server saw, and the memory per poll (tracemalloc's peak over the gather, divided by 500).

Wall time per call (``time.perf_counter``) includes the server's answer; client-process CPU
time per call (``time.process_time``) is what the client itself costs, and what the target
(``_common.TARGETS``, "client: threadrun cpu / floor cpu") is judged on, here and in run.py.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import platform
import subprocess
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple

import _common
from _common import CORPUS, ROOT, Candidate, Timing, fmt_count, fmt_time

import threadrun
from threadrun import ThreadRun

API_KEY = "sk-bench-client-0123456789abcdef"
PAGE = 20  # messages in the thread: one page of list_messages' default size
# The rows of a page of messages, by the row of a run each stands beside in the table.
MESSAGES_PAIRS = {"threadrun": "messages", "floor": "messages floor"}

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
        with threadrun.Client(API_KEY, base_url=server.base_url) as client:
            text = "How does AI work? Explain it in simple terms, message %d of the thread."
            messages = [{"role": "user", "content": text % i} for i in range(PAGE)]
            messages_thread = client.create_thread(messages)["id"]
        print(json.dumps({"port": server.port, "base_url": server.base_url,
                          "thread_id": thread_id, "run_id": data["id"],
                          "messages_thread": messages_thread}), flush=True)  # fmt: skip
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
            cwd=ROOT,
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


Closer = Callable[[], None]
MoreCandidates = Callable[[Dict[str, Any]], Tuple[List[Candidate], Closer]]


def make_candidates(info: Dict[str, Any]) -> Tuple[List[Candidate], Closer]:
    """threadrun and the floor, against the server described by ``info``."""
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

    def raw_get(target: str) -> bytes:
        connection.request("GET", target, headers=headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError("floor: GET %s: HTTP %d: %r" % (target, response.status, body[:200]))
        return body

    def floor() -> Any:
        return from_dict(loads(raw_get(path)))

    messages_thread = info["messages_thread"]
    messages_path = "/v1/threads/%s/messages?limit=%d" % (messages_thread, PAGE)

    def messages() -> Any:
        return list(client.list_messages(messages_thread, limit=PAGE))

    def messages_floor() -> Any:
        return loads(raw_get(messages_path))["data"]

    def close() -> None:
        client.close()
        connection.close()

    return [
        Candidate("threadrun", "threadrun: Client.retrieve", with_client),
        Candidate("floor", "floor: http.client + json.loads + from_dict", floor),
        Candidate("messages", "threadrun: list_messages, a page of %d" % PAGE, messages),
        Candidate("messages floor", "floor: http.client + json.loads, the page", messages_floor),
    ], close


def make_async_candidates(info: Dict[str, Any]) -> Tuple[List[Candidate], Closer]:
    """AsyncClient, the raw asyncio floor and (if importable) AsyncOpenAI, on one loop."""
    from threadrun.aio import AsyncClient

    loop = asyncio.new_event_loop()
    run = loop.run_until_complete
    client = AsyncClient(api_key=API_KEY, base_url=info["base_url"], max_retries=0)
    thread_id, run_id = info["thread_id"], info["run_id"]
    path = "/v1/threads/%s/runs/%s" % (thread_id, run_id)
    head = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1:%d" % info["port"],
            "Accept: application/json", "OpenAI-Beta: assistants=v2",
            "User-Agent: threadrun/%s" % threadrun.__version__,
            "Authorization: Bearer " + API_KEY]  # fmt: skip
    request = ("\r\n".join(head) + "\r\n\r\n").encode()
    reader, writer = run(asyncio.open_connection("127.0.0.1", info["port"]))
    loads, from_dict = json.loads, ThreadRun.from_dict

    async def raw_get() -> Any:
        writer.write(request)
        answer = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in answer.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return from_dict(loads(await reader.readexactly(length)))

    candidates = [
        Candidate("threadrun", "threadrun: AsyncClient.retrieve",
                  lambda: run(client.retrieve(thread_id, run_id))),
        Candidate("floor", "floor: asyncio streams + json.loads + from_dict",
                  lambda: run(raw_get())),
    ]  # fmt: skip
    sdk: Any = None
    try:
        import openai
    except ImportError:
        candidates.append(Candidate("openai", "openai: AsyncOpenAI (not installed)", None))
    else:
        sdk = openai.AsyncOpenAI(api_key=API_KEY, base_url=info["base_url"], max_retries=0)
        runs = sdk.beta.threads.runs
        candidates.append(Candidate(
            "openai", "openai: AsyncOpenAI runs.retrieve",
            lambda: run(runs.retrieve(run_id, thread_id=thread_id)),
        ))  # fmt: skip

    def close() -> None:
        run(client.close())
        if sdk is not None:
            run(sdk.close())
        writer.close()
        loop.close()

    return candidates, close


def measure_async_client(rounds: int, number: int) -> Tuple[List[Candidate], Dict[str, Timing],
                                                             Dict[str, str]]:  # fmt: skip
    server = ServerProcess()
    close: Optional[Closer] = None
    try:
        candidates, close = make_async_candidates(server.info)
        live, errors = _common.runnable(candidates)
        results = {}
        for candidate in live:  # warm up
            for _ in range(max(50, number // 5)):
                results[candidate.key] = candidate.func()  # type: ignore[misc]
        if results["threadrun"] != results["floor"]:
            raise RuntimeError("AsyncClient and its floor disagree: %r" % (results,))
        timings = _common.measure_calls(live, number, rounds)
    finally:
        if close is not None:
            close()
        server.stop()
    return candidates, timings, errors


def concurrent_polls(count: int) -> Dict[str, Any]:
    """``count`` runs polled at once by one AsyncClient on one loop, against a fake server in
    another process: wall time, connections, memory per poll."""
    import time
    import tracemalloc

    from threadrun.aio import AsyncClient

    proc = subprocess.Popen(
        [sys.executable, "-m", "threadrun.testing", "--port", "0"],
        stdout=subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        base_url = ""
        while not base_url:
            line = proc.stdout.readline().decode()
            if not line:
                raise RuntimeError("the fake server did not start")
            base_url = next((word for word in line.split() if word.startswith("http://")), "")
        base_url = base_url.rstrip(".,")

        async def scenario() -> Dict[str, Any]:
            async with AsyncClient(api_key=API_KEY, base_url=base_url) as client:
                thread = await client.create_thread()
                runs = [await client.create(thread["id"], "asst_bench") for _ in range(count)]
                tracemalloc.start()
                wall = time.perf_counter()
                polled = await asyncio.gather(
                    *(client.poll(thread["id"], run.id, interval=0.05) for run in runs)
                )
                wall = time.perf_counter() - wall
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                done = sum(1 for run in polled if run.is_terminal)
                return {"polls": count, "completed": done, "wall_seconds": wall,
                        "peak_bytes_per_poll": peak / count}  # fmt: skip

        return asyncio.run(scenario())
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def measure_client(
    rounds: int, number: int, more: Optional[MoreCandidates] = None
) -> Tuple[List[Candidate], Dict[str, Timing], Dict[str, str], Dict[str, Any]]:
    """Start the server; time threadrun, the floor and ``more(server info)`` against it.
    Returns the candidates, their timings, the ones in error and the server's counts."""
    server = ServerProcess()
    closers: List[Closer] = []
    try:
        candidates, close = make_candidates(server.info)
        closers.append(close)
        if more is not None:
            extra, close = more(server.info)
            candidates += extra
            closers.append(close)
        live, errors = _common.runnable(candidates)
        results = {}
        for candidate in live:  # warm up: connections open, caches filled
            for _ in range(max(50, number // 5)):
                results[candidate.key] = candidate.func()  # type: ignore[misc]
        if results["threadrun"].status != "completed":
            raise RuntimeError("Client.retrieve returned %r" % (results["threadrun"],))
        for mine, floor in (("threadrun", "floor"), ("messages", "messages floor")):
            if results[mine] != results[floor]:
                raise RuntimeError("%s and its floor disagree: %r" % (mine, results))
        if len(results["messages"]) != PAGE:
            raise RuntimeError("list_messages returned %d messages" % len(results["messages"]))
        timings = _common.measure_calls(live, number, rounds)
    finally:
        for close in closers:
            close()
        server.stop()
    return candidates, timings, errors, server.stats


def print_client_table(
    candidates: List[Candidate],
    timings: Dict[str, Timing],
    errors: Dict[str, str],
    versus: str,
    title: str,
) -> None:
    def cells(key: str) -> List[str]:
        # A messages row is compared with its own pair's row: a page is not a run.
        base = timings[MESSAGES_PAIRS[versus] if key in MESSAGES_PAIRS.values() else versus]
        wall, cpu = timings[key]
        return [fmt_time(wall), fmt_time(cpu), fmt_count(1 / wall),
                "%.2fx" % (cpu / base.cpu), "%.2fx" % (wall / base.wall)]  # fmt: skip

    headers = ["candidate", "wall/call", "cpu/call", "calls/s", "cpu vs " + versus]
    rows = _common.table_rows(candidates, cells, errors)
    _common.print_table(title, [*headers, "wall vs " + versus], rows)


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
    number = args.calls or (200 if args.quick else 1000)
    rounds = args.rounds or (5 if args.quick else 15)
    if number < 1 or rounds < 1:
        parser.error("--calls and --rounds must be >= 1")

    candidates, timings, errors, stats = measure_client(rounds, number)
    print("Client.retrieve vs raw http.client keep-alive GET + json.loads + ThreadRun.from_dict;"
          " list_messages vs the same GET of a page + json.loads")
    print("Python %s (%s); cpu = time.process_time() of this process, the server in another"
          % (platform.python_version(), platform.machine()))  # fmt: skip
    print_client_table(
        candidates, timings, errors, "floor",
        "median of %d rounds x %d calls" % (rounds, number),
    )  # fmt: skip
    print(
        "server: %s requests on %s connection(s), %s internal errors"
        % (stats.get("requests"), stats.get("connections_opened"), stats.get("errors"))
    )
    judged = _common.judge("client", candidates, _common.measures(timings))
    async_rows, async_timings, async_errors = measure_async_client(rounds, number)
    print_client_table(
        async_rows, async_timings, async_errors, "floor",
        "AsyncClient: median of %d rounds x %d calls (one run_until_complete a call)"
        % (rounds, number),
    )  # fmt: skip
    judged += _common.judge("client async", async_rows, _common.measures(async_timings))
    _common.print_targets(judged)
    polls = concurrent_polls(500)
    print("%(polls)d concurrent polls on one loop: %(completed)d completed in "
          "%(wall_seconds).2f s; peak memory %(peak_bytes_per_poll).0f bytes per poll" % polls)
    if args.json:
        report = {
            "python": platform.python_version(),
            "rounds": rounds,
            "calls": number,
            "median_seconds_per_call": {key: t._asdict() for key, t in timings.items()},
            "targets": [
                {"name": target.name, "value": value, "verdict": target.verdict(value)}
                for target, value in judged
            ],
            "server": stats,
            "async_median_seconds_per_call": {k: t._asdict() for k, t in async_timings.items()},
            "concurrent_polls": polls,
        }
        with open(args.json, "w") as file:
            json.dump(report, file, indent=2)
            file.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
