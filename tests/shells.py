"""The client's two shells under one set of tests: ``SyncOverAsync`` drives an AsyncClient
from synchronous test code, each call run to completion on the client's own event loop, so
that the tests written against Client run unchanged against AsyncClient
(tests/test_client_async.py makes the async variant of each test class).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from typing import Any, Iterator


class SyncOverAsync:
    """An AsyncClient as the tests call a Client: results, errors and lazy iterators the
    same, streams read with ``for``."""

    def __init__(self, **kwargs: Any) -> None:
        aio = importlib.import_module("threadrun.aio")
        self._client = aio.AsyncClient(**kwargs)  # a configuration error: no loop to close
        self._loop = asyncio.new_event_loop()
        self._stream_class = aio.AsyncRunStream

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            return self.resolve(attr(*args, **kwargs))

        return call

    def resolve(self, result: Any) -> Any:
        if inspect.isasyncgen(result):
            return self.iterate(result)
        if inspect.isawaitable(result):
            value = self._loop.run_until_complete(result)
            if isinstance(value, self._stream_class):
                return SyncStream(self, value)
            return value
        return result

    def iterate(self, iterator: Any) -> Iterator[Any]:
        try:
            while True:
                try:
                    yield self._loop.run_until_complete(iterator.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            if inspect.isasyncgen(iterator) and not self._loop.is_closed():
                self._loop.run_until_complete(iterator.aclose())

    def close(self) -> None:
        if not self._loop.is_closed():
            self._loop.run_until_complete(self._client.close())
            self._loop.close()

    def __enter__(self) -> SyncOverAsync:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


class SyncStream:
    """An AsyncRunStream as the tests read a RunStream."""

    def __init__(self, shell: SyncOverAsync, stream: Any) -> None:
        self._shell = shell
        self._stream = stream
        self._events = shell.iterate(stream)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._stream, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._shell.resolve(attr(*args, **kwargs))

        return call

    def __iter__(self) -> Iterator[Any]:
        return self._events

    def __next__(self) -> Any:
        return next(self._events)

    def __repr__(self) -> str:
        return repr(self._stream)

    def __enter__(self) -> SyncStream:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stream.close()
