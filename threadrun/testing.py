"""A fake Assistants "Thread Runs" server for tests: real HTTP/1.1 on loopback, no network.

``FakeRunsServer`` listens on ``127.0.0.1`` (an ephemeral port by default) in a background
thread and answers the Runs endpoints under ``/v1`` with the same JSON bodies, error bodies and
headers as the real API, so any HTTP client (threadrun's own, or yours) can be tested without
the network::

    import threadrun
    from threadrun.testing import FakeRunsServer

    with FakeRunsServer() as server:
        run = server.add_run("thread_1", statuses=("queued", "requires_action"))
        client = threadrun.Client(api_key="test", base_url=server.base_url)
        ...
        assert server.requests[-1].method == "GET"

Runs follow scripted status sequences (each GET of a run moves it one step on), faults can be
injected for the next matching requests (error statuses, delays, dropped connections,
redirects, oversized or invalid bodies), and every request is recorded.

This module deliberately speaks raw JSON and does not import threadrun, so a bug in the
library's model cannot hide behind a fake that shares it.
"""

from __future__ import annotations

import copy
import http
import http.server
import json
import secrets
import socket
import socketserver
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from email.message import Message
from typing import Any, Callable, Iterable, Mapping, Sequence, Tuple, Union
from urllib.parse import parse_qs, unquote

__all__ = ["FakeRunsServer", "Fault", "RecordedRequest"]

_HOST = "127.0.0.1"  # the only address ever bound: the fake must not be reachable off-machine
_TERMINAL = frozenset({"cancelled", "failed", "completed", "incomplete", "expired"})
_STATUSES = _TERMINAL | {"queued", "in_progress", "requires_action", "cancelling"}
# The statuses in which a run has begun executing; started_at is stamped on the first of them.
_STARTED = frozenset({"in_progress", "requires_action", "completed", "failed", "incomplete"})
_DEFAULT_TOOL_CALLS = (
    ("get_current_weather", '{"location":"San Francisco, CA","unit":"fahrenheit"}'),
)
_EXPIRY_SECONDS = 600  # the API gives a run ten minutes before it expires
_USAGE = {"prompt_tokens": 345, "completion_tokens": 11, "total_tokens": 356}

# A tool call to put in required_action: (name, arguments) or a raw tool-call dict sent verbatim.
ToolCallSpec = Union[Tuple[str, Any], Mapping[str, Any]]

# Create-run body parameters: name -> (accepted JSON types, name of the type for messages).
# bool is excluded from the numeric types explicitly below, as JSON true is not a number.
_CREATE_PARAMS: dict[str, tuple[tuple[type, ...], str]] = {
    "assistant_id": ((str,), "a string"),
    "model": ((str,), "a string"),
    "instructions": ((str,), "a string"),
    "additional_instructions": ((str,), "a string"),
    "additional_messages": ((list,), "an array"),
    "tools": ((list,), "an array"),
    "metadata": ((dict,), "an object"),
    "temperature": ((int, float), "a number"),
    "top_p": ((int, float), "a number"),
    "stream": ((bool,), "a boolean"),
    "max_prompt_tokens": ((int,), "an integer"),
    "max_completion_tokens": ((int,), "an integer"),
    "truncation_strategy": ((dict,), "an object"),
    "tool_choice": ((str, dict), "a string or an object"),
    "parallel_tool_calls": ((bool,), "a boolean"),
    "response_format": ((str, dict), "a string or an object"),
    "reasoning_effort": ((str,), "a string"),
}
# Create parameters that the run object carries back (additional_* have nowhere to go: the fake
# has no assistant whose instructions they would extend, and no messages).
_ECHOED = (
    "model",
    "instructions",
    "tools",
    "metadata",
    "temperature",
    "top_p",
    "max_prompt_tokens",
    "max_completion_tokens",
    "truncation_strategy",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "reasoning_effort",
)
_RANGES = {"temperature": (0.0, 2.0), "top_p": (0.0, 1.0)}

_BAD_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using"
    " your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was"
    " not valid JSON. If you have trouble figuring out how to fix this, please contact us through"
    " our help center at help.openai.com.)"
)
_NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header"
    " using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with"
    " blank username) if you're accessing the API from your browser and are prompted for a"
    " username and password. You can obtain an API key from"
    " https://platform.openai.com/account/api-keys."
)
_NO_BETA = (
    "You must provide the 'OpenAI-Beta' header to access the Assistants API. Please try again"
    " by setting the header 'OpenAI-Beta: assistants=v2'."
)
# Bodies for injected error statuses, as the API words them; other codes use the HTTP phrase.
_FAULT_ERRORS = {
    429: (
        "Rate limit reached for requests. Please try again later.",
        "requests",
        "rate_limit_exceeded",
    ),
    500: (
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    ),
    502: ("Bad gateway.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour, applied to the next request(s) that match it.

    Applied in this order: wait ``delay`` seconds; if ``drop``, close the connection without a
    response; if ``status`` is set, answer with it instead of handling the request (``body`` as
    given, or when None an API error body for statuses >= 400 and an empty body below);
    otherwise handle the request normally and, if ``pad_to`` is set, pad the JSON body with an
    extra ``"x_padding"`` key to exactly ``pad_to`` bytes. ``headers`` are added to (or replace
    same-named headers of) whatever response is sent. ``path`` (the raw path without query)
    and ``method`` restrict which requests match; None matches any.
    """

    status: int | None = None
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    pad_to: int | None = None
    path: str | None = None
    method: str | None = None

    def __post_init__(self) -> None:
        if self.status is not None and not 100 <= self.status <= 999:
            raise ValueError(f"status must be a 3-digit HTTP status, got {self.status!r}")
        if self.delay < 0:
            raise ValueError(f"delay must be >= 0, got {self.delay!r}")
        if self.pad_to is not None and self.pad_to < 0:
            raise ValueError(f"pad_to must be >= 0, got {self.pad_to!r}")

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to a request with this method and raw path."""
        return (self.path is None or self.path == path) and (
            self.method is None or self.method.upper() == method.upper()
        )


@dataclass(frozen=True)
class RecordedRequest:
    """A request as the fake server received it.

    ``path`` is the raw path (percent-encoding kept, no query), ``target`` the raw request
    target (path and query), ``query`` the parsed query string (each name -> list of values),
    ``headers`` an ``email.message.Message`` (case-insensitive ``headers["authorization"]``,
    ``headers.get_all(...)``), ``body`` the raw body (de-chunked), ``json`` the parsed body or
    None, and ``connection_id`` a number per TCP connection (equal ids: one kept-alive socket).
    """

    method: str
    path: str
    target: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    json: Any
    connection_id: int


class _APIError(Exception):
    """An error answered with the API's error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": type, "param": param, "code": code}}


class _Run:
    """A stored run: its raw JSON dict plus the script that drives its status."""

    __slots__ = ("after_tool_outputs", "data", "pos", "script", "seq", "thread_id", "tool_calls")

    def __init__(
        self,
        data: dict[str, Any],
        thread_id: str,
        seq: int,
        script: list[str],
        tool_calls: tuple[ToolCallSpec, ...],
        after_tool_outputs: tuple[str, ...],
    ) -> None:
        self.data = data
        self.thread_id = thread_id
        self.seq = seq
        self.script = script
        self.pos = 0
        self.tool_calls = tool_calls
        self.after_tool_outputs = after_tool_outputs

    def sort_key(self) -> tuple[int, int]:
        created = self.data.get("created_at")
        # seq breaks ties: runs made in the same second still list in creation order.
        return (created if isinstance(created, int) else 0, self.seq)


def _check_statuses(name: str, statuses: Iterable[str]) -> tuple[str, ...]:
    result = tuple(statuses)
    if not result:
        raise ValueError(f"{name} must not be empty")
    for i, status in enumerate(result):
        if status not in _STATUSES:
            raise ValueError(f"{name}[{i}]: unknown run status {status!r}")
        if status in _TERMINAL and i != len(result) - 1:
            raise ValueError(f"{name}[{i}]: terminal status {status!r} must come last")
    return result


def _check_tool_calls(tool_calls: Iterable[ToolCallSpec] | None) -> tuple[ToolCallSpec, ...]:
    if tool_calls is None:
        return _DEFAULT_TOOL_CALLS
    result = tuple(tool_calls)
    for i, spec in enumerate(result):
        if isinstance(spec, Mapping):
            continue
        if not (isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str)):
            raise ValueError(
                f"tool_calls[{i}]: expected (name, arguments) or a tool-call dict, got {spec!r}"
            )
    return result


def _tool_call(spec: ToolCallSpec) -> dict[str, Any]:
    if isinstance(spec, Mapping):
        return copy.deepcopy(dict(spec))  # verbatim, so tests can serve malformed tool calls
    name, arguments = spec
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, separators=(",", ":"))
    return {
        "id": "call_" + secrets.token_hex(12),
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def _pending_call_ids(data: Mapping[str, Any]) -> list[str]:
    try:
        calls = data["required_action"]["submit_tool_outputs"]["tool_calls"]
        return [c["id"] for c in calls if isinstance(c, dict) and isinstance(c.get("id"), str)]
    except (KeyError, TypeError):
        return []


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _check_type(name: str, value: Any, types: tuple[type, ...], expected: str) -> None:
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    if not ok:
        raise _APIError(
            400,
            f"Invalid type for '{name}': expected {expected}, but got {_type_name(value)} instead.",
            param=name,
            code="invalid_type",
        )


def _check_metadata(metadata: Any) -> dict[str, str]:
    _check_type("metadata", metadata, (dict,), "an object")
    if len(metadata) > 16:
        raise _APIError(
            400,
            f"Invalid 'metadata': too many properties. Expected an object with at most 16"
            f" properties, but got an object with {len(metadata)} properties instead.",
            param="metadata",
            code="object_above_max_properties",
        )
    for key, value in metadata.items():
        if len(key) > 64:
            raise _APIError(
                400,
                f"Invalid 'metadata': key {key[:20]!r}... is longer than 64 characters.",
                param="metadata",
                code="invalid_value",
            )
        _check_type(f"metadata.{key}", value, (str,), "a string")
        if len(value) > 512:
            raise _APIError(
                400,
                f"Invalid 'metadata.{key}': string too long. Expected a string with maximum"
                f" length 512, but got a string with length {len(value)} instead.",
                param=f"metadata.{key}",
                code="string_above_max_length",
            )
    return dict(metadata)


def _reject_unknown(body: Mapping[str, Any], known: Iterable[str]) -> None:
    for key in body:
        if key not in known:
            raise _APIError(
                400, f"Unknown parameter: '{key}'.", param=key, code="unknown_parameter"
            )


def _missing(name: str) -> _APIError:
    return _APIError(
        400,
        f"Missing required parameter: '{name}'.",
        param=name,
        code="missing_required_parameter",
    )


def _reject_stream(body: Mapping[str, Any]) -> None:
    if body.get("stream"):
        raise _APIError(
            400,
            "FakeRunsServer does not support streaming (stream=true).",
            param="stream",
            code="unsupported_value",
        )


def _encode(payload: Any) -> bytes:
    # The API answers pretty-printed UTF-8; a lone surrogate from a client's "\ud800" escape
    # cannot be UTF-8, so fall back to ASCII escapes rather than failing the response.
    text = json.dumps(payload, indent=2, ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(payload, indent=2).encode("ascii")


def _pad(body: bytes, size: int) -> bytes:
    stripped = body.rstrip()
    room = size - len(stripped) - len(b',"x_padding":""')
    if not stripped.endswith(b"}") or stripped == b"{}" or room < 0:
        return body  # not a padded-able object, or already at least that long
    return stripped[:-1] + b',"x_padding":"' + b"x" * room + b'"}'


def _fault_error_body(status: int) -> bytes:
    if status < 400:
        return b""
    if status in _FAULT_ERRORS:
        message, type_, code = _FAULT_ERRORS[status]
    else:
        try:
            message = http.HTTPStatus(status).phrase + "."
        except ValueError:
            message = f"Error {status}."
        type_, code = ("server_error" if status >= 500 else "invalid_request_error"), None
    return _encode(_APIError(status, message, type=type_, code=code).body)


def _as_bytes(body: bytes | str | Any) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return _encode(body)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True  # a wedged handler must never keep the test process alive
    request_queue_size = 64
    fake: FakeRunsServer

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), which may send a DNS query: the fake
        # must not send a packet off loopback, so bind without it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Register the socket before its thread starts, so stop() can close every accepted
        # connection, even one whose thread has not run yet.
        self.fake._connection_opened(request)
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="FakeRunsServer-connection",
            daemon=True,
        )
        self.fake._thread_started(thread)
        thread.start()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.fake._thread_ended(threading.current_thread())

    def shutdown_request(self, request: Any) -> None:
        self.fake._connection_closed(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A peer that went away (reset, broken pipe, idle timeout) is routine for a test server;
        # anything else is a bug in the fake, kept for tests to see rather than printed.
        if not isinstance(sys.exc_info()[1], OSError):
            self.fake._note_error(traceback.format_exc())


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeRunsServer/1"
    # Answer even a garbled request line with a full HTTP/1.1 status line and headers
    # (http.server's default, HTTP/0.9, would send a bare body).
    default_request_version = "HTTP/1.1"
    # Buffered writes, flushed once per response: status line, headers and body leave in one
    # send, so Nagle's algorithm and the client's delayed ACK do not add 40 ms per response.
    wbufsize = -1
    server: _Server
    connection_id = 0

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # big bodies too
        # The socket timeout is the keep-alive idle limit: http.server closes the connection
        # when reading the next request line times out.
        self.connection.settimeout(self.server.fake.idle_timeout)
        self.connection_id = self.server.fake._connection_id(self.request)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests want quiet stderr

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server's own errors (malformed request line, unknown method) as JSON, not HTML.
        try:
            text = message or http.HTTPStatus(code).phrase
        except ValueError:
            text = f"Error {code}"
        self._send(code, {}, _encode(_APIError(code, text).body), close=True)

    def _handle(self) -> None:
        fake = self.server.fake
        target = self.path
        path, _, query_string = target.partition("?")
        query = parse_qs(query_string, keep_blank_values=True)
        close = not fake.keep_alive
        body_error: _APIError | None = None
        try:
            body = self._read_body(fake.max_body_bytes)
        except _APIError as exc:
            # The rest of the body is left unread, so this connection cannot carry another
            # request.
            body, body_error, close = b"", exc, True
        try:
            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = None
        fault = fake._record(
            RecordedRequest(
                self.command, path, target, query, self.headers, body, parsed, self.connection_id
            )
        )
        if fault is not None and fault.delay:
            fake._stopping.wait(fault.delay)  # stop() cuts the wait short
        if fault is not None and fault.drop:
            self.close_connection = True  # no response: the client sees the socket close
            return
        if fault is not None and fault.status is not None:
            status = fault.status
            headers: dict[str, str] = {}
            out = fault.body if fault.body is not None else _fault_error_body(status)
        else:
            status, headers, out = fake._respond(
                self.command, path, query, self.headers, body, parsed, body_error
            )
            if fault is not None and fault.pad_to is not None:
                out = _pad(out, fault.pad_to)
        if fault is not None:
            headers = _merge_headers(headers, fault.headers)
        self._send(status, headers, out, close)

    def _read_body(self, limit: int) -> bytes:
        if self.headers.get("Transfer-Encoding", "").strip().lower() == "chunked":
            return self._read_chunked(limit)
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            size = int(length)
            if size < 0:
                raise ValueError(length)
        except ValueError:
            raise _APIError(400, f"Invalid Content-Length header: {length!r}.") from None
        if size > limit:
            raise _APIError(400, _too_large(size, limit))
        return self.rfile.read(size)

    def _read_chunked(self, limit: int) -> bytes:
        chunks = []
        total = 0
        while True:
            line = self.rfile.readline(65537)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _APIError(400, "Invalid chunked request body.") from None
            if size == 0:
                break
            total += size
            if total > limit:
                raise _APIError(400, _too_large(total, limit))
            chunks.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF closing the chunk
        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(chunks)

    def _send(self, status: int, headers: Mapping[str, str], body: bytes, close: bool) -> None:
        self.send_response(status)
        final = _merge_headers(
            {"Content-Type": "application/json", "x-request-id": "req_" + secrets.token_hex(16)},
            headers,
        )
        for name, value in final.items():
            lower = name.lower()
            if lower == "connection":
                close = close or value.strip().lower() == "close"
            elif lower != "content-length":  # always ours: keep-alive needs it to be true
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()


def _too_large(size: int, limit: int) -> str:
    return f"Request body too large: {size} bytes; this server accepts at most {limit} bytes."


def _merge_headers(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    merged = {k: v for k, v in base.items() if k.lower() not in {e.lower() for e in extra}}
    merged.update(extra)
    return merged


class FakeRunsServer:
    """A fake Runs API on ``http://127.0.0.1:<port>/v1``, served from a background thread.

    Use as a context manager (or ``start()``/``stop()``). Runs are created by
    ``POST /v1/threads/{thread_id}/runs`` (scripted by ``default_statuses``,
    ``default_tool_calls`` and ``default_after_tool_outputs``) or stored directly with
    ``add_run``. Each GET of a run moves it one step along its script; it never moves past
    ``requires_action`` (only ``submit_tool_outputs`` does) nor past a terminal status, and it
    stays on the last step. A POST to a thread the server has not seen creates that thread when
    ``auto_create_threads`` is true; other requests for an unknown thread get 404.

    Options: ``clock`` gives the time for timestamps; ``poll_after_ms`` is sent as the
    ``openai-poll-after-ms`` header on run responses (None: no header); ``keep_alive=False``
    closes each connection after its response; ``idle_timeout`` closes kept-alive connections
    idle that many seconds; ``max_body_bytes`` bounds request bodies (400 above it);
    ``api_key`` requires ``Authorization: Bearer <api_key>`` (401 otherwise, as the API does);
    ``require_beta_header`` (default true) answers 400, as the real API does, to Runs requests
    without ``OpenAI-Beta: assistants=v2``.
    All are also attributes that can be changed while the server runs.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        clock: Callable[[], float] = time.time,
        poll_after_ms: int | None = 5,
        default_statuses: Sequence[str] = ("queued", "in_progress", "completed"),
        default_tool_calls: Sequence[ToolCallSpec] | None = None,
        default_after_tool_outputs: Sequence[str] = ("in_progress", "completed"),
        keep_alive: bool = True,
        idle_timeout: float | None = None,
        max_body_bytes: int = 1 << 20,
        auto_create_threads: bool = True,
        api_key: str | None = None,
        require_beta_header: bool = True,
    ) -> None:
        self.clock = clock
        self.poll_after_ms = poll_after_ms
        self.default_statuses = _check_statuses("default_statuses", default_statuses)
        self.default_tool_calls = _check_tool_calls(default_tool_calls)
        self.default_after_tool_outputs = _check_statuses(
            "default_after_tool_outputs", default_after_tool_outputs
        )
        self.keep_alive = keep_alive
        self.idle_timeout = idle_timeout
        self.max_body_bytes = max_body_bytes
        self.auto_create_threads = auto_create_threads
        self.api_key = api_key
        self.require_beta_header = require_beta_header
        self._requested_port = port
        # One lock for everything shared with handler threads: store, faults, recordings and
        # connection bookkeeping. Reentrant so public helpers can call one another.
        self._lock = threading.RLock()
        self._threads: dict[str, list[_Run]] = {}
        self._runs: dict[str, _Run] = {}
        self._seq = 0
        self._faults: list[list[Any]] = []  # [Fault, uses left], consumed front to back
        self._requests: list[RecordedRequest] = []
        self._errors: list[str] = []
        self._sockets: dict[Any, int] = {}  # open connection -> connection id
        self._handler_threads: set[threading.Thread] = set()
        self._next_connection_id = 0
        self._connections_opened = 0
        self._httpd: _Server | None = None
        self._serve_thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeRunsServer:
        """Bind 127.0.0.1 and serve from a background thread; returns self."""
        if self._httpd is not None:
            raise RuntimeError("FakeRunsServer is already running")
        httpd = _Server((_HOST, self._requested_port), _Handler, bind_and_activate=False)
        httpd.fake = self
        try:
            httpd.server_bind()
            httpd.server_activate()
        except BaseException:
            httpd.server_close()
            raise
        self._stopping = threading.Event()
        self._httpd = httpd
        # A short poll interval keeps stop() fast: shutdown() waits for the loop to notice.
        self._serve_thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="FakeRunsServer",
            daemon=True,
        )
        self._serve_thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every open connection and wait for the threads; idempotent."""
        httpd, serve_thread = self._httpd, self._serve_thread
        if httpd is None or serve_thread is None:
            return
        self._stopping.set()
        httpd.shutdown()
        self.close_connections()
        httpd.server_close()
        serve_thread.join(5)
        with self._lock:
            handlers = list(self._handler_threads)
        for thread in handlers:
            thread.join(5)
        self._httpd = self._serve_thread = None

    def __enter__(self) -> FakeRunsServer:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._httpd is not None else "stopped"
        return f"<FakeRunsServer {where}>"

    @property
    def port(self) -> int:
        """The bound port (raises RuntimeError when the server is not running)."""
        if self._httpd is None:
            raise RuntimeError("FakeRunsServer is not running")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The server root, ``http://127.0.0.1:PORT``."""
        return f"http://{_HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API base URL to give a client, ``http://127.0.0.1:PORT/v1``."""
        return self.url + "/v1"

    # -- the store ---------------------------------------------------------------------------

    def add_thread(self, thread_id: str | None = None) -> str:
        """Make a thread exist (a random ``thread_...`` id when None); returns its id."""
        if thread_id is None:
            thread_id = "thread_" + secrets.token_hex(12)
        with self._lock:
            self._threads.setdefault(thread_id, [])
        return thread_id

    def add_run(
        self,
        thread_id: str = "thread_1",
        *,
        statuses: Sequence[str] = ("queued", "in_progress", "requires_action"),
        tool_calls: Sequence[ToolCallSpec] | None = None,
        after_tool_outputs: Sequence[str] = ("in_progress", "completed"),
        **fields: Any,
    ) -> dict[str, Any]:
        """Store a run in ``thread_id`` (created if needed) and return a copy of its raw dict.

        The run starts in ``statuses[0]``; each GET moves it to the next status. A
        ``requires_action`` step carries ``tool_calls`` (``(name, arguments)`` pairs, arguments a
        JSON string or a value to encode, given fresh ``call_...`` ids; or raw tool-call dicts
        sent verbatim; default one ``get_current_weather`` call). Accepted tool outputs move the
        run to the status after that step, or along ``after_tool_outputs`` when the script ends
        there. ``fields`` (e.g. ``id``, ``created_at``, ``model``, ``last_error``, or unknown
        keys) are set on top of the run as created; later status changes fill timestamps,
        ``usage``, ``last_error`` and ``incomplete_details`` only where they are still None.
        """
        script = _check_statuses("statuses", statuses)
        calls = _check_tool_calls(tool_calls)
        after = _check_statuses("after_tool_outputs", after_tool_outputs)
        with self._lock:
            run = self._new_run(thread_id, "asst_fake", script, calls, after, fields)
            return copy.deepcopy(run.data)

    def get_run(self, run_id: str) -> dict[str, Any]:
        """A copy of the stored run's raw dict, without advancing it (KeyError if unknown)."""
        with self._lock:
            return copy.deepcopy(self._runs[run_id].data)

    # -- faults ------------------------------------------------------------------------------

    def inject(self, fault: Fault, count: int = 1) -> None:
        """Queue ``fault`` for the next ``count`` requests it matches (faults apply in order)."""
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count!r}")
        with self._lock:
            self._faults.append([fault, count])

    def fail_next(
        self,
        status: int = 503,
        *,
        count: int = 1,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | Any = None,
        path: str | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next ``count`` matching requests with ``status`` (API error body unless
        ``body``: bytes/str sent as is, other values JSON-encoded) and ``headers``, e.g.
        ``{"Retry-After": "1"}``; the request is not handled."""
        self.inject(
            Fault(
                status=status,
                body=None if body is None else _as_bytes(body),
                headers=dict(headers or {}),
                path=path,
                method=method,
            ),
            count,
        )

    def delay_next(
        self,
        seconds: float,
        *,
        count: int = 1,
        path: str | None = None,
        method: str | None = None,
    ) -> None:
        """Wait ``seconds`` before handling the next ``count`` matching requests normally."""
        self.inject(Fault(delay=seconds, path=path, method=method), count)

    def drop_next(
        self,
        *,
        count: int = 1,
        path: str | None = None,
        method: str | None = None,
    ) -> None:
        """Close the connection without any response for the next ``count`` matching requests
        (after reading them: the request is recorded but not handled)."""
        self.inject(Fault(drop=True, path=path, method=method), count)

    def redirect_next(
        self,
        location: str,
        status: int = 307,
        *,
        count: int = 1,
        path: str | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next ``count`` matching requests with a redirect to ``location`` (any
        URL, e.g. another server's: another origin) and an empty body."""
        self.inject(
            Fault(
                status=status, body=b"", headers={"Location": location}, path=path, method=method
            ),
            count,
        )

    def oversized_next(
        self,
        nbytes: int,
        *,
        count: int = 1,
        path: str | None = None,
        method: str | None = None,
    ) -> None:
        """Handle the next ``count`` matching requests normally but pad each JSON response
        body to exactly ``nbytes`` (still valid JSON, with an extra ``"x_padding"`` key)."""
        self.inject(Fault(pad_to=nbytes, path=path, method=method), count)

    def invalid_next(
        self,
        body: bytes,
        status: int = 200,
        *,
        count: int = 1,
        headers: Mapping[str, str] | None = None,
        path: str | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next ``count`` matching requests with ``status`` and this raw ``body``
        (e.g. HTML or truncated JSON; Content-Type stays application/json unless
        ``headers`` says otherwise); the request is not handled."""
        self.inject(
            Fault(status=status, body=body, headers=dict(headers or {}), path=path, method=method),
            count,
        )

    @property
    def pending_faults(self) -> int:
        """How many fault uses are still queued."""
        with self._lock:
            return sum(left for _, left in self._faults)

    # -- connections -------------------------------------------------------------------------

    def close_idle_after(self, seconds: float | None) -> None:
        """Close kept-alive connections after ``seconds`` without a request (None: never).

        Applies to connections opened from now on."""
        self.idle_timeout = seconds

    def close_connections(self) -> int:
        """Close every open connection now (idle or not); returns how many were open.

        The client sees its kept-alive socket closed, as after a server restart."""
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                # shutdown, not close: the handler thread still owns the descriptor, and
                # shutdown wakes it from a blocking read with EOF so it ends by itself.
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return len(sockets)

    @property
    def connections_opened(self) -> int:
        """TCP connections accepted since start (or the last ``clear()``)."""
        with self._lock:
            return self._connections_opened

    @property
    def open_connections(self) -> int:
        """TCP connections open right now."""
        with self._lock:
            return len(self._sockets)

    # -- recording ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot list of every request received, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def errors(self) -> list[str]:
        """Tracebacks of bugs inside the fake itself (answered with 500); empty normally."""
        with self._lock:
            return list(self._errors)

    def clear(self) -> None:
        """Forget recorded requests, errors, runs, threads and pending faults, and reset
        ``connections_opened`` (connection ids stay unique). Settings are kept."""
        with self._lock:
            self._requests.clear()
            self._errors.clear()
            self._runs.clear()
            self._threads.clear()
            self._faults.clear()
            self._connections_opened = 0

    # -- internals used by the handler -------------------------------------------------------

    def _connection_opened(self, sock: Any) -> None:
        with self._lock:
            self._next_connection_id += 1
            self._connections_opened += 1
            self._sockets[sock] = self._next_connection_id

    def _connection_id(self, sock: Any) -> int:
        with self._lock:
            return self._sockets.get(sock, 0)

    def _connection_closed(self, sock: Any) -> None:
        with self._lock:
            self._sockets.pop(sock, None)

    def _thread_started(self, thread: threading.Thread) -> None:
        with self._lock:
            self._handler_threads.add(thread)

    def _thread_ended(self, thread: threading.Thread) -> None:
        with self._lock:
            self._handler_threads.discard(thread)

    def _note_error(self, text: str) -> None:
        with self._lock:
            self._errors.append(text)

    def _record(self, request: RecordedRequest) -> Fault | None:
        """Record the request and take the first queued fault that matches it."""
        with self._lock:
            self._requests.append(request)
            for entry in self._faults:
                fault: Fault = entry[0]
                if fault.matches(request.method, request.path):
                    entry[1] -= 1
                    if entry[1] == 0:
                        self._faults.remove(entry)
                    return fault
        return None

    def _respond(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        headers: Message,
        body: bytes,
        parsed: Any,
        body_error: _APIError | None,
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            self._check_auth(headers)
            if body_error is not None:
                raise body_error
            with self._lock:
                status, payload = self._route(method, path, query, headers, body, parsed)
                out = _encode(payload)  # under the lock: a consistent snapshot of the run
        except _APIError as exc:
            return exc.status, {}, _encode(exc.body)
        except Exception:
            # A bug in the fake: answer like the API's 500 and keep the traceback for tests.
            self._note_error(traceback.format_exc())
            return 500, {}, _fault_error_body(500)
        headers_out = {}
        if (
            self.poll_after_ms is not None
            and isinstance(payload, dict)
            and payload.get("object") == "thread.run"
        ):
            headers_out["openai-poll-after-ms"] = str(self.poll_after_ms)
        return status, headers_out, out

    def _check_auth(self, headers: Message) -> None:
        if self.api_key is None:
            return
        auth = headers.get("Authorization")
        if not auth:
            raise _APIError(401, _NO_KEY)
        scheme, _, key = auth.partition(" ")
        if scheme.lower() != "bearer" or key.strip() != self.api_key:
            shown = key.strip()
            masked = shown[:3] + "*" * 8 + shown[-4:] if len(shown) > 8 else "*" * 8
            raise _APIError(
                401,
                f"Incorrect API key provided: {masked}. You can find your API key at"
                " https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )

    def _route(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        headers: Message,
        body: bytes,
        parsed: Any,
    ) -> tuple[int, Any]:
        parts = path.split("/")[1:]
        # /v1/threads/{thread_id}/runs[/{run_id}[/cancel|/submit_tool_outputs]]
        if (
            len(parts) in (4, 5, 6)
            and parts[:2] == ["v1", "threads"]
            and parts[3] == "runs"
            and all(parts[2:])
        ):
            if self.require_beta_header:
                # Only the Assistants routes ask for it, so unknown URLs still get their 404.
                beta = [v.strip() for v in (headers.get("OpenAI-Beta") or "").split(",")]
                if "assistants=v2" not in beta:
                    raise _APIError(400, _NO_BETA)
            thread_id = unquote(parts[2])
            rest = [unquote(p) for p in parts[4:]]
            if method == "POST":
                data = self._body_object(body, parsed)
                if not rest:
                    return 200, self._create(thread_id, data)
                if len(rest) == 1:
                    return 200, self._update(thread_id, rest[0], data)
                if rest[1] == "cancel":
                    return 200, self._cancel(thread_id, rest[0], data)
                if rest[1] == "submit_tool_outputs":
                    return 200, self._submit(thread_id, rest[0], data)
            elif method == "GET":
                if not rest:
                    return 200, self._list(thread_id, query)
                if len(rest) == 1:
                    run = self._find(thread_id, rest[0])
                    self._advance(run)
                    return 200, run.data
        raise _APIError(404, f"Invalid URL ({method} {path})")

    @staticmethod
    def _body_object(body: bytes, parsed: Any) -> dict[str, Any]:
        if not body.strip():
            return {}
        if parsed is None and body.strip() != b"null":
            raise _APIError(400, _BAD_JSON)
        if not isinstance(parsed, dict):
            raise _APIError(
                400,
                f"Invalid type for body: expected an object, but got {_type_name(parsed)} instead.",
                code="invalid_type",
            )
        return parsed

    def _thread(self, thread_id: str, create: bool = False) -> list[_Run]:
        runs = self._threads.get(thread_id)
        if runs is None:
            if not create:
                raise _APIError(404, f"No thread found with id '{thread_id}'.")
            runs = self._threads[thread_id] = []
        return runs

    def _find(self, thread_id: str, run_id: str) -> _Run:
        self._thread(thread_id)
        run = self._runs.get(run_id)
        if run is None or run.thread_id != thread_id:
            raise _APIError(404, f"No run found with id '{run_id}'.")
        return run

    def _new_run(
        self,
        thread_id: str,
        assistant_id: str,
        script: tuple[str, ...],
        tool_calls: tuple[ToolCallSpec, ...],
        after: tuple[str, ...],
        fields: Mapping[str, Any],
    ) -> _Run:
        now = int(self.clock())
        data: dict[str, Any] = {
            "id": "run_" + secrets.token_hex(12),
            "object": "thread.run",
            "created_at": now,
            "assistant_id": assistant_id,
            "thread_id": thread_id,
            "status": script[0],
            "started_at": None,
            "expires_at": now + _EXPIRY_SECONDS,
            "cancelled_at": None,
            "failed_at": None,
            "completed_at": None,
            "required_action": None,
            "last_error": None,
            "model": "gpt-4o",
            "instructions": None,
            "tools": [],
            "tool_resources": {},
            "metadata": {},
            "incomplete_details": None,
            "usage": None,
            "temperature": 1.0,
            "top_p": 1.0,
            "max_prompt_tokens": None,
            "max_completion_tokens": None,
            "truncation_strategy": {"type": "auto", "last_messages": None},
            "response_format": "auto",
            "tool_choice": "auto",
            "parallel_tool_calls": True,
        }
        self._seq += 1
        run = _Run(data, thread_id, self._seq, list(script), tool_calls, after)
        self._enter(run, script[0])
        data.update(copy.deepcopy(dict(fields)))
        if data["id"] in self._runs:
            raise ValueError(f"a run with id {data['id']!r} already exists")
        self._thread(thread_id, create=True).append(run)
        self._runs[data["id"]] = run
        return run

    def _enter(self, run: _Run, status: str) -> None:
        """Put the run in ``status``, stamping what the API stamps on that change."""
        data = run.data
        now = int(self.clock())
        data["status"] = status
        if status in _STARTED and data.get("started_at") is None:
            data["started_at"] = now
        if status == "requires_action":
            data["required_action"] = {
                "type": "submit_tool_outputs",
                "submit_tool_outputs": {"tool_calls": [_tool_call(c) for c in run.tool_calls]},
            }
        else:
            data["required_action"] = None
        fill: dict[str, Any] = {}
        if status == "completed":
            fill = {
                "completed_at": now,
                "usage": _USAGE,
            }
        elif status == "failed":
            fill = {
                "failed_at": now,
                "last_error": {"code": "server_error", "message": "Sorry, something went wrong."},
            }
        elif status == "cancelled":
            fill = {"cancelled_at": now}
        elif status == "incomplete":
            fill = {
                "incomplete_details": {"reason": "max_completion_tokens"},
                "usage": _USAGE,
            }
        for key, value in fill.items():
            if data.get(key) is None:
                data[key] = copy.deepcopy(value)  # never share _USAGE with a run
        if status in _TERMINAL and status != "expired":
            data["expires_at"] = None  # finished runs no longer expire (as the API shows them)

    def _advance(self, run: _Run) -> None:
        status = run.data.get("status")
        if status == "requires_action" or status in _TERMINAL:
            return  # waits for tool outputs / is finished, as a real run does
        if run.pos + 1 < len(run.script):
            run.pos += 1
            self._enter(run, run.script[run.pos])

    def _create(self, thread_id: str, body: dict[str, Any]) -> dict[str, Any]:
        _reject_unknown(body, _CREATE_PARAMS)
        if body.get("assistant_id") is None:
            raise _missing("assistant_id")
        for name, (types, expected) in _CREATE_PARAMS.items():
            value = body.get(name)
            if value is None:
                continue
            _check_type(name, value, types, expected)
            if name in _RANGES:
                low, high = _RANGES[name]
                if not low <= value <= high:
                    raise _APIError(
                        400,
                        f"Invalid '{name}': expected a value between {low:g} and {high:g},"
                        f" but got {value!r} instead.",
                        param=name,
                        code="invalid_value",
                    )
        if body.get("metadata") is not None:
            _check_metadata(body["metadata"])
        _reject_stream(body)
        # The thread check comes after body validation, like the API's own request validation.
        if thread_id not in self._threads and not self.auto_create_threads:
            self._thread(thread_id)
        script = _check_statuses("default_statuses", self.default_statuses)
        calls = _check_tool_calls(self.default_tool_calls)
        after = _check_statuses("default_after_tool_outputs", self.default_after_tool_outputs)
        echoed = {k: body[k] for k in _ECHOED if body.get(k) is not None}
        return self._new_run(thread_id, body["assistant_id"], script, calls, after, echoed).data

    def _update(self, thread_id: str, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        run = self._find(thread_id, run_id)
        _reject_unknown(body, ("metadata",))
        if body.get("metadata") is not None:
            run.data["metadata"] = _check_metadata(body["metadata"])
        return run.data

    def _cancel(self, thread_id: str, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        run = self._find(thread_id, run_id)
        _reject_unknown(body, ())
        status = run.data.get("status")
        if status in _TERMINAL or status == "cancelling":
            raise _APIError(400, f"Cannot cancel run with status '{status}'.")
        # The script continues with "cancelled" on the next GET.
        run.script[run.pos + 1 :] = ["cancelling", "cancelled"]
        run.pos += 1
        self._enter(run, "cancelling")
        return run.data

    def _submit(self, thread_id: str, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        run = self._find(thread_id, run_id)
        _reject_unknown(body, ("tool_outputs", "stream"))
        _reject_stream(body)
        outputs = body.get("tool_outputs")
        if outputs is None:
            raise _missing("tool_outputs")
        _check_type("tool_outputs", outputs, (list,), "an array")
        status = run.data.get("status")
        if status != "requires_action":
            raise _APIError(400, f'Runs in status "{status}" do not accept tool outputs.')
        given = []
        for i, item in enumerate(outputs):
            _check_type(f"tool_outputs[{i}]", item, (dict,), "an object")
            _reject_unknown(item, ("tool_call_id", "output"))
            call_id = item.get("tool_call_id")
            if call_id is None:
                raise _missing(f"tool_outputs[{i}].tool_call_id")
            _check_type(f"tool_outputs[{i}].tool_call_id", call_id, (str,), "a string")
            if item.get("output") is not None:
                _check_type(f"tool_outputs[{i}].output", item["output"], (str,), "a string")
            given.append(call_id)
        pending = _pending_call_ids(run.data)
        if len(set(given)) != len(given) or sorted(given) != sorted(pending):
            raise _APIError(
                400,
                f"Expected tool outputs for call_ids {pending}, got {given}.",
                param="tool_outputs",
            )
        if run.pos + 1 >= len(run.script):
            run.script.extend(run.after_tool_outputs)
        run.pos += 1
        self._enter(run, run.script[run.pos])
        return run.data

    def _list(self, thread_id: str, query: Mapping[str, list[str]]) -> dict[str, Any]:
        runs = sorted(self._thread(thread_id), key=_Run.sort_key)
        limit_text = query.get("limit", ["20"])[-1]
        try:
            limit = int(limit_text)
        except ValueError:
            raise _APIError(
                400,
                "Invalid type for 'limit': expected an integer, but got a string instead.",
                param="limit",
                code="invalid_type",
            ) from None
        if not 1 <= limit <= 100:
            raise _APIError(
                400,
                f"Invalid 'limit': integer {'below minimum' if limit < 1 else 'above maximum'}"
                f" value. Expected a value {'>= 1' if limit < 1 else '<= 100'}, but got"
                f" {limit} instead.",
                param="limit",
                code="integer_below_min_value" if limit < 1 else "integer_above_max_value",
            )
        order = query.get("order", ["desc"])[-1]
        if order not in ("asc", "desc"):
            raise _APIError(
                400,
                f"Invalid value for 'order': expected one of 'asc' or 'desc', but got"
                f" {order!r} instead.",
                param="order",
                code="invalid_value",
            )
        if order == "desc":
            runs.reverse()
        ids = [r.data["id"] for r in runs]
        cursors = {name: query.get(name, [""])[-1] for name in ("after", "before")}
        for name, cursor in cursors.items():
            if cursor and cursor not in ids:
                raise _APIError(
                    400,
                    f"Invalid '{name}': no run with id '{cursor}' in this thread.",
                    param=name,
                    code="invalid_value",
                )
        low = ids.index(cursors["after"]) + 1 if cursors["after"] else 0
        high = ids.index(cursors["before"]) if cursors["before"] else len(ids)
        window = runs[low:high]
        # With only `before`, the page is the `limit` runs just before the cursor.
        page = window[-limit:] if cursors["before"] and not cursors["after"] else window[:limit]
        return {
            "object": "list",
            "data": [r.data for r in page],
            "first_id": page[0].data["id"] if page else None,
            "last_id": page[-1].data["id"] if page else None,
            "has_more": len(window) > limit,
        }
