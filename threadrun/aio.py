"""threadrun.aio: :class:`AsyncClient`, the Thread Runs client for asyncio code.

The same endpoints, names, parameters, errors, retries and rules as ``threadrun.Client``
(both are shells over the runtime's I/O-free core), awaited::

    async with AsyncClient() as client:
        run = await client.create_and_poll(thread_id, assistant_id)
        async for run in client.list(thread_id):
            ...
        async with await client.stream(thread_id, assistant_id) as stream:
            async for event in stream:
                ...

It speaks HTTP/1.1 over the standard library's asyncio streams and imports only the
runtime: copied beside ``threadrun.py`` as ``threadrun_aio.py`` (or ``aio.py`` in a
package), it works as this module does.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import time

# The runtime as a package, or threadrun.py copied alone: the same import.
from threadrun import (
    _DRAIN_AFTER_DONE,
    _EXCERPT_BYTES,
    _MAX_REDIRECTS,
    _REDIRECT_STATUSES,
    _STREAM_READ_SIZE,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    ResponseTooLargeError,
    RunStream,
    ThreadRun,
    _Attempts,
    _BaseClient,
    _body_too_large,
    _Call,
    _DeadlineReached,
    _invalid_answer,
    _is_event_stream,
    _Poll,
    _Stale,
    _transport_error,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    import ssl
    from typing import (
        Any,
        AsyncIterator,
        Callable,
        Dict,
        List,
        Mapping,
        Optional,
        Tuple,
        Union,
    )  # fmt: skip

    from threadrun import _Origin, _Proxy, _Request
else:
    # The names annotations use, as in threadrun (see _Deferred there): typing's objects when
    # typing.get_type_hints() evaluates them, typing not imported until then.
    from threadrun import _Deferred

    Any = object
    AsyncIterator, Callable, Dict, List, Mapping, Optional, Tuple, Union = (
        _Deferred("typing", name)
        for name in (
            "AsyncIterator", "Callable", "Dict", "List", "Mapping", "Optional", "Tuple",
            "Union",
        )
    )  # fmt: skip
    ssl = _Deferred("ssl")

__all__ = ["AsyncClient", "AsyncRunStream"]

_IDLE_CONNECTIONS = 8  # kept-alive connections a client keeps for its next requests
_MAX_HEAD_BYTES = 65536  # an answer's status line and headers


# --------------------------------------------------------------------------------------------
# HTTP/1.1 without I/O: the bytes of a request, the head of an answer
# --------------------------------------------------------------------------------------------


def _header_lines(headers: Dict[str, str]) -> str:
    return "".join(["%s: %s\r\n" % item for item in headers.items()])


def _request_bytes(request: _Request, host: str, target: str, header_lines: str) -> bytes:
    """A request as it goes on the wire (what http.client would send); ``header_lines``
    are its headers' (_header_lines)."""
    body = request.body
    length = "" if body is None else "Content-Length: %d\r\n" % len(body)
    head = ("%s %s HTTP/1.1\r\nHost: %s\r\nAccept-Encoding: identity\r\n%s%s\r\n" % (
        request.method, target, host, header_lines, length)).encode("latin-1")  # fmt: skip
    return head + body if body else head


def _parse_head(head: bytes) -> Tuple[int, Dict[str, str]]:
    """The status and lower-cased headers of an answer's head; ValueError if malformed."""
    status_line, _, block = head.decode("latin-1").partition("\r\n")
    code = status_line[9:12]
    if status_line[:7] != "HTTP/1." or status_line[8:9] != " " or not code.isdigit():
        raise ValueError("not an HTTP/1.x status line")
    headers: Dict[str, str] = {}
    for line in block.split("\r\n"):
        if line:
            name, colon, value = line.partition(":")
            if not colon or not name or name[-1] in " \t" or name[0] in " \t":
                raise ValueError("a malformed header line")
            name = name.lower()
            if name in headers:
                headers[name] += ", " + value.strip()
            else:
                headers[name] = value.strip()
    return int(code), headers


def _framing(headers: Dict[str, str]) -> Tuple[Optional[int], bool]:
    """How a body ends: its declared length (None: chunked, or at the end of the
    connection), and whether the connection can carry another request after it."""
    length = headers.get("content-length")
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    closing = "close" in headers.get("connection", "").lower()
    if chunked:
        return None, not closing
    if length is None:
        return None, False
    if not length.strip().isdigit():
        raise ValueError("an invalid Content-Length")
    return int(length), not closing


# --------------------------------------------------------------------------------------------
# Transport: one connection over asyncio streams
# --------------------------------------------------------------------------------------------


class _AsyncConnection:
    """One HTTP/1.1 connection (through a proxy, maybe): sends a request and reads one
    bounded answer. It is discarded whenever an exchange does not finish cleanly, a
    cancelled one included: it never carries half an answer into the next request."""

    def __init__(
        self,
        origin: _Origin,
        proxy: Optional[_Proxy],
        ssl_context: Optional[ssl.SSLContext],
        limit: int,
    ) -> None:
        self.origin = origin
        self.proxy = proxy
        self.ssl_context = ssl_context
        self.limit = limit
        self.reader: Optional[asyncio.StreamReader] = None
        self.writer: Optional[asyncio.StreamWriter] = None
        self.received = False  # whether any byte of an answer came
        self.length: Optional[int] = None  # of the body left to read (None: undeclared)
        self.keep_alive = False  # whether the answer lets the connection carry another
        self._headers_sent: Optional[Dict[str, str]] = None  # and their lines, encoded:
        self._header_lines = ""

    @property
    def usable(self) -> bool:
        """Whether an idle connection can carry a request (the server has not closed it)."""
        reader, writer = self.reader, self.writer
        return (
            reader is not None and writer is not None
            and not reader.at_eof() and not writer.transport.is_closing()
        )  # fmt: skip

    async def connect(self) -> None:
        origin, proxy = self.origin, self.proxy
        context = None
        if origin.scheme == "https":
            if self.ssl_context is None:
                import ssl

                self.ssl_context = ssl.create_default_context()
            context = self.ssl_context
        if proxy is None:
            self.reader, self.writer = await asyncio.open_connection(
                origin.host, origin.port, ssl=context, limit=_MAX_HEAD_BYTES
            )
            return
        reader, writer = await asyncio.open_connection(
            proxy.host, proxy.port, limit=_MAX_HEAD_BYTES
        )
        if context is None:
            self.reader, self.writer = reader, writer
            return
        # https through a proxy: a CONNECT tunnel, then TLS with the origin over it.
        try:
            lines = ["CONNECT %s HTTP/1.1" % origin.netloc, "Host: " + origin.netloc]
            if proxy.authorization:
                lines.append("Proxy-Authorization: " + proxy.authorization)
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            status, _ = _parse_head(await reader.readuntil(b"\r\n\r\n"))
            if status != 200:
                raise APIStatusError(
                    "HTTP %d from the proxy %s: the tunnel to %s was refused"
                    % (status, proxy.netloc, origin.netloc),
                    status_code=status,
                )
            sock = writer.get_extra_info("socket").dup()
        finally:
            writer.close()
        self.reader, self.writer = await asyncio.open_connection(
            sock=sock, ssl=context, server_hostname=origin.host, limit=_MAX_HEAD_BYTES
        )

    async def exchange(
        self, request: _Request, stream: bool
    ) -> Tuple[int, Dict[str, str], bytes]:
        """Send one request; the status, headers and body of the answer (with ``stream``, a
        2xx answer's body is left to read_body())."""
        target = request.target
        if self.proxy is not None and self.origin.scheme == "http":
            target = "http://%s%s" % (self.origin.netloc, target)  # absolute form
        if self.writer is None:
            await self.connect()
        assert self.reader is not None and self.writer is not None
        self.received = False
        headers = request.headers
        if headers is not self._headers_sent:
            # A GET sends the client's own headers dict, never changed after the client is
            # made: encoded once per connection, not per request.
            self._headers_sent, self._header_lines = headers, _header_lines(headers)
        self.writer.write(
            _request_bytes(request, self.origin.netloc, target, self._header_lines)
        )
        reader = self.reader
        head = await reader.readuntil(b"\r\n\r\n")
        self.received = True
        status, headers = _parse_head(head)
        if status < 200:
            raise ValueError("unexpected informational response %d" % status)
        length, keep_alive = _framing(headers)
        self.length, self.keep_alive = length, keep_alive
        if (stream and 200 <= status < 300) or request.method == "HEAD":
            return status, headers, b""
        if status in (204, 304):
            return status, headers, b""
        if length is None:
            return status, headers, await self._read_undeclared(headers)
        if length > self.limit:
            raise ResponseTooLargeError(
                "response body of %d bytes is over the limit of %d (max_response_bytes)"
                % (length, self.limit),
                request_id=headers.get("x-request-id"),
            )
        return status, headers, await reader.readexactly(length)

    async def _read_undeclared(self, headers: Dict[str, str]) -> bytes:
        """A body whose length is not declared (chunked, or to the end of the connection),
        up to the size cap."""
        limit = self.limit
        chunks = []
        size = 0
        while size <= limit:
            chunk = await self.read_chunk()
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise _body_too_large(limit, headers)
        return b"".join(chunks)

    async def read_chunk(self) -> bytes:
        """The next bytes of a body whose length is not declared (chunked, or to the end of
        the connection); b"" at its end."""
        assert self.reader is not None
        reader = self.reader
        if self.length is not None:
            if self.length == 0:
                return b""
            chunk = await reader.read(min(self.length, _STREAM_READ_SIZE))
            if not chunk:
                raise asyncio.IncompleteReadError(b"", self.length)
            self.length -= len(chunk)
            return chunk
        if not self.keep_alive:
            return await reader.read(_STREAM_READ_SIZE)
        line = await reader.readuntil(b"\r\n")
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ValueError("an invalid chunk size") from None
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailers
            self.length = 0
            return b""
        chunk = await reader.readexactly(size + 2)
        return chunk[:-2]

    def close(self) -> None:
        writer, self.writer, self.reader = self.writer, None, None
        if writer is not None:
            writer.close()

    def error(self, exc: BaseException) -> APIConnectionError:
        """The client's error for what stopped an exchange (as Client says it)."""
        netloc = self.origin.netloc
        if isinstance(exc, (ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError)):
            if type(exc).__name__ == "SSLCertVerificationError":  # a ValueError too
                return _transport_error(netloc, exc)
            if isinstance(exc, asyncio.IncompleteReadError):
                exc.partial, exc.args = b"", ()  # it may echo a credential
            return _invalid_answer(netloc, exc)
        return _transport_error(netloc, exc)


class _Timer:
    """Cancels the running task after ``seconds``, unless cancelled first: what
    asyncio.timeout (3.11+) does, without its cost (5 us a call, a third of what the client
    adds to a request), and on 3.7-3.10, where wait_for would start a task a call. The
    loop's timer is its :class:`_Watch`'s, shared."""

    __slots__ = ("_task", "_watch", "_expired")

    def __init__(self, seconds: float) -> None:
        self._task = asyncio.current_task()
        self._expired = False
        self._watch = _Watch.of(asyncio.get_running_loop())
        self._watch.add(self, seconds)

    def expire(self) -> None:
        self._expired = True
        assert self._task is not None
        self._task.cancel()

    def timed_out(self) -> bool:
        """After a CancelledError: whether this timer caused it (and no caller did)."""
        if not self._expired:
            return False
        uncancel = getattr(self._task, "uncancel", None)  # 3.11+: take our cancel back
        return uncancel is None or uncancel() == 0

    def cancel(self) -> None:
        self._watch.deadlines.pop(self, None)


class _Watch:
    """The timers of one event loop, under ONE loop timer set at (or before) their earliest
    deadline. A loop timer per request (call_later, then cancel) costs 8-10 us a request, a
    tenth of a retrieve: each is pushed on the loop's heap, stays there cancelled, and every
    turn of the loop computes its wait from it. Here a request's timer is a dict entry, and
    the loop timer moves only for a deadline earlier than all the others."""

    _last: Optional[_Watch] = None  # the loop used last (one loop, nearly always)

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.deadlines: Dict[_Timer, float] = {}
        self._handle: Optional[asyncio.TimerHandle] = None
        self._when = float("inf")  # of _handle

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> _Watch:
        watch = cls._last
        if watch is None or watch.loop is not loop:
            # Another loop: a new watch (one still holding timers keeps its loop timer, so
            # they expire all the same).
            watch = cls._last = cls(loop)
        return watch

    def add(self, timer: _Timer, seconds: float) -> None:
        deadline = self.loop.time() + seconds
        self.deadlines[timer] = deadline
        if deadline < self._when:
            if self._handle is not None:
                self._handle.cancel()
            self._schedule(deadline)

    def _schedule(self, deadline: float) -> None:
        self._when = deadline
        self._handle = self.loop.call_at(deadline, self._fire)

    def _fire(self) -> None:
        now = max(self.loop.time(), self._when)  # the loop fires a timer when it is due
        self._handle, self._when = None, float("inf")
        expired = [timer for timer, deadline in self.deadlines.items() if deadline <= now]
        for timer in expired:
            del self.deadlines[timer]
            timer.expire()
        if self.deadlines:  # those whose requests went on, or ended early: the next due
            self._schedule(min(self.deadlines.values()))


# --------------------------------------------------------------------------------------------
# AsyncClient
# --------------------------------------------------------------------------------------------


class AsyncClient(_BaseClient):
    """``threadrun.Client`` for asyncio: the same parameters, endpoints and rules, each
    endpoint awaited (``list``-like ones are async iterators, ``*_stream`` ones give an
    :class:`AsyncRunStream`). ``sleep`` defaults to ``asyncio.sleep`` (a function given may
    return an awaitable or not); ``on_run`` may be a coroutine function.

    Connections are HTTP/1.1, kept alive: up to 8 idle ones are kept for the next requests,
    so concurrent calls each use their own. A call cancelled mid-request discards its
    connection. Use it as ``async with AsyncClient() as client``, or ``await client.close()``.
    """

    def _start_transport(
        self, origin: _Origin, proxy: Optional[_Proxy], ssl_context: Optional[ssl.SSLContext]
    ) -> None:
        if self._sleep is time.sleep:
            self._sleep = asyncio.sleep
        self._proxy = proxy
        self._ssl_context = ssl_context
        self._idle: List[_AsyncConnection] = []
        # The tasks reading the end of streams' bodies, and their connections.
        self._reclaims: List[Tuple[Any, _AsyncConnection]] = []
        self._streams: List[AsyncRunStream] = []

    async def close(self) -> None:
        """Close the idle connections and every stream still open."""
        for stream in list(self._streams):
            stream.close()
        for task, connection in self._reclaims:
            task.cancel()
            connection.close()
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
        await asyncio.sleep(0)  # the transports finish closing before a loop may end

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        # Never the key, nor any header value.
        return "<threadrun.aio.AsyncClient base_url=%r>" % self.base_url

    async def _execute(self, call: _Call, deadline: Optional[float] = None) -> Any:  # type: ignore[override]
        headers, payload, _ = await self._exchange(call, deadline)
        assert call.read is not None
        return call.read(headers, payload)

    _execute_object = _execute  # type: ignore[assignment]

    async def _exchange(
        self, call: _Call, deadline: Optional[float] = None, stream: bool = False
    ) -> Tuple[Dict[str, str], bytes, Optional[_AsyncConnection]]:
        request = self._build(call, stream)
        attempts = _Attempts(self, request, deadline, stream)
        while True:
            attempts.begin()
            try:
                status, headers, payload, connection = await self._send(request, stream)
            except _Stale as stale:
                attempts.stale(stale)
                continue
            except APIConnectionError as error:
                delay = attempts.failed(error)
            else:
                if 200 <= status < 300:
                    return headers, payload, connection
                delay = attempts.answered(status, headers, payload)
            await self._wait(self._sleep(delay))

    async def _send(
        self, request: _Request, stream: bool
    ) -> Tuple[int, Dict[str, str], bytes, Optional[_AsyncConnection]]:
        """One attempt, following same-origin redirects; with ``stream``, the connection a
        2xx answer's body is to be read from."""
        for _ in range(_MAX_REDIRECTS + 1):
            if self._reclaims:
                await asyncio.sleep(0)  # a stream's end already in hand: its connection is back
                self._reclaims = [pair for pair in self._reclaims if not pair[0].done()]
            connection = self._take()
            reused = connection.writer is not None
            timer = _Timer(request.timeout)  # one total for the whole exchange
            try:
                status, headers, payload = await connection.exchange(request, stream)
            except BaseException as exc:
                # Whatever stopped it (a reset, a timeout, a cancelled task), the connection
                # may hold half an answer or half a request: it must never carry another.
                connection.close()
                failure = self._failure(exc, timer, reused, connection)
                if failure is exc:
                    raise
                raise failure from failure.__cause__
            finally:
                timer.cancel()
            if stream and 200 <= status < 300:
                return status, headers, payload, connection
            if connection.keep_alive and len(self._idle) < _IDLE_CONNECTIONS:
                self._idle.append(connection)
            else:
                connection.close()
            if status not in _REDIRECT_STATUSES:
                return status, headers, payload, None
            request = self._redirected(request, status, headers)
        raise self._too_many_redirects(status, headers)

    def _take(self) -> _AsyncConnection:
        while self._idle:
            connection = self._idle.pop()
            if connection.usable:
                return connection
            connection.close()  # closed by the server while idle
        return _AsyncConnection(self._origin, self._proxy, self._ssl_context,
                                self.max_response_bytes)  # fmt: skip

    def _failure(
        self, exc: BaseException, timer: _Timer, reused: bool, connection: _AsyncConnection
    ) -> BaseException:
        """What an exchange that raised ``exc`` raises: ``exc`` itself when it is the
        client's error or the task's cancellation, else the client's error (or _Stale),
        caused by ``exc``."""
        if isinstance(exc, asyncio.CancelledError):  # an Exception on 3.7
            if not timer.timed_out():
                return exc
            # What a blocking socket raises (an OSError): the error's cause, as in Client.
            exc = socket.timeout("timed out")
        elif isinstance(exc, APIError) or not isinstance(exc, Exception):
            return exc
        error = connection.error(exc)
        error.__cause__ = exc
        if reused and not connection.received and not isinstance(error, APITimeoutError):
            stale = _Stale(error)
            stale.__cause__ = exc
            return stale
        return error

    async def _reclaim(self, connection: _AsyncConnection) -> None:
        """Read the rest of a stream's body (at most _DRAIN_AFTER_DONE bytes, within the
        client's timeout): at its clean end, the connection is kept alive, else closed."""
        expire = asyncio.get_running_loop().call_later(self.timeout, connection.close)
        try:
            budget = _DRAIN_AFTER_DONE
            while budget > 0:
                chunk = await connection.read_chunk()
                if not chunk:
                    if connection.length == 0 and len(self._idle) < _IDLE_CONNECTIONS:
                        self._idle.append(connection)
                        return
                    break
                budget -= len(chunk)
        except Exception:  # a cut or broken end: the connection is only closed
            pass
        finally:
            expire.cancel()
        connection.close()

    async def _wait(self, result: Any) -> None:
        if inspect.isawaitable(result):
            await result

    async def _pages(  # type: ignore[override]
        self, path: str, query: List[Tuple[str, str]], options: Dict[str, Any], kind: str
    ) -> AsyncIterator[Any]:
        seen: set = set()  # type: ignore[type-arg]
        next_query: Optional[List[Tuple[str, str]]] = query
        while next_query is not None:
            query = next_query
            call = _Call("GET", path, None, query, options, None)
            headers, payload, _ = await self._exchange(call)
            items, page = self._read_page(kind, query, headers, payload)
            for item in items:
                yield item
            next_query = self._next_query(query, page, seen, headers)

    async def _poll(  # type: ignore[override]
        self,
        thread_id: str,
        run_id: str,
        interval: Optional[float],
        timeout: Optional[float],
        on_run: Optional[Callable[[ThreadRun], Any]],
    ) -> ThreadRun:
        poll, retrieve = self._polling(thread_id, run_id, interval, timeout)
        return await self._poll_run(retrieve, poll, on_run, None)

    async def _then_poll(  # type: ignore[override]
        self,
        call: _Call,
        thread_id: Optional[str],
        interval: Optional[float],
        timeout: Optional[float],
        on_run: Optional[Callable[[ThreadRun], Any]],
    ) -> ThreadRun:
        poll = _Poll(self, interval, timeout)
        try:
            run = await self._execute(call, poll.start_deadline)
        except _DeadlineReached as exc:
            raise poll.timed_out() from exc.__cause__
        retrieve = self._retrieve_after(call, thread_id, run)
        return await self._poll_run(retrieve, poll, on_run, run)

    async def _poll_run(
        self,
        retrieve: _Call,
        poll: _Poll,
        on_run: Optional[Callable[[ThreadRun], Any]],
        started: Optional[ThreadRun],
    ) -> ThreadRun:
        settled = poll.begin(started)
        if settled is not None:
            return settled
        assert retrieve.read is not None
        while True:
            try:
                headers, payload, _ = await self._exchange(retrieve, poll.request_deadline)
            except _DeadlineReached as exc:
                raise poll.timed_out() from exc.__cause__
            run: ThreadRun = retrieve.read(headers, payload)
            if on_run is not None:
                await self._wait(on_run(run))
            delay = poll.after(run, headers)
            if delay is None:
                return run
            await self._wait(self._sleep(delay))

    async def _stream_request(  # type: ignore[override]
        self,
        path: str,
        body: Dict[str, Any],
        query: Optional[List[Tuple[str, str]]],
        options: Dict[str, Any],
        stream_timeout: Optional[float],
        verb: str,
        asked: Tuple[Optional[str], Optional[str]],
    ) -> AsyncRunStream:
        deadline = self._stream_deadline(stream_timeout)
        call = _Call("POST", path, body, query, options, None)
        try:
            headers, _, connection = await self._exchange(call, deadline, stream=True)
        except _DeadlineReached as exc:
            raise self._stream_timeout(stream_timeout) from exc.__cause__
        assert connection is not None
        kept: _AsyncConnection = connection
        request_id = headers.get("x-request-id")
        content_type = headers.get("content-type")
        until = None if deadline is None else time.monotonic() + (deadline - self._clock())
        reader = _BodyReader(connection, self.timeout, until)
        if not _is_event_stream(content_type):
            start, whole = await reader.excerpt()
            raise self._not_a_stream(content_type, start, whole, request_id)

        def release(done: bool) -> None:
            if stream in self._streams:
                self._streams.remove(stream)
            if done and kept.keep_alive:
                # Only the end of the body follows done: read in the background, never
                # waited for, it makes the connection the client's again.
                task = asyncio.ensure_future(self._reclaim(kept))
                self._reclaims.append((task, kept))
            else:
                kept.close()

        settings = self._stream_settings(request_id, verb, asked)
        stream = AsyncRunStream(reader.read, release, **settings)
        self._streams.append(stream)
        return stream

    if TYPE_CHECKING:  # pragma: no cover
        # The endpoints are _BaseClient's, written once; here they return what the async
        # shell's methods return. These are their types for mypy and users' type checkers
        # (at run time, AsyncClient's endpoints are _BaseClient's functions).
        async def retrieve(  # type: ignore[override]
            self, thread_id: str, run_id: str, **options: Any
        ) -> ThreadRun: ...

        async def create(  # type: ignore[override]
            self, thread_id: str, assistant_id: str, **params: Any
        ) -> ThreadRun: ...

        async def update(  # type: ignore[override]
            self, thread_id: str, run_id: str, metadata: Mapping[str, str], **options: Any
        ) -> ThreadRun: ...

        async def cancel(  # type: ignore[override]
            self, thread_id: str, run_id: str, **options: Any
        ) -> ThreadRun: ...

        async def submit_tool_outputs(  # type: ignore[override]
            self, thread_id: str, run_id: str, tool_outputs: List[Mapping[str, str]],
            **options: Any,
        ) -> ThreadRun: ...

        def list(  # type: ignore[override]
            self, thread_id: str, *,
            limit: Optional[int] = None, order: Optional[str] = None,
            after: Optional[str] = None, before: Optional[str] = None, **options: Any,
        ) -> AsyncIterator[ThreadRun]: ...

        def list_steps(  # type: ignore[override]
            self, thread_id: str, run_id: str, *,
            limit: Optional[int] = None, order: Optional[str] = None,
            after: Optional[str] = None, before: Optional[str] = None, **options: Any,
        ) -> AsyncIterator[Dict[str, Any]]: ...

        async def retrieve_step(  # type: ignore[override]
            self, thread_id: str, run_id: str, step_id: str, **options: Any
        ) -> Dict[str, Any]: ...

        async def create_thread(  # type: ignore[override]
            self, messages: Optional[List[Mapping[str, Any]]] = None, **params: Any
        ) -> Dict[str, Any]: ...

        async def retrieve_thread(  # type: ignore[override]
            self, thread_id: str, **options: Any
        ) -> Dict[str, Any]: ...

        async def update_thread(  # type: ignore[override]
            self, thread_id: str, **params: Any
        ) -> Dict[str, Any]: ...

        async def delete_thread(  # type: ignore[override]
            self, thread_id: str, **options: Any
        ) -> Dict[str, Any]: ...

        async def create_message(  # type: ignore[override]
            self, thread_id: str, content: Union[str, List[Mapping[str, Any]]],
            role: str = "user", **params: Any,
        ) -> Dict[str, Any]: ...

        def list_messages(  # type: ignore[override]
            self, thread_id: str, run_id: Optional[str] = None, order: Optional[str] = None,
            limit: Optional[int] = None, after: Optional[str] = None,
            before: Optional[str] = None, **options: Any,
        ) -> AsyncIterator[Dict[str, Any]]: ...

        async def retrieve_message(  # type: ignore[override]
            self, thread_id: str, message_id: str, **options: Any
        ) -> Dict[str, Any]: ...

        async def poll(  # type: ignore[override]
            self, thread_id: str, run_id: str, *,
            interval: Optional[float] = None, timeout: Optional[float] = None,
            on_run: Optional[Callable[[ThreadRun], Any]] = None, **unexpected: Any,
        ) -> ThreadRun: ...

        async def create_and_poll(  # type: ignore[override]
            self, thread_id: str, assistant_id: str, *,
            poll_interval: Optional[float] = None, poll_timeout: Optional[float] = None,
            on_run: Optional[Callable[[ThreadRun], Any]] = None, **params: Any,
        ) -> ThreadRun: ...

        async def submit_tool_outputs_and_poll(  # type: ignore[override]
            self, thread_id: str, run_id: str, tool_outputs: List[Mapping[str, str]], *,
            poll_interval: Optional[float] = None, poll_timeout: Optional[float] = None,
            on_run: Optional[Callable[[ThreadRun], Any]] = None, **options: Any,
        ) -> ThreadRun: ...

        async def stream(  # type: ignore[override]
            self, thread_id: str, assistant_id: str, *,
            stream_timeout: Optional[float] = None, **params: Any,
        ) -> AsyncRunStream: ...

        async def submit_tool_outputs_stream(  # type: ignore[override]
            self, thread_id: str, run_id: str, tool_outputs: List[Mapping[str, str]], *,
            stream_timeout: Optional[float] = None, **options: Any,
        ) -> AsyncRunStream: ...

        async def create_thread_and_run(  # type: ignore[override]
            self, assistant_id: str, *,
            thread: Optional[Mapping[str, Any]] = None, **params: Any,
        ) -> ThreadRun: ...

        async def create_thread_and_run_stream(  # type: ignore[override]
            self, assistant_id: str, *,
            thread: Optional[Mapping[str, Any]] = None,
            stream_timeout: Optional[float] = None, **params: Any,
        ) -> AsyncRunStream: ...

        async def create_thread_and_run_poll(  # type: ignore[override]
            self, assistant_id: str, *,
            thread: Optional[Mapping[str, Any]] = None,
            poll_interval: Optional[float] = None, poll_timeout: Optional[float] = None,
            on_run: Optional[Callable[[ThreadRun], Any]] = None, **params: Any,
        ) -> ThreadRun: ...


class _BodyReader:
    """A streamed body, read as it arrives: each read waits at most ``silence`` seconds,
    and none goes past ``until`` (a time.monotonic(); None: no limit)."""

    def __init__(
        self, connection: _AsyncConnection, silence: float, until: Optional[float]
    ) -> None:
        self._connection = connection
        self._silence = silence
        self._until = until

    async def read(self) -> bytes:
        connection = self._connection
        if connection.reader is None:
            return b""  # closed
        wait = self._silence
        passed = False
        if self._until is not None:
            left = self._until - time.monotonic()
            if left <= wait:
                wait, passed = max(left, 0.0), True
        netloc = connection.origin.netloc
        timer = _Timer(wait)
        try:
            return await connection.read_chunk()
        except asyncio.CancelledError:
            if not timer.timed_out():
                raise
            connection.close()
            if passed:
                raise APITimeoutError(
                    "the stream from %s passed its deadline (stream_timeout)" % netloc
                ) from socket.timeout("timed out")
            raise APITimeoutError(
                "the stream from %s sent nothing for %.3g s (timeout: the longest silence "
                "allowed)" % (netloc, self._silence)
            ) from socket.timeout("timed out")
        except (ValueError, asyncio.IncompleteReadError, ConnectionError) as exc:
            connection.close()
            connection.error(exc)  # which also empties what an IncompleteReadError holds
            raise APIConnectionError(
                "the stream from %s was cut: %s" % (netloc, type(exc).__name__)
            ) from exc
        finally:
            timer.cancel()

    async def excerpt(self) -> Tuple[bytes, bool]:
        """The start of a body that is not a stream, and whether it is the whole; the
        connection is closed."""
        start = b""
        try:
            while len(start) < _EXCERPT_BYTES:
                chunk = await self.read()
                if not chunk:
                    return start, True
                start += chunk
        except APIError:
            pass  # what came before is the excerpt
        finally:
            self._connection.close()
        return start, False


class AsyncRunStream(RunStream):
    """A :class:`threadrun.RunStream` read with ``async for``: the same events, ``run``,
    ``messages`` and errors; ``await stream.until_done()``, ``async for text in
    stream.text_deltas()``; an async context manager (and ``close()``)."""

    def __init__(self, read_chunk: Callable[[], Any], release: Callable[[bool], Any],
                 **settings: Any) -> None:  # fmt: skip
        super().__init__(read_chunk, release, **settings)
        self._read_async = read_chunk
        self._iterator = None  # type: ignore[assignment]
        self._pending: Any = iter(())

    def __iter__(self) -> Any:
        raise TypeError("an AsyncRunStream is read with 'async for'")

    def __next__(self) -> Any:
        raise TypeError("an AsyncRunStream is read with 'async for'")

    def __aiter__(self) -> AsyncRunStream:
        return self

    async def __anext__(self) -> Any:
        while True:
            try:
                return next(self._pending)
            except StopIteration:
                pass
            except Exception as exc:
                self._fail(exc)
                raise
            if self._done or self._release is None:
                raise StopAsyncIteration
            try:
                chunk = await self._read_async()
            except Exception as exc:
                if self._closed:
                    raise StopAsyncIteration from None
                if isinstance(exc, APIError):
                    self._tagged(exc)
                self._fail(exc)
                raise
            self._pending = self._chunk_events(chunk)

    def _fail(self, exc: Exception) -> None:
        if not self._closed:
            self._failure = exc  # raised again by until_done()
        self._release_once(False)

    async def __aenter__(self) -> AsyncRunStream:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self.close()

    async def until_done(self) -> ThreadRun:  # type: ignore[override]
        """Read the stream to its done event and return the last run seen (as
        RunStream.until_done)."""
        async for _ in self:
            pass
        self._check_done()
        if self.run is None:
            raise self._tagged(APIConnectionError("the stream ended without a run event"))
        return self.run

    async def text_deltas(self) -> AsyncIterator[str]:  # type: ignore[override]
        """The text of the assistant's messages as it arrives (as RunStream.text_deltas)."""
        async for event, data in self:
            if event == "thread.message.delta":
                text = self._checked_delta_text(data)
                if text:
                    yield text
        self._check_done()

    def close(self) -> None:
        """Stop reading and release the connection. Iteration ends."""
        self._closed = True
        self._pending = iter(())
        self._release_once(False)

    def __repr__(self) -> str:
        run = self.run
        state = "closed" if self._release is None else "open"
        return "<threadrun.aio.AsyncRunStream %s run=%s>" % (
            state, None if run is None else run.id)  # fmt: skip
