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

Streams: ``"stream": true`` on ``POST /threads/{thread_id}/runs``, ``POST /threads/runs``
(create a thread and run it) and ``submit_tool_outputs`` answers a ``text/event-stream`` as the
API does, each event ``event: NAME\\ndata: JSON\\n\\n`` in its own HTTP/1.1 chunk:
``thread.created`` (``/threads/runs`` only), ``thread.run.created``, then the events of each
status change along the run's script -- ``thread.run.<status>`` with the full run, the
``thread.run.step.*`` events of its steps (``created``, ``in_progress``, ``delta`` for tool
calls, ``completed``; ``failed``/``expired`` with a run that fails or expires in progress, its
message then ``thread.message.incomplete``), and before ``thread.run.completed`` the
``thread.message.*`` events of the assistant's message (``created``, ``in_progress``, one
``delta`` per word, whose values join into the message's text, ``completed``) -- then
``event: done`` / ``data: [DONE]``. A run
that reaches ``requires_action`` ends its stream with ``thread.run.requires_action`` and
``done``; ``submit_tool_outputs`` with ``"stream": true`` streams the rest. Each change is made
just before the stream sends its first event, so a GET between two events shows the status the
stream last said (a run that a stream drives is not moved by GETs). Stream faults
(``Fault.after_events`` or ``after_event``: drop the connection, stall, events of any kind, an
``error`` event; awkward chunk splits, other line endings) go through ``inject``; ``streams``
records what each stream sent.

Each run has its steps (``GET .../runs/{run_id}/steps`` and ``.../steps/{step_id}``): a
``tool_calls`` step for each time it requires action (the calls of ``required_action``, with
their outputs once submitted) and a ``message_creation`` step for its message, whose text
(``default_message``, or ``add_run(message=...)``) is kept in the thread's messages
(``GET /threads/{thread_id}/messages``, ``?run_id=`` for one run's, paged as runs are).

Threads and messages: ``POST /threads`` (with ``messages``, ``metadata``,
``tool_resources``), ``GET``, ``POST`` (metadata, tool_resources) and ``DELETE
/threads/{thread_id}`` (its runs go with it), ``POST /threads/{thread_id}/messages`` and ``GET
/threads/{thread_id}/messages/{message_id}``, validated as the API does (unknown parameters,
types, roles other than ``user`` and ``assistant``, content parts without a ``type``) and
answered with its objects; a message's string content is stored as a text part, a list of
parts as given.

``FakeRunsServer(flavour="fastapi")`` speaks like common self-hosted Assistants servers
instead: timestamps as RFC 3339 strings (``"2026-11-29T16:30:14.549940Z"``) in a run's six
timestamp fields and its steps', bare UUID ids, FastAPI's error bodies
(``{"detail": "Run not found in thread."}``, and 422 ``{"detail": [{"loc": [...], "msg": ...,
"type": ...}]}`` for invalid parameters), compact JSON, and ``required_action`` null while the
run requires action (its tool calls are in its steps only). ``flavour="loose"`` writes the
quirks that ``threadrun.lenient`` reads: a run's ``created_at`` in milliseconds in its JSON
answers (its other timestamps, and every timestamp of its streams, in seconds);
``"model": null`` and ``"instructions": null`` for a run created without them; and a metadata
value that is not a string, ``"stream": false`` (``true`` for a streamed run).

The runs it serves follow the API reference's schema, and validate under the official SDK's
strict ``Run`` model: a run created without ``instructions`` carries ``""`` (the fake's
assistant has no instructions), not the ``null`` of the reference's examples, which the spec's
``instructions: string`` does not allow. Store ``add_run(..., instructions=None)`` to test a
client against a server that sends null.

``python -m threadrun.testing [--port N] [--api-key KEY] [--flavour NAME]`` runs the server in
the foreground for a test suite in another process: the first line of standard output is its
base URL; Ctrl-C or SIGTERM stops it (exit status 0). Copied beside the single file
``threadrun.py`` as ``threadrun_testing.py``, the module works the same way.

This module deliberately speaks raw JSON and does not import threadrun, so a bug in the
library's model cannot hide behind a fake that shares it.

Inside, three parts: ``_RunsAPI`` is the emulated API (the store, the status machine, request
validation, and a route table of method + path pattern -> handler; ``_FastAPIRunsAPI`` its
flavour); ``_Handler``/``_Server`` the HTTP transport, which writes an event stream as its
events are drawn; ``FakeRunsServer`` the lifecycle, the faults and the recording around them.
"""

from __future__ import annotations

import copy
import datetime
import http
import http.server
import json
import re
import secrets
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from email.message import Message
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)
from urllib.parse import parse_qs, unquote

__all__ = ["WEATHER_TOOL", "FakeRunsServer", "Fault", "RecordedRequest", "RecordedStream"]

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
# The function those calls call, as a run's "tools" lists it (the API reference's example):
# what the demo and the benchmarks give the runs they create.
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city and state"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
        },
    },
}
_EXPIRY_SECONDS = 600  # the API gives a run ten minutes before it expires
_USAGE = {"prompt_tokens": 345, "completion_tokens": 11, "total_tokens": 356}
_STEP_USAGE = {"prompt_tokens": 291, "completion_tokens": 24, "total_tokens": 315}
# What the fake's assistant answers when a run completes; not ASCII, so that every stream
# carries multi-byte UTF-8 characters for a client's incremental decoder to get right.
_DEFAULT_MESSAGE = "The weather in San Francisco is 70 \u00b0F and sunny \u2600\ufe0f."
_LINE_ENDINGS = ("\n", "\r\n", "\r")
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
# Create-thread-and-run body parameters (POST /threads/runs).
_THREAD_RUN_PARAMS = {
    k: v
    for k, v in _CREATE_PARAMS.items()
    if k not in ("additional_instructions", "additional_messages", "reasoning_effort")
}
_THREAD_RUN_PARAMS["thread"] = ((dict,), "an object")
_THREAD_RUN_PARAMS["tool_resources"] = ((dict,), "an object")
# Create parameters that the run object carries back (additional_instructions has nowhere to go:
# the fake has no assistant whose instructions it would extend; additional_messages go to the
# thread's messages).
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
    "tool_resources",
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

    Applied in this order: wait ``delay`` seconds; if ``drop`` (and no place in a stream),
    close the connection without a response; if ``status`` is set, answer with it instead of
    handling the request (``body`` as given, or when None an API error body for statuses >= 400
    and an empty body below); otherwise handle the request normally and, if ``pad_to`` is set,
    pad the JSON body with an extra ``"x_padding"`` key to exactly ``pad_to`` bytes.
    ``headers`` are added to (or replace same-named headers of) whatever response is sent.
    ``path`` (the raw path without query) and ``method`` restrict which requests match; None
    matches any.

    The stream fields apply to an event-stream response (a request with ``"stream": true``),
    and a fault that sets any of them matches only such requests. After ``after_events``
    events have been sent (``done`` counts as one), or after the first event named
    ``after_event`` (``"thread.run.failed"``): pause for ``stall`` (seconds, or until the
    ``threading.Event`` is set; the server's ``stop()`` ends either), send ``events``
    (``(name, data)`` pairs: data as compact JSON, a str as it is, so anything can be sent:
    unknown events, annotation deltas, invalid JSON), then send ``error_event`` as ``event:
    error`` with data ``{"error": error_event}`` (the error object itself with
    ``error_bare=True``, the spec's shape) and end the response (no ``done``), or, if
    ``drop``, close the connection in the middle of the body; else the stream goes on. Lines
    end with ``line_ending`` ("\\n", "\\r\\n" or "\\r"). The body goes in HTTP chunks of at most
    ``chunk_bytes`` bytes (each event starts a new chunk), and, with ``split_awkwardly``, is
    also cut inside every multi-byte UTF-8 character, between every CR and LF and inside every
    ``data:`` field name. Whatever the stream's client sees, its run goes on to where the whole
    stream would have left it, as a real run does when its stream breaks.
    """

    status: Optional[int] = None
    body: Optional[bytes] = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    pad_to: Optional[int] = None
    path: Optional[str] = None
    method: Optional[str] = None
    after_events: Optional[int] = None
    stall: Union[float, threading.Event, None] = None
    error_event: Optional[Mapping[str, Any]] = None
    after_event: Optional[str] = None
    events: Sequence[Tuple[str, Any]] = ()
    error_bare: bool = False
    line_ending: str = "\n"
    chunk_bytes: Optional[int] = None
    split_awkwardly: bool = False

    def __post_init__(self) -> None:
        if self.status is not None and not 100 <= self.status <= 999:
            raise ValueError("status must be a 3-digit HTTP status, got %r" % (self.status,))
        if self.delay < 0:
            raise ValueError("delay must be >= 0, got %r" % (self.delay,))
        if self.pad_to is not None and self.pad_to < 0:
            raise ValueError("pad_to must be >= 0, got %r" % (self.pad_to,))
        if self.after_events is not None and self.after_events < 0:
            raise ValueError("after_events must be >= 0, got %r" % (self.after_events,))
        if self.after_events is not None and self.after_event is not None:
            raise ValueError("after_events and after_event: one place in the stream, not two")
        placed = self.after_events is not None or self.after_event is not None
        if (self.stall is not None or self.error_event is not None or self.events) and not placed:
            raise ValueError(
                "stall, events and error_event need after_events or after_event (where in "
                "the stream)"
            )
        for item in self.events:
            if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
                raise ValueError("events must be (name, data) pairs, got %r" % (item,))
        if isinstance(self.stall, (int, float)) and self.stall < 0:
            raise ValueError("stall must be >= 0 seconds, got %r" % (self.stall,))
        if self.line_ending not in _LINE_ENDINGS:
            raise ValueError("line_ending must be one of %r" % (_LINE_ENDINGS,))
        if self.chunk_bytes is not None and self.chunk_bytes < 1:
            raise ValueError("chunk_bytes must be >= 1, got %r" % (self.chunk_bytes,))

    @property
    def _streams_only(self) -> bool:
        """Whether this fault is about event streams (it then matches streaming requests only)."""
        return (
            self.after_events is not None
            or self.after_event is not None
            or self.line_ending != "\n"
            or self.chunk_bytes is not None
            or self.split_awkwardly
        )

    def matches(self, method: str, path: str, stream: bool = False) -> bool:
        """Whether this fault applies to a request with this method and raw path (``stream``:
        whether the request asks for an event stream)."""
        return (
            (self.path is None or self.path == path)
            and (self.method is None or self.method.upper() == method.upper())
            and (stream or not self._streams_only)
        )


@dataclass(frozen=True)
class RecordedStream:
    """An event stream as the fake server sent it (a snapshot: a stream may still be going).

    ``request`` is the request it answers; ``events`` the ``(event, data)`` pairs sent, in
    order (each recorded as it is written, so an event a client has read is there), ``data``
    decoded from JSON (the text as sent when it is not JSON: ``"[DONE]"`` for ``done``);
    ``body`` the exact bytes of the stream (without the HTTP chunk framing); ``finished``
    whether ``done`` was sent; ``ended`` whether the server is through with the stream (after
    ``done``, a fault, or the client going away), set before the end of the body is sent.
    """

    request: RecordedRequest
    events: List[Tuple[str, Any]]
    body: bytes
    finished: bool
    ended: bool


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
        resource: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.resource = resource  # for a 404: what was not found ("run", "thread", "url"...)


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
    """What the API answers: a status, extra headers and the encoded JSON body (a streaming
    answer is a ``_StreamReply``, which the transport writes event by event)."""

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


def _check_metadata(metadata: Any, name: str = "metadata") -> Dict[str, str]:
    _check_type(name, metadata, (dict,), "an object")
    if len(metadata) > 16:
        raise _APIError(
            400,
            "Invalid '%s': too many properties. Expected an object with at most 16"
            " properties, but got an object with %d properties instead." % (name, len(metadata)),
            param=name,
            code="object_above_max_properties",
        )
    for key, value in metadata.items():
        if len(key) > 64:
            raise _APIError(
                400,
                "Invalid '%s': key %r... is longer than 64 characters." % (name, key[:20]),
                param=name,
                code="invalid_value",
            )
        _check_type("%s.%s" % (name, key), value, (str,), "a string")
        if len(value) > 512:
            raise _APIError(
                400,
                "Invalid '%s.%s': string too long. Expected a string with maximum"
                " length 512, but got a string with length %d instead." % (name, key, len(value)),
                param="%s.%s" % (name, key),
                code="string_above_max_length",
            )
    return dict(metadata)


def _reject_unknown(body: Mapping[str, Any], known: Iterable[str], prefix: str = "") -> None:
    for key in body:
        if key not in known:
            raise _APIError(
                400,
                "Unknown parameter: '%s%s'." % (prefix, key),
                param=prefix + key,
                code="unknown_parameter",
            )


def _check_params(
    body: Mapping[str, Any], table: Mapping[str, Tuple[Tuple[type, ...], str]]
) -> None:
    """Validate a create body against its parameter table, as the API does."""
    _reject_unknown(body, table)
    if body.get("assistant_id") is None:
        raise _missing("assistant_id")
    for name, (types, expected) in table.items():
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


def _check_messages(name: str, messages: Any) -> List[Tuple[List[Any], str]]:
    """The (content, role) of each message to add to a thread, as the API takes them."""
    if messages is None:
        return []
    _check_type(name, messages, (list,), "an array")
    result = []
    for i, message in enumerate(messages):
        where = "%s[%d]" % (name, i)
        _check_type(where, message, (dict,), "an object")
        result.append(_check_new_message(message, where + "."))
    return result


def _check_new_message(message: Mapping[str, Any], prefix: str) -> Tuple[List[Any], str]:
    """The (content, role) of one message to add to a thread (a create-message body, or one
    of a new thread's ``messages``, whose parameters are named from ``prefix``)."""
    _reject_unknown(message, ("role", "content", "attachments", "metadata"), prefix)
    for key in ("role", "content"):
        if message.get(key) is None:
            raise _missing(prefix + key)
    role = message["role"]
    _check_type(prefix + "role", role, (str,), "a string")
    if role not in ("user", "assistant"):
        raise _APIError(
            400,
            "Invalid value: '%s'. Supported values are: 'user' and 'assistant'." % role,
            param=prefix + "role",
            code="invalid_value",
        )
    content = message["content"]
    _check_type(prefix + "content", content, (str, list), "a string or an array")
    if isinstance(content, str):
        content = [{"type": "text", "text": {"value": content, "annotations": []}}]
    for i, part in enumerate(content):
        where = "%scontent[%d]" % (prefix, i)
        _check_type(where, part, (dict,), "an object")
        if part.get("type") is None:
            raise _missing(where + ".type")
    if message.get("metadata") is not None:
        _check_metadata(message["metadata"], prefix + "metadata")
    if message.get("attachments") is not None:
        _check_type(prefix + "attachments", message["attachments"], (list,), "an array")
    return copy.deepcopy(content), role


def _check_message(text: Any) -> str:
    if not isinstance(text, str):
        raise ValueError("message must be a string, got %r" % (text,))
    return text


def _page(
    query: Mapping[str, List[str]], items: Sequence[Dict[str, Any]], noun: str, scope: str
) -> Dict[str, Any]:
    """A page of ``items`` (oldest first) as the API's list endpoints answer: ``limit``,
    ``order``, ``after`` and ``before`` from the query."""
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
    ordered = list(items)
    if order == "desc":
        ordered.reverse()
    ids = [item["id"] for item in ordered]
    cursors = {name: query.get(name, [""])[-1] for name in ("after", "before")}
    for name, cursor in cursors.items():
        if cursor and cursor not in ids:
            raise _APIError(
                400,
                "Invalid '%s': no %s with id '%s' in this %s." % (name, noun, cursor, scope),
                param=name,
                code="invalid_value",
            )
    low = ids.index(cursors["after"]) + 1 if cursors["after"] else 0
    high = ids.index(cursors["before"]) if cursors["before"] else len(ids)
    window = ordered[low:high]
    # With only `before`, the page is the `limit` items just before the cursor.
    page = window[-limit:] if cursors["before"] and not cursors["after"] else window[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(window) > limit,
    }


def _missing(name: str) -> _APIError:
    return _APIError(
        400,
        "Missing required parameter: '%s'." % name,
        param=name,
        code="missing_required_parameter",
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


class _Thread:
    """A stored thread: its object, its runs and its messages."""

    __slots__ = ("data", "messages", "runs")

    def __init__(self, data: Dict[str, Any]) -> None:
        self.data = data
        self.runs: List[_Run] = []
        self.messages: List[Dict[str, Any]] = []


# A stream's event as the API sends it: (event name, data as compact JSON text).
_Event = Tuple[str, str]
_DONE: _Event = ("done", "[DONE]")


class _Run:
    """A stored run: its raw JSON dict, the script that drives its status, its steps, and the
    events of its changes while a stream is sending them."""

    __slots__ = (
        "after_tool_outputs",
        "created",
        "data",
        "events",
        "message",
        "pending_calls",
        "pos",
        "prepared",
        "script",
        "seq",
        "steps",
        "thread_id",
        "tool_calls",
        "tool_step",
    )

    def __init__(
        self,
        data: Dict[str, Any],
        thread_id: str,
        seq: int,
        created: float,
        script: List[str],
        tool_calls: Tuple[ToolCallSpec, ...],
        after_tool_outputs: Tuple[str, ...],
        message: str,
    ) -> None:
        self.data = data
        self.thread_id = thread_id
        self.seq = seq
        self.created = created
        self.script = script
        self.pos = 0
        self.tool_calls = tool_calls
        self.after_tool_outputs = after_tool_outputs
        self.message = message
        self.steps: List[Dict[str, Any]] = []
        self.tool_step: Optional[Dict[str, Any]] = None  # the tool_calls step awaiting outputs
        self.pending_calls: List[Dict[str, Any]] = []  # its calls, as required_action lists them
        self.prepared: Optional[str] = None  # the status whose preparation is done (a stream's)
        # While a stream drives the run, the events of its changes collect here (whoever made
        # the change: the stream, or a cancel on another connection); None: nobody listens.
        self.events: Optional[List[_Event]] = None

    def sort_key(self) -> Tuple[int, int]:
        created = self.data.get("created_at")
        if not isinstance(created, int) or isinstance(created, bool):
            created = int(self.created)  # a flavour's timestamp strings: the clock's value
        # seq breaks ties: runs made in the same second still list in creation order.
        return (created, self.seq)

    def pending_call_ids(self) -> List[str]:
        """The ids of the tool calls awaiting outputs."""
        if self.tool_step is None:
            return []
        calls = self.tool_step["step_details"]["tool_calls"]
        return [c["id"] for c in calls if isinstance(c, dict) and isinstance(c.get("id"), str)]


def _compact(payload: Any) -> str:
    """JSON as a stream's ``data:`` carries it: one line, compact, UTF-8 text."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def _text_pieces(text: str) -> List[str]:
    """The text as a model streams it: word by word, each with its leading space."""
    pieces: List[str] = re.findall(r"\s*\S+", text)
    rest = text[len("".join(pieces)) :]
    return [*pieces, rest] if rest else pieces


class _StreamReply:
    """An event-stream answer: the events, drawn one at a time by the transport (drawing the
    next event is what moves the run on)."""

    __slots__ = ("events",)

    def __init__(self, events: Iterator[_Event]) -> None:
        self.events = events


def _run_object(**fields: Any) -> Dict[str, Any]:
    """A run as the API sends it: every field, in the API's order, as a run is created (the
    fields that name it are None until given); ``fields`` set on top. benchmarks/bench_check.py
    builds its archive's runs with it too."""
    run: Dict[str, Any] = {
        "id": None,
        "object": "thread.run",
        "created_at": None,
        "assistant_id": None,
        "thread_id": None,
        "status": None,
        "started_at": None,
        "expires_at": None,
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
    run.update(fields)
    return run


class _RunsAPI:
    """The Runs endpoints as the API behaves: routes, validation, the store of threads, runs,
    steps and messages, and the scripted status machine. Knows nothing of sockets or faults.

    A flavour of the API (another server's ids, timestamps or error shape, more endpoints) is a
    subclass overriding ``ROUTES`` (and adding their endpoints) and the hooks ``_new_id``,
    ``_stamp``, ``_required_action``, ``encode`` and ``error_reply``, as ``_FastAPIRunsAPI``
    does.
    """

    ROUTES = (
        _Route("POST", "/v1/threads/runs", "create_thread_and_run"),
        _Route("POST", "/v1/threads/{thread_id}/runs", "create"),
        _Route("GET", "/v1/threads/{thread_id}/runs", "list"),
        _Route("GET", "/v1/threads/{thread_id}/runs/{run_id}", "retrieve"),
        _Route("POST", "/v1/threads/{thread_id}/runs/{run_id}", "update"),
        _Route("POST", "/v1/threads/{thread_id}/runs/{run_id}/cancel", "cancel"),
        _Route("POST", "/v1/threads/{thread_id}/runs/{run_id}/submit_tool_outputs", "submit"),
        _Route("GET", "/v1/threads/{thread_id}/runs/{run_id}/steps", "list_steps"),
        _Route("GET", "/v1/threads/{thread_id}/runs/{run_id}/steps/{step_id}", "retrieve_step"),
        _Route("GET", "/v1/threads/{thread_id}/messages", "list_messages"),
        _Route("POST", "/v1/threads", "create_thread"),
        _Route("GET", "/v1/threads/{thread_id}", "retrieve_thread"),
        _Route("POST", "/v1/threads/{thread_id}", "update_thread"),
        _Route("DELETE", "/v1/threads/{thread_id}", "delete_thread"),
        _Route("POST", "/v1/threads/{thread_id}/messages", "create_message"),
        _Route("GET", "/v1/threads/{thread_id}/messages/{message_id}", "retrieve_message"),
    )

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        poll_after_ms: Optional[int],
        default_statuses: Sequence[str],
        default_tool_calls: Optional[Sequence[ToolCallSpec]],
        default_after_tool_outputs: Sequence[str],
        default_message: str,
        auto_create_threads: bool,
        api_key: Optional[str],
        require_beta_header: bool,
    ) -> None:
        self.clock = clock
        self.poll_after_ms = poll_after_ms
        # Through the validating setters below (which take any sequence, keep a tuple).
        self.default_statuses = default_statuses  # type: ignore[assignment, unused-ignore]
        self.default_tool_calls = default_tool_calls  # type: ignore[assignment, unused-ignore]
        self.default_after_tool_outputs = default_after_tool_outputs  # type: ignore[assignment, unused-ignore]
        self.default_message = default_message
        self.auto_create_threads = auto_create_threads
        self.api_key = api_key
        self.require_beta_header = require_beta_header
        # The store is shared with handler threads and the test's own thread.
        self.lock = threading.RLock()
        self.threads: Dict[str, _Thread] = {}
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

    @property
    def default_message(self) -> str:
        return self._default_message

    @default_message.setter
    def default_message(self, value: str) -> None:
        self._default_message = _check_message(value)

    # -- flavour hooks ------------------------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return "%s_%s" % (prefix, secrets.token_hex(12))

    def _stamp(self, when: float) -> Any:
        """A timestamp as this API writes it (the reference: integer Unix seconds)."""
        return int(when)

    def _required_action(self, calls: List[Dict[str, Any]]) -> Any:
        """``required_action`` of a run entering ``requires_action`` with these tool calls."""
        return {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {"tool_calls": copy.deepcopy(calls)},
        }

    def encode(self, payload: Any) -> bytes:
        """A response body as this API writes it (the reference: pretty-printed UTF-8)."""
        return _encode(payload)

    def error_reply(self, error: _APIError) -> _Reply:
        payload = {
            "error": {
                "message": error.message,
                "type": error.type,
                "param": error.param,
                "code": error.code,
            }
        }
        return _Reply(error.status, _encode(payload))

    # -- answering a request ------------------------------------------------------------------

    def handle(
        self, request: RecordedRequest, problem: Optional[_APIError]
    ) -> Union[_Reply, _StreamReply]:
        """Answer ``request``; ``problem`` is a refusal of the transport (a body too large),
        answered after authentication as the API does."""
        headers = {}
        try:
            self._authenticate(request.headers)
            if problem is not None:
                raise problem
            with self.lock:
                payload = self._dispatch(request)
                if isinstance(payload, _StreamReply):
                    return payload
                body = self.encode(payload)  # under the lock: a consistent snapshot of the run
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
        raise _APIError(404, "Invalid URL (%s %s)" % (request.method, request.path), resource="url")

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
        _check_params(body, _CREATE_PARAMS)
        messages = _check_messages("additional_messages", body.get("additional_messages"))
        # The thread check comes after body validation, like the API's own request validation.
        if thread_id not in self.threads and not self.auto_create_threads:
            self._thread(thread_id)
        if messages:
            thread = self._thread(thread_id, create=True)
            for content, role in messages:
                self._add_message(thread, role, content, None)
        return self._start_run(thread_id, body, [] if body.get("stream") else None)

    def create_thread_and_run(self, request: RecordedRequest) -> Any:
        body = self._body_object(request)
        _check_params(body, _THREAD_RUN_PARAMS)
        thread = self._new_thread(body.get("thread") or {}, "thread.")
        events = [("thread.created", _compact(thread.data))] if body.get("stream") else None
        return self._start_run(thread.data["id"], body, events)

    def _start_run(
        self, thread_id: str, body: Dict[str, Any], events: Optional[List[_Event]]
    ) -> Any:
        echoed = {k: body[k] for k in _ECHOED if body.get(k) is not None}
        run = self.new_run(
            thread_id,
            body["assistant_id"],
            self.default_statuses,
            self.default_tool_calls,
            self.default_after_tool_outputs,
            echoed,
            events=events,
        )
        return run.data if events is None else self._stream(run, events)

    def retrieve(self, request: RecordedRequest, thread_id: str, run_id: str) -> Any:
        run = self.find(thread_id, run_id)
        if run.events is None:  # a run that a stream drives is moved on by its stream only
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
        # The script continues with "cancelled" on the next GET (or the stream's next event).
        run.script[run.pos + 1 :] = ["cancelling", "cancelled"]
        run.pos += 1
        self._enter(run, "cancelling")
        return run.data

    def submit(self, request: RecordedRequest, thread_id: str, run_id: str) -> Any:
        body = self._body_object(request)
        run = self.find(thread_id, run_id)
        _reject_unknown(body, ("tool_outputs", "stream"))
        if body.get("stream") is not None:
            _check_type("stream", body["stream"], (bool,), "a boolean")
        outputs = body.get("tool_outputs")
        if outputs is None:
            raise _missing("tool_outputs")
        _check_type("tool_outputs", outputs, (list,), "an array")
        status = run.data.get("status")
        if status != "requires_action":
            raise _APIError(400, 'Runs in status "%s" do not accept tool outputs.' % status)
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
        pending = run.pending_call_ids()
        ids = [item["tool_call_id"] for item in outputs]
        if len(set(ids)) != len(ids) or sorted(ids) != sorted(pending):
            raise _APIError(
                400,
                "Expected tool outputs for call_ids %s, got %s." % (pending, ids),
                param="tool_outputs",
            )
        mine: Optional[List[_Event]] = None
        if body.get("stream"):
            mine = run.events = []
        given = {item["tool_call_id"]: item.get("output") for item in outputs}
        step = run.tool_step
        if step is not None:
            for call in step["step_details"]["tool_calls"]:
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict) and call.get("id") in given:
                    function["output"] = given[call["id"]]
            self._finish_step(run, step, "completed")
        if run.pos + 1 >= len(run.script):
            run.script.extend(run.after_tool_outputs)
        run.pos += 1
        self._enter(run, run.script[run.pos])
        return run.data if mine is None else self._stream(run, mine)

    def list(self, request: RecordedRequest, thread_id: str) -> Any:
        runs = sorted(self._thread(thread_id).runs, key=_Run.sort_key)
        return _page(request.query, [r.data for r in runs], "run", "thread")

    def list_steps(self, request: RecordedRequest, thread_id: str, run_id: str) -> Any:
        return _page(request.query, self.find(thread_id, run_id).steps, "step", "run")

    def retrieve_step(
        self, request: RecordedRequest, thread_id: str, run_id: str, step_id: str
    ) -> Any:
        for step in self.find(thread_id, run_id).steps:
            if step["id"] == step_id:
                return step
        raise _APIError(404, "No step found with id '%s'." % step_id, resource="step")

    def list_messages(self, request: RecordedRequest, thread_id: str) -> Any:
        messages = self._thread(thread_id).messages
        run_id = request.query.get("run_id", [""])[-1]
        if run_id:
            messages = [m for m in messages if m.get("run_id") == run_id]
        return _page(request.query, messages, "message", "thread")

    def create_thread(self, request: RecordedRequest) -> Any:
        return self._new_thread(self._body_object(request), "").data

    def _new_thread(self, spec: Dict[str, Any], prefix: str) -> _Thread:
        """A thread made from ``spec`` (``messages``, ``metadata``, ``tool_resources``; the
        body of ``POST /threads``, or ``thread`` of ``POST /threads/runs`` with ``prefix``
        "thread.")."""
        _check_type(prefix.rstrip(".") or "body", spec, (dict,), "an object")
        _reject_unknown(spec, ("messages", "metadata", "tool_resources"), prefix)
        metadata = {}
        if spec.get("metadata") is not None:
            metadata = _check_metadata(spec["metadata"], prefix + "metadata")
        if spec.get("tool_resources") is not None:
            _check_type(prefix + "tool_resources", spec["tool_resources"], (dict,), "an object")
        messages = _check_messages(prefix + "messages", spec.get("messages"))
        thread = self._thread(self._new_id("thread"), create=True)
        thread.data["metadata"] = metadata
        thread.data["tool_resources"] = copy.deepcopy(spec.get("tool_resources") or {})
        for content, role in messages:
            self._add_message(thread, role, content, None)
        return thread

    def retrieve_thread(self, request: RecordedRequest, thread_id: str) -> Any:
        return self._thread(thread_id).data

    def update_thread(self, request: RecordedRequest, thread_id: str) -> Any:
        body = self._body_object(request)
        thread = self._thread(thread_id)
        _reject_unknown(body, ("metadata", "tool_resources"))
        if body.get("metadata") is not None:
            thread.data["metadata"] = _check_metadata(body["metadata"])
        if body.get("tool_resources") is not None:
            _check_type("tool_resources", body["tool_resources"], (dict,), "an object")
            thread.data["tool_resources"] = copy.deepcopy(body["tool_resources"])
        return thread.data

    def delete_thread(self, request: RecordedRequest, thread_id: str) -> Any:
        thread = self._thread(thread_id)
        for run in thread.runs:
            del self.runs[run.data["id"]]
        del self.threads[thread_id]
        return {"id": thread_id, "object": "thread.deleted", "deleted": True}

    def create_message(self, request: RecordedRequest, thread_id: str) -> Any:
        body = self._body_object(request)
        content, role = _check_new_message(body, "")
        message = self._add_message(self._thread(thread_id), role, content, None)
        for key in ("metadata", "attachments"):
            if body.get(key) is not None:
                message[key] = copy.deepcopy(body[key])
        return message

    def retrieve_message(self, request: RecordedRequest, thread_id: str, message_id: str) -> Any:
        for message in self._thread(thread_id).messages:
            if message["id"] == message_id:
                return message
        raise _APIError(404, "No message found with id '%s'." % message_id, resource="message")

    # -- the store ----------------------------------------------------------------------------

    def _thread(
        self, thread_id: str, create: bool = False, when: Optional[float] = None
    ) -> _Thread:
        thread = self.threads.get(thread_id)
        if thread is None:
            if not create:
                raise _APIError(404, "No thread found with id '%s'." % thread_id, resource="thread")
            thread = self.threads[thread_id] = _Thread(
                {
                    "id": thread_id,
                    "object": "thread",
                    "created_at": self._stamp(self.clock() if when is None else when),
                    "metadata": {},
                    "tool_resources": {},
                }
            )
        return thread

    def add_thread(self, thread_id: str) -> None:
        with self.lock:
            self._thread(thread_id, create=True)

    def find(self, thread_id: str, run_id: str) -> _Run:
        self._thread(thread_id)
        run = self.runs.get(run_id)
        if run is None or run.thread_id != thread_id:
            raise _APIError(404, "No run found with id '%s'." % run_id, resource="run")
        return run

    def clear(self) -> None:
        with self.lock:
            self.runs.clear()
            self.threads.clear()

    def _add_message(
        self, thread: _Thread, role: str, content: List[Any], run: Optional[_Run]
    ) -> Dict[str, Any]:
        message = {
            "id": self._new_id("msg"),
            "object": "thread.message",
            "created_at": self._stamp(self.clock()),
            "assistant_id": run.data["assistant_id"] if run is not None else None,
            "thread_id": thread.data["id"],
            "run_id": run.data["id"] if run is not None else None,
            "status": "completed" if run is None else "in_progress",
            "incomplete_details": None,
            "incomplete_at": None,
            "completed_at": self._stamp(self.clock()) if run is None else None,
            "role": role,
            "content": content,
            "attachments": [],
            "metadata": {},
        }
        thread.messages.append(message)
        return message

    def new_run(
        self,
        thread_id: str,
        assistant_id: str,
        script: Tuple[str, ...],
        tool_calls: Tuple[ToolCallSpec, ...],
        after: Tuple[str, ...],
        fields: Mapping[str, Any],
        message: Optional[str] = None,
        events: Optional[List[_Event]] = None,
    ) -> _Run:
        """Store a run in ``thread_id`` (created if needed) starting at ``script[0]``, with
        ``fields`` set on top of the run as created; ``events``: collect its stream's events
        (starting with those given)."""
        now = self.clock()
        data = _run_object(
            id=self._new_id("run"),
            created_at=self._stamp(now),
            assistant_id=assistant_id,
            thread_id=thread_id,
            status=script[0],
            expires_at=self._stamp(now + _EXPIRY_SECONDS),
        )
        fields = copy.deepcopy(dict(fields))
        data.update(fields)  # first so that the events of its creation show them
        with self.lock:
            if data["id"] in self.runs:
                raise ValueError("a run with id %r already exists" % (data["id"],))
            thread = self._thread(thread_id, create=True, when=now)
            self._seq += 1
            text = self.default_message if message is None else message
            run = _Run(data, thread_id, self._seq, now, list(script), tool_calls, after, text)
            thread.runs.append(run)
            self.runs[data["id"]] = run
            run.events = events
            self._emit(run, "thread.run.created", data)
            self._enter(run, script[0])
            data.update(fields)  # again: given fields win over what entering the status set
        return run

    # -- the status machine -------------------------------------------------------------------

    def _emit(self, run: _Run, event: str, payload: Any) -> None:
        if run.events is not None:
            run.events.append((event, _compact(payload)))

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
        """Put the run in ``status``, stamping what the API stamps on that change, making the
        steps and messages it makes, and emitting the events a stream shows for it."""
        data = run.data
        now = self._stamp(self.clock())
        if run.prepared != status:
            self._prepare(run, status)  # before the change: it may depend on the status left
        run.prepared = None
        data["status"] = status
        if status in _STARTED and data.get("started_at") is None:
            data["started_at"] = now
        data["required_action"] = None
        if status == "requires_action" and run.tool_step is not None:
            data["required_action"] = self._required_action(run.pending_calls)
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
        if status == "cancelled" and run.tool_step is not None:
            # The tool calls a run was cancelled in: the only step a cancel leaves unfinished.
            self._finish_step(run, run.tool_step, "cancelled")
        if status in ("failed", "expired"):
            self._stop_steps(run, status)
        self._emit(run, "thread.run." + status, data)

    def _prepare(self, run: _Run, status: str) -> None:
        """What the run does before it enters ``status``: the tool calls it asks for, or the
        message it writes."""
        if status == "requires_action":
            self._open_tool_step(run, [self._tool_call(spec) for spec in run.tool_calls])
        elif status in ("completed", "incomplete"):
            self._write_message(run, status)
        elif status in ("failed", "expired") and run.data.get("status") == "in_progress":
            # A run in progress was writing its answer when it stopped.
            self._begin_message(run)

    def _advance(self, run: _Run, stepwise: bool = False) -> bool:
        """Move the run one step along its script; False when it waits or is finished.

        ``stepwise`` (a stream): what precedes a status change is a step of its own, so that
        the run keeps its status until the stream says it changed."""
        status = run.data.get("status")
        if status == "requires_action" or status in _TERMINAL:
            return False  # waits for tool outputs / is finished, as a real run does
        if run.pos + 1 >= len(run.script):
            return False
        upcoming = run.script[run.pos + 1]
        if stepwise and run.prepared != upcoming:
            run.prepared = upcoming
            self._prepare(run, upcoming)
            if run.events:
                return True
        run.pos += 1
        self._enter(run, upcoming)
        return True

    def _new_step(self, run: _Run, kind: str, details: Dict[str, Any]) -> Dict[str, Any]:
        step = {
            "id": self._new_id("step"),
            "object": "thread.run.step",
            "created_at": self._stamp(self.clock()),
            "run_id": run.data["id"],
            "assistant_id": run.data["assistant_id"],
            "thread_id": run.thread_id,
            "type": kind,
            "status": "in_progress",
            "cancelled_at": None,
            "completed_at": None,
            "expired_at": None,
            "failed_at": None,
            "last_error": None,
            "step_details": details,
            "metadata": {},
            "usage": None,
        }
        run.steps.append(step)
        self._emit(run, "thread.run.step.created", step)
        self._emit(run, "thread.run.step.in_progress", step)
        return step

    def _finish_step(self, run: _Run, step: Dict[str, Any], status: str) -> None:
        step["status"] = status
        step[status + "_at"] = self._stamp(self.clock())
        if status == "completed":
            step["usage"] = copy.deepcopy(_STEP_USAGE)
        if step is run.tool_step:
            run.tool_step = None
        self._emit(run, "thread.run.step." + status, step)

    def _open_tool_step(self, run: _Run, calls: List[Dict[str, Any]]) -> None:
        run.pending_calls = calls
        step = self._new_step(run, "tool_calls", {"type": "tool_calls", "tool_calls": []})
        listed = step["step_details"]["tool_calls"]
        for index, call in enumerate(calls):
            listed.append(copy.deepcopy(call))
            function = call.get("function")
            if isinstance(function, dict):
                listed[-1]["function"]["output"] = None
                # As the model produces them: the call with empty arguments, then the arguments.
                deltas = [
                    {
                        "index": index,
                        "id": call.get("id"),
                        "type": call.get("type"),
                        "function": {"name": function.get("name"), "arguments": "", "output": None},
                    },
                    {
                        "index": index,
                        "type": call.get("type"),
                        "function": {"arguments": function.get("arguments")},
                    },
                ]
            else:
                deltas = [dict(call, index=index)]
            for delta in deltas:
                self._emit(
                    run,
                    "thread.run.step.delta",
                    {
                        "id": step["id"],
                        "object": "thread.run.step.delta",
                        "delta": {"step_details": {"type": "tool_calls", "tool_calls": [delta]}},
                    },
                )
        run.tool_step = step

    def _begin_message(self, run: _Run) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        """The assistant's message begun, and its message_creation step."""
        message = self._add_message(self.threads[run.thread_id], "assistant", [], run)
        details = {"type": "message_creation", "message_creation": {"message_id": message["id"]}}
        step = self._new_step(run, "message_creation", details)
        self._emit(run, "thread.message.created", message)
        self._emit(run, "thread.message.in_progress", message)
        return message, step

    def _stop_steps(self, run: _Run, status: str) -> None:
        """The run failed or expired: so do its steps in progress (with its error), and the
        messages they were writing end incomplete."""
        messages = {m["id"]: m for m in self.threads[run.thread_id].messages}
        for step in run.steps:
            if step["status"] != "in_progress":
                continue
            details = step["step_details"].get("message_creation") or {}
            message = messages.get(details.get("message_id"))
            if message is not None and message["status"] == "in_progress":
                message["status"] = "incomplete"
                message["incomplete_at"] = self._stamp(self.clock())
                message["incomplete_details"] = {"reason": "run_" + status}
                self._emit(run, "thread.message.incomplete", message)
            step["last_error"] = copy.deepcopy(run.data.get("last_error"))
            self._finish_step(run, step, status)

    def _write_message(self, run: _Run, status: str) -> None:
        """The assistant's answer: a message_creation step and its message, streamed as deltas."""
        message, step = self._begin_message(run)
        message_id = message["id"]
        for i, piece in enumerate(_text_pieces(run.message)):
            text: Dict[str, Any] = {"value": piece}
            if i == 0:
                text["annotations"] = []
            delta = {"content": [{"index": 0, "type": "text", "text": text}]}
            self._emit(
                run,
                "thread.message.delta",
                {"id": message_id, "object": "thread.message.delta", "delta": delta},
            )
        message["content"] = [{"type": "text", "text": {"value": run.message, "annotations": []}}]
        now = self._stamp(self.clock())
        if status == "incomplete":
            message["status"] = "incomplete"
            message["incomplete_at"] = now
            message["incomplete_details"] = {"reason": "max_tokens"}
        else:
            message["status"] = "completed"
            message["completed_at"] = now
        self._emit(run, "thread.message." + message["status"], message)
        self._finish_step(run, step, "completed")

    def _stream(self, run: _Run, mine: List[_Event]) -> _StreamReply:
        """The run's event stream (``mine``: its ``run.events``): the events collected so far,
        then each next change of the run, made when the transport draws the next event (so a
        GET between two events shows what the stream said), until the run needs tool outputs
        or ends; then ``done``."""

        def events() -> Iterator[_Event]:
            try:
                while True:
                    with self.lock:
                        if run.events is not mine:
                            break  # another stream (after tool outputs) took the run over
                        if not mine and not self._advance(run, stepwise=True):
                            break
                        batch = mine[:]
                        del mine[:]
                    yield from batch
            finally:
                with self.lock:
                    if run.events is mine:
                        run.events = None
            yield _DONE

        return _StreamReply(events())


# What FastAPI-based servers answer for a 404 of each resource.
_FASTAPI_NOT_FOUND = {
    "run": "Run not found in thread.",
    "thread": "Thread not found.",
    "step": "Run step not found.",
    "message": "Message not found.",
    "url": "Not Found",
}
# pydantic's wording for the validation errors that have one: code -> (msg, type).
_FASTAPI_VALIDATION = {
    "missing_required_parameter": ("Field required", "missing"),
    "unknown_parameter": ("Extra inputs are not permitted", "extra_forbidden"),
}
_QUERY_PARAMS = frozenset({"limit", "order", "after", "before"})


class _FastAPIRunsAPI(_RunsAPI):
    """The dialect of common self-hosted Assistants servers (FastAPI apps): RFC 3339
    timestamps, bare UUID ids, FastAPI's error bodies (422 for validation errors), compact
    JSON, and ``required_action`` null while the run requires action (the tool calls only in
    its steps)."""

    def _new_id(self, prefix: str) -> str:
        return str(uuid.uuid4())

    def _stamp(self, when: float) -> Any:
        moment = datetime.datetime.fromtimestamp(when, datetime.timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def _required_action(self, calls: List[Dict[str, Any]]) -> Any:
        return None

    def encode(self, payload: Any) -> bytes:
        return _encode_text(_compact(payload))

    def error_reply(self, error: _APIError) -> _Reply:
        if error.resource is not None:
            return _Reply(404, self.encode({"detail": _FASTAPI_NOT_FOUND[error.resource]}))
        if error.status == 400 and error.param is not None:
            msg, kind = _FASTAPI_VALIDATION.get(error.code or "", (error.message, "value_error"))
            where = "query" if error.param in _QUERY_PARAMS else "body"
            parts = [p for p in re.split(r"[.\[\]]+", error.param) if p]
            loc: List[Any] = [where] + [int(p) if p.isdigit() else p for p in parts]
            detail = [{"loc": loc, "msg": msg, "type": kind}]
            return _Reply(422, self.encode({"detail": detail}))
        return _Reply(error.status, self.encode({"detail": error.message}))


class _LooseRunsAPI(_RunsAPI):
    """The quirks measured on self-hosted servers that threadrun.lenient reads: a run's
    ``created_at`` in milliseconds in JSON answers (its other timestamps in seconds),
    ``"model": null`` and ``"instructions": null`` for a run created without them, and a
    metadata value that is not a string (``"stream"``: how the run was requested)."""

    def new_run(
        self,
        thread_id: str,
        assistant_id: str,
        script: Tuple[str, ...],
        tool_calls: Tuple[ToolCallSpec, ...],
        after: Tuple[str, ...],
        fields: Mapping[str, Any],
        message: Optional[str] = None,
        events: Optional[List[_Event]] = None,
    ) -> _Run:
        quirks: Dict[str, Any] = {"model": None, "instructions": None}
        quirks.update(fields)
        quirks["metadata"] = dict(quirks.get("metadata") or {}, stream=events is not None)
        return super().new_run(
            thread_id, assistant_id, script, tool_calls, after, quirks, message, events
        )

    def encode(self, payload: Any) -> bytes:
        if isinstance(payload, dict) and payload.get("object") == "list":
            payload = dict(payload, data=[_in_milliseconds(item) for item in payload["data"]])
        return _encode(_in_milliseconds(payload))


def _in_milliseconds(item: Any) -> Any:
    """A run with its created_at in milliseconds; anything else as it is."""
    if not isinstance(item, dict) or item.get("object") != "thread.run":
        return item
    created = item.get("created_at")
    if not isinstance(created, int) or isinstance(created, bool):
        return item
    return dict(item, created_at=created * 1000 + 780)


# FakeRunsServer(flavour=...) -> the API it emulates.
_FLAVOURS = {"openai": _RunsAPI, "fastapi": _FastAPIRunsAPI, "loose": _LooseRunsAPI}


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


def _encode_text(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate a client sent: escaped, as _encode does
        return text.encode("utf-8", "backslashreplace")


def _pieces(raw: bytes, size: Optional[int], awkward: bool) -> List[bytes]:
    """``raw`` cut every ``size`` bytes and, if ``awkward``, inside each multi-byte UTF-8
    character, between each CR and LF and inside each ``data:`` field name."""
    cuts = set(range(size, len(raw), size)) if size else set()
    if awkward:
        for i, byte in enumerate(raw):
            if byte >= 0xC0:  # the lead byte of a multi-byte character: cut after it
                cuts.add(i + 1)
        cuts.update(m.start() + 1 for m in re.finditer(b"\r\n", raw))
        cuts.update(m.start() + 2 for m in re.finditer(b"(?m)^data:", raw))
    bounds = [0, *sorted(cuts), len(raw)]
    return [raw[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


class _StreamLog:
    """What one stream sent, kept for ``FakeRunsServer.streams``."""

    def __init__(self, request: RecordedRequest, lock: Any) -> None:
        self.request = request
        self.lock = lock
        self.events: List[Tuple[str, str]] = []
        self.raw: List[bytes] = []
        self.finished = False
        self.ended = False

    def add(self, name: str, data: str, raw: bytes) -> None:
        with self.lock:
            self.events.append((name, data))
            self.raw.append(raw)
            self.finished = name == "done"

    def end(self) -> None:
        with self.lock:
            self.ended = True

    def snapshot(self) -> RecordedStream:
        with self.lock:
            events = [(n, _decoded_data(d)) for n, d in self.events]
            body = b"".join(self.raw)
            return RecordedStream(self.request, events, body, self.finished, self.ended)


def _decoded_data(data: str) -> Any:
    """An event's data as RecordedStream gives it: decoded JSON, else the text as sent."""
    try:
        return json.loads(data)
    except ValueError:
        return data


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
        else:
            if fault.delay:
                fake._stopping.wait(fault.delay)  # stop() cuts the wait short
            if fault.drop and fault.after_events is None and fault.after_event is None:
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
                if fault.pad_to is not None and isinstance(reply, _Reply):
                    reply.body = _pad(reply.body, fault.pad_to)
        if isinstance(reply, _StreamReply):
            self._send_stream(fake, request, reply, fault or Fault(), close)
            return
        headers = reply.headers if fault is None else _merge_headers(reply.headers, fault.headers)
        self._send(reply.status, headers, reply.body, close)

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

    def _send_stream(
        self,
        fake: FakeRunsServer,
        request: RecordedRequest,
        reply: _StreamReply,
        fault: Fault,
        close: bool,
    ) -> None:
        """Send the events as ``text/event-stream``, each as soon as it is drawn, in HTTP/1.1
        chunks (to an HTTP/1.0 client: until the connection closes), with the fault's stream
        misbehaviour."""
        self.responded = True
        log = fake._stream_opened(request)  # before the headers: a client finds it recorded
        chunked = self.request_version == "HTTP/1.1"
        self.send_response(200)
        headers = _merge_headers(
            {
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "x-request-id": "req_" + secrets.token_hex(16),
            },
            fault.headers,
        )
        for name, value in headers.items():
            lower = name.lower()
            if lower == "connection":
                close = close or value.strip().lower() == "close"
            elif lower not in ("content-length", "transfer-encoding"):  # the framing is ours
                self.send_header(name, value)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        if close or not chunked:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.flush()
        eol = fault.line_ending
        sent = 0
        last = None  # the name of the last event sent
        struck = False
        try:
            while True:
                # The fault strikes before the next event is drawn (drawing moves the run on):
                # during a stall, the run is where the events sent so far left it.
                if not struck and (
                    sent == fault.after_events
                    or (fault.after_event is not None and last == fault.after_event)
                ):
                    struck = True
                    self._stall(fake, fault.stall)
                    for name, data in fault.events:
                        data = data if isinstance(data, str) else _compact(data)
                        self._send_event(log, name, data, eol, fault, chunked)
                    if fault.error_event is not None:
                        error = dict(fault.error_event)
                        data = _compact(error if fault.error_bare else {"error": error})
                        self._send_event(log, "error", data, eol, fault, chunked)
                        break
                    if fault.drop:
                        self.close_connection = True  # mid-body: the client sees it cut
                        return
                event = next(reply.events, None)
                if event is None:
                    break
                if event[0] == "done" and chunked:
                    # The end of the body leaves with done, as the API sends it: a client
                    # has both at once (the run is final: done is drawn last).
                    self._send_event(log, "done", event[1], eol, fault, chunked, last=True)
                    return
                self._send_event(log, event[0], event[1], eol, fault, chunked)
                sent += 1
                last = event[0]
        finally:
            log.end()
            for _ in reply.events:
                pass  # the run carries on to where its stream would have left it
        # Only now, so that a client that sees the end of the body sees the run's final state.
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    def _stall(self, fake: FakeRunsServer, stall: Union[float, threading.Event, None]) -> None:
        if isinstance(stall, threading.Event):
            # Until the test sets it, or the server stops.
            while not stall.wait(0.05) and not fake._stopping.is_set():
                pass
        elif stall:
            fake._stopping.wait(stall)

    def _send_event(
        self,
        log: _StreamLog,
        name: str,
        data: str,
        eol: str,
        fault: Fault,
        chunked: bool,
        last: bool = False,
    ) -> None:
        """One event; ``last``: the end of the chunked body goes in its last write."""
        raw = _encode_text("event: %s%sdata: %s%s%s" % (name, eol, data, eol, eol))
        log.add(name, data, raw)  # first: a client that got the event finds it recorded
        if last:
            log.end()
        pieces = _pieces(raw, fault.chunk_bytes, fault.split_awkwardly)
        for index, piece in enumerate(pieces):
            if chunked:
                piece = b"%x\r\n%s\r\n" % (len(piece), piece)
                if last and index == len(pieces) - 1:
                    piece += b"0\r\n\r\n"
            self.wfile.write(piece)
            self.wfile.flush()  # each piece leaves on its own (TCP_NODELAY is set)

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
    without ``OpenAI-Beta: assistants=v2``; ``default_message`` is the text of the message a
    run writes when it completes. All these are also attributes that can be changed while the
    server runs; the scripts are checked when set (ValueError), not on each request.
    ``flavour`` (read-only) is ``"openai"`` (the API reference), ``"fastapi"`` or ``"loose"``
    (see the module's documentation).
    """

    clock = _APISetting()
    poll_after_ms = _APISetting()
    default_statuses = _APISetting()
    default_tool_calls = _APISetting()
    default_after_tool_outputs = _APISetting()
    default_message = _APISetting()
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
        default_message: str = _DEFAULT_MESSAGE,
        flavour: str = "openai",
    ) -> None:
        if flavour not in _FLAVOURS:
            raise ValueError("flavour must be one of %s, got %r" % (sorted(_FLAVOURS), flavour))
        self._flavour = flavour
        self._api = _FLAVOURS[flavour](
            clock=clock,
            poll_after_ms=poll_after_ms,
            default_statuses=default_statuses,
            default_tool_calls=default_tool_calls,
            default_after_tool_outputs=default_after_tool_outputs,
            default_message=default_message,
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
        self._streams: List[_StreamLog] = []
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
    def flavour(self) -> str:
        """The dialect the server speaks: ``"openai"``, ``"fastapi"`` or ``"loose"``."""
        return self._flavour

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
            thread_id = self._api._new_id("thread")
        self._api.add_thread(thread_id)
        return thread_id

    def add_run(
        self,
        thread_id: str = "thread_1",
        *,
        statuses: Sequence[str] = ("queued", "in_progress", "requires_action"),
        tool_calls: Optional[Sequence[ToolCallSpec]] = None,
        after_tool_outputs: Sequence[str] = ("in_progress", "completed"),
        message: Optional[str] = None,
        **fields: Any,
    ) -> Dict[str, Any]:
        """Store a run in ``thread_id`` (created if needed) and return a copy of its raw dict.

        The run starts in ``statuses[0]``; each GET moves it to the next status. A
        ``requires_action`` step carries ``tool_calls`` (``(name, arguments)`` pairs, arguments a
        JSON string or a value to encode, given fresh ``call_...`` ids; or raw tool-call dicts
        sent verbatim; default one ``get_current_weather`` call). Accepted tool outputs move the
        run to the status after that step, or along ``after_tool_outputs`` when the script ends
        there. On ``completed`` (or ``incomplete``) the run writes the assistant's ``message``
        (default ``default_message``) to its thread. ``fields`` (e.g. ``id``, ``created_at``,
        ``model``, ``last_error``, or unknown keys) are set on top of the run as created; later
        status changes fill timestamps, ``usage``, ``last_error`` and ``incomplete_details`` only
        where they are still None.
        """
        script = _check_statuses("statuses", statuses)
        calls = _check_tool_calls(tool_calls)
        after = _check_statuses("after_tool_outputs", after_tool_outputs)
        text = None if message is None else _check_message(message)
        with self._api.lock:
            run = self._api.new_run(thread_id, "asst_fake", script, calls, after, fields, text)
            return copy.deepcopy(run.data)

    def get_run(self, run_id: str) -> Dict[str, Any]:
        """A copy of the stored run's raw dict, without advancing it (KeyError if unknown)."""
        with self._api.lock:
            return copy.deepcopy(self._api.runs[run_id].data)

    def get_steps(self, run_id: str) -> List[Dict[str, Any]]:
        """Copies of the run's steps, oldest first (KeyError if the run is unknown)."""
        with self._api.lock:
            return copy.deepcopy(self._api.runs[run_id].steps)

    def get_messages(self, thread_id: str) -> List[Dict[str, Any]]:
        """Copies of the thread's messages, oldest first (KeyError if the thread is unknown)."""
        with self._api.lock:
            return copy.deepcopy(self._api.threads[thread_id].messages)

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
    def streams(self) -> List[RecordedStream]:
        """Snapshots of every event stream sent (or being sent), oldest first."""
        with self._lock:
            logs = list(self._streams)
        return [log.snapshot() for log in logs]

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
            self._streams.clear()
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

    def _stream_opened(self, request: RecordedRequest) -> _StreamLog:
        log = _StreamLog(request, self._lock)
        with self._lock:
            self._streams.append(log)
        return log

    def _record(self, request: RecordedRequest) -> Optional[Fault]:
        """Record the request and take the first queued fault that matches it."""
        body = request.json
        stream = isinstance(body, dict) and body.get("stream") is True
        with self._lock:
            self._requests.append(request)
            for entry in self._faults:
                fault: Fault = entry[0]
                if fault.matches(request.method, request.path, stream):
                    entry[1] -= 1
                    if entry[1] == 0:
                        self._faults.remove(entry)
                    return fault
        return None


# --------------------------------------------------------------------------------------------
# python -m threadrun.testing: the fake server in the foreground
# --------------------------------------------------------------------------------------------


class _Stop(Exception):
    """Ctrl-C or SIGTERM: stop serving."""


def _stop(signum: int, frame: Any) -> None:
    # Once: a second signal while the server shuts down must not interrupt the shutdown.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Stop


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m threadrun.testing``: serve until Ctrl-C or SIGTERM, then exit 0. The first
    line of standard output is the base URL, for a test suite in another process (or
    another language) to read."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m threadrun.testing",
        description="Run the fake Runs API in the foreground, on loopback: the first line "
        "of stdout is its base URL; Ctrl-C or SIGTERM stops it (exit status 0).",
    )
    parser.add_argument("--host", default=_HOST,
                        help="the address to bind: %s only (the fake never listens beyond "
                        "this machine)" % _HOST)  # fmt: skip
    parser.add_argument("--port", type=int, default=0,
                        help="the port (default 0: any free port)")  # fmt: skip
    parser.add_argument("--api-key", metavar="KEY",
                        help="require 'Authorization: Bearer KEY' (default: any key)")
    parser.add_argument("--flavour", choices=sorted(_FLAVOURS), default="openai",
                        help="the dialect to speak (default openai)")
    args = parser.parse_args(argv)
    if args.host != _HOST:
        parser.error("--host must be %s: the fake never listens beyond this machine" % _HOST)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be from 0 to 65535")
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    server = FakeRunsServer(port=args.port, api_key=args.api_key, flavour=args.flavour)
    try:
        try:
            server.start()
        except OSError as exc:
            sys.stderr.write("python -m threadrun.testing: cannot listen: %s\n" % exc)
            return 1
        sys.stdout.write(server.base_url + "\n")
        sys.stdout.flush()
        while True:
            time.sleep(3600)
    except _Stop:
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
