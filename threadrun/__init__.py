"""threadrun: the Run object of the Assistants "Thread Runs" API, and a client for its endpoints.

One self-contained, standard-library-only file: copy it alone as ``threadrun.py`` into any
project (an AWS Lambda function, a locked-down server) and it is the whole library.

    >>> run = ThreadRun.from_json(body)          # validate, keep every unknown key in .extra
    >>> run.status, run.is_terminal, run.tool_calls
    >>> run.to_dict() == json.loads(body)        # lossless: absent stays absent, null null

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

import dataclasses
import json
import os
import sys
import time
from collections import namedtuple
from collections.abc import Mapping
from dataclasses import dataclass
from operator import attrgetter
from types import ModuleType, SimpleNamespace

# ``typing`` costs milliseconds to import (10% of the time to start Python and import this
# module) and the model needs it only for annotations, which ``from __future__ import
# annotations`` keeps as strings. mypy treats this name as True.
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    import http.client
    import ssl
    from typing import (
        Any,
        Callable,
        Dict,
        Iterator,
        List,
        NamedTuple,
        NoReturn,
        Optional,
        Tuple,
        Union,
    )  # fmt: skip
_TYPING_NAMES = (
    "Any", "Callable", "Dict", "Iterator", "List", "NamedTuple", "NoReturn", "Optional", "Tuple",
    "Union",
)  # fmt: skip


class _Module(ModuleType):
    # typing.get_type_hints(), inspect.get_annotations() and pydantic evaluate the annotation
    # strings of ThreadRun in this module's namespace, which they reach as module.__dict__:
    # that attribute imports typing and adds the names above the first time it is read once
    # the module is imported (@dataclass reads it too, while it is being imported). The
    # module's own code reads its globals directly, never through it, so it never pays.
    @property
    def __dict__(self) -> Dict[str, Any]:  # type: ignore[override]
        namespace = globals()
        importing = getattr(namespace.get("__spec__"), "_initializing", False)
        if "Optional" not in namespace and not importing:
            import typing

            for name in _TYPING_NAMES:
                namespace.setdefault(name, getattr(typing, name))
        return namespace


if __name__ in sys.modules:  # (not when the file is run with exec)
    sys.modules[__name__].__class__ = _Module


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
_KNOWN_COUNT = len(_KNOWN_KEYS)
_REQUIRED_KEYS = frozenset(
    ("id", "object", "created_at", "thread_id", "assistant_id", "status", "model")
)
_TIMESTAMP_LIMIT = 2**64  # timestamps are u64 in the reference type
_SHORT_REPR = 40  # characters of a bad value an error message may quote
_JSON_TYPE_NAMES = (
    (int, "integer"), (float, "number"), (str, "string"), (list, "array"), (dict, "object"),
)  # fmt: skip


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
        return (type(self), (self.args[0],), self.__dict__)


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


def _rebuild_error(cls: Any, state: Dict[str, Any]) -> BaseException:
    # Keyword-only constructors do not survive BaseException's default pickling.
    error: BaseException = cls.__new__(cls)
    error.args = (state.get("message", ""),)
    error.__dict__.update(state)
    return error


def _str_or_none(value: Any) -> Optional[str]:
    return None if value is None else str(value)


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------


if TYPE_CHECKING:  # pragma: no cover

    class ToolCall(NamedTuple):
        """One function call a ``requires_action`` run asks for."""

        id: str
        name: str
        arguments: str

else:
    # A namedtuple rather than a dataclass: immutable, hashable and unpackable like one, at a
    # fraction of a dataclass's cost at import time (which every user pays).
    ToolCall = namedtuple("ToolCall", ("id", "name", "arguments"), module=__name__)
    ToolCall.__annotations__ = {"id": "str", "name": "str", "arguments": "str"}  # as NamedTuple's
    ToolCall.__doc__ = """One function call a ``requires_action`` run asks for: ``id``, the
    function's ``name``, and its ``arguments`` as the model wrote them (a JSON string)."""


@dataclass(frozen=True)
class ThreadRun:
    """A run of an assistant on a thread, as ``GET /v1/threads/{thread_id}/runs/{run_id}``
    returns it.

    Frozen, with ``__slots__``. Build one with :meth:`from_dict` or :meth:`from_json`, which
    validate the fields and keep every key the class has no field for in ``extra``;
    :meth:`to_dict` and :meth:`to_json` give back exactly what was parsed: a known key the
    input lacked stays absent, and ``tools``/``metadata`` given as null come back as null,
    although the attributes read ``None``, ``[]`` and ``{}`` as documented. How the input
    gave those keys is remembered by the run (not a dataclass field), and kept by
    :mod:`pickle`, :func:`copy.copy` and :func:`copy.deepcopy`; ``dataclasses.replace``
    (and ``copy.replace``) keep it for every key whose value they do not change, and a key
    replaced by a new value is present. A run built by calling ``ThreadRun(...)`` has every
    key present.

    Fields typed ``Any`` hold any JSON value. Containers are not copied: ``tools``,
    ``metadata`` and the values of ``extra`` are the very objects of the parsed data, and
    only the top level is frozen (use :func:`copy.deepcopy` for an independent copy).

    ``==`` compares the 20 fields, not how absent keys were given (as the SDK's models
    compare values, not the set of fields given), so a run parsed without ``usage`` equals
    the same run parsed with ``"usage": null``. Equal runs have equal hashes: ``hash(run)`` is
    computed from ``id``, ``thread_id``, ``status`` and ``created_at`` (the other fields may
    hold dicts), so runs can be put in sets and used as dict keys.
    """

    # _wire has no annotation, so it is not a dataclass field: None when the input gave all
    # 19 known keys and tools/metadata not null (what servers send), else the pair of
    # frozensets (absent keys, keys given as null) that to_dict undoes.
    __slots__ = (*_FIELDS, "_wire")
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
        _set_wire(self, _wire_kept_by_replace(self))

    def __eq__(self, other: Any) -> bool:
        # Written out because the generated __eq__ of Python 3.13 compares field by field
        # with ==, where earlier versions compare tuples (identity first): a NaN in usage
        # would make a run unequal to itself on 3.13 only. One behaviour on every version.
        if other.__class__ is not self.__class__:
            return NotImplemented
        return _field_values(self) == _field_values(other)

    def __hash__(self) -> int:
        return hash((self.id, self.thread_id, self.status, self.created_at))

    def __reduce__(self) -> Any:
        # The default reduction of a slotted object restores state with setattr, which a
        # frozen dataclass refuses; rebuild through __init__ (and its validation) instead,
        # then __setstate__ restores what the input lacked. A run that lacked nothing
        # pickles as before.
        wire = _get_wire(self)
        if wire is None:
            return (type(self), _field_values(self))
        return (type(self), _field_values(self), wire)

    def __setstate__(self, state: Any) -> None:
        _set_wire(self, _checked_wire(state, self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ThreadRun:
        """Validate a decoded run object and build a ThreadRun from it.

        Required: ``id``, ``object``, ``created_at``, ``thread_id``, ``assistant_id``,
        ``status``, ``model``. Optional fields absent or null become None; ``tools`` and
        ``metadata`` absent or null become ``[]`` and ``{}``. Any other key goes to ``extra``
        with its value untouched. ``data`` is never modified, and ``run.to_dict() == data``.

        Raises :class:`ThreadRunError` naming the field for any invalid input.
        """
        # The hot path, unrolled: one read per known field, None when absent. On CPython
        # the reads are pops from one C-level copy of the dict, which leave exactly the
        # unknown keys behind, in their original order; on PyPy, where popping from a copy
        # costs more than all the rest, they are gets (source.pop is data.get there), and a
        # comprehension picks the unknown keys.
        # Checks take the exact types json.loads produces (str.join also lets a str
        # subclass through, which the slow path accepts too); anything else (another
        # subclass, a missing required key, absent or null tools or metadata, a wrong type)
        # goes to the slow path, which is the reference implementation and says precisely
        # what is wrong.
        if type(data) is not dict:
            return _from_mapping_slow(cls, data)
        source: Any
        if _SPLIT_BY_POPS:
            extra = source = data.copy()
        else:  # pragma: no cover - PyPy
            extra = {key: data[key] for key in data if key not in _KNOWN_KEYS}
            source = _Reads(pop=data.get)
        run_id = source.pop("id", None)
        object_ = source.pop("object", None)
        created_at = source.pop("created_at", None)
        thread_id = source.pop("thread_id", None)
        assistant_id = source.pop("assistant_id", None)
        status = source.pop("status", None)
        model = source.pop("model", None)
        expires_at = source.pop("expires_at", None)
        started_at = source.pop("started_at", None)
        cancelled_at = source.pop("cancelled_at", None)
        failed_at = source.pop("failed_at", None)
        completed_at = source.pop("completed_at", None)
        instructions = source.pop("instructions", None)
        tools = source.pop("tools", None)
        metadata = source.pop("metadata", None)
        # For an int, "not t >> 64" is "0 <= t < 2**64" in half the bytecode. A missing
        # required key reads None, refused here or by _check_strings below.
        if not (
            type(created_at) is int
            and not created_at >> 64
            and (expires_at is None or (type(expires_at) is int and not expires_at >> 64))
            and (started_at is None or (type(started_at) is int and not started_at >> 64))
            and (cancelled_at is None or (type(cancelled_at) is int and not cancelled_at >> 64))
            and (failed_at is None or (type(failed_at) is int and not failed_at >> 64))
            and (completed_at is None or (type(completed_at) is int and not completed_at >> 64))
            and (instructions is None or type(instructions) is str)
            and type(tools) is list
            and type(metadata) is dict
        ):
            return _from_mapping_slow(cls, data)
        # The required strings and every key that must be a string (the unknown keys, the
        # metadata's), checked at once: TypeError for anything else. Not the metadata's
        # values: on CPython this is one str.join, which copies what it joins, and a dict
        # built in Python may hold the same long string many times over.
        try:
            _check_strings([run_id, object_, thread_id, assistant_id, status, model, *extra,
                            *metadata])  # fmt: skip
        except (TypeError, MemoryError):
            return _from_mapping_slow(cls, data)
        for value in metadata.values():
            if type(value) is not str:
                return _from_mapping_slow(cls, data)
        run: Any = _new_object(_RunBuilder)
        run.id = run_id
        run.object = object_
        run.created_at = created_at
        run.thread_id = thread_id
        run.assistant_id = assistant_id
        run.status = status
        run.required_action = source.pop("required_action", None)
        run.last_error = source.pop("last_error", None)
        run.expires_at = expires_at
        run.started_at = started_at
        run.cancelled_at = cancelled_at
        run.failed_at = failed_at
        run.completed_at = completed_at
        run.incomplete_details = source.pop("incomplete_details", None)
        run.model = model
        run.instructions = instructions
        run.tools = tools
        run.metadata = metadata
        run.usage = source.pop("usage", None)
        run.extra = extra
        # Every known key given, what servers send: nothing for to_dict to undo.
        run._wire = None if len(extra) + _KNOWN_COUNT == len(data) else _wire_of(data)
        run.__class__ = ThreadRun
        if cls is not ThreadRun:
            return _as_subclass(cls, run)
        return run  # type: ignore[no-any-return]

    @classmethod
    def from_json(cls, text: Union[str, bytes, bytearray]) -> ThreadRun:
        """Parse a JSON run object (``str``, or UTF-8 ``bytes``/``bytearray``).

        Raises :class:`ThreadRunError` for anything that is not one valid run object: JSON
        syntax errors (with ``line`` and ``column``), NaN and Infinity, nesting too deep,
        integers beyond Python's digit limit, invalid UTF-8, and every error of
        :meth:`from_dict`.
        """
        data = _loads(text)
        if type(data) is not dict:
            raise ThreadRunError(
                "expected a JSON object at the top level, got " + _describe(data)
            )
        return cls.from_dict(data)

    def to_dict(self) -> Dict[str, Any]:
        """A new dict of the known fields (in class order) followed by the keys of ``extra``.

        For a parsed run, equal to what was parsed: the known keys the input lacked are left
        out, and ``tools``/``metadata`` given as null are null. ``ThreadRun.from_dict(
        run.to_dict()) == run`` always holds. Nested containers are shared with the run, not
        copied.
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
            if len(data) != _KNOWN_COUNT + len(extra):
                # Someone put a known field's name into run.extra after construction: the
                # field wins, given or absent, so an extra key can never stand for it.
                for name in _KNOWN_KEYS.intersection(extra):
                    data[name] = getattr(self, name)
        wire = self._wire  # type: ignore[attr-defined]
        if wire is not None:
            _undo_defaults(data, wire)
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
    __slots__ = ThreadRun.__slots__


_new_object = object.__new__
_field_values = attrgetter(*_FIELDS)
# The _wire slot, read and written past the frozen __setattr__ (and typed for mypy).
_get_wire: Callable[[ThreadRun], Any] = ThreadRun._wire.__get__  # type: ignore[attr-defined]
_set_wire: Callable[[ThreadRun, Any], None] = ThreadRun._wire.__set__  # type: ignore[attr-defined]
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
    name = next((n for t, n in _JSON_TYPE_NAMES if type(value) is t), type(value).__name__)
    if isinstance(value, int) and value.bit_length() > 256:
        # repr() of a huge int is slow, and refused past sys.get_int_max_str_digits().
        return "%s of about %d digits" % (name, value.bit_length() * 30103 // 100000 + 1)
    import reprlib  # only on the error path

    # reprlib bounds the depth and length of containers; anything it still cannot show
    # (a deep structure's leaf that refuses repr) is named by type alone.
    short = reprlib.Repr()
    short.maxlevel, short.maxstring, short.maxother = 2, _SHORT_REPR, _SHORT_REPR
    try:
        text = short.repr(value)
    except Exception:
        return name
    return "%s %s" % (name, _shorten(text, _SHORT_REPR))


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


def _from_mapping_slow(cls: Any, data: Any) -> ThreadRun:
    """from_dict's reference implementation: every rule, one field at a time, in order."""
    if type(data) is not dict and not isinstance(data, Mapping):  # (the ABC check is slow)
        raise ThreadRunError("expected a JSON object (dict), got " + _describe(data))
    run: Any = _new_object(_RunBuilder)
    for name, check in _CHECKS:
        if name not in data and name in _REQUIRED_KEYS:
            raise ThreadRunError("required key is missing", name)
        value = data.get(name)
        if value is None and name in _EMPTY_DEFAULTS:
            value = _EMPTY_DEFAULTS[name]()
        setattr(run, name, check(value, name))
    extra = {}
    for key in data:
        if key not in _KNOWN_KEYS:
            if not isinstance(key, str):
                raise ThreadRunError("expected string keys, got " + _describe(key), "extra")
            extra[key] = data[key]
    run.extra = extra
    run._wire = _wire_of(data)
    run.__class__ = ThreadRun
    if cls is not ThreadRun:
        return _as_subclass(cls, run)
    return run  # type: ignore[no-any-return]


# The fields whose absent or null value reads as an empty container, and its type.
_EMPTY_DEFAULTS: Dict[str, Callable[[], Any]] = {"tools": list, "metadata": dict}


def _as_subclass(cls: Any, run: ThreadRun) -> ThreadRun:
    # A subclass may have another layout: build it through its __init__.
    built: ThreadRun = cls(*_field_values(run))
    _set_wire(built, _get_wire(run))
    return built


def _wire_of(data: Mapping[str, Any]) -> Any:
    """How valid run data gives the known keys where the attributes cannot show it: None
    when it has all 19, tools and metadata not null; else (absent keys, null keys)."""
    absent = _KNOWN_KEYS.difference(data)
    null = frozenset(
        name for name in _EMPTY_DEFAULTS if name in data and data[name] is None
    )  # fmt: skip
    return (absent, null) if absent or null else None


def _undo_defaults(data: Dict[str, Any], wire: Any) -> None:
    absent, null = wire
    for name in absent:
        data.pop(name, None)
    for name in null:
        data[name] = None


def _checked_wire(wire: Any, run: ThreadRun) -> Any:
    """``wire`` if it is one the run could have been parsed with (a pickle may hold anything)."""
    if wire is None:
        return None
    try:
        absent, null = wire
        ok = (
            type(absent) is frozenset
            and type(null) is frozenset
            and absent <= _KNOWN_KEYS - _REQUIRED_KEYS
            and null <= _EMPTY_DEFAULTS.keys() - absent
            and all(getattr(run, name) in (None, [], {}) for name in absent | null)
        )
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ThreadRunError("invalid state to restore a run from: %s" % _describe(wire))
    return wire


def _wire_kept_by_replace(run: ThreadRun) -> Any:
    """For a run that ``dataclasses.replace`` (or ``copy.replace``) is building from another
    one, the absent and null keys of the source whose values it keeps; else None."""
    # dataclasses.replace calls the class with every field's value and nothing else, so the
    # source run is found where it is: in replace's frame, this function's caller's
    # caller's caller (__post_init__, then the generated __init__).
    try:
        frame = _getframe(3)
    except (ValueError, TypeError):  # no such frame; no sys._getframe (the stub below)
        return None
    if frame.f_code not in _REPLACE_CODES:
        return None
    names = frame.f_locals
    source = names.get("obj", names.get("self"))  # 3.7-3.12: obj; 3.13: self
    if not isinstance(source, ThreadRun) or source is run:
        return None
    wire = _get_wire(source)
    if wire is None:
        return None
    absent, null = (
        frozenset(name for name in names if getattr(run, name) is getattr(source, name))
        for names in wire
    )
    return (absent, null) if absent or null else None


def _no_frames(depth: int) -> Any:
    raise TypeError("no sys._getframe")


_getframe: Callable[[int], Any] = getattr(sys, "_getframe", _no_frames)
# replace() on 3.7-3.12; on 3.13 replace() and copy.replace() both call _replace().
_REPLACE_CODES = frozenset(
    function.__code__
    for function in (dataclasses.replace, getattr(dataclasses, "_replace", None))
    if function is not None
)


_EXPECTED_NAMES: Dict[type, str] = {str: "a string", list: "an array", dict: "an object"}


def _get_typed(container: Dict[str, Any], key: str, expected: type, path: str) -> Any:
    value = container.get(key)
    if not isinstance(value, expected):
        what = _EXPECTED_NAMES[expected]
        raise ThreadRunError(
            "expected %s, got %s" % (what, _describe(value)), "%s[%r]" % (path, key)
        )
    return value


def _reject_constant(name: str) -> NoReturn:
    raise ThreadRunError("invalid JSON: %s is not a JSON number" % name)


def _parse_float(text: str) -> float:
    value = float(text)
    if value - value:  # inf - inf is nan, which is true; a finite value gives 0.0
        raise ThreadRunError("invalid JSON: %s is too large for a number" % _shorten(text, 40))
    return value


# A float literal too large for a double (1e400) would decode as Infinity, which JSON does not
# have and to_json could not write back: refuse it like NaN.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_parse_float)
_JSON_SPACE = " \t\n\r"


def _check_strings_each(items: List[Any]) -> None:
    for item in items:
        if not isinstance(item, str):
            raise TypeError("expected a string")


def _scan_document(text: str, start: int) -> Tuple[Any, int]:
    # PyPy's json.loads, without hooks, is its own decoder (RPython); with the hooks our
    # rules need it runs json's pure-Python scanner, eight times slower. So read the
    # document with json.loads, and if it may hold what the rules refuse (NaN, Infinity,
    # a number out of a double's range, which reads as infinity), give up: _decode then
    # takes the strict decoder, which also words every error as CPython does.
    try:
        value = json.loads(text)
    except ValueError:  # (a RecursionError goes up: json's own scanner would fail alike)
        raise StopIteration(start) from None
    if type(value) is not dict:  # not a run: let the strict decoder say what it is
        raise StopIteration(start)
    containers: List[Any] = [value.values()]
    while containers:
        for item in containers.pop():
            kind = type(item)
            if kind is float:
                if item - item:  # inf - inf and nan - nan are nan: true
                    raise StopIteration(start)
            elif kind is dict:
                containers.append(item.values())
            elif kind is list:
                containers.append(item)
    return value, len(text)


# Tricks that pay on CPython's interpreter and cost on a JIT (PyPy), where the plain way is
# faster: _SPLIT_BY_POPS (see ThreadRun.from_dict); _check_strings, one str.join (in C,
# cheaper than a type() test each; PyPy's join also takes a bytearray); _scan_value,
# JSONDecoder.scan_once, json's C scanner called directly (see _decode).
_SPLIT_BY_POPS = sys.implementation.name == "cpython"
_Reads = SimpleNamespace
if sys.implementation.name == "cpython":
    _check_strings: Callable[[List[Any]], Any] = "".join
    # (typeshed does not declare scan_once; JSONDecoder has had it since Python 2.6)
    _scan_value: Callable[[str, int], Tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
else:  # pragma: no cover - PyPy
    _check_strings = _check_strings_each
    _scan_value = _scan_document


def _loads(text: Any) -> Any:
    """json.loads for run data: every failure is a ThreadRunError."""
    try:
        return _decode(text)
    except json.JSONDecodeError as exc:
        raise ThreadRunError(
            "invalid JSON: %s at line %d column %d" % (exc.msg, exc.lineno, exc.colno),
            line=exc.lineno,
            column=exc.colno,
        ) from None
    except UnicodeDecodeError as exc:
        raise ThreadRunError("invalid UTF-8: byte %d (%s)" % (exc.start, exc.reason)) from None
    except RecursionError:
        raise ThreadRunError("invalid JSON: nested too deeply") from None
    except ThreadRunError:
        raise
    except ValueError as exc:  # the integer digit limit, and the like
        raise ThreadRunError("invalid JSON: %s" % _shorten(str(exc), 120)) from None


def _decode(text: Any) -> Any:
    if not isinstance(text, str):
        if not isinstance(text, (bytes, bytearray)):
            raise ThreadRunError(
                "expected str, bytes or bytearray, got " + type(text).__name__
            )
        # Not starting with "{": a BOM, or UTF-16/32 as json.loads accepts them.
        encoding = "utf-8" if text[:1] == b"{" else json.detect_encoding(text)
        text = text.decode(encoding)
    # JSONDecoder.decode less its two regular-expression matches and two Python calls (a
    # tenth of the time of a small document): the scanner reads the value from the first
    # character. Whitespace before the value, anything but whitespace after it, or what the
    # scanner gives up on, takes decode's own way, which also gives json's own message for
    # what is wrong.
    try:
        value, end = _scan_value(text, 0)
    except StopIteration:
        pass
    else:
        if end == len(text) or not text[end:].strip(_JSON_SPACE):
            return value
    if not text or text.isspace():
        raise ThreadRunError("invalid JSON: the document is empty", line=1, column=1)
    return _DECODER.decode(text)


# --------------------------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------------------------

_DEFAULT_BASE_URL = "https://api.openai.com/v1"
_DEFAULT_TIMEOUT = 60.0  # seconds, per request; urllib's own default is to wait forever
_DEFAULT_POLL_TIMEOUT = 900.0  # seconds; runs expire ten minutes after creation
_DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024
_INITIAL_RETRY_DELAY = 0.5
_MAX_RETRY_DELAY = 8.0
_MAX_RETRY_AFTER = 60.0  # a server asking for a longer wait is not waited for
_MAX_REDIRECTS = 5
_RETRY_STATUSES = frozenset((408, 409, 429))
_BODY_HEADERS = ("Content-Type", "Content-Length", "Idempotency-Key")
# Errors of a kept-alive connection that the server closed while it was idle: the request
# never reached the application, so sending it once more on a new connection is safe.
# (http.client.RemoteDisconnected is a ConnectionResetError.)
_STALE_CONNECTION_ERRORS = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)
# Header names that carry a credential when given in default_headers.
_CREDENTIAL_WORDS = ("auth", "key", "token", "secret", "cookie", "signature")


class Client:
    """A client for the Thread Runs endpoints, over the standard library's ``http.client``.

    ``api_key`` defaults to ``$OPENAI_API_KEY``; ``base_url`` to ``$OPENAI_BASE_URL``, else
    ``https://api.openai.com/v1``; ``organization`` and ``project`` to ``$OPENAI_ORG_ID`` and
    ``$OPENAI_PROJECT_ID``. For a compatible server that authenticates otherwise (an
    Azure-style ``api-key`` header), pass it in ``default_headers`` and no key is needed;
    ``default_query`` is added to every request (``{"api-version": "..."}``).

    Every request has a timeout (``timeout`` seconds). Responses over ``max_response_bytes``
    raise :class:`ResponseTooLargeError`. Plain ``http://`` is refused except to a loopback
    host unless ``allow_insecure_http=True``; TLS is verified (pass ``ssl_context`` to
    customise). Redirects are followed only within the same origin: no credential ever goes
    to another host. ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` are honoured as urllib does.

    Failed requests are retried up to ``max_retries`` times (408, 409, 429, 5xx, connection
    errors and timeouts) with exponential backoff and jitter, honouring ``Retry-After``.
    ``sleep`` and ``clock`` (monotonic seconds) can be replaced, e.g. in tests.

    One client keeps one HTTP/1.1 connection alive across calls. It can be shared between
    threads: requests are serialised over that connection by a lock, so for requests in
    parallel give each thread a client of its own. Use it as a context manager, or call
    :meth:`close`.
    """

    def __init__(
        self,
        api_key: Optional[str] = None,
        *,
        base_url: Optional[str] = None,
        organization: Optional[str] = None,
        project: Optional[str] = None,
        timeout: float = _DEFAULT_TIMEOUT,
        max_retries: int = 2,
        default_headers: Optional[Mapping[str, str]] = None,
        default_query: Optional[Mapping[str, str]] = None,
        max_response_bytes: int = _DEFAULT_MAX_RESPONSE_BYTES,
        allow_insecure_http: bool = False,
        ssl_context: Optional[ssl.SSLContext] = None,
        sleep: Optional[Callable[[float], Any]] = None,
        clock: Optional[Callable[[], float]] = None,
    ) -> None:
        # The network modules are imported here, not at module import, so that a program
        # that only parses runs never pays for them.
        import http.client
        import threading
        import urllib.parse

        self._http = http.client
        self._urls = urllib.parse

        env = os.environ
        if api_key is None:
            api_key = env.get("OPENAI_API_KEY")
        if base_url is None:
            base_url = env.get("OPENAI_BASE_URL") or _DEFAULT_BASE_URL
        if organization is None:
            organization = env.get("OPENAI_ORG_ID")
        if project is None:
            project = env.get("OPENAI_PROJECT_ID")
        for setting, what in ((api_key, "api_key"), (organization, "organization"),
                              (project, "project"), (base_url, "base_url")):  # fmt: skip
            if setting is not None and not isinstance(setting, str):
                raise TypeError("%s must be a str, got %s" % (what, type(setting).__name__))
        if api_key is not None:
            # A key read from a file or a secret store often ends with a newline.
            api_key = _header_value(api_key.strip(), "api_key")
        extra_headers = dict(default_headers or {})
        for name, value in extra_headers.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise TypeError("default_headers must map str to str")
            _header_value(name, "a default_headers name")
            _header_value(value, "default_headers[%r]" % name)
        for setting, what in ((organization, "organization"), (project, "project")):
            if setting is not None:
                _header_value(setting, what)
        if not api_key and not any(_is_credential(name) for name in extra_headers):
            raise OpenAIError(
                "no API key: set the OPENAI_API_KEY environment variable or pass api_key "
                "(or authenticate through default_headers, e.g. an 'api-key' header)"
            )
        if (
            not isinstance(timeout, (int, float))
            or isinstance(timeout, bool)
            or not 0 < timeout < 1e9  # also refuses NaN and infinity
        ):
            raise ValueError("timeout must be a positive, finite number of seconds")
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError("max_retries must be an integer >= 0")
        if not isinstance(max_response_bytes, int) or max_response_bytes <= 0:
            raise ValueError("max_response_bytes must be a positive integer")

        self._scheme, self._host, self._port, self._base_path = self._parse_base_url(
            base_url, allow_insecure_http
        )
        self._origin = "%s://%s" % (self._scheme, self._netloc())
        self.base_url = self._origin + self._base_path
        self.organization = organization
        self.project = project
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.max_response_bytes = max_response_bytes
        self._secrets = tuple(
            secret
            for secret in [api_key or ""]
            + [value for name, value in extra_headers.items() if _is_credential(name)]
            if len(secret) >= 4
        )
        self._ssl_context = ssl_context
        self._sleep = sleep or time.sleep
        self._clock = clock or time.monotonic
        self._query = list((default_query or {}).items())

        headers = {
            "Accept": "application/json",
            "User-Agent": "threadrun/%s Python/%d.%d" % (__version__, *sys.version_info[:2]),
            "OpenAI-Beta": "assistants=v2",
        }
        if api_key:
            headers["Authorization"] = "Bearer " + api_key
        if organization:
            headers["OpenAI-Organization"] = organization
        if project:
            headers["OpenAI-Project"] = project
        # Caller's headers win, case-insensitively (an Azure "api-key" may replace the key).
        for name, value in extra_headers.items():
            for existing in [key for key in headers if key.lower() == name.lower()]:
                del headers[existing]
            headers[name] = value
        self._proxy = self._find_proxy()
        if (
            self._proxy is not None
            and self._scheme == "http"
            and not allow_insecure_http
            and not _is_loopback(self._proxy[0])
        ):
            # Plain http is allowed to loopback because nothing leaves the machine; through
            # a proxy elsewhere the key would travel in clear.
            raise OpenAIError(
                "refusing plain http:// through the proxy %s: the API key would travel "
                "unencrypted (set NO_PROXY, use https://, or allow_insecure_http=True)"
                % self._proxy[0]
            )
        if self._proxy is not None and self._proxy[2] and self._scheme == "http":
            # Plain http goes through the proxy request by request (https tunnels instead).
            headers["Proxy-Authorization"] = self._proxy[2]
        self._headers = headers
        self._lock = threading.Lock()
        self._connection: Optional[http.client.HTTPConnection] = None

    # -- public API ----------------------------------------------------------------------

    def retrieve(self, thread_id: str, run_id: str) -> ThreadRun:
        """``GET /threads/{thread_id}/runs/{run_id}``."""
        return self._run_request("GET", self._run_path(thread_id, run_id))[0]

    def create(self, thread_id: str, assistant_id: str, **params: Any) -> ThreadRun:
        """``POST /threads/{thread_id}/runs``: start a run of ``assistant_id``.

        Other body parameters (model, instructions, additional_instructions,
        additional_messages, tools, metadata, temperature, top_p, max_prompt_tokens,
        max_completion_tokens, truncation_strategy, tool_choice, parallel_tool_calls,
        response_format, reasoning_effort, ...) are passed through as given;
        ``include`` (a list) goes to the query string.
        """
        _check_id(assistant_id, "assistant_id")
        if params.get("stream"):
            raise ValueError("stream=True is not supported: poll the run instead")
        query = [("include[]", item) for item in params.pop("include", None) or ()]
        body = dict(params, assistant_id=assistant_id)
        path = "/threads/%s/runs" % self._id(thread_id, "thread_id")
        return self._run_request("POST", path, body=body, query=query)[0]

    def update(self, thread_id: str, run_id: str, metadata: Mapping[str, str]) -> ThreadRun:
        """``POST /threads/{thread_id}/runs/{run_id}``: replace the run's metadata."""
        if not isinstance(metadata, Mapping):
            raise TypeError("metadata must be a mapping of str to str")
        body = {"metadata": dict(metadata)}
        return self._run_request("POST", self._run_path(thread_id, run_id), body=body)[0]

    def cancel(self, thread_id: str, run_id: str) -> ThreadRun:
        """``POST /threads/{thread_id}/runs/{run_id}/cancel``."""
        return self._run_request("POST", self._run_path(thread_id, run_id) + "/cancel")[0]

    def submit_tool_outputs(
        self, thread_id: str, run_id: str, tool_outputs: List[Mapping[str, str]]
    ) -> ThreadRun:
        """``POST .../submit_tool_outputs`` with ``[{"tool_call_id": ..., "output": ...}]``."""
        outputs = []
        for index, item in enumerate(tool_outputs):
            if not isinstance(item, Mapping) or not isinstance(item.get("tool_call_id"), str):
                raise TypeError(
                    "tool_outputs[%d] must be a mapping with a str 'tool_call_id'" % index
                )
            outputs.append(dict(item))
        path = self._run_path(thread_id, run_id) + "/submit_tool_outputs"
        return self._run_request("POST", path, body={"tool_outputs": outputs})[0]

    def list(
        self,
        thread_id: str,
        *,
        limit: Optional[int] = None,
        order: Optional[str] = None,
        after: Optional[str] = None,
        before: Optional[str] = None,
    ) -> Iterator[ThreadRun]:
        """``GET /threads/{thread_id}/runs``: every run, lazily, page after page."""
        path = "/threads/%s/runs" % self._id(thread_id, "thread_id")
        query = [
            (name, str(value))
            for name, value in (("limit", limit), ("order", order), ("after", after),
                                ("before", before))
            if value is not None
        ]  # fmt: skip
        return self._pages(path, query)

    def poll(
        self,
        thread_id: str,
        run_id: str,
        *,
        interval: Optional[float] = None,
        timeout: Optional[float] = None,
        on_run: Optional[Callable[[ThreadRun], Any]] = None,
    ) -> ThreadRun:
        """Retrieve the run until it is terminal or ``requires_action``, and return it.

        Waits as the server's ``openai-poll-after-ms`` header says (1 s without it) unless
        ``interval`` is given. Past ``timeout`` seconds (default 900) raises
        :class:`PollTimeoutError`, which carries the last run seen. ``on_run`` is called
        with every run retrieved.
        """
        path = self._run_path(thread_id, run_id)
        if timeout is None:
            timeout = _DEFAULT_POLL_TIMEOUT
        if interval is not None and not 0 <= interval < 1e9:
            raise ValueError("interval must be a number of seconds >= 0")
        if not timeout >= 0:
            raise ValueError("timeout must be a number of seconds >= 0")
        deadline = self._clock() + timeout
        while True:
            run, headers = self._run_request("GET", path)
            if on_run is not None:
                on_run(run)
            if run.status in _TERMINAL or run.status == RunStatus.REQUIRES_ACTION:
                return run
            delay = interval if interval is not None else _poll_after(headers)
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise PollTimeoutError(
                    "run %s is still %s after polling for %.1f s"
                    % (run.id, run.status, timeout),
                    run=run,
                )
            self._sleep(min(delay, remaining))

    def create_and_poll(
        self,
        thread_id: str,
        assistant_id: str,
        *,
        poll_interval: Optional[float] = None,
        poll_timeout: Optional[float] = None,
        on_run: Optional[Callable[[ThreadRun], Any]] = None,
        **params: Any,
    ) -> ThreadRun:
        """:meth:`create`, then :meth:`poll` the new run."""
        run = self.create(thread_id, assistant_id, **params)
        return self.poll(
            thread_id, run.id, interval=poll_interval, timeout=poll_timeout, on_run=on_run
        )

    def submit_tool_outputs_and_poll(
        self,
        thread_id: str,
        run_id: str,
        tool_outputs: List[Mapping[str, str]],
        *,
        poll_interval: Optional[float] = None,
        poll_timeout: Optional[float] = None,
        on_run: Optional[Callable[[ThreadRun], Any]] = None,
    ) -> ThreadRun:
        """:meth:`submit_tool_outputs`, then :meth:`poll` the run."""
        run = self.submit_tool_outputs(thread_id, run_id, tool_outputs)
        return self.poll(
            thread_id, run.id, interval=poll_interval, timeout=poll_timeout, on_run=on_run
        )

    def close(self) -> None:
        """Close the kept-alive connection (a later request opens a new one)."""
        with self._lock:
            self._drop_connection()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        # Never the key, nor any header value.
        return "<threadrun.Client base_url=%r>" % self.base_url

    # -- configuration -------------------------------------------------------------------

    def _parse_base_url(
        self, base_url: str, allow_insecure_http: bool
    ) -> Tuple[str, str, int, str]:
        try:
            parts = self._urls.urlsplit(base_url)
            port = parts.port
        except ValueError as exc:
            raise OpenAIError("invalid base_url: %s" % exc) from None
        scheme = parts.scheme.lower()
        host = parts.hostname
        if scheme not in ("http", "https") or not host:
            raise OpenAIError("base_url must be an http:// or https:// URL with a host")
        if parts.username or parts.password:
            raise OpenAIError("base_url must not carry credentials")
        if parts.query or parts.fragment:
            raise OpenAIError("base_url must not have a query or fragment: use default_query")
        if scheme == "http" and not allow_insecure_http and not _is_loopback(host):
            raise OpenAIError(
                "refusing plain http:// to %s: the API key would travel unencrypted "
                "(use https://, or pass allow_insecure_http=True)" % host
            )
        if port is None:
            port = 443 if scheme == "https" else 80
        return scheme, host, port, parts.path.rstrip("/")

    def _netloc(self) -> str:
        host = "[%s]" % self._host if ":" in self._host else self._host
        default = 443 if self._scheme == "https" else 80
        return host if self._port == default else "%s:%d" % (host, self._port)

    def _find_proxy(self) -> Optional[Tuple[str, int, Optional[str]]]:
        # Only consulted when a proxy variable is set: importing urllib.request is costly.
        if not any(name.lower().endswith("_proxy") for name in os.environ):
            return None
        import urllib.request

        proxy_url = urllib.request.getproxies().get(self._scheme)
        if not proxy_url or urllib.request.proxy_bypass(self._host):
            return None
        if "://" not in proxy_url:
            proxy_url = "http://" + proxy_url
        parts = self._urls.urlsplit(proxy_url)
        if not parts.hostname:
            return None
        authorization = None
        if parts.username is not None:
            import base64

            credentials = "%s:%s" % (
                self._urls.unquote(parts.username),
                self._urls.unquote(parts.password or ""),
            )
            authorization = "Basic " + base64.b64encode(credentials.encode()).decode("ascii")
        return parts.hostname, parts.port or 80, authorization

    # -- requests ------------------------------------------------------------------------

    def _id(self, value: Any, name: str) -> str:
        return self._urls.quote(_check_id(value, name), safe="")

    def _run_path(self, thread_id: str, run_id: str) -> str:
        thread = self._id(thread_id, "thread_id")
        return "/threads/%s/runs/%s" % (thread, self._id(run_id, "run_id"))

    def _pages(self, path: str, query: List[Tuple[str, str]]) -> Iterator[ThreadRun]:
        seen = set()
        while True:
            headers, body = self._request("GET", path, query=query)
            request_id = headers.get("x-request-id")
            try:
                page = _loads(body)
                data = page.get("data") if isinstance(page, dict) else None
                if not isinstance(data, list):
                    raise ThreadRunError("expected a list page with a 'data' array", "data")
            except ThreadRunError as exc:
                exc.request_id = request_id
                raise
            for item in data:
                try:
                    yield ThreadRun.from_dict(item)
                except ThreadRunError as exc:
                    exc.request_id = request_id
                    raise
            if not page.get("has_more") or not data:
                return
            last = data[-1]
            cursor = str(page.get("last_id") or (last.get("id") if isinstance(last, dict) else ""))
            if cursor in seen:
                # A server that hands back a cursor it was given before would be asked the
                # same pages for ever: stop, and say so.
                raise APIError(
                    "the list does not advance: cursor %r came back" % _shorten(cursor, 60),
                    request_id=request_id,
                )
            seen.add(cursor)
            query = [item for item in query if item[0] != "after"] + [("after", cursor)]

    def _run_request(
        self,
        method: str,
        path: str,
        *,
        body: Optional[Dict[str, Any]] = None,
        query: Optional[List[Tuple[str, str]]] = None,
    ) -> Tuple[ThreadRun, Dict[str, str]]:
        headers, payload = self._request(method, path, body=body, query=query)
        try:
            return ThreadRun.from_json(payload), headers
        except ThreadRunError as exc:
            exc.request_id = headers.get("x-request-id")
            raise

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: Optional[Dict[str, Any]] = None,
        query: Optional[List[Tuple[str, str]]] = None,
    ) -> Tuple[Dict[str, str], bytes]:
        """Send with retries; return the lower-cased headers and the body of a 2xx answer."""
        target = self._base_path + path
        pairs = self._query + (query or [])
        if pairs:
            target += "?" + self._urls.urlencode(pairs)
        headers = self._headers
        data = None
        if method == "POST":
            headers = dict(headers)
            # One key for all retries of this request, so that the server can tell a retry
            # from a new request and never act twice.
            headers["Idempotency-Key"] = "threadrun-" + os.urandom(16).hex()
            if body is not None:
                headers["Content-Type"] = "application/json"
                data = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
            else:
                headers["Content-Length"] = "0"
        retries = 0
        while True:
            try:
                status, response_headers, payload = self._send(method, target, data, headers)
            except APIConnectionError:
                if retries >= self.max_retries:
                    raise
                delay = self._backoff(retries)
            else:
                if 200 <= status < 300:
                    return response_headers, payload
                error = self._status_error(status, response_headers, payload)
                if retries >= self.max_retries or not _should_retry(status, response_headers):
                    raise error
                wait = _retry_after(response_headers)
                delay = self._backoff(retries) if wait is None else wait
            retries += 1
            self._sleep(delay)

    def _send(
        self, method: str, target: str, data: Optional[bytes], headers: Dict[str, str]
    ) -> Tuple[int, Dict[str, str], bytes]:
        """One request, following same-origin redirects; connection errors mapped."""
        for _ in range(_MAX_REDIRECTS + 1):
            status, response_headers, payload = self._exchange(method, target, data, headers)
            if status not in (301, 302, 303, 307, 308):
                return status, response_headers, payload
            location = response_headers.get("location", "")
            next_target = self._same_origin_target(location, target)
            if next_target is None:
                raise APIStatusError(
                    "HTTP %d redirect to another origin not followed (credentials are never "
                    "sent to another host): %s" % (status, self._scrub(_shorten(location, 200))),
                    status_code=status,
                    headers=response_headers,
                    request_id=response_headers.get("x-request-id"),
                )
            if status == 303 or (status in (301, 302) and method == "POST"):
                method, data = "GET", None
                headers = {k: v for k, v in headers.items() if k not in _BODY_HEADERS}
            target = next_target
        raise APIStatusError(
            "too many redirects (more than %d)" % _MAX_REDIRECTS, status_code=status,
            headers=response_headers, request_id=response_headers.get("x-request-id"),
        )

    def _same_origin_target(self, location: str, current: str) -> Optional[str]:
        absolute = self._urls.urljoin(self._origin + current, location)
        try:
            parts = self._urls.urlsplit(absolute)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return None
        if (parts.scheme, (parts.hostname or "").lower(), port) != (
            self._scheme, self._host.lower(), self._port
        ):
            return None
        return (parts.path or "/") + ("?" + parts.query if parts.query else "")

    def _exchange(
        self, method: str, target: str, data: Optional[bytes], headers: Dict[str, str]
    ) -> Tuple[int, Dict[str, str], bytes]:
        httplib = self._http
        with self._lock:
            # A kept-alive connection may have been closed by the server while idle; that is
            # only known when it is used. If sending failed, nothing arrived: send it once
            # more on a new connection. If the answer failed, a POST may have arrived: only a
            # GET is sent again for free, a POST is left to the retry rules, which count it.
            may_be_stale = self._connection is not None
            while True:
                connection = self._connection or self._connect()
                sent = False
                try:
                    connection.request(method, self._request_target(target), data, headers)
                    sent = True
                    response = connection.getresponse()
                    return self._read(response)
                except _STALE_CONNECTION_ERRORS as exc:
                    self._drop_connection()
                    if may_be_stale and (not sent or method == "GET"):
                        may_be_stale = False
                        continue
                    raise APIConnectionError(
                        "connection to %s closed: %s" % (self._netloc(), type(exc).__name__)
                    ) from exc
                except ResponseTooLargeError:
                    self._drop_connection()
                    raise
                except OSError as exc:
                    self._drop_connection()
                    raise _connection_error(exc, self._netloc()) from exc
                except httplib.HTTPException as exc:
                    self._drop_connection()
                    if isinstance(exc, httplib.IncompleteRead):
                        # It carries the partial body, which may echo a credential.
                        exc.partial, exc.args = b"", ()
                    raise APIConnectionError(
                        "invalid or incomplete HTTP response from %s: %s"
                        % (self._netloc(), type(exc).__name__)
                    ) from exc

    def _read(self, response: http.client.HTTPResponse) -> Tuple[int, Dict[str, str], bytes]:
        headers = {name.lower(): value for name, value in response.getheaders()}
        status = response.status
        if status < 200:
            # http.client hands back a 1xx as if it were final; its real answer would then be
            # read as the answer to the next request. Never reuse such a connection.
            raise self._http.HTTPException("unexpected informational response %d" % status)
        limit = self.max_response_bytes
        length = response.length
        if length is not None and length > limit:
            raise ResponseTooLargeError(
                "response body of %d bytes is over the limit of %d (max_response_bytes)"
                % (length, limit),
                request_id=headers.get("x-request-id"),
            )
        if length is not None:
            # read() without a size raises IncompleteRead on a body cut short; read(n) would
            # return what came, and on 3.7-3.9 allocate n bytes first.
            payload = response.read()
        else:
            chunks = []
            size = 0
            while size <= limit:
                chunk = response.read1(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            if size > limit:
                raise ResponseTooLargeError(
                    "response body is over the limit of %d bytes (max_response_bytes)" % limit,
                    request_id=headers.get("x-request-id"),
                )
            payload = b"".join(chunks)
        response.close()
        if response.will_close:
            self._drop_connection()
        return status, headers, payload

    def _connect(self) -> http.client.HTTPConnection:
        httplib = self._http
        connection: http.client.HTTPConnection
        if self._proxy is None:
            host, port = self._host, self._port
        else:
            host, port = self._proxy[0], self._proxy[1]
        if self._scheme == "https":
            if self._ssl_context is None:
                import ssl

                # Built once per client: loading the CA store takes tens of milliseconds.
                self._ssl_context = ssl.create_default_context()
            context = self._ssl_context
            connection = httplib.HTTPSConnection(
                host, port, timeout=self.timeout, context=context
            )
            if self._proxy is not None:
                tunnel_headers = {"Proxy-Authorization": self._proxy[2]} if self._proxy[2] else None
                connection.set_tunnel(self._host, self._port, headers=tunnel_headers)
        else:
            connection = httplib.HTTPConnection(host, port, timeout=self.timeout)
        self._connection = connection
        return connection

    def _request_target(self, target: str) -> str:
        if self._proxy is not None and self._scheme == "http":
            return "http://%s%s" % (self._netloc(), target)  # absolute form, for the proxy
        return target

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _backoff(self, retries: int) -> float:
        import random

        delay = min(_INITIAL_RETRY_DELAY * 2.0**retries, _MAX_RETRY_DELAY)
        return delay * (1 - 0.25 * random.random())

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def _status_error(self, status: int, headers: Dict[str, str], payload: bytes) -> APIStatusError:
        text = self._scrub(payload.decode("utf-8", "replace"))
        try:
            body: Any = json.loads(text)
        except (ValueError, RecursionError):
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        if not isinstance(message, str) or not message:
            # Not the API's error body (an HTML page from a proxy, say): show its start.
            snippet = " ".join(text.split())
            message = _shorten(snippet, 200) if snippet else "(empty body)"
            if body is None and text:
                body = text
        cls = _STATUS_ERRORS.get(status)
        if cls is None:
            cls = InternalServerError if status >= 500 else APIStatusError
        return cls(
            "HTTP %d: %s" % (status, message),
            status_code=status,
            headers=headers,
            body=body,
            request_id=headers.get("x-request-id"),
        )


def _check_id(value: Any, name: str) -> str:
    # Ids go into the path: refuse anything that could change which resource is addressed
    # (separators, dot segments, percent escapes) or that no real id contains.
    if not isinstance(value, str):
        raise InvalidIdError("%s must be a string, got %s" % (name, type(value).__name__))
    if not value or value in (".", "..") or len(value) > 256:
        raise InvalidIdError(
            "%s is empty, a dot segment, or too long: %r" % (name, _shorten(value, 40))
        )
    # isprintable() is False for every whitespace but the space, and for control characters.
    if not value.isprintable() or any(char in value for char in " /\\?#%"):
        raise InvalidIdError(
            "%s must not contain whitespace, control characters or any of / \\ ? # %%: %r"
            % (name, _shorten(value, 40))
        )
    return value


def _header_value(value: str, what: str) -> str:
    # http.client would refuse a CR, LF or other control character only when sending, with
    # the whole value in its message: refuse it here, without showing the value.
    if any(char < " " or char == "\x7f" for char in value):
        raise OpenAIError("%s contains a control character (a newline?)" % what)
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise OpenAIError("%s contains a character HTTP headers cannot carry" % what) from None
    return value


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_credential(header: str) -> bool:
    name = header.lower()
    return any(word in name for word in _CREDENTIAL_WORDS)


def _should_retry(status: int, headers: Dict[str, str]) -> bool:
    should = headers.get("x-should-retry", "").strip().lower()
    if should == "true":
        return True
    if should == "false":
        return False
    return status in _RETRY_STATUSES or status >= 500


def _retry_after(headers: Dict[str, str]) -> Optional[float]:
    """The wait the server asks for, in seconds, when it is sensible; None otherwise."""
    delay: Optional[float] = None
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            delay = float(value) / 1000
        except ValueError:
            delay = None
    value = headers.get("retry-after")
    if delay is None and value is not None:
        try:
            delay = float(value)
        except ValueError:
            import email.utils

            try:
                when = email.utils.parsedate_to_datetime(value)
                delay = when.timestamp() - time.time()
            except (TypeError, ValueError, IndexError, OverflowError):
                delay = None
    if delay is None or delay != delay or not 0 <= delay <= _MAX_RETRY_AFTER:
        return None
    return delay


def _poll_after(headers: Dict[str, str]) -> float:
    try:
        milliseconds = float(headers.get("openai-poll-after-ms", ""))
    except ValueError:
        return 1.0
    if milliseconds != milliseconds or not 0 <= milliseconds <= 60_000:
        return 1.0
    return milliseconds / 1000


def _connection_error(exc: OSError, netloc: str) -> APIConnectionError:
    import socket

    if isinstance(exc, socket.timeout):
        return APITimeoutError("request to %s timed out" % netloc)
    reason = exc.strerror or type(exc).__name__
    return APIConnectionError("could not talk to %s: %s" % (netloc, reason))
