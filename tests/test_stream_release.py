"""Specification of streamed runs, continued: when a RunStream hands its connection back as
reusable, and the memory a long stream holds. As tests/test_stream.py, fed chunks from a
list (``Source``), RunStream's own contract.
"""
from __future__ import annotations

import threading
import unittest
from typing import Any, List

from tests import threadrun
from tests.support import requires_tracemalloc, tracemalloc
from tests.test_stream import (
    DONE,
    LIMIT,
    Source,
    run_json,
    split,
    sse,
)  # fmt: skip

RunStream = threadrun.RunStream
StreamError = threadrun.StreamError
ThreadRun = threadrun.ThreadRun
ThreadRunError = threadrun.ThreadRunError
APIConnectionError = threadrun.APIConnectionError
ResponseTooLargeError = threadrun.ResponseTooLargeError


class ReleaseTest(unittest.TestCase):
    def test_done_then_end_of_body_is_reusable(self) -> None:
        for name, chunks in (
            ("done alone", [DONE]),
            ("end in a later read", [sse("thread.run.queued", run_json()), DONE, b"", b""]),
            ("bytes after done", [DONE + b": bye\n", b"\n\n"]),
        ):
            with self.subTest(name):
                source = Source(*chunks)
                with source.stream() as stream:
                    list(stream)
                    self.assertEqual(source.released, [True])
                self.assertEqual(source.released, [True])

    def test_nothing_is_read_after_done(self) -> None:
        # Whatever follows done (an error, endless keep-alive comments, a server that never
        # ends the body), the stream ends at done: release(True) says so, and it is the
        # releaser's to reuse the connection only if the end of the body is in hand.
        for name, after in (
            ("connection error", [APIConnectionError("reset")]),
            ("endless bytes", [b": x\n" * 1000] * 100),
            ("a read that would block", [AssertionError("read after done")]),
        ):
            with self.subTest(name):
                source = Source(sse("thread.run.queued", run_json()) + DONE, *after)
                stream = source.stream()
                self.assertEqual(stream.until_done().status, "queued")
                self.assertEqual((source.released, source.reads), ([True], 1))
                self.assertEqual(stream.until_done().status, "queued")  # again, no read
                self.assertEqual(source.reads, 1)

    def test_close_before_reading(self) -> None:
        source = Source(DONE)
        stream = source.stream()
        stream.close()
        stream.close()
        self.assertEqual(list(stream), [])
        self.assertEqual((source.released, source.reads), ([False], 0))

    def test_leaving_early_discards_the_connection(self) -> None:
        body = sse("thread.run.queued", run_json()) * 3 + DONE
        for how in ("break out of with", "close mid-stream", "exception in the with block"):
            with self.subTest(how):
                source = Source(*split(body, 50))
                try:
                    with source.stream() as stream:
                        for _event in stream:
                            if how == "close mid-stream":
                                stream.close()
                            elif how == "exception in the with block":
                                raise KeyError("caller's own")
                            else:
                                break
                except KeyError:
                    pass
                self.assertEqual(source.released, [False])
                reads = source.reads
                self.assertEqual(list(stream), [])
                self.assertEqual(source.reads, reads)  # nothing read after close
                self.assertIn("closed", repr(stream))

    def test_close_from_another_thread_ends_a_blocked_read(self) -> None:
        in_read = threading.Event()
        released = threading.Event()
        reusable: List[bool] = []

        def read_chunk() -> bytes:
            in_read.set()
            released.wait(10)
            raise APIConnectionError("connection closed")  # what a closed socket does

        def release(flag: bool) -> None:
            reusable.append(flag)
            released.set()

        stream = RunStream(read_chunk, release, max_event_bytes=LIMIT)
        outcome: List[Any] = []
        reader = threading.Thread(target=lambda: outcome.append(list(stream)))
        reader.start()
        self.assertTrue(in_read.wait(10))
        stream.close()
        reader.join(10)
        self.assertEqual((outcome, reusable), ([[]], [False]))


class MemoryTest(unittest.TestCase):
    @requires_tracemalloc
    def test_memory_is_flat_over_a_long_stream(self) -> None:
        event = sse("thread.run.in_progress", run_json("in_progress", usage=None))
        chunk = event * 40  # about 16 kB

        def peak(chunks: int) -> int:
            count = 0

            def read_chunk() -> bytes:
                nonlocal count
                count += 1
                return chunk if count <= chunks else DONE if count == chunks + 1 else b""

            stream = RunStream(read_chunk, lambda reusable: None, max_event_bytes=LIMIT)
            tracemalloc.start()
            try:
                events = sum(1 for _ in stream)
                return tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
                self.assertEqual(events, 40 * chunks)

        short, long = peak(10), peak(500)  # 160 kB and 8 MB of events
        self.assertLess(long, 200_000)
        self.assertLess(long, short * 1.5)


if __name__ == "__main__":
    unittest.main()
