"""Specification: what AsyncClient promises beyond the rules it shares with Client (those
run against both shells in tests/test_client_async.py).

- a task cancelled mid-request discards its connection: the next POST is sent once, on a
  new connection;
- concurrent calls on one event loop each get a connection, and all complete;
- each call's timeout is its own among concurrent ones: a shorter one started later, or a
  longer one after a call that ended early, times out when it is due;
- ``import threadrun`` imports neither asyncio nor sockets nor ssl; threadrun/aio.py copied
  beside a copied threadrun.py works as it does in the package (``python -I``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import unittest
from typing import Any, List

from tests import SINGLE_FILE
from tests.support import KEY, THREAD, EnvTest, ScriptedServer, ServerTest, http_response, run_json

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def aio() -> Any:
    import importlib

    return importlib.import_module("threadrun.aio")


@unittest.skipIf(SINGLE_FILE, "threadrun.aio is the package's second file")
class CancellationTest(EnvTest):
    def test_a_cancelled_post_discards_its_connection_and_the_next_is_sent_once(self) -> None:
        first_closed = threading.Event()

        def script(conn: socket.socket, index: int) -> None:
            if index == 0:
                server.read(conn, index)  # and never answer: the task is cancelled
                if conn.recv(1) == b"":
                    first_closed.set()
                return
            while server.read(conn, index) is not None:
                conn.sendall(http_response(run_json()))

        server = ScriptedServer(script)
        self.addCleanup(server.stop)

        async def scenario() -> Any:
            client = aio().AsyncClient(api_key=KEY, base_url=server.base_url, timeout=10)
            async with client:
                task = asyncio.ensure_future(client.create(THREAD, "asst_1"))
                while not server.requests:
                    await asyncio.sleep(0.01)
                task.cancel()
                with self.assertRaises(asyncio.CancelledError):
                    await task
                return await client.create(THREAD, "asst_1")

        run = asyncio.run(scenario())
        self.assertEqual(run.id, "run_raw")
        self.assertTrue(first_closed.wait(5), "the cancelled request's connection stayed open")
        self.assertEqual([index for index, _ in server.requests], [0, 1])  # each POST once


class ConcurrencyTest(ServerTest):
    def test_concurrent_polls_on_one_loop_all_complete(self) -> None:
        runs = [self.add_run(statuses=("queued", "in_progress", "completed"))
                for _ in range(50)]  # fmt: skip

        async def scenario() -> List[Any]:
            async with aio().AsyncClient(api_key=KEY, base_url=self.server.base_url) as client:
                polls = [client.poll(THREAD, run["id"], interval=0.01) for run in runs]
                return list(await asyncio.gather(*polls))

        polled = asyncio.run(scenario())
        self.assertEqual([run.id for run in polled], [run["id"] for run in runs])
        self.assertEqual({run.status for run in polled}, {"completed"})


@unittest.skipIf(SINGLE_FILE, "threadrun.aio is the package's second file")
class ConcurrentTimeoutsTest(EnvTest):
    """The requests of one loop share one loop timer (threadrun.aio._Watch): each still
    times out when its own timeout says."""

    def setUp(self) -> None:
        super().setUp()

        def script(conn: socket.socket, index: int) -> None:
            while True:
                request = self.server.read(conn, index)
                if request is None:
                    return
                if b"/runs/run_raw " not in request:
                    conn.recv(1)  # never answered: held until the client closes it
                    return
                conn.sendall(http_response(run_json()))

        self.server = ScriptedServer(script)
        self.addCleanup(self.server.stop)

    def timed(self, scenario: Any) -> Any:
        async def main() -> Any:
            client = aio().AsyncClient(api_key=KEY, base_url=self.server.base_url,
                                       max_retries=0, timeout=10)  # fmt: skip
            async with client:
                return await scenario(client, asyncio.get_running_loop())

        return asyncio.run(main())

    async def held(self, client: Any, timeout: float, loop: Any) -> float:
        """Seconds until a retrieve that is never answered times out."""
        start = loop.time()
        with self.assertRaises(aio().APITimeoutError):
            await client.retrieve(THREAD, "run_held", timeout=timeout)
        return float(loop.time() - start)

    def test_a_shorter_timeout_started_later_is_not_held_by_a_longer_one(self) -> None:
        async def scenario(client: Any, loop: Any) -> Any:
            longer = asyncio.ensure_future(self.held(client, 1.5, loop))
            await asyncio.sleep(0.05)
            shorter = await self.held(client, 0.2, loop)
            return shorter, longer.done(), await longer

        shorter, longer_done, longer = self.timed(scenario)
        self.assertTrue(0.15 <= shorter < 1.0, shorter)
        self.assertFalse(longer_done)
        self.assertTrue(1.4 <= longer < 5, longer)

    def test_a_timeout_after_a_call_that_ended_early_is_kept(self) -> None:
        async def scenario(client: Any, loop: Any) -> Any:
            run = await client.retrieve(THREAD, "run_raw", timeout=0.1)  # answered at once
            return run.id, await self.held(client, 0.5, loop)

        run_id, held = self.timed(scenario)
        self.assertEqual(run_id, "run_raw")
        self.assertTrue(0.45 <= held < 3, held)


IMPORTS = r"""
import sys
sys.path.insert(0, sys.argv[1])
import threadrun
loaded = [m for m in ("asyncio", "socket", "ssl") if m in sys.modules]
assert not loaded, "import threadrun imported %r" % loaded
print("ok")
"""

COPIED = r"""
import asyncio, sys
sys.path.insert(0, sys.argv[1])
import threadrun, threadrun_aio
assert threadrun.__file__.startswith(sys.argv[1]), threadrun.__file__

async def main():
    async with threadrun_aio.AsyncClient(api_key="sk-copied", base_url=sys.argv[2]) as client:
        run = await client.retrieve("thread_1", sys.argv[3])
        runs = [run async for run in client.list("thread_1")]
        return run, runs

run, runs = asyncio.run(main())
assert isinstance(run, threadrun.ThreadRun) and [r.id for r in runs] == [run.id], runs
print("ok", run.status)
"""


@unittest.skipIf(SINGLE_FILE, "needs the package source")
class CopyInTest(ServerTest):
    def test_importing_threadrun_imports_no_asyncio_socket_or_ssl(self) -> None:
        result = subprocess.run(
            [sys.executable, "-I", "-c", IMPORTS, REPO],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.strip(), "ok")

    def test_aio_copied_beside_threadrun_py_works_alone(self) -> None:
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        shutil.copy(os.path.join(REPO, "threadrun", "__init__.py"),
                    os.path.join(directory, "threadrun.py"))  # fmt: skip
        shutil.copy(os.path.join(REPO, "threadrun", "aio.py"),
                    os.path.join(directory, "threadrun_aio.py"))  # fmt: skip
        run = self.add_run()
        result = subprocess.run(
            [sys.executable, "-I", "-S", "-c", COPIED, directory, self.server.base_url,
             run["id"]],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.strip(), "ok completed")
