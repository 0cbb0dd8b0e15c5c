"""threadrun: the Run object of the Assistants "Thread Runs" API, and a client for its endpoints.

One self-contained, standard-library-only file: copy it alone as ``threadrun.py`` into any
project (an AWS Lambda function, a locked-down server) and it is the whole library.

    >>> run = ThreadRun.from_json(body)          # validate, keep every unknown key in .extra
    >>> run.status, run.is_terminal, run.tool_calls
    >>> run.to_dict() == json.loads(body)        # lossless

Importing it is cheap: the HTTP client imports ``http.client``, ``urllib`` and ``ssl`` only
when a :class:`Client` is first created.

Errors::

    Exception
     +-- ThreadRunError (ValueError)     invalid run data: .field .line .column .request_id
     +-- OpenAIError                     configuration errors (missing key, insecure URL, ...)
          +-- InvalidIdError (ValueError)  a thread or run id that could change the request path
          +-- APIError                   .message .request_id .body
               +-- APIStatusError        .status_code .type .code .param .headers
               |    +-- BadRequestError            400
               |    +-- AuthenticationError        401
               |    +-- PermissionDeniedError      403
               |    +-- NotFoundError              404
               |    +-- ConflictError              409
               |    +-- UnprocessableEntityError   422
               |    +-- RateLimitError             429
               |    +-- InternalServerError        >= 500
               +-- APIConnectionError    the server could not be reached or dropped the connection
               |    +-- APITimeoutError
               +-- ResponseTooLargeError  the body is larger than max_response_bytes
               +-- PollTimeoutError      poll() passed its deadline: .run is the last run seen

The client errors carry the official SDK's names, so ``except`` clauses port unchanged.
"""

from __future__ import annotations

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ConflictError",
    "InternalServerError",
    "InvalidIdError",
    "NotFoundError",
    "OpenAIError",
    "PermissionDeniedError",
    "PollTimeoutError",
    "RateLimitError",
    "ResponseTooLargeError",
    "RunStatus",
    "ThreadRun",
    "ThreadRunError",
    "ToolCall",
    "UnprocessableEntityError",
]

__version__ = "0.1.0"

# --------------------------------------------------------------------------------------------
# Imports. Only what the model needs; the client imports its network modules lazily.
# --------------------------------------------------------------------------------------------

import json
import os
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

# ``typing`` costs milliseconds to import and the model needs it only for annotations, which
# ``from __future__ import annotations`` keeps as strings. mypy treats this name as True.
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    import http.client
    import ssl
    from typing import Any, Callable, Dict, Iterator, List, NoReturn, Optional, Tuple, Union

# --------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------

# The 20 fields of the reference type, in its order. ``extra`` holds every other key.
_FIELDS = (
    "id", "object", "created_at", "thread_id", "assistant_id", "status", "required_action",
    "last_error", "expires_at", "started_at", "cancelled_at", "failed_at", "completed_at",
    "incomplete_details", "model", "instructions", "tools", "metadata", "usage", "extra",
)  # fmt: skip
_KNOWN_KEYS = frozenset(_FIELDS[:-1])
_REQUIRED_KEYS = ("id", "object", "created_at", "thread_id", "assistant_id", "status", "model")
_TIMESTAMP_LIMIT = 2**64  # timestamps are u64 in the reference type
_SHORT_REPR = 40  # characters of a bad value an error message may quote


class RunStatus:
    """The documented values of ``ThreadRun.status`` (any other string is kept as given)."""

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    REQUIRES_ACTION = "requires_action"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    FAILED = "failed"
    COMPLETED = "completed"
    INCOMPLETE = "incomplete"
    EXPIRED = "expired"
    #: The statuses a run never leaves.
    TERMINAL = frozenset((CANCELLED, FAILED, COMPLETED, INCOMPLETE, EXPIRED))
    #: All nine documented statuses.
    ALL = TERMINAL | {QUEUED, IN_PROGRESS, REQUIRES_ACTION, CANCELLING}


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class ThreadRunError(ValueError):
    """Run data that is not a valid run.

    ``field`` names where the problem is (``"created_at"``, ``"metadata['k']"``) or is None
    for a problem with the whole document; ``line`` and ``column`` locate JSON syntax errors;
    ``request_id`` is set when the data came from an API response.
    """

    def __init__(
        self,
        message: str,
        field: Optional[str] = None,
        line: Optional[int] = None,
        column: Optional[int] = None,
    ) -> None:
        if field is not None:
            message = field + ": " + message
        super().__init__(message)
        self.field = field
        self.line = line
        self.column = column
        self.request_id: Optional[str] = None

    def __reduce__(self) -> Any:
        # The message already carries the field prefix; restore the attributes as state.
        return (ThreadRunError, (self.args[0],), self.__dict__)


class OpenAIError(Exception):
    """Root of the client's errors; raised itself for a configuration error."""


class InvalidIdError(OpenAIError, ValueError):
    """A thread or run id that is empty or could change the request's path or query."""


class APIError(OpenAIError):
    """A request to the API failed."""

    def __init__(self, message: str, *, request_id: Optional[str] = None, body: Any = None):
        super().__init__(message)
        self.message = message
        self.request_id = request_id
        self.body = body


class APIStatusError(APIError):
    """The server answered with an error status (4xx, 5xx, or a redirect not followed)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        headers: Optional[Dict[str, str]] = None,
        body: Any = None,
        request_id: Optional[str] = None,
    ) -> None:
        super().__init__(message, request_id=request_id, body=body)
        self.status_code = status_code
        self.headers = headers or {}
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            error = {}
        self.type: Optional[str] = _str_or_none(error.get("type"))
        self.code: Optional[str] = _str_or_none(error.get("code"))
        self.param: Optional[str] = _str_or_none(error.get("param"))

    def __reduce__(self) -> Any:
        return (_rebuild_error, (type(self), self.__dict__))


class BadRequestError(APIStatusError):
    """HTTP 400."""


class AuthenticationError(APIStatusError):
    """HTTP 401."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403."""


class NotFoundError(APIStatusError):
    """HTTP 404."""


class ConflictError(APIStatusError):
    """HTTP 409."""


class UnprocessableEntityError(APIStatusError):
    """HTTP 422."""


class RateLimitError(APIStatusError):
    """HTTP 429."""


class InternalServerError(APIStatusError):
    """HTTP 500 and above."""


class APIConnectionError(APIError):
    """The server could not be reached, or the connection broke mid-request."""


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class ResponseTooLargeError(APIError):
    """The response body was larger than the client's ``max_response_bytes``."""


class PollTimeoutError(APIError, TimeoutError):
    """``poll`` reached its deadline before the run stopped moving; ``.run`` is the last seen."""

    def __init__(self, message: str, *, run: ThreadRun) -> None:
        super().__init__(message, request_id=None)
        self.run = run

    def __reduce__(self) -> Any:
        return (_rebuild_error, (type(self), self.__dict__))


_STATUS_ERRORS = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def _rebuild_error(cls: type, state: Dict[str, Any]) -> BaseException:
    # Keyword-only constructors do not survive BaseException's default pickling.
    error: BaseException = Exception.__new__(cls)
    error.args = (state.get("message", ""),)
    error.__dict__.update(state)
    return error


def _str_or_none(value: Any) -> Optional[str]:
    return None if value is None else str(value)


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolCall:
    """One function call a ``requires_action`` run asks for."""

    __slots__ = ("id", "name", "arguments")
    id: str
    name: str
    #: The arguments as the model wrote them: a JSON string, not parsed.
    arguments: str


@dataclass(frozen=True)
class ThreadRun:
    """A run of an assistant on a thread, as ``GET /v1/threads/{thread_id}/runs/{run_id}``
    returns it.

    Frozen, with ``__slots__``. Build one with :meth:`from_dict` or :meth:`from_json`, which
    validate the fields and keep every key the class has no field for in ``extra``;
    :meth:`to_dict` and :meth:`to_json` give back exactly what was parsed.

    Fields typed ``Any`` hold any JSON value. Containers are not copied: ``tools``,
    ``metadata`` and the values of ``extra`` are the very objects of the parsed data, and
    only the top level is frozen (use :func:`copy.deepcopy` for an independent copy).

    Equal runs have equal hashes: ``hash(run)`` is computed from ``id``, ``thread_id``,
    ``status`` and ``created_at`` (the other fields may hold dicts), so runs can be put in
    sets and used as dict keys.
    """

    __slots__ = _FIELDS
    id: str
    object: str
    created_at: int
    thread_id: str
    assistant_id: str
    status: str
    required_action: Optional[Any]
    last_error: Optional[Any]
    expires_at: Optional[int]
    started_at: Optional[int]
    cancelled_at: Optional[int]
    failed_at: Optional[int]
    completed_at: Optional[int]
    incomplete_details: Optional[Any]
    model: str
    instructions: Optional[str]
    tools: List[Any]
    metadata: Dict[str, str]
    usage: Optional[Any]
    extra: Dict[str, Any]

    def __post_init__(self) -> None:
        # Direct construction (and dataclasses.replace, pickle, copy) is held to the same
        # rules as from_dict, so every ThreadRun in existence is a valid one.
        for name, check in _CHECKS:
            check(getattr(self, name), name)
        _check_extra(self.extra)

    def __hash__(self) -> int:
        return hash((self.id, self.thread_id, self.status, self.created_at))

    def __reduce__(self) -> Any:
        # The default reduction of a slotted object restores state with setattr, which a
        # frozen dataclass refuses; rebuild through __init__ (and its validation) instead.
        return (ThreadRun, tuple([getattr(self, name) for name in _FIELDS]))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ThreadRun:
        """Validate a decoded run object and build a ThreadRun from it.

        Required: ``id``, ``object``, ``created_at``, ``thread_id``, ``assistant_id``,
        ``status``, ``model``. Optional fields absent or null become None; ``tools`` and
        ``metadata`` absent or null become ``[]`` and ``{}``. Any other key goes to ``extra``
        with its value untouched. ``data`` is never modified.

        Raises :class:`ThreadRunError` naming the field for any invalid input.
        """
        # The hot path, unrolled: one C-level copy of the dict, then one pop per known
        # field, which both reads the value and leaves exactly the unknown keys behind, in
        # their original order. Checks take exact types only (what json.loads produces);
        # anything unusual (a subclass, a missing key, a wrong type) goes to the slow path,
        # which is the reference implementation and says precisely what is wrong.
        if type(data) is not dict:
            return _from_mapping_slow(data)
        extra: Dict[str, Any] = {}
        try:
            # dict.update(**data) refuses a non-string key in C, in constant time for a dict
            # that CPython already knows holds only strings: the cheapest honest check of
            # the unknown keys, and the copy that the pops below split.
            extra.update(**data)
        except TypeError:
            return _from_mapping_slow(data)
        pop = extra.pop
        try:
            run_id = pop("id")
            object_ = pop("object")
            created_at = pop("created_at")
            thread_id = pop("thread_id")
            assistant_id = pop("assistant_id")
            status = pop("status")
            model = pop("model")
        except KeyError:
            return _from_mapping_slow(data)
        expires_at = pop("expires_at", None)
        started_at = pop("started_at", None)
        cancelled_at = pop("cancelled_at", None)
        failed_at = pop("failed_at", None)
        completed_at = pop("completed_at", None)
        instructions = pop("instructions", None)
        tools = pop("tools", None)
        metadata = pop("metadata", None)
        if not (
            type(run_id) is str
            and type(object_) is str
            and type(thread_id) is str
            and type(assistant_id) is str
            and type(status) is str
            and type(model) is str
            and type(created_at) is int
            and 0 <= created_at < _TIMESTAMP_LIMIT
            and (expires_at is None or type(expires_at) is int and 0 <= expires_at < _TIMESTAMP_LIMIT)
            and (started_at is None or type(started_at) is int and 0 <= started_at < _TIMESTAMP_LIMIT)
            and (cancelled_at is None or type(cancelled_at) is int and 0 <= cancelled_at < _TIMESTAMP_LIMIT)
            and (failed_at is None or type(failed_at) is int and 0 <= failed_at < _TIMESTAMP_LIMIT)
            and (completed_at is None or type(completed_at) is int and 0 <= completed_at < _TIMESTAMP_LIMIT)
            and (instructions is None or type(instructions) is str)
            and (type(tools) is list or tools is None)
            and (type(metadata) is dict or metadata is None)
        ):  # fmt: skip
            return _from_mapping_slow(data)
        if tools is None:
            tools = []
        if metadata is None:
            metadata = {}
        elif metadata:
            try:
                # One str.join type-checks every metadata key and value in C.
                "".join([*metadata, *metadata.values()])
            except TypeError:
                return _from_mapping_slow(data)
        run = _new_object(_RunBuilder)
        run.id = run_id
        run.object = object_
        run.created_at = created_at
        run.thread_id = thread_id
        run.assistant_id = assistant_id
        run.status = status
        run.required_action = pop("required_action", None)
        run.last_error = pop("last_error", None)
        run.expires_at = expires_at
        run.started_at = started_at
        run.cancelled_at = cancelled_at
        run.failed_at = failed_at
        run.completed_at = completed_at
        run.incomplete_details = pop("incomplete_details", None)
        run.model = model
        run.instructions = instructions
        run.tools = tools
        run.metadata = metadata
        run.usage = pop("usage", None)
        run.extra = extra
        run.__class__ = ThreadRun
        if cls is not ThreadRun:  # a subclass may have another layout: use its __init__
            return cls(*[getattr(run, name) for name in _FIELDS])
        return run  # type: ignore[return-value]

    @classmethod
    def from_json(cls, text: Union[str, bytes, bytearray]) -> ThreadRun:
        """Parse a JSON run object (``str``, or UTF-8 ``bytes``/``bytearray``).

        Raises :class:`ThreadRunError` for anything that is not one valid run object: JSON
        syntax errors (with ``line`` and ``column``), NaN and Infinity, nesting too deep,
        integers beyond Python's digit limit, invalid UTF-8, and every error of
        :meth:`from_dict`.
        """
        try:
            data = _decode(text)
        except ThreadRunError:
            raise
        except json.JSONDecodeError as exc:
            raise ThreadRunError(
                "invalid JSON: %s at line %d column %d" % (exc.msg, exc.lineno, exc.colno),
                line=exc.lineno,
                column=exc.colno,
            ) from None
        except UnicodeDecodeError as exc:
            raise ThreadRunError(
                "invalid UTF-8: byte %d (%s)" % (exc.start, exc.reason)
            ) from None
        except RecursionError:
            raise ThreadRunError("invalid JSON: nested too deeply") from None
        except ValueError as exc:  # integer digit limit, and the like
            raise ThreadRunError("invalid JSON: %s" % _shorten(str(exc), 120)) from None
        if type(data) is not dict:
            raise ThreadRunError(
                "expected a JSON object at the top level, got " + _describe(data)
            )
        return cls.from_dict(data)

    def to_dict(self) -> Dict[str, Any]:
        """A new dict of the known fields (in class order) followed by the keys of ``extra``.

        ``ThreadRun.from_dict(run.to_dict()) == run`` always holds. Nested containers are
        shared with the run, not copied.
        """
        data = {
            "id": self.id,
            "object": self.object,
            "created_at": self.created_at,
            "thread_id": self.thread_id,
            "assistant_id": self.assistant_id,
            "status": self.status,
            "required_action": self.required_action,
            "last_error": self.last_error,
            "expires_at": self.expires_at,
            "started_at": self.started_at,
            "cancelled_at": self.cancelled_at,
            "failed_at": self.failed_at,
            "completed_at": self.completed_at,
            "incomplete_details": self.incomplete_details,
            "model": self.model,
            "instructions": self.instructions,
            "tools": self.tools,
            "metadata": self.metadata,
            "usage": self.usage,
        }
        extra = self.extra
        if extra:
            data.update(extra)
            if len(data) != 19 + len(extra):
                # Someone put a known field's name into run.extra after construction:
                # the field wins, so an extra key can never overwrite it.
                for name in _FIELDS[:-1]:
                    data[name] = getattr(self, name)
        return data

    def to_json(self) -> str:
        """Compact standard JSON (no NaN or Infinity) of :meth:`to_dict`."""
        try:
            return _ENCODER.encode(self.to_dict())
        except (TypeError, ValueError, RecursionError) as exc:
            raise ThreadRunError(
                "cannot be written as JSON: %s" % _shorten(str(exc), 120)
            ) from None

    @property
    def is_terminal(self) -> bool:
        """True when the status is one the run never leaves (completed, failed, ...)."""
        return self.status in _TERMINAL

    @property
    def tool_calls(self) -> Tuple[ToolCall, ...]:
        """The function calls ``required_action`` asks for, in order; empty when none.

        Raises :class:`ThreadRunError` naming the path when ``required_action`` is malformed.
        """
        action = self.required_action
        if action is None:
            return ()
        path = "required_action"
        if type(action) is not dict:
            raise ThreadRunError("expected an object, got " + _describe(action), path)
        if "submit_tool_outputs" not in action and action.get("type") != "submit_tool_outputs":
            return ()  # an action type of the future: not ours to reject
        outputs = _get_typed(action, "submit_tool_outputs", dict, path)
        path += "['submit_tool_outputs']"
        calls = _get_typed(outputs, "tool_calls", list, path)
        path += "['tool_calls']"
        result = []
        for index, call in enumerate(calls):
            call_path = "%s[%d]" % (path, index)
            if type(call) is not dict:
                raise ThreadRunError("expected an object, got " + _describe(call), call_path)
            if call.get("type", "function") != "function":
                continue
            call_id = _get_typed(call, "id", str, call_path)
            function = _get_typed(call, "function", dict, call_path)
            call_path += "['function']"
            name = _get_typed(function, "name", str, call_path)
            arguments = _get_typed(function, "arguments", str, call_path)
            result.append(ToolCall(call_id, name, arguments))
        return tuple(result)


class _RunBuilder:
    # Same slots as ThreadRun, without its frozen __setattr__, so from_dict can fill an
    # instance with plain attribute stores (each a fraction of the object.__setattr__ call a
    # frozen dataclass's __init__ makes) and then give it its real class: the layouts are
    # identical, so CPython allows the __class__ assignment.
    __slots__ = _FIELDS


_new_object = object.__new__
_TERMINAL = RunStatus.TERMINAL
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)

# --------------------------------------------------------------------------------------------
# Parsing: the reference (slow) path, error messages, JSON decoding
# --------------------------------------------------------------------------------------------


def _describe(value: Any) -> str:
    """Type and a short repr of a bad value: enough to find it, never a whole payload."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean " + repr(value).lower()
    name = {
        int: "integer", float: "number", str: "string", list: "array", dict: "object",
    }.get(type(value)) or type(value).__name__  # fmt: skip
    return "%s %s" % (name, _shorten(repr(value), _SHORT_REPR))


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return "%s... (%d characters)" % (text[: limit - 8], len(text))


def _check_str(value: Any, field: str) -> Any:
    if not isinstance(value, str):
        raise ThreadRunError("expected a string, got " + _describe(value), field)
    return value


def _check_optional_str(value: Any, field: str) -> Any:
    return None if value is None else _check_str(value, field)


def _check_timestamp(value: Any, field: str) -> Any:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ThreadRunError(
            "expected an integer timestamp, got " + _describe(value), field
        )
    if not 0 <= value < _TIMESTAMP_LIMIT:
        raise ThreadRunError(
            "expected a timestamp from 0 to 2**64-1, got " + _describe(value), field
        )
    return value


def _check_optional_timestamp(value: Any, field: str) -> Any:
    return None if value is None else _check_timestamp(value, field)


def _check_any(value: Any, field: str) -> Any:
    return value


def _check_tools(value: Any, field: str) -> Any:
    if not isinstance(value, list):
        raise ThreadRunError("expected an array, got " + _describe(value), field)
    return value


def _check_metadata(value: Any, field: str) -> Any:
    if not isinstance(value, dict):
        raise ThreadRunError("expected an object, got " + _describe(value), field)
    for key, item in value.items():
        if not isinstance(key, str):
            raise ThreadRunError(
                "expected string keys, got " + _describe(key), field
            )
        if not isinstance(item, str):
            raise ThreadRunError(
                "expected a string, got " + _describe(item), "%s[%s]" % (field, _key_repr(key))
            )
    return value


def _check_extra(extra: Any) -> None:
    if not isinstance(extra, dict):
        raise ThreadRunError("expected a dict, got " + _describe(extra), "extra")
    for key in extra:
        if not isinstance(key, str):
            raise ThreadRunError("expected string keys, got " + _describe(key), "extra")
        if key in _KNOWN_KEYS:
            raise ThreadRunError(
                "is a field of ThreadRun, not an extra key", "extra[%s]" % _key_repr(key)
            )


def _key_repr(key: str) -> str:
    return repr(_shorten(key, _SHORT_REPR))


# (field, check) for the 19 known fields, in class order. The checks accept what the
# fast path accepts plus subclasses of the JSON types.
_CHECKS = (
    ("id", _check_str),
    ("object", _check_str),
    ("created_at", _check_timestamp),
    ("thread_id", _check_str),
    ("assistant_id", _check_str),
    ("status", _check_str),
    ("required_action", _check_any),
    ("last_error", _check_any),
    ("expires_at", _check_optional_timestamp),
    ("started_at", _check_optional_timestamp),
    ("cancelled_at", _check_optional_timestamp),
    ("failed_at", _check_optional_timestamp),
    ("completed_at", _check_optional_timestamp),
    ("incomplete_details", _check_any),
    ("model", _check_str),
    ("instructions", _check_optional_str),
    ("tools", _check_tools),
    ("metadata", _check_metadata),
    ("usage", _check_any),
)


def _from_mapping_slow(data: Any) -> ThreadRun:
    """from_dict's reference implementation: every rule, one field at a time, in order."""
    if not isinstance(data, Mapping):
        raise ThreadRunError("expected a JSON object (dict), got " + _describe(data))
    for key in _REQUIRED_KEYS:
        if key not in data:
            raise ThreadRunError("required key is missing", key)
    values = []
    for name, check in _CHECKS:
        value = data.get(name)
        if value is None and name in ("tools", "metadata"):
            value = [] if name == "tools" else {}
        values.append(check(value, name))
    extra = {}
    for key in data:
        if key not in _KNOWN_KEYS:
            if not isinstance(key, str):
                raise ThreadRunError("expected string keys, got " + _describe(key), "extra")
            extra[key] = data[key]
    run = _new_object(_RunBuilder)
    for name, value in zip(_FIELDS, values):
        setattr(run, name, value)
    run.extra = extra
    run.__class__ = ThreadRun
    return run  # type: ignore[return-value]


def _get_typed(container: Dict[str, Any], key: str, expected: type, path: str) -> Any:
    value = container.get(key)
    if type(value) is not expected and not isinstance(value, expected):
        what = {str: "a string", list: "an array", dict: "an object"}[expected]
        raise ThreadRunError(
            "expected %s, got %s" % (what, _describe(value)), "%s[%r]" % (path, key)
        )
    return value


def _reject_constant(name: str) -> NoReturn:
    raise ThreadRunError("invalid JSON: %s is not a JSON number" % name)


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _decode(text: Any) -> Any:
    if type(text) is not str:
        if not isinstance(text, (bytes, bytearray)):
            if isinstance(text, str):
                text = str(text)
            else:
                raise ThreadRunError(
                    "expected str, bytes or bytearray, got " + type(text).__name__
                )
        elif text[:1] == b"{":
            text = text.decode("utf-8")
        else:
            # A BOM, or UTF-16/32 as json.loads accepts them: let json detect it.
            text = text.decode(json.detect_encoding(text))
    if not text or text.isspace():
        raise ThreadRunError("invalid JSON: the document is empty", line=1, column=1)
    return _DECODER.decode(text)


# --------------------------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------------------------
