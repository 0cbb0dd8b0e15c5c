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
redirects, oversized or invalid bodies), and every request is recorded. Every request gets an
answer, unless a fault drops it: a malformed one (bad request line, bad framing, a body that is
not JSON or is nested deeper than 128 levels) gets the API's JSON 4xx error, as the real API
answers 400, and a bug inside the fake a JSON 500 (its traceback kept in ``errors``).

The runs it serves follow the API reference's schema, and validate under the official SDK's
strict ``Run`` model: a run created without ``instructions`` carries ``""`` (the fake's
assistant has no instructions), not the ``null`` of the reference's examples, which the spec's
``instructions: string`` does not allow. Store ``add_run(..., instructions=None)`` to test a
client against a server that sends null.

This module deliberately speaks raw JSON and does not import threadrun, so a bug in the
library's model cannot hide behind a fake that shares it.

Inside, three parts: ``_RunsAPI`` is the emulated API (the store, the status machine, request
validation, and a route table of method + path pattern -> handler); ``_Handler``/``_Server``
the HTTP transport; ``FakeRunsServer`` the lifecycle, the faults and the recording around
them.
"""

from __future__ import annotations

import copy
import http
import http.server
import json
import re
import secrets
import socket
import socketserver
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from email.message import Message
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)
from urllib.parse import parse_qs, unquote

__all__ = ["FakeRunsServer", "Fault", "RecordedRequest"]

# --------------------------------------------------------------------------------------------
# Constants: the API's vocabulary
# --------------------------------------------------------------------------------------------

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
# Request bodies nested deeper are refused as unparsable: far beyond any real request, and
# low enough that echoing a body back (the pure-Python indenting encoder) never recurses out.
_MAX_DEPTH = 128

# A tool call to put in required_action: (name, arguments) or a raw tool-call dict sent verbatim.
ToolCallSpec = Union[Tuple[str, Any], Mapping[str, Any]]

# Create-run body parameters: name -> (accepted JSON types, name of the type for messages).
# bool is excluded from the numeric types explicitly below, as JSON true is not a number.
_CREATE_PARAMS: Dict[str, Tuple[Tuple[type, ...], str]] = {
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
_STATUS_ERRORS: Dict[int, Tuple[str, str, Optional[str]]] = {
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

# --------------------------------------------------------------------------------------------
# Public value types
# --------------------------------------------------------------------------------------------


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

    status: Optional[int] = None
    body: Optional[bytes] = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    pad_to: Optional[int] = None
    path: Optional[str] = None
    method: Optional[str] = None

    def __post_init__(self) -> None:
        if self.status is not None and not 100 <= self.status <= 999:
            raise ValueError("status must be a 3-digit HTTP status, got %r" % (self.status,))
        if self.delay < 0:
            raise ValueError("delay must be >= 0, got %r" % (self.delay,))
        if self.pad_to is not None and self.pad_to < 0:
            raise ValueError("pad_to must be >= 0, got %r" % (self.pad_to,))

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
    query: Dict[str, List[str]]
    headers: Message
    body: bytes
    json: Any
    connection_id: int


# --------------------------------------------------------------------------------------------
# The emulated API: errors, replies, validation
# --------------------------------------------------------------------------------------------


class _APIError(Exception):
    """An error the API answers with its error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: Optional[str] = None,
        code: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code


def _status_error(status: int) -> _APIError:
    """The API's error for a bare status (an injected fault, a transport-level refusal)."""
    if status in _STATUS_ERRORS:
        message, type_, code = _STATUS_ERRORS[status]
        return _APIError(status, message, type=type_, code=code)
    try:
        message = http.HTTPStatus(status).phrase + "."
    except ValueError:
        message = "Error %d." % status
    type_ = "server_error" if status >= 500 else "invalid_request_error"
    return _APIError(status, message, type=type_)


class _Reply:
    """What the API answers: a status, extra headers and the encoded JSON body.

    A streaming answer would be another class, which the transport writes event by event."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, body: bytes, headers: Optional[Dict[str, str]] = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}


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


def _check_type(name: str, value: Any, types: Tuple[type, ...], expected: str) -> None:
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    if not ok:
        raise _APIError(
            400,
            "Invalid type for '%s': expected %s, but got %s instead."
            % (name, expected, _type_name(value)),
            param=name,
            code="invalid_type",
        )


def _check_metadata(metadata: Any) -> Dict[str, str]:
    _check_type("metadata", metadata, (dict,), "an object")
    if len(metadata) > 16:
        raise _APIError(
            400,
            "Invalid 'metadata': too many properties. Expected an object with at most 16"
            " properties, but got an object with %d properties instead." % len(metadata),
            param="metadata",
            code="object_above_max_properties",
        )
    for key, value in metadata.items():
        if len(key) > 64:
            raise _APIError(
                400,
                "Invalid 'metadata': key %r... is longer than 64 characters." % key[:20],
                param="metadata",
                code="invalid_value",
            )
        _check_type("metadata.%s" % key, value, (str,), "a string")
        if len(value) > 512:
            raise _APIError(
                400,
                "Invalid 'metadata.%s': string too long. Expected a string with maximum"
                " length 512, but got a string with length %d instead." % (key, len(value)),
                param="metadata.%s" % key,
                code="string_above_max_length",
            )
    return dict(metadata)


def _reject_unknown(body: Mapping[str, Any], known: Iterable[str]) -> None:
    for key in body:
        if key not in known:
            raise _APIError(
                400, "Unknown parameter: '%s'." % key, param=key, code="unknown_parameter"
            )


def _missing(name: str) -> _APIError:
    return _APIError(
        400,
        "Missing required parameter: '%s'." % name,
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


def _check_statuses(name: str, statuses: Iterable[str]) -> Tuple[str, ...]:
    result = tuple(statuses)
    if not result:
        raise ValueError("%s must not be empty" % name)
    for i, status in enumerate(result):
        if status not in _STATUSES:
            raise ValueError("%s[%d]: unknown run status %r" % (name, i, status))
        if status in _TERMINAL and i != len(result) - 1:
            raise ValueError("%s[%d]: terminal status %r must come last" % (name, i, status))
    return result


def _check_tool_calls(tool_calls: Optional[Iterable[ToolCallSpec]]) -> Tuple[ToolCallSpec, ...]:
    if tool_calls is None:
        return _DEFAULT_TOOL_CALLS
    result = tuple(tool_calls)
    for i, spec in enumerate(result):
        if isinstance(spec, Mapping):
            continue
        if not (isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str)):
            raise ValueError(
                "tool_calls[%d]: expected (name, arguments) or a tool-call dict, got %r" % (i, spec)
            )
    return result


def _pending_call_ids(data: Mapping[str, Any]) -> List[str]:
    try:
        calls = data["required_action"]["submit_tool_outputs"]["tool_calls"]
        return [c["id"] for c in calls if isinstance(c, dict) and isinstance(c.get("id"), str)]
    except (KeyError, TypeError):
        return []


def _too_deep(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` deep (iteratively: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _parse_body(body: bytes) -> Tuple[Any, bool]:
    """(parsed JSON or None, whether the body is unparsable) as the API's JSON parser sees it."""
    if not body.strip():
        return None, False
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested past the interpreter's limit
        return None, True
    if _too_deep(parsed, _MAX_DEPTH):
        return None, True
    return parsed, False


# --------------------------------------------------------------------------------------------
# The emulated API: routes, store, status machine
# --------------------------------------------------------------------------------------------


class _Route:
    """``METHOD /path/{param}/...`` -> the name of the ``_RunsAPI`` method that answers it."""

    __slots__ = ("handler", "method", "pattern")

    def __init__(self, method: str, template: str, handler: str) -> None:
        self.method = method
        self.handler = handler
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        self.pattern = re.compile(regex + r"\Z")

    def match(self, path: str) -> Optional[Dict[str, str]]:
        """The percent-decoded path parameters, or None when the path is not this route's."""
        found = self.pattern.match(path)
        if found is None:
            return None
        return {name: unquote(value) for name, value in found.groupdict().items()}


class _Run:
    """A stored run: its raw JSON dict plus the script that drives its status."""

    __slots__ = ("after_tool_outputs", "data", "pos", "script", "seq", "thread_id", "tool_calls")

    def __init__(
        self,
        data: Dict[str, Any],
        thread_id: str,
        seq: int,
        script: List[str],
        tool_calls: Tuple[ToolCallSpec, ...],
        after_tool_outputs: Tuple[str, ...],
    ) -> None:
        self.data = data
        self.thread_id = thread_id
        self.seq = seq
        self.script = script
        self.pos = 0
        self.tool_calls = tool_calls
        self.after_tool_outputs = after_tool_outputs

    def sort_key(self) -> Tuple[int, int]:
        created = self.data.get("created_at")
        # seq breaks ties: runs made in the same second still list in creation order.
        return (created if isinstance(created, int) else 0, self.seq)


class _RunsAPI:
    """The Runs endpoints as the API behaves: routes, validation, the store of threads and
    runs, and the scripted status machine. Knows nothing of sockets or faults.

    A flavour of the API (another server's ids, timestamps or error shape, more endpoints) is a
    subclass overriding ``ROUTES`` (and adding their endpoints) and the hooks ``_new_id``,
    ``_stamp``, ``_required_action`` and ``_error_payload``.
    """

    ROUTES = (
        _Route("POST", "/v1/threads/{thread_id}/runs", "create"),
        _Route("GET", "/v1/threads/{thread_id}/runs", "list"),
        _Route("GET", "/v1/threads/{thread_id}/runs/{run_id}", "retrieve"),
        _Route("POST", "/v1/threads/{thread_id}/runs/{run_id}", "update"),
        _Route("POST", "/v1/threads/{thread_id}/runs/{run_id}/cancel", "cancel"),
        _Route("POST", "/v1/threads/{thread_id}/runs/{run_id}/submit_tool_outputs", "submit"),
    )

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        poll_after_ms: Optional[int],
        default_statuses: Sequence[str],
        default_tool_calls: Optional[Sequence[ToolCallSpec]],
        default_after_tool_outputs: Sequence[str],
        auto_create_threads: bool,
        api_key: Optional[str],
        require_beta_header: bool,
    ) -> None:
        self.clock = clock
        self.poll_after_ms = poll_after_ms
        # Through the validating setters below (which take any sequence, keep a tuple).
        self.default_statuses = default_statuses  # type: ignore[assignment]
        self.default_tool_calls = default_tool_calls  # type: ignore[assignment]
        self.default_after_tool_outputs = default_after_tool_outputs  # type: ignore[assignment]
        self.auto_create_threads = auto_create_threads
        self.api_key = api_key
        self.require_beta_header = require_beta_header
        # The store is shared with handler threads and the test's own thread.
        self.lock = threading.RLock()
        self.threads: Dict[str, List[_Run]] = {}
        self.runs: Dict[str, _Run] = {}
        self._seq = 0

    # -- settings, validated once, when set ---------------------------------------------------

    @property
    def default_statuses(self) -> Tuple[str, ...]:
        return self._default_statuses

    @default_statuses.setter
    def default_statuses(self, value: Sequence[str]) -> None:
        self._default_statuses = _check_statuses("default_statuses", value)

    @property
    def default_tool_calls(self) -> Tuple[ToolCallSpec, ...]:
        return self._default_tool_calls

    @default_tool_calls.setter
    def default_tool_calls(self, value: Optional[Sequence[ToolCallSpec]]) -> None:
        self._default_tool_calls = _check_tool_calls(value)

    @property
    def default_after_tool_outputs(self) -> Tuple[str, ...]:
        return self._default_after_tool_outputs

    @default_after_tool_outputs.setter
    def default_after_tool_outputs(self, value: Sequence[str]) -> None:
        self._default_after_tool_outputs = _check_statuses("default_after_tool_outputs", value)

    # -- flavour hooks ------------------------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return "%s_%s" % (prefix, secrets.token_hex(12))

    def _stamp(self, seconds: int) -> Any:
        """A timestamp as this API writes it (the reference: integer Unix seconds)."""
        return seconds

    def _required_action(self, run: _Run) -> Any:
        """``required_action`` of a run entering ``requires_action``: its tool calls."""
        calls = [self._tool_call(spec) for spec in run.tool_calls]
        return {"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": calls}}

    def _error_payload(self, error: _APIError) -> Any:
        return {
            "error": {
                "message": error.message,
                "type": error.type,
                "param": error.param,
                "code": error.code,
            }
        }

    # -- answering a request ------------------------------------------------------------------

    def error_reply(self, error: _APIError) -> _Reply:
        return _Reply(error.status, _encode(self._error_payload(error)))

    def handle(self, request: RecordedRequest, problem: Optional[_APIError]) -> _Reply:
        """Answer ``request``; ``problem`` is a refusal of the transport (a body too large),
        answered after authentication as the API does."""
        headers = {}
        try:
            self._authenticate(request.headers)
            if problem is not None:
                raise problem
            with self.lock:
                payload = self._dispatch(request)
                body = _encode(payload)  # under the lock: a consistent snapshot of the run
        except _APIError as error:
            return self.error_reply(error)
        if (
            self.poll_after_ms is not None
            and isinstance(payload, dict)
            and payload.get("object") == "thread.run"
        ):
            headers["openai-poll-after-ms"] = str(self.poll_after_ms)
        return _Reply(200, body, headers)

    def _authenticate(self, headers: Message) -> None:
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
                "Incorrect API key provided: %s. You can find your API key at"
                " https://platform.openai.com/account/api-keys." % masked,
                code="invalid_api_key",
            )

    def _dispatch(self, request: RecordedRequest) -> Any:
        path_matched = False
        for route in self.ROUTES:
            params = route.match(request.path)
            if params is None:
                continue
            if not path_matched and self.require_beta_header:
                # Only the Assistants routes ask for it, so unknown URLs still get their 404.
                beta = [v.strip() for v in (request.headers.get("OpenAI-Beta") or "").split(",")]
                if "assistants=v2" not in beta:
                    raise _APIError(400, _NO_BETA)
            path_matched = True
            if route.method == request.method:
                handler: Callable[..., Any] = getattr(self, route.handler)
                return handler(request, **params)
        raise _APIError(404, "Invalid URL (%s %s)" % (request.method, request.path))

    @staticmethod
    def _body_object(request: RecordedRequest) -> Dict[str, Any]:
        if not request.body.strip():
            return {}
        parsed = request.json
        if parsed is None and request.body.strip() != b"null":
            raise _APIError(400, _BAD_JSON)
        if not isinstance(parsed, dict):
            raise _APIError(
                400,
                "Invalid type for body: expected an object, but got %s instead."
                % _type_name(parsed),
                code="invalid_type",
            )
        return parsed

    # -- endpoints ----------------------------------------------------------------------------

    def create(self, request: RecordedRequest, thread_id: str) -> Any:
        body = self._body_object(request)
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
                        "Invalid '%s': expected a value between %g and %g, but got %r instead."
                        % (name, low, high, value),
                        param=name,
                        code="invalid_value",
                    )
        if body.get("metadata") is not None:
            _check_metadata(body["metadata"])
        _reject_stream(body)
        # The thread check comes after body validation, like the API's own request validation.
        if thread_id not in self.threads and not self.auto_create_threads:
            self._thread(thread_id)
        echoed = {k: body[k] for k in _ECHOED if body.get(k) is not None}
        run = self.new_run(
            thread_id,
            body["assistant_id"],
            self.default_statuses,
            self.default_tool_calls,
            self.default_after_tool_outputs,
            echoed,
        )
        return run.data

    def retrieve(self, request: RecordedRequest, thread_id: str, run_id: str) -> Any:
        run = self.find(thread_id, run_id)
        self._advance(run)
        return run.data

    def update(self, request: RecordedRequest, thread_id: str, run_id: str) -> Any:
        body = self._body_object(request)
        run = self.find(thread_id, run_id)
        _reject_unknown(body, ("metadata",))
        if body.get("metadata") is not None:
            run.data["metadata"] = _check_metadata(body["metadata"])
        return run.data

    def cancel(self, request: RecordedRequest, thread_id: str, run_id: str) -> Any:
        body = self._body_object(request)
        run = self.find(thread_id, run_id)
        _reject_unknown(body, ())
        status = run.data.get("status")
        if status in _TERMINAL or status == "cancelling":
            raise _APIError(400, "Cannot cancel run with status '%s'." % status)
        # The script continues with "cancelled" on the next GET.
        run.script[run.pos + 1 :] = ["cancelling", "cancelled"]
        run.pos += 1
        self._enter(run, "cancelling")
        return run.data

    def submit(self, request: RecordedRequest, thread_id: str, run_id: str) -> Any:
        body = self._body_object(request)
        run = self.find(thread_id, run_id)
        _reject_unknown(body, ("tool_outputs", "stream"))
        _reject_stream(body)
        outputs = body.get("tool_outputs")
        if outputs is None:
            raise _missing("tool_outputs")
        _check_type("tool_outputs", outputs, (list,), "an array")
        status = run.data.get("status")
        if status != "requires_action":
            raise _APIError(400, 'Runs in status "%s" do not accept tool outputs.' % status)
        given = []
        for i, item in enumerate(outputs):
            where = "tool_outputs[%d]" % i
            _check_type(where, item, (dict,), "an object")
            _reject_unknown(item, ("tool_call_id", "output"))
            call_id = item.get("tool_call_id")
            if call_id is None:
                raise _missing(where + ".tool_call_id")
            _check_type(where + ".tool_call_id", call_id, (str,), "a string")
            if item.get("output") is not None:
                _check_type(where + ".output", item["output"], (str,), "a string")
            given.append(call_id)
        pending = _pending_call_ids(run.data)
        if len(set(given)) != len(given) or sorted(given) != sorted(pending):
            raise _APIError(
                400,
                "Expected tool outputs for call_ids %s, got %s." % (pending, given),
                param="tool_outputs",
            )
        if run.pos + 1 >= len(run.script):
            run.script.extend(run.after_tool_outputs)
        run.pos += 1
        self._enter(run, run.script[run.pos])
        return run.data

    def list(self, request: RecordedRequest, thread_id: str) -> Any:
        query = request.query
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
            which, bound = ("below minimum", ">= 1") if limit < 1 else ("above maximum", "<= 100")
            raise _APIError(
                400,
                "Invalid 'limit': integer %s value. Expected a value %s, but got %d instead."
                % (which, bound, limit),
                param="limit",
                code="integer_below_min_value" if limit < 1 else "integer_above_max_value",
            )
        order = query.get("order", ["desc"])[-1]
        if order not in ("asc", "desc"):
            raise _APIError(
                400,
                "Invalid value for 'order': expected one of 'asc' or 'desc', but got %r instead."
                % order,
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
                    "Invalid '%s': no run with id '%s' in this thread." % (name, cursor),
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

    # -- the store and the status machine -----------------------------------------------------

    def _thread(self, thread_id: str, create: bool = False) -> List[_Run]:
        runs = self.threads.get(thread_id)
        if runs is None:
            if not create:
                raise _APIError(404, "No thread found with id '%s'." % thread_id)
            runs = self.threads[thread_id] = []
        return runs

    def add_thread(self, thread_id: str) -> None:
        with self.lock:
            self.threads.setdefault(thread_id, [])

    def find(self, thread_id: str, run_id: str) -> _Run:
        self._thread(thread_id)
        run = self.runs.get(run_id)
        if run is None or run.thread_id != thread_id:
            raise _APIError(404, "No run found with id '%s'." % run_id)
        return run

    def clear(self) -> None:
        with self.lock:
            self.runs.clear()
            self.threads.clear()

    def new_run(
        self,
        thread_id: str,
        assistant_id: str,
        script: Tuple[str, ...],
        tool_calls: Tuple[ToolCallSpec, ...],
        after: Tuple[str, ...],
        fields: Mapping[str, Any],
    ) -> _Run:
        """Store a run in ``thread_id`` (created if needed) starting at ``script[0]``, with
        ``fields`` set on top of the run as created."""
        now = int(self.clock())
        data: Dict[str, Any] = {
            "id": self._new_id("run"),
            "object": "thread.run",
            "created_at": self._stamp(now),
            "assistant_id": assistant_id,
            "thread_id": thread_id,
            "status": script[0],
            "started_at": None,
            "expires_at": self._stamp(now + _EXPIRY_SECONDS),
            "cancelled_at": None,
            "failed_at": None,
            "completed_at": None,
            "required_action": None,
            "last_error": None,
            "model": "gpt-4o",
            # The spec's instructions are a string (those the assistant used): the fake's
            # assistant has none. The reference examples' null fails a strict client.
            "instructions": "",
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
        with self.lock:
            self._seq += 1
            run = _Run(data, thread_id, self._seq, list(script), tool_calls, after)
            self._enter(run, script[0])
            data.update(copy.deepcopy(dict(fields)))
            if data["id"] in self.runs:
                raise ValueError("a run with id %r already exists" % (data["id"],))
            self._thread(thread_id, create=True).append(run)
            self.runs[data["id"]] = run
        return run

    def _tool_call(self, spec: ToolCallSpec) -> Dict[str, Any]:
        if isinstance(spec, Mapping):
            return copy.deepcopy(dict(spec))  # verbatim, so tests can serve malformed tool calls
        name, arguments = spec
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments, separators=(",", ":"))
        return {
            "id": self._new_id("call"),
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        }

    def _enter(self, run: _Run, status: str) -> None:
        """Put the run in ``status``, stamping what the API stamps on that change."""
        data = run.data
        now = self._stamp(int(self.clock()))
        data["status"] = status
        if status in _STARTED and data.get("started_at") is None:
            data["started_at"] = now
        data["required_action"] = (
            self._required_action(run) if status == "requires_action" else None
        )
        fill: Dict[str, Any] = {}
        if status == "completed":
            fill = {"completed_at": now, "usage": _USAGE}
        elif status == "failed":
            fill = {
                "failed_at": now,
                "last_error": {"code": "server_error", "message": "Sorry, something went wrong."},
            }
        elif status == "cancelled":
            fill = {"cancelled_at": now}
        elif status == "incomplete":
            fill = {"incomplete_details": {"reason": "max_completion_tokens"}, "usage": _USAGE}
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


# --------------------------------------------------------------------------------------------
# The HTTP transport
# --------------------------------------------------------------------------------------------


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


def _as_bytes(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return _encode(body)


def _too_large(size: int, limit: int) -> str:
    return "Request body too large: %d bytes; this server accepts at most %d bytes." % (
        size,
        limit,
    )


def _merge_headers(base: Mapping[str, str], extra: Mapping[str, str]) -> Dict[str, str]:
    replaced = {name.lower() for name in extra}
    merged = {k: v for k, v in base.items() if k.lower() not in replaced}
    merged.update(extra)
    return merged


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
    responded = False

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
        self.responded = False
        fake = self.server.fake
        try:
            self._handle(fake)
        except OSError:
            raise  # the peer went away: nothing to answer (handle_error keeps quiet)
        except Exception:
            # A bug in the fake: answer like the API's 500 and keep the traceback for tests.
            fake._note_error(traceback.format_exc())
            if not self.responded:
                self._send_error(_status_error(500))

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def send_error(
        self, code: int, message: Optional[str] = None, explain: Optional[str] = None
    ) -> None:
        # http.server's own errors (malformed request line, unknown method) as JSON, not HTML.
        try:
            text = message or http.HTTPStatus(code).phrase
        except ValueError:
            text = "Error %d" % code
        self._send_error(_APIError(code, text))

    def _send_error(self, error: _APIError) -> None:
        reply = self.server.fake._api.error_reply(error)
        self._send(reply.status, reply.headers, reply.body, close=True)

    def _handle(self, fake: FakeRunsServer) -> None:
        target = self.path
        path, _, query_string = target.partition("?")
        query = parse_qs(query_string, keep_blank_values=True)
        close = not fake.keep_alive
        problem: Optional[_APIError] = None
        try:
            body = self._read_body(fake.max_body_bytes)
        except _APIError as error:
            # The rest of the body is left unread, so this connection cannot carry another
            # request.
            body, problem, close = b"", error, True
        parsed, _ = _parse_body(body)
        request = RecordedRequest(
            self.command, path, target, query, self.headers, body, parsed, self.connection_id
        )
        fault = fake._record(request)
        if fault is None:
            reply = fake._api.handle(request, problem)
            self._send(reply.status, reply.headers, reply.body, close)
            return
        if fault.delay:
            fake._stopping.wait(fault.delay)  # stop() cuts the wait short
        if fault.drop:
            self.close_connection = True  # no response: the client sees the socket close
            return
        if fault.status is not None:
            reply = _Reply(fault.status, b"")
            if fault.body is not None:
                reply.body = fault.body
            elif fault.status >= 400:
                reply = fake._api.error_reply(_status_error(fault.status))
        else:
            reply = fake._api.handle(request, problem)
            if fault.pad_to is not None:
                reply.body = _pad(reply.body, fault.pad_to)
        self._send(reply.status, _merge_headers(reply.headers, fault.headers), reply.body, close)

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
            raise _APIError(400, "Invalid Content-Length header: %r." % length) from None
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
        self.responded = True
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


# --------------------------------------------------------------------------------------------
# The server: lifecycle, faults, recording
# --------------------------------------------------------------------------------------------


class _APISetting:
    """A ``FakeRunsServer`` attribute kept (and validated, when set) by its ``_RunsAPI``."""

    name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, server: Any, owner: type) -> Any:
        return self if server is None else getattr(server._api, self.name)

    def __set__(self, server: Any, value: Any) -> None:
        setattr(server._api, self.name, value)


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
    All are also attributes that can be changed while the server runs; the scripts are
    checked when set (ValueError), not on each request.
    """

    # The emulated API; a flavour of the fake (another server's dialect) is a subclass setting
    # this to a subclass of _RunsAPI.
    _api_class = _RunsAPI

    clock = _APISetting()
    poll_after_ms = _APISetting()
    default_statuses = _APISetting()
    default_tool_calls = _APISetting()
    default_after_tool_outputs = _APISetting()
    auto_create_threads = _APISetting()
    api_key = _APISetting()
    require_beta_header = _APISetting()

    def __init__(
        self,
        *,
        port: int = 0,
        clock: Callable[[], float] = time.time,
        poll_after_ms: Optional[int] = 5,
        default_statuses: Sequence[str] = ("queued", "in_progress", "completed"),
        default_tool_calls: Optional[Sequence[ToolCallSpec]] = None,
        default_after_tool_outputs: Sequence[str] = ("in_progress", "completed"),
        keep_alive: bool = True,
        idle_timeout: Optional[float] = None,
        max_body_bytes: int = 1 << 20,
        auto_create_threads: bool = True,
        api_key: Optional[str] = None,
        require_beta_header: bool = True,
    ) -> None:
        self._api = self._api_class(
            clock=clock,
            poll_after_ms=poll_after_ms,
            default_statuses=default_statuses,
            default_tool_calls=default_tool_calls,
            default_after_tool_outputs=default_after_tool_outputs,
            auto_create_threads=auto_create_threads,
            api_key=api_key,
            require_beta_header=require_beta_header,
        )
        self.keep_alive = keep_alive
        self.idle_timeout = idle_timeout
        self.max_body_bytes = max_body_bytes
        self._requested_port = port
        # One lock for what the server shares with handler threads: faults, recordings and
        # connection bookkeeping (the API's store has its own).
        self._lock = threading.RLock()
        self._faults: List[List[Any]] = []  # [Fault, uses left], consumed front to back
        self._requests: List[RecordedRequest] = []
        self._errors: List[str] = []
        self._sockets: Dict[Any, int] = {}  # open connection -> connection id
        self._handler_threads: Set[threading.Thread] = set()
        self._next_connection_id = 0
        self._connections_opened = 0
        self._httpd: Optional[_Server] = None
        self._serve_thread: Optional[threading.Thread] = None
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
        return "<FakeRunsServer %s>" % where

    @property
    def port(self) -> int:
        """The bound port (raises RuntimeError when the server is not running)."""
        if self._httpd is None:
            raise RuntimeError("FakeRunsServer is not running")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The server root, ``http://127.0.0.1:PORT``."""
        return "http://%s:%d" % (_HOST, self.port)

    @property
    def base_url(self) -> str:
        """The API base URL to give a client, ``http://127.0.0.1:PORT/v1``."""
        return self.url + "/v1"

    # -- the store ---------------------------------------------------------------------------

    def add_thread(self, thread_id: Optional[str] = None) -> str:
        """Make a thread exist (a random ``thread_...`` id when None); returns its id."""
        if thread_id is None:
            thread_id = "thread_" + secrets.token_hex(12)
        self._api.add_thread(thread_id)
        return thread_id

    def add_run(
        self,
        thread_id: str = "thread_1",
        *,
        statuses: Sequence[str] = ("queued", "in_progress", "requires_action"),
        tool_calls: Optional[Sequence[ToolCallSpec]] = None,
        after_tool_outputs: Sequence[str] = ("in_progress", "completed"),
        **fields: Any,
    ) -> Dict[str, Any]:
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
        with self._api.lock:
            run = self._api.new_run(thread_id, "asst_fake", script, calls, after, fields)
            return copy.deepcopy(run.data)

    def get_run(self, run_id: str) -> Dict[str, Any]:
        """A copy of the stored run's raw dict, without advancing it (KeyError if unknown)."""
        with self._api.lock:
            return copy.deepcopy(self._api.runs[run_id].data)

    # -- faults ------------------------------------------------------------------------------
    # Each *_next helper describes its misbehaviour as one Fault; count, path and method mean
    # the same everywhere: how many matching requests, and which ones match.

    def inject(self, fault: Fault, count: int = 1) -> None:
        """Queue ``fault`` for the next ``count`` requests it matches (faults apply in order)."""
        if count < 1:
            raise ValueError("count must be >= 1, got %r" % (count,))
        with self._lock:
            self._faults.append([fault, count])

    def fail_next(
        self,
        status: int = 503,
        *,
        count: int = 1,
        headers: Optional[Mapping[str, str]] = None,
        body: Any = None,
        path: Optional[str] = None,
        method: Optional[str] = None,
    ) -> None:
        """Answer the next ``count`` matching requests with ``status`` (API error body unless
        ``body``: bytes/str sent as is, other values JSON-encoded) and ``headers``, e.g.
        ``{"Retry-After": "1"}``; the request is not handled."""
        body = None if body is None else _as_bytes(body)
        fault = Fault(status, body, dict(headers or {}), path=path, method=method)
        self.inject(fault, count)

    def invalid_next(
        self,
        body: bytes,
        status: int = 200,
        *,
        count: int = 1,
        headers: Optional[Mapping[str, str]] = None,
        path: Optional[str] = None,
        method: Optional[str] = None,
    ) -> None:
        """Answer the next ``count`` matching requests with ``status`` and this raw ``body``
        (e.g. HTML or truncated JSON; Content-Type stays application/json unless
        ``headers`` says otherwise); the request is not handled."""
        self.fail_next(status, body=body, count=count, headers=headers, path=path, method=method)

    def redirect_next(
        self,
        location: str,
        status: int = 307,
        *,
        count: int = 1,
        path: Optional[str] = None,
        method: Optional[str] = None,
    ) -> None:
        """Answer the next ``count`` matching requests with a redirect to ``location`` (any
        URL, e.g. another server's: another origin) and an empty body."""
        headers = {"Location": location}
        self.fail_next(status, body=b"", count=count, headers=headers, path=path, method=method)

    def delay_next(
        self,
        seconds: float,
        *,
        count: int = 1,
        path: Optional[str] = None,
        method: Optional[str] = None,
    ) -> None:
        """Wait ``seconds`` before handling the next ``count`` matching requests normally."""
        self.inject(Fault(delay=seconds, path=path, method=method), count)

    def drop_next(
        self, *, count: int = 1, path: Optional[str] = None, method: Optional[str] = None
    ) -> None:
        """Close the connection without any response for the next ``count`` matching requests
        (after reading them: the request is recorded but not handled)."""
        self.inject(Fault(drop=True, path=path, method=method), count)

    def oversized_next(
        self,
        nbytes: int,
        *,
        count: int = 1,
        path: Optional[str] = None,
        method: Optional[str] = None,
    ) -> None:
        """Handle the next ``count`` matching requests normally but pad each JSON response
        body to exactly ``nbytes`` (still valid JSON, with an extra ``"x_padding"`` key)."""
        self.inject(Fault(pad_to=nbytes, path=path, method=method), count)

    @property
    def pending_faults(self) -> int:
        """How many fault uses are still queued."""
        with self._lock:
            return sum(left for _, left in self._faults)

    # -- connections -------------------------------------------------------------------------

    def close_idle_after(self, seconds: Optional[float]) -> None:
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
    def requests(self) -> List[RecordedRequest]:
        """A snapshot list of every request received, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def errors(self) -> List[str]:
        """Tracebacks of bugs inside the fake itself (answered with 500); empty normally."""
        with self._lock:
            return list(self._errors)

    def clear(self) -> None:
        """Forget recorded requests, errors, runs, threads and pending faults, and reset
        ``connections_opened`` (connection ids stay unique). Settings are kept."""
        self._api.clear()
        with self._lock:
            self._requests.clear()
            self._errors.clear()
            self._faults.clear()
            self._connections_opened = 0

    # -- bookkeeping for the transport -------------------------------------------------------

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

    def _record(self, request: RecordedRequest) -> Optional[Fault]:
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
