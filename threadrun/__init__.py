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
     |    +-- APIResponseValidationError  (also an APIError) a 2xx answer the client could not
     |                                    read: .body is what the server sent, never lost
     +-- OpenAIError                     configuration errors (missing key, insecure URL, ...)
          +-- InvalidIdError (ValueError)  an id (thread, run, step, message, assistant): empty or
          |                               could change the request's path or query
          +-- APIError                   .message .request_id .body .code .param .type
               +-- APIStatusError        .status_code .headers; .body is the inner "error"
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
               +-- StreamError           an error event in a stream
               +-- PollTimeoutError (TimeoutError)  a poll's deadline passed: .run, last run seen

The client errors carry the official SDK's names, so ``except`` clauses port unchanged.

Contents, section by section (each opens with a banner comment)::

    Imports
    Constants              RunStatus; _SIBLING_API, the private names siblings may import
    Errors                 the tree above
    Model                  ThreadRun, ToolCall
    Parsing                the reference (slow) path, error messages, JSON decoding
    Messages               message_text
    Adapters               iso_timestamps, millisecond_timestamps, metadata_as_text, lenient
    Streaming              RunStream, RunEvent, _EventDecoder (bytes in, events out)
    Client: defaults and limits
    Transport              _Origin, _Proxy, _Request, _Connection (http.client)
    Retries, redirects, deadlines   _RetryPolicy, _Attempts, _Poll, _redirect: decisions only
    The client's core      _BaseClient: endpoints as _Call data, answers read, no I/O
    Client                 the blocking shell (threadrun/aio.py's AsyncClient is the other)
    Helpers                error bodies, argument checks
"""

from __future__ import annotations

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
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
    "RunEvent",
    "RunStatus",
    "RunStream",
    "StreamError",
    "ThreadRun",
    "ThreadRunError",
    "ToolCall",
    "UnprocessableEntityError",
    "iso_timestamps",
    "lenient",
    "message_text",
    "metadata_as_text",
    "millisecond_timestamps",
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
from collections.abc import Mapping as _Mapping  # (annotations say Mapping: typing's)
from dataclasses import dataclass
from io import BufferedReader, RawIOBase
from operator import attrgetter
from reprlib import recursive_repr as _recursive_repr  # (loaded already: dataclasses uses it)

# ``typing`` costs milliseconds to import (10% of the time to start Python and import this
# module on 3.13) and the code needs it only for annotations, which ``from __future__ import
# annotations`` keeps as strings. mypy treats this name as True.
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    import http.client
    import ssl
    from collections.abc import Mapping
    from typing import (
        Any,
        Callable,
        Dict,
        Generator,
        Iterator,
        List,
        NamedTuple,
        NoReturn,
        Optional,
        Set,
        Tuple,
        TypeVar,
        Union,
    )  # fmt: skip
else:

    class _Deferred:
        """A name the annotations use and this module does not import: typing's ``Optional``,
        the ``ssl`` module. typing.get_type_hints() and inspect.get_annotations() evaluate
        the annotation strings in this module's namespace, where ``Optional[str]`` then
        gives typing's very object (``Optional[BinaryIO]`` too), and ``ssl.SSLContext``
        ssl's: the module is imported when an annotation is evaluated (by one who has
        imported typing already), never when threadrun is. (A module attribute is no
        help: get_type_hints evaluates in the module's __dict__, a plain dict.)"""

        __slots__ = ("_module", "_name")

        def __init__(self, module, name=""):
            self._module = module
            self._name = name

        def _target(self):
            __import__(self._module)
            target = sys.modules[self._module]
            return getattr(target, self._name) if self._name else target

        def __getitem__(self, parameters):
            return self._target()[_Deferred._resolved(parameters)]

        @staticmethod
        def _resolved(value):
            # a name that is not generic (BinaryIO) is only ever deferred as a parameter
            if isinstance(value, _Deferred):
                return value._target()
            if isinstance(value, (tuple, list)):  # Dict[K, V], Callable[[A, B], R]
                return type(value)(map(_Deferred._resolved, value))
            return value

        def __getattr__(self, name):
            if name.startswith("_"):  # (pickle, copy: never an attribute annotations read)
                raise AttributeError(name)
            return getattr(self._target(), name)

    # ``Any`` alone cannot be deferred (a bare name evaluates to what the namespace holds):
    # evaluated, annotations read it as ``object``, which is what it means of a value at run
    # time (get_type_hints gives ``Optional[object]`` for ``Optional[Any]``). The generic
    # names are always subscripted; ``Mapping`` is typing's (collections.abc.Mapping is
    # subscriptable only from 3.9); the ABC itself is ``_Mapping``.
    Any = object
    Callable, Dict, Generator, Iterator, List, Mapping, Optional, Tuple, Union = (
        _Deferred("typing", name)
        for name in (
            "Callable", "Dict", "Generator", "Iterator", "List", "Mapping", "Optional",
            "Tuple", "Union",
        )
    )  # fmt: skip
    ssl = _Deferred("ssl")


# --------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------

# The runtime's internal interface: the only private names its sibling modules (aio,
# archive, the CLI) may import from it. They are not public because they are shapes that
# change with the runtime, with no promise to users; a sibling ships with the runtime of its
# own version, so it may lean on them. Anything else private stays inside its module
# (tests/test_imports.py reads every module of the package to keep it so).
_SIBLING_API = (
    # threadrun.aio, the asyncio client: a second shell over the client's I/O-free core.
    "_Attempts", "_BaseClient", "_body_too_large", "_Call", "_DeadlineReached",
    "_DRAIN_AFTER_DONE",
    "_EXCERPT_BYTES", "_invalid_answer", "_is_event_stream", "_MAX_REDIRECTS", "_Origin",
    "_Poll", "_Proxy", "_REDIRECT_STATUSES", "_Request", "_Stale", "_STREAM_READ_SIZE",
    "_transport_error",
    # threadrun.archive: the parser's decoder and its messages, so that a run gets the same
    # verdict in an archive as from the client; the names its annotations use.
    "_DECODER", "_Deferred", "_describe", "_JSON_SPACE", "_loads", "_shorten",
    # threadrun.__main__: steps' and messages' timestamps read as a run's are; which headers
    # carry a credential.
    "_is_credential", "_iso_to_unix", "_lenient_timestamp",
)  # fmt: skip

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
_OPTIONAL_KEYS = _KNOWN_KEYS - _REQUIRED_KEYS
_OPTIONAL_NAMES = tuple(name for name in _FIELDS if name in _OPTIONAL_KEYS)
# Timestamps are Unix seconds. The reference type's u64 would allow more than any date has:
# the last second of year 9999 is the largest taken, so that milliseconds (1796603835780,
# written by some servers) are refused rather than read as a date in the year 58900.
_TIMESTAMP_MAX = 253402300799  # 9999-12-31T23:59:59Z
_TIMESTAMP_MAX_MS = _TIMESTAMP_MAX * 1000 + 999
_RUN_OBJECT = "thread.run"  # the only value of "object" in the reference type
_SUBMIT_TOOL_OUTPUTS = "submit_tool_outputs"
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
    """An id (of a thread, run, step, message or assistant) that is empty or could change the
    request's path or query."""


class APIError(OpenAIError):
    """A request to the API failed.

    ``code``, ``param`` and ``type`` are the API's error details, None when unknown (always
    for connection and timeout errors), as in the official SDK. ``run`` is, for an error
    raised by a :class:`RunStream` or a poll, the last run it had seen (None otherwise).
    """

    run: Optional[ThreadRun] = None

    def __init__(
        self,
        message: str,
        *,
        request_id: Optional[str] = None,
        body: Any = None,
        code: Optional[str] = None,
        param: Optional[str] = None,
        type: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id
        self.body = body
        self.code = code
        self.param = param
        self.type = type

    def __reduce__(self) -> Any:
        return (_rebuild_error, (type(self), self.__dict__))


class APIStatusError(APIError):
    """The server answered with an error status (4xx, 5xx, or a redirect not followed).

    ``body`` is what the SDK gives: the inner ``error`` object of a ``{"error": {...}}``
    answer, the parsed body otherwise (its text if it is not JSON).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        headers: Optional[Dict[str, str]] = None,
        body: Any = None,
        request_id: Optional[str] = None,
    ) -> None:
        body, details = _error_details(body, bare=False)
        super().__init__(message, request_id=request_id, body=body, **details)
        self.status_code = status_code
        self.headers = headers or {}


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


class StreamError(APIError):
    """The server sent an ``error`` event in the middle of a stream.

    ``body`` is the event's error object (the inner ``error`` of ``{"error": {...}}``, as
    the SDK gives it; the event's text if it is not JSON), and ``code``, ``param`` and
    ``type`` its details; ``run`` the last run the stream had seen (a failed run, when the
    error event follows ``thread.run.failed``, as some servers send it).
    """

    def __init__(
        self, message: str, *, body: Any = None, request_id: Optional[str] = None
    ) -> None:
        body, details = _error_details(body, bare=True)
        super().__init__(message, request_id=request_id, body=body, **details)


class APIResponseValidationError(ThreadRunError, APIError):
    """A successful (2xx) answer that the client could not read as what it asked for.

    Nothing the server sent is lost: ``body`` is the decoded answer (its text if it is not
    JSON) as the server sent it, before any ``run_adapter``, with the client's credentials
    scrubbed; ``field`` locates the problem in ``body`` (``"created_at"``,
    ``"data[3]['created_at']"`` for a list page), ``line`` and ``column`` a JSON syntax
    error; ``request_id`` is the answer's. The message names the run's id when the body has
    one, and says when the request created it ("the server created run ...; it was not
    returned because: ..."), so that it can be found, polled or cancelled. Both a
    :class:`ThreadRunError` and an :class:`APIError` (named as the SDK's error for the same
    case, which is an APIError too).
    """

    def __init__(
        self,
        message: str,
        *,
        body: Any,
        request_id: Optional[str],
        field: Optional[str] = None,
        line: Optional[int] = None,
        column: Optional[int] = None,
    ) -> None:
        ThreadRunError.__init__(self, message, None, line, column)
        self.field = field  # the message already says where, in its own words
        self.message = message
        self.request_id = request_id
        self.body = body
        self.code = self.param = self.type = None

    # ThreadRunError's comes first in the MRO; the keyword-only constructor needs APIError's.
    __reduce__ = APIError.__reduce__


class PollTimeoutError(APIError, TimeoutError):
    """A poll reached its deadline; ``.run`` is the last run seen (None if none was)."""

    def __init__(self, message: str, *, run: Optional[ThreadRun]) -> None:
        super().__init__(message, request_id=None)
        self.run = run


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


def _error_details(body: Any, bare: bool) -> Tuple[Any, Dict[str, Optional[str]]]:
    """The SDK's ``body`` of an error (the inner object of ``{"error": {...}}``, else the body
    as given) and its ``code``, ``param`` and ``type``, read from that inner object, or from
    a bare object when ``bare`` (a stream's error event is the error object itself; an error
    status's bare body is some other server's own shape, FastAPI's ``{"detail": ...}``)."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        body = error
    elif not (bare and isinstance(body, dict)):
        return body, {"code": None, "param": None, "type": None}
    return body, {name: _str_or_none(body.get(name)) for name in ("code", "param", "type")}


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


# eq=False, repr=False: the class writes its own __eq__ and __repr__. With the defaults,
# dataclass compiles both anyway (and keeps only its __repr__): 1 ms of every import of
# threadrun, half the cost of the class.
@dataclass(frozen=True, eq=False, repr=False)
class ThreadRun:
    """A run of an assistant on a thread, as ``GET /v1/threads/{thread_id}/runs/{run_id}``
    returns it.

    Frozen, with ``__slots__``. Build one with :meth:`from_dict` or :meth:`from_json`, which
    validate the fields and keep every key the class has no field for in ``extra``;
    :meth:`to_dict` and :meth:`to_json` give back exactly what was parsed: a known key the
    input lacked stays absent, and ``tools``/``metadata`` given as null come back as null,
    although the attributes read ``None``, ``[]`` and ``{}`` as documented. How the input
    gave those keys is remembered by the run (not a dataclass field), and applies only while
    the attribute still reads that default: ``tools``/``metadata`` filled in after parsing
    are written out. :mod:`pickle`, :func:`copy.copy`, :func:`copy.deepcopy`,
    :meth:`replace` and ``copy.replace`` (3.13+) keep it; ``dataclasses.replace`` and
    ``ThreadRun(...)`` build a run as the constructor does, with every key present.

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
    # frozensets (absent keys, keys given as null) that to_dict undoes for the attributes
    # that still read their default (None, [] or {}). Decided from the value when writing,
    # so a container filled in after parsing is never dropped, and the record can never
    # disagree with the run: there is nothing to check or to refuse when it is restored.
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
        _set_wire(self, None)  # built from values: every key present

    def __eq__(self, other: Any) -> bool:
        # Written out because the generated __eq__ of Python 3.13 compares field by field
        # with ==, where earlier versions compare tuples (identity first): a NaN in usage
        # would make a run unequal to itself on 3.13 only. One behaviour on every version.
        if other.__class__ is not self.__class__:
            return NotImplemented
        return _field_values(self) == _field_values(other)

    def __hash__(self) -> int:
        return hash((self.id, self.thread_id, self.status, self.created_at))

    @_recursive_repr("...")
    def __repr__(self) -> str:
        # dataclass's own repr, written out (see @dataclass above): every field, by name.
        return "%s(%s)" % (
            self.__class__.__qualname__,
            ", ".join(map("%s=%r".__mod__, zip(_FIELDS, _field_values(self)))),
        )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # @dataclass (3.13+) gives each dataclass a __replace__ of its own (dataclasses'),
        # unless the class defines one: a subclass keeps run.replace's, as copy.replace's.
        if "__replace__" not in cls.__dict__:
            cls.__replace__ = ThreadRun.__replace__  # type: ignore[method-assign]

    def __reduce__(self) -> Any:
        # The default reduction of a slotted object restores state with setattr, which a
        # frozen dataclass refuses. Rebuilt instead by the class's own __init__, with every
        # field it takes (a subclass's own fields too), by name (a dataclass subclass may
        # have keyword-only fields), so validated like any new run; then the record of how
        # the input gave its keys. No state for __setstate__: a slots=True dataclass
        # subclass has a generated one that would take it for field values.
        fields = {
            field.name: getattr(self, field.name)
            for field in dataclasses.fields(self)
            if field.init
        }  # fmt: skip
        return (_restore_run, (type(self), fields, _wire_or_none(self)))

    def replace(self, **changes: Any) -> ThreadRun:
        """A new run with ``changes`` to its fields, validated as a new run is, keeping how
        this run gave its keys: a key the input lacked stays absent and ``tools``/
        ``metadata`` given as null stay null, unless ``changes`` gives them a value (even
        the one they read). ``copy.replace(run, ...)`` (Python 3.13+) is this method.

        ``dataclasses.replace(run, ...)`` builds the run as ``ThreadRun(...)`` does, from
        values only: in its result every key is present.
        """
        new = dataclasses.replace(self, **changes)
        wire = _wire_or_none(self)
        if wire is not None:
            absent, null = (names.difference(changes) for names in wire)
            _set_wire(new, (absent, null) if absent or null else None)
        return new

    def __replace__(self, **changes: Any) -> ThreadRun:
        return self.replace(**changes)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ThreadRun:
        """Validate a decoded run object and build a ThreadRun from it.

        Required: ``id``, ``object``, ``created_at``, ``thread_id``, ``assistant_id``,
        ``status``, ``model``. Optional fields absent or null become None; ``tools`` and
        ``metadata`` absent or null become ``[]`` and ``{}``. Any other key goes to ``extra``
        with its value untouched. ``data`` is never modified, and ``run.to_dict() == data``.
        ``object`` must be ``"thread.run"``, timestamps Unix seconds up to the end of year
        9999, and a ``required_action`` of type ``submit_tool_outputs`` must hold its tool
        calls as the reference type has them (docs/model.md lists every rule).

        Raises :class:`ThreadRunError` naming the field for any invalid input.
        """
        # The hot path, unrolled: one read per known field. On CPython the reads are pops
        # from one C-level copy of the dict, which leave exactly the unknown keys behind, in
        # their original order; on PyPy, where popping from a copy costs more than all the
        # rest, they are plain reads of data (take is dict.get), and a comprehension picks
        # the unknown keys. take(source, key, None), not source.pop(key, None): no method
        # lookup per key, 4 to 7% less time per run on 3.7-3.10, the same on 3.11, 3.12 and
        # 3.14, 2 to 4% more on 3.13 and 3.15 (still under 0.96x the floor).
        # A key absent reads None like a null one, so a run lacking keys takes this same
        # path: the unknown keys counted against the data's tell whether a known one is
        # absent (a required one is then None, which the checks below send to the slow path
        # to be named), and only then is the record of absence made.
        # Checks take the exact types json.loads produces (str.join also lets a str
        # subclass through, which the slow path accepts too); anything else (another
        # subclass, null tools or metadata, a wrong type) goes to the slow path, which is
        # the reference implementation and says precisely what is wrong.
        if type(data) is not dict:
            return _from_mapping_slow(cls, data)
        take: Callable[[Dict[str, Any], str, None], Any]  # (mypy: dict.pop has overloads)
        if _SPLIT_BY_POPS:
            extra = source = data.copy()
            take = _dict_pop
        else:  # pragma: no cover - PyPy
            extra = {key: data[key] for key in data if key not in _KNOWN_KEYS}
            source = data
            take = _dict_get
        run_id = take(source, "id", None)
        object_ = take(source, "object", None)
        created_at = take(source, "created_at", None)
        thread_id = take(source, "thread_id", None)
        assistant_id = take(source, "assistant_id", None)
        status = take(source, "status", None)
        required_action = take(source, "required_action", None)
        last_error = take(source, "last_error", None)
        expires_at = take(source, "expires_at", None)
        started_at = take(source, "started_at", None)
        cancelled_at = take(source, "cancelled_at", None)
        failed_at = take(source, "failed_at", None)
        completed_at = take(source, "completed_at", None)
        incomplete_details = take(source, "incomplete_details", None)
        model = take(source, "model", None)
        instructions = take(source, "instructions", None)
        tools = take(source, "tools", None)
        metadata = take(source, "metadata", None)
        usage = take(source, "usage", None)
        wire = None
        if len(data) - len(extra) != 19:  # _KNOWN_COUNT: a known key is absent
            # (_wire_of, written out: tools or metadata given as null go to the slow path,
            # which records them; a required key absent reads None, which it names.)
            absent = _absent_keys(data)
            wire = (absent, _NO_KEYS)
            if tools is None and "tools" in absent:
                tools = []
            if metadata is None and "metadata" in absent:
                metadata = {}
        # 253402300799 is _TIMESTAMP_MAX (19 _KNOWN_COUNT, "thread.run" _RUN_OBJECT), written
        # out: a constant, not a global to look up.
        if not (
            type(created_at) is int
            and 0 <= created_at <= 253402300799
            and (
                expires_at is None
                or (type(expires_at) is int and 0 <= expires_at <= 253402300799)
            )
            and (
                started_at is None
                or (type(started_at) is int and 0 <= started_at <= 253402300799)
            )
            and (
                cancelled_at is None
                or (type(cancelled_at) is int and 0 <= cancelled_at <= 253402300799)
            )
            and (
                failed_at is None
                or (type(failed_at) is int and 0 <= failed_at <= 253402300799)
            )
            and (
                completed_at is None
                or (type(completed_at) is int and 0 <= completed_at <= 253402300799)
            )
            and (instructions is None or type(instructions) is str)
            and type(tools) is list
            and type(metadata) is dict
            and object_ == "thread.run"  # _RUN_OBJECT
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
        if required_action is not None:  # (null for all but requires_action runs)
            _check_required_action(required_action, "required_action")
        run: Any = _new_object(_RunBuilder)
        run.id = run_id
        run.object = object_
        run.created_at = created_at
        run.thread_id = thread_id
        run.assistant_id = assistant_id
        run.status = status
        run.required_action = required_action
        run.last_error = last_error
        run.expires_at = expires_at
        run.started_at = started_at
        run.cancelled_at = cancelled_at
        run.failed_at = failed_at
        run.completed_at = completed_at
        run.incomplete_details = incomplete_details
        run.model = model
        run.instructions = instructions
        run.tools = tools
        run.metadata = metadata
        run.usage = usage
        run.extra = extra
        run._wire = wire
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
        try:
            wire = self._wire  # type: ignore[attr-defined]
        except AttributeError:  # a subclass's __post_init__ that does not call ThreadRun's
            return data
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
        """The function calls ``required_action`` asks for, in order; empty when
        ``required_action`` is null or its calls are all of other types than ``function``.

        :meth:`from_dict` has checked their shape when ``required_action['type']`` is
        ``submit_tool_outputs``. Raises :class:`ThreadRunError` naming the path when
        ``required_action`` is not an object, or is one of another ``type`` (no tool calls
        to read in it: a server's own layout, or an action of the future).
        """
        action = self.required_action
        if action is None:
            return ()
        if not isinstance(action, dict):
            raise ThreadRunError("expected an object, got " + _describe(action), "required_action")
        if action.get("type") != _SUBMIT_TOOL_OUTPUTS:
            raise ThreadRunError(
                "is %s, not 'submit_tool_outputs': no tool calls to read"
                % (_describe(action["type"]) if "type" in action else "missing"),
                "required_action['type']",
            )
        return _read_tool_calls(action)


class _RunBuilder(ThreadRun):
    # ThreadRun with object's own __setattr__ and __delattr__ instead of the frozen ones
    # (both, or CPython calls __setattr__ through a Python-level lookup), so from_dict can
    # fill an instance with plain attribute stores (each a fraction of the object.__setattr__
    # call a frozen dataclass's __init__ makes) and then give it its real class. A subclass
    # adding no slot has ThreadRun's very layout, which the __class__ assignment checks at
    # once; between two sibling classes it compares their slots: 50-70 ns more per run.
    __slots__ = ()
    __setattr__ = object.__setattr__
    __delattr__ = object.__delattr__


_new_object = object.__new__
_dict_pop = dict.pop
_dict_get = dict.get
_field_values = attrgetter(*_FIELDS)


_TERMINAL = RunStatus.TERMINAL
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


# --------------------------------------------------------------------------------------------
# Absence: the record of the known keys a run's input lacked or gave as null (the _wire slot)
# --------------------------------------------------------------------------------------------

# The fields whose absent or null value reads as an empty container, and its type.
_EMPTY_DEFAULTS: Dict[str, Callable[[], Any]] = {"tools": list, "metadata": dict}
_NO_KEYS: frozenset[str] = frozenset()


def _set_wire(run: ThreadRun, wire: Any) -> None:
    # The _wire slot, written past the frozen __setattr__ as dataclasses writes fields.
    object.__setattr__(run, "_wire", wire)


def _wire_or_none(run: ThreadRun) -> Any:
    try:
        return run._wire  # type: ignore[attr-defined]
    except AttributeError:  # a subclass's __post_init__ that does not call ThreadRun's
        return None


def _wire_of(data: Mapping[str, Any]) -> Any:
    """How valid run data gives the known keys where the attributes cannot show it: None
    when it has all 19, tools and metadata not null; else (absent keys, null keys). (Data
    lacking a required key is not valid: from_dict refuses it whatever this gives.)"""
    absent = _absent_keys(data)
    null = _NO_KEYS
    if data.get("tools", ()) is None or data.get("metadata", ()) is None:
        null = frozenset(name for name in _EMPTY_DEFAULTS if data.get(name, ()) is None)
    return (absent, null) if absent or null else None


def _absent_each(data: Mapping[str, Any]) -> frozenset[str]:
    # The 12 optional keys (_OPTIONAL_NAMES) written out, one test each: PyPy's JIT makes a
    # test of a constant key a few instructions, where a loop over the names looks each one
    # up (50 ns against 260 ns a sparse run on PyPy 3.9 and 3.11).
    absent = []
    if "required_action" not in data:
        absent.append("required_action")
    if "last_error" not in data:
        absent.append("last_error")
    if "expires_at" not in data:
        absent.append("expires_at")
    if "started_at" not in data:
        absent.append("started_at")
    if "cancelled_at" not in data:
        absent.append("cancelled_at")
    if "failed_at" not in data:
        absent.append("failed_at")
    if "completed_at" not in data:
        absent.append("completed_at")
    if "incomplete_details" not in data:
        absent.append("incomplete_details")
    if "instructions" not in data:
        absent.append("instructions")
    if "tools" not in data:
        absent.append("tools")
    if "metadata" not in data:
        absent.append("metadata")
    if "usage" not in data:
        absent.append("usage")
    return frozenset(absent)


def _undo_defaults(data: Dict[str, Any], wire: Any) -> None:
    """Leave out of ``data`` the keys the input lacked, and write null for the ``tools``/
    ``metadata`` it gave as null, where the value is still the default they read as: a
    container filled in since (``run.metadata["k"] = "v"``) is data, written as it is."""
    absent, null = wire
    for name in absent:
        if _reads_as_default(data[name]):
            del data[name]
    for name in null:
        if _reads_as_default(data[name]):
            data[name] = None


def _reads_as_default(value: Any) -> bool:
    return value is None or (isinstance(value, (list, dict)) and not value)


def _checked_wire(wire: Any) -> Any:
    """``wire`` if it is a record parsing could have made (a pickle may hold anything)."""
    try:
        absent, null = wire
        ok = (
            type(absent) is frozenset
            and type(null) is frozenset
            and absent <= _OPTIONAL_KEYS
            and null <= _EMPTY_DEFAULTS.keys() - absent
        )
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ThreadRunError("invalid state to restore a run from: %s" % _describe(wire))
    return wire


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
    if not 0 <= value <= _TIMESTAMP_MAX:
        message = "expected Unix seconds from 0 to %d (year 9999), got %s" % (
            _TIMESTAMP_MAX, _describe(value))  # fmt: skip
        if _TIMESTAMP_MAX < value <= _TIMESTAMP_MAX_MS:
            message += ": it looks like milliseconds, which run_adapter=threadrun.lenient reads"
        raise ThreadRunError(message, field)
    return value


def _check_optional_timestamp(value: Any, field: str) -> Any:
    return None if value is None else _check_timestamp(value, field)


def _check_any(value: Any, field: str) -> Any:
    return value


def _check_object(value: Any, field: str) -> Any:
    if value != _RUN_OBJECT or not isinstance(value, str):
        raise ThreadRunError(
            "expected 'thread.run', got %s (a server that writes another value is read "
            "with run_adapter=threadrun.lenient)" % _describe(value),
            field,
        )
    return value


def _check_required_action(value: Any, field: str) -> Any:
    # The reference type's layout is checked where it is declared; null and any other
    # layout (a server's own, an action of the future) are kept as they are.
    if isinstance(value, dict) and value.get("type") == _SUBMIT_TOOL_OUTPUTS:
        _read_tool_calls(value)
    return value


def _read_tool_calls(action: Dict[str, Any]) -> Tuple[ToolCall, ...]:
    """The function calls of a ``submit_tool_outputs`` action; ThreadRunError naming the path
    of the first thing in it that is not as the reference type has it."""
    path = "required_action"
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
    ("object", _check_object),
    ("created_at", _check_timestamp),
    ("thread_id", _check_str),
    ("assistant_id", _check_str),
    ("status", _check_str),
    ("required_action", _check_required_action),
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
    if type(data) is not dict and not isinstance(data, _Mapping):  # (the ABC check is slow)
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


def _as_subclass(cls: Any, run: ThreadRun) -> ThreadRun:
    # A subclass may have another layout and fields of its own (with defaults): build it
    # through its __init__ (and its __post_init__, which calls ThreadRun's to validate).
    built: ThreadRun = cls(*_field_values(run))
    _set_wire(built, run._wire)  # type: ignore[attr-defined]
    return built


def _restore_run(cls: Any, fields: Dict[str, Any], wire: Any) -> ThreadRun:
    """A run from what ``ThreadRun.__reduce__`` gave (pickle, copy, deepcopy)."""
    run: ThreadRun = cls(**fields)
    if wire is not None:
        _set_wire(run, _checked_wire(wire))
    return run


_EXPECTED_NAMES: Dict[type, str] = {str: "a string", list: "an array", dict: "an object"}


def _get_typed(container: Dict[str, Any], key: str, expected: type, path: str) -> Any:
    value = container.get(key)
    if not isinstance(value, expected):
        what = _EXPECTED_NAMES[expected]
        if key in container:
            problem = "expected %s, got %s" % (what, _describe(value))
        else:
            # Missing is not null: say which keys there are, so that another shape (a
            # server's own layout of required_action) is recognised at once.
            keys = ", ".join(_key_repr(name) for name in container if isinstance(name, str))
            has = "the object has " + _shorten(keys, 120) if keys else "the object is empty"
            problem = "is missing, expected %s (%s)" % (what, has)
        raise ThreadRunError(problem, "%s[%r]" % (path, key))
    return value


def _reject_constant(name: str) -> NoReturn:
    raise ThreadRunError("invalid JSON: %s is not a JSON number" % name)


def _parse_float(text: str) -> float:
    value = float(text)
    if value - value:  # inf - inf is nan, which is true; a finite value gives 0.0
        raise ThreadRunError("invalid JSON: %s is too large for a number" % _shorten(text, 40))
    return value


class _Decoder(json.JSONDecoder):
    """json's decoder with the rules of run data: a float literal too large for a double
    (1e400) would decode as Infinity, which JSON does not have and to_json could not write
    back: refused like NaN. ``scan_value(text, index)`` reads the one value at ``index`` (see
    _decode). Pickled as a new one: its scanner is a C object no pickler writes, and
    cloudpickle, shipping this module by value, pickles every global its functions use."""

    def __init__(self) -> None:
        super().__init__(parse_constant=_reject_constant, parse_float=_parse_float)
        self.scan_value: Callable[[str, int], Tuple[Any, int]] = (
            # (typeshed does not declare scan_once; JSONDecoder has had it since 2.6)
            self.scan_once if _SCAN_IN_C else _scan_document  # type: ignore[attr-defined]
        )

    def __reduce__(self) -> Any:
        return (_Decoder, ())


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
# cheaper than a type() test each; PyPy's join also takes a bytearray); _SCAN_IN_C,
# _Decoder.scan_value is JSONDecoder.scan_once, json's C scanner called directly (see
# _decode), where PyPy's is _scan_document; _absent_keys, one frozenset.difference (in C,
# 2x faster than a test per key; 3x slower on PyPy 3.9).
_SPLIT_BY_POPS = _SCAN_IN_C = sys.implementation.name == "cpython"
if sys.implementation.name == "cpython":
    _check_strings: Callable[[List[Any]], Any] = "".join
    _absent_keys: Callable[[Mapping[str, Any]], frozenset[str]] = _OPTIONAL_KEYS.difference
else:  # pragma: no cover - PyPy
    _check_strings = _check_strings_each
    _absent_keys = _absent_each
_DECODER = _Decoder()


def _loads(text: Any) -> Any:
    """json.loads for run data: every failure is a ThreadRunError."""
    try:
        return _decode(text)
    except json.JSONDecodeError as exc:
        reason = exc.msg[:-3] if exc.msg.endswith(" at") else exc.msg  # "starting at": one "at"
        raise ThreadRunError(
            "invalid JSON: %s at line %d column %d" % (reason, exc.lineno, exc.colno),
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
        value, end = _DECODER.scan_value(text, 0)
    except StopIteration:
        pass
    else:
        if end == len(text) or not text[end:].strip(_JSON_SPACE):
            return value
    if not text or text.isspace():
        raise ThreadRunError("invalid JSON: the document is empty", line=1, column=1)
    return _DECODER.decode(text)


# --------------------------------------------------------------------------------------------
# Messages: the text of a thread's message, as the messages endpoints and streams give it
# --------------------------------------------------------------------------------------------


def message_text(message: Mapping[str, Any]) -> str:
    """The text of a message: the values of its text parts, joined with nothing between them
    (as ``RunStream.text_deltas()`` yields them), in order.

    Reads the reference shape (``{"type": "text", "text": {"value": "..."}}``), servers that
    put the string itself in ``text`` (``{"type": "text", "text": "..."}``), and a
    ``content`` that is a plain string. Parts of other types (images, files) are skipped, and
    so is a text part whose value is null; annotations are not text.

    Raises :class:`ThreadRunError` naming the path when ``message`` is not an object, its
    ``content`` is neither a list nor a string, or a text part's value is not a string.
    """
    if not isinstance(message, _Mapping):
        raise ThreadRunError("expected a message object, got " + _describe(message))
    content = message.get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise ThreadRunError("expected an array of content parts, got " + _describe(content),
                             "content")  # fmt: skip
    pieces = []
    for index, part in enumerate(content):
        if not isinstance(part, _Mapping) or part.get("type") != "text":
            continue
        text = part.get("text")
        path = "content[%d]['text']" % index
        if isinstance(text, _Mapping):
            text = text.get("value")
            path += "['value']"
        if text is None:
            continue
        if not isinstance(text, str):
            raise ThreadRunError("expected a string, got " + _describe(text), path)
        pieces.append(text)
    return "".join(pieces)


# --------------------------------------------------------------------------------------------
# Adapters: run mappings from servers that differ from the reference, made reference-shaped
# --------------------------------------------------------------------------------------------

_TIMESTAMP_FIELDS = (
    "created_at", "expires_at", "started_at", "cancelled_at", "failed_at", "completed_at",
)  # fmt: skip
_ISO_PATTERN: Any = None  # compiled on first use: most programs never need it
_UNIX_EPOCH_ORDINAL = 719163  # datetime.date(1970, 1, 1).toordinal()
_METADATA_ENCODER: Any = None  # built on first use, as _ISO_PATTERN


def iso_timestamps(data: Mapping[str, Any]) -> Dict[str, Any]:
    """A run adapter for servers that send RFC 3339 / ISO-8601 timestamps.

    Returns a new dict, ``data`` with its six timestamp fields (``created_at``,
    ``expires_at``, ``started_at``, ``cancelled_at``, ``failed_at``, ``completed_at``) as
    integer Unix seconds: ``"2026-11-29T16:30:14.549940Z"`` becomes ``1795969814``. Any
    offset is accepted (``Z``, ``+02:00``, ``-0530``), and a space for the ``T``; a time
    without an offset is taken as UTC; fractions of a second are truncated; a leap second
    (``:60``) is the second after ``:59``. Integers, ``null`` and missing keys are left as
    they are; anything else raises :class:`ThreadRunError` naming the field. ``data`` is
    not modified.

    Use it as ``Client(run_adapter=threadrun.iso_timestamps)``, or call it before
    :meth:`ThreadRun.from_dict`. The run built holds the integers, and its :meth:`ThreadRun.to_dict`
    gives them: lossless is relative to what was parsed, after the adapter.
    """
    if not isinstance(data, _Mapping):
        raise ThreadRunError("expected a JSON object (dict), got " + _describe(data))
    adapted = dict(data)
    for field in _TIMESTAMP_FIELDS:
        value = adapted.get(field)
        if isinstance(value, str):
            adapted[field] = _iso_to_unix(value, field)
        elif value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise ThreadRunError(
                "expected an integer timestamp or an ISO-8601 date and time, got "
                + _describe(value), field
            )  # fmt: skip
    return adapted


def millisecond_timestamps(data: Mapping[str, Any]) -> Dict[str, Any]:
    """A run adapter for servers that write some timestamps in milliseconds.

    Returns a new dict, ``data`` with each of its six timestamp fields that holds an integer
    beyond the year 9999 (over ``253402300799``) divided by 1000, truncated: ``1796603835780``
    becomes ``1796603835``. Each field is judged on its own, so a server that writes
    ``created_at`` in milliseconds and ``completed_at`` in seconds is read right. Other values
    are left as they are (the model's checks then apply); an integer still beyond the year
    9999 once divided raises :class:`ThreadRunError` naming the field. ``data`` is not
    modified.
    """
    adapted = _adapted_copy(data)
    for field in _TIMESTAMP_FIELDS:
        value = adapted.get(field)
        if type(value) is int and value > _TIMESTAMP_MAX:
            adapted[field] = _milliseconds_to_seconds(value, field)
    return adapted


def metadata_as_text(data: Mapping[str, Any]) -> Dict[str, Any]:
    """A run adapter for servers that keep metadata values of any JSON type.

    Returns a new dict, ``data`` whose ``metadata`` values that are not strings are replaced
    by their compact JSON text: ``{"stream": true}`` becomes ``{"stream": "true"}``,
    ``{"n": 2}`` ``{"n": "2"}``. A value JSON cannot write (NaN) raises
    :class:`ThreadRunError` naming it. Anything but an object in ``metadata`` is left to the
    model's checks. ``data`` is not modified.
    """
    adapted = _adapted_copy(data)
    _metadata_to_text(adapted)
    return adapted


def lenient(data: Mapping[str, Any]) -> Dict[str, Any]:
    """A run adapter that reads every quirk measured on self-hosted Assistants servers.

    Returns a new dict, ``data`` with, in its six timestamp fields, ISO-8601 strings read as
    :func:`iso_timestamps` reads them, integers beyond the year 9999 read as milliseconds as
    :func:`millisecond_timestamps` reads them (each field on its own), and numbers with a
    fraction truncated to whole seconds; ``"model": null`` as ``""`` (the reference type
    has a string; ``instructions`` may be null as it is); ``metadata`` values that are not
    strings as their JSON text, as :func:`metadata_as_text` writes them; and an ``object``
    other than ``"thread.run"`` (a string, or null) as ``"thread.run"``. Anything it cannot
    read raises :class:`ThreadRunError` naming the field; the model's checks apply to the
    rest. ``data`` is not modified.

    Use it as ``Client(run_adapter=threadrun.lenient)``; it composes with your own adapter
    as any function does: ``run_adapter=lambda data: mine(threadrun.lenient(data))``.
    """
    adapted = _adapted_copy(data)
    for field in _TIMESTAMP_FIELDS:
        value = adapted.get(field)
        if value is not None and (type(value) is not int or value > _TIMESTAMP_MAX):
            adapted[field] = _lenient_timestamp(value, field)
    if "model" in adapted and adapted["model"] is None:
        adapted["model"] = ""
    kind_of_object = adapted.get("object", _RUN_OBJECT)
    if kind_of_object != _RUN_OBJECT:
        if kind_of_object is not None and not isinstance(kind_of_object, str):
            raise ThreadRunError("expected a string, got " + _describe(kind_of_object), "object")
        adapted["object"] = _RUN_OBJECT
    _metadata_to_text(adapted)
    return adapted


def _lenient_timestamp(value: Any, field: str) -> Any:
    """A timestamp as :func:`lenient` reads it: integer seconds (None stays None)."""
    kind = type(value)
    if value is None:
        return None
    if kind is int:
        return _milliseconds_to_seconds(value, field) if value > _TIMESTAMP_MAX else value
    if kind is str:
        return _iso_to_unix(value, field)
    if kind is float and 0 <= value <= _TIMESTAMP_MAX_MS:  # (not NaN, not infinite)
        return _lenient_timestamp(int(value), field)
    raise ThreadRunError(
        "expected a timestamp (integer seconds or milliseconds, or an ISO-8601 date and "
        "time), got " + _describe(value), field
    )  # fmt: skip


def _adapted_copy(data: Mapping[str, Any]) -> Dict[str, Any]:
    # type() first: isinstance of an ABC costs more than the copy.
    if type(data) is not dict and not isinstance(data, _Mapping):
        raise ThreadRunError("expected a JSON object (dict), got " + _describe(data))
    return dict(data)


def _milliseconds_to_seconds(value: int, field: str) -> int:
    seconds = value // 1000
    if seconds > _TIMESTAMP_MAX:
        raise ThreadRunError(
            "beyond the year 9999 even read as milliseconds: " + _describe(value), field
        )
    return seconds


def _metadata_to_text(adapted: Dict[str, Any]) -> None:
    metadata = adapted.get("metadata")
    if not isinstance(metadata, dict):
        return
    for value in metadata.values():
        if type(value) is not str:
            break
    else:
        return  # every value a string already: what servers send
    global _METADATA_ENCODER
    if _METADATA_ENCODER is None:
        _METADATA_ENCODER = json.JSONEncoder(
            separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )  # one for all: json.dumps with options builds an encoder per call
    texts = {}
    for key, value in metadata.items():
        if isinstance(value, str):
            texts[key] = value
            continue
        try:
            texts[key] = _METADATA_ENCODER.encode(value)
        except (TypeError, ValueError, RecursionError):
            raise ThreadRunError(
                "expected a value JSON can write, got " + _describe(value),
                "metadata[%s]" % _key_repr(str(key)),
            ) from None
    adapted["metadata"] = texts


def _iso_to_unix(text: str, field: str) -> int:
    global _ISO_PATTERN
    if _ISO_PATTERN is None:
        import re  # already imported by json: costs nothing

        _ISO_PATTERN = re.compile(
            r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:[.,]\d+)?"
            r"(?:[Zz]|([+-])(\d\d):?(\d\d))?",
            re.ASCII,
        )
    match = _ISO_PATTERN.fullmatch(text)
    if match is None:
        raise ThreadRunError(
            "expected an integer timestamp or an ISO-8601 date and time, got "
            + _describe(text), field
        )  # fmt: skip
    year, month, day, hour, minute, second = (int(part) for part in match.group(1, 2, 3, 4, 5, 6))
    sign, offset_hours, offset_minutes = match.group(7, 8, 9)
    offset = int(offset_hours or 0) * 3600 + int(offset_minutes or 0) * 60
    # A leap second (:60) counts as the second after :59: POSIX time has no room for it.
    if hour > 23 or minute > 59 or second > 60 or offset >= 86400 or int(offset_minutes or 0) > 59:
        raise ThreadRunError("not a valid date and time: " + _describe(text), field)
    if sign == "-":
        offset = -offset
    import datetime

    try:
        days = datetime.date(year, month, day).toordinal() - _UNIX_EPOCH_ORDINAL
    except ValueError:
        raise ThreadRunError("not a valid date and time: " + _describe(text), field) from None
    seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset
    if seconds < 0:
        raise ThreadRunError("a date and time before 1970: " + _describe(text), field)
    return seconds


# --------------------------------------------------------------------------------------------
# Streaming: server-sent events, as the WHATWG HTML standard reads them, to RunEvents
# --------------------------------------------------------------------------------------------

if TYPE_CHECKING:  # pragma: no cover
    # What RunStream._tagged gives back: the very error it was given.
    _Tagged = TypeVar("_Tagged", bound=Union[APIError, ThreadRunError])

# The message events whose data is the message as it ends: taken whole, deltas or not.
# Deltas of a message kept before they are applied: memory holds a long message's text, not
# every delta of it, and each application joins its text once.
_PENDING_DELTAS = 512
_FINAL_MESSAGE_EVENTS = frozenset(("thread.message.completed", "thread.message.incomplete"))


if TYPE_CHECKING:  # pragma: no cover

    class RunEvent(NamedTuple):
        """One event of a run's stream."""

        event: str
        data: Any

else:
    RunEvent = namedtuple("RunEvent", ("event", "data"), module=__name__)
    RunEvent.__doc__ = """One event of a run's stream: ``event``, its type
    (``"thread.run.created"``, ``"thread.message.delta"``, ...), and its ``data``: a
    :class:`ThreadRun` for the ``thread.run.<status>`` events, the decoded JSON for the others."""

# RunEvent's own __new__ is a Python function; tuple's, given the class, builds the same.
_new_tuple = tuple.__new__


class RunStream:
    """The events of a streamed run, read as they arrive: an iterator of :class:`RunEvent`
    and a context manager.

    ``Client.stream()`` and the other ``*_stream`` methods make these. ``read_chunk()``
    returns the next bytes of the response body (``b""`` at its end) and raises
    :class:`APIConnectionError` when the connection fails. ``release(done)`` is called
    once, when the stream ends, fails or is closed: with True when it ended at the done
    event, which it does at once, reading nothing after it (the connection may carry
    another request only if the end of the body is already in hand: ``release`` checks,
    never waits), else with False (the body is unread: never reuse the connection). An
    event of more than ``max_event_bytes`` bytes (the client's ``max_response_bytes``; its
    lines with their ends, CRLF counting one) raises :class:`ResponseTooLargeError`: memory
    stays flat however long the stream, but for the text of its messages.

    Iteration ends at the ``done`` event (``data: [DONE]``), which is not yielded. An event
    whose data is a run (``"object": "thread.run"``, in a ``thread.run.<status>`` event,
    whatever the status) yields a :class:`ThreadRun`; every other event, of any name, its
    decoded JSON. Each run must be the one asked for: of ``thread_id`` and ``run_id`` when
    given, else of the thread and run of the stream's first run (the thread of a
    ``thread.created`` event before it); another raises :class:`APIError` naming both.

    Errors are raised when iteration reaches them, after every event before them, and carry
    ``.run``, the last run seen; after an error or :meth:`close`, iteration stops. A stream
    that ends before done raises :class:`APIConnectionError`; an ``error`` event raises
    :class:`StreamError`; data that is not JSON, or a run event that is not a valid run,
    raises :class:`APIResponseValidationError` naming the event and the stream's run, its
    ``body`` the data as sent. A ``}`` after a complete JSON object (a slip in the API
    reference's own examples) is ignored; anything else after it is an error. The done
    event is taken at the end of the body even without the blank line that would end it
    (those examples end so). A body that is not UTF-8 raises :class:`ThreadRunError`.

    ``run`` is the last run seen (None before the first); ``messages`` the messages the
    stream has written; ``last_event_id`` is the ``id`` of the last event yielded (``""`` if
    the server sends none) and ``retry`` the last ``retry`` the server asked for, in
    milliseconds (None if none).

    ``parse_run`` makes the :class:`ThreadRun` of a run event from its decoded data
    (default :meth:`ThreadRun.from_dict`; a client passes its own, which applies its
    ``run_adapter``). ``redact``, given a decoded value (a str, dict or list), returns it
    with any secret taken out: every error the stream raises quotes the server's data only
    through it (a client passes the scrub of its credentials).
    """

    def __init__(
        self,
        read_chunk: Callable[[], bytes],
        release: Callable[[bool], Any],
        *,
        max_event_bytes: int,
        request_id: Optional[str] = None,
        parse_run: Callable[[Any], ThreadRun] = ThreadRun.from_dict,
        redact: Optional[Callable[[Any], Any]] = None,
        thread_id: Optional[str] = None,
        run_id: Optional[str] = None,
    ) -> None:
        if not callable(read_chunk) or not callable(release) or not callable(parse_run):
            raise TypeError("read_chunk, release and parse_run must be callables")
        if redact is not None and not callable(redact):
            raise TypeError("redact must be a callable or None")
        if type(max_event_bytes) is not int or max_event_bytes <= 0:
            raise ValueError("max_event_bytes must be a positive integer")
        for given, what in ((thread_id, "thread_id"), (run_id, "run_id")):
            if given is not None and not isinstance(given, str):
                raise TypeError("%s must be a str or None" % what)
        self.run: Optional[ThreadRun] = None
        self.last_event_id = ""
        self.request_id = request_id
        self._read_chunk = read_chunk
        self._release: Optional[Callable[[bool], Any]] = release
        self._parse_run = parse_run
        self._redact = redact
        self._thread_id = thread_id  # the thread and run every run event must be of
        self._run_id = run_id
        # Per message id: [the message, deltas not yet applied to it, whether it is ours to
        # change (not an event's data the caller holds)]. Deltas are applied when read.
        self._messages: Dict[str, List[Any]] = {}
        self._decoder = _EventDecoder(max_event_bytes)
        self._closed = False
        self._done = False
        self._failure: Optional[Exception] = None
        self._iterator = self._events()

    @property
    def retry(self) -> Optional[int]:
        return self._decoder.retry

    @property
    def messages(self) -> List[Dict[str, Any]]:
        """The messages of the run as the stream has written them so far, in the order they
        began: each as its ``thread.message.completed`` (or ``.incomplete``) event gave it,
        else its ``thread.message.created`` with the deltas since applied (text appended,
        annotations and other parts added; a message whose created event never came is
        built from its deltas). ``threadrun.message_text(message)`` gives a message's text."""
        entries = self._messages.values()
        for entry in entries:
            if entry[1]:
                _apply_deltas(entry)
        return [entry[0] for entry in entries]

    def __iter__(self) -> Iterator[RunEvent]:
        return self._iterator

    def __next__(self) -> RunEvent:
        return next(self._iterator)

    def __enter__(self) -> RunStream:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def until_done(self) -> ThreadRun:
        """Read the stream to its done event and return the last run seen.

        Raises what the stream raised, again, if it failed before; :class:`APIConnectionError`
        if it was closed before done, or held no run.
        """
        for _ in self._iterator:
            pass
        self._check_done()
        if self.run is None:
            raise self._tagged(APIConnectionError("the stream ended without a run event"))
        return self.run

    def text_deltas(self) -> Iterator[str]:
        """The text of the assistant's messages as it arrives: the text of each
        ``thread.message.delta`` event (its text parts joined, as :func:`message_text` reads
        them; parts without text, such as annotations alone, add nothing), in order, reading
        the stream to its done event (raising as :meth:`until_done` does).

        Raises :class:`ThreadRunError` naming the path when a text part is malformed (a
        value that is not a string).
        """
        for event, data in self._iterator:
            if event == "thread.message.delta":
                text = self._checked_delta_text(data)
                if text:
                    yield text
        self._check_done()

    def _checked_delta_text(self, data: Any) -> str:
        """The text of a delta event's data; a malformed one closes the stream and raises."""
        try:
            text = _delta_text(data)
        except ThreadRunError:
            text = None
        if text is None:
            # Raised here, outside the handler, so that the error does not keep the
            # unredacted one as its context.
            error = self._delta_error(data)
            self.close()
            self._failure = error
            raise error
        return text

    def close(self) -> None:
        """Stop reading and release the connection (never reused: the body is unread).

        Iteration ends. Safe at any point, more than once, and from another thread.
        """
        self._closed = True
        try:
            self._iterator.close()
        except ValueError:
            pass  # running in another thread: releasing the connection stops its read
        self._release_once(False)

    def __repr__(self) -> str:
        run = self.run
        state = "closed" if self._release is None else "open"
        return "<threadrun.RunStream %s run=%s>" % (state, None if run is None else run.id)

    def _events(self) -> Generator[RunEvent, None, None]:
        read_chunk = self._read_chunk
        try:
            while True:
                try:
                    chunk = read_chunk()
                except Exception as exc:
                    if self._closed:
                        return
                    if isinstance(exc, APIError):
                        self._tagged(exc)
                    raise
                yield from self._chunk_events(chunk)
                if self._done:
                    return
        except Exception as exc:
            if not self._closed:
                self._failure = exc  # raised again by until_done()
            raise
        finally:
            self._release_once(False)

    def _chunk_events(self, chunk: bytes) -> Generator[RunEvent, None, None]:
        """The events of the next bytes of the body (b"": its end), without I/O: the
        shells' read loops (this class's, and threadrun.aio's) feed it what they read. The
        done event ends the stream (``_done``); an end before it, or an invalid event,
        raises."""
        decoder = self._decoder
        if not chunk:
            if decoder.done_pending():
                self._finish()
                return
            raise self._tagged(
                APIConnectionError(
                    "the stream ended before its done event: the connection was closed or cut"
                )
            )
        scan = _DECODER.scan_value
        messages: Dict[Any, List[Any]] = self._messages  # looked up by what a delta names
        for name, data, event_id in decoder.feed(chunk):
            if name == "done" or data == "[DONE]":
                self._finish()
                return
            # The JSON scanner reads a value from the first character; anything else
            # (whitespace around it, errors) takes the slow path.
            try:
                value, end = scan(data, 0)
            except (StopIteration, ValueError, RecursionError):
                end = -1
            if end != len(data) or name == "error":
                value = self._slow_data(name, data)
            if name[:11] == "thread.run.":
                if (
                    name.find(".", 11) < 0
                    and type(value) is dict
                    and value.get("object") == "thread.run"
                ):
                    value = self._run_event(name, value)
            elif name == "thread.message.delta":
                # Kept for .messages, applied only when it is read: a delta costs one
                # append here.
                entry = messages.get(value.get("id")) if type(value) is dict else None
                if entry is None:
                    entry = self._new_message(value)
                if entry is not None:
                    pending = entry[1]
                    pending.append(value)
                    if len(pending) >= _PENDING_DELTAS:
                        _apply_deltas(entry)  # a long message: its text, not its deltas
            elif name[:15] == "thread.message.":
                self._message_event(name, value)
            elif name == "thread.created" and self._thread_id is None:
                thread_id = value.get("id") if type(value) is dict else None
                if isinstance(thread_id, str):
                    self._thread_id = thread_id
            self.last_event_id = event_id
            yield _new_tuple(RunEvent, (name, value))
        if decoder.failure is not None:
            raise self._tagged(decoder.failure)

    def _run_event(self, name: str, data: Dict[str, Any]) -> ThreadRun:
        """The run of a run event, once it is known to be the one asked for."""
        try:
            run = self._parse_run(data)
        except ThreadRunError as exc:
            failure = exc
        else:
            if not _is_other_run(self._run_id, self._thread_id, run):
                if self._run_id is None:
                    self._run_id = run.id
                    self._thread_id = run.thread_id
                self.run = run
                return run
            problem = _other_run(self._run_id, self._thread_id, run, self._redact or _same)
            raise self._tagged(APIError("in event %r: %s" % (_shorten(name, 60), problem)))
        raise self._invalid(failure, name, data)

    def _new_message(self, data: Any) -> Optional[List[Any]]:
        """The entry of a message whose first event is a delta; None for data that names
        no message."""
        message_id = data.get("id") if type(data) is dict else None
        if not isinstance(message_id, str):
            return None
        entry = self._messages[message_id] = [
            {"id": message_id, "object": "thread.message", "content": []}, [], True
        ]  # fmt: skip
        return entry

    def _message_event(self, name: str, data: Any) -> None:
        if type(data) is not dict or data.get("object") != "thread.message":
            return
        message_id = data.get("id")
        if not isinstance(message_id, str):
            return
        entry = self._messages.get(message_id)
        if entry is None or name in _FINAL_MESSAGE_EVENTS or not (entry[1] or entry[2]):
            # New, whole, or (in_progress) the message as it stands: no delta to keep.
            self._messages[message_id] = [data, [], False]
            return
        # A change after deltas (events of the future): its fields, the text so far kept.
        if entry[1]:
            _apply_deltas(entry)
        message = entry[0]
        for key, value in data.items():
            if key != "content":
                message[key] = value

    def _slow_data(self, name: str, data: str) -> Any:
        try:
            value = _loads(data)
            failure = None
        except ThreadRunError as exc:
            value, failure = None, exc
        if failure is not None:
            if name == "error":
                value = data  # the message may be plain text: it is still the error
            else:
                # The API reference's examples end some objects with a stray "}": the
                # object before it is whole and unambiguous, so it is taken.
                value = _before_stray_brace(data)
                if value is None:
                    raise self._invalid(failure, name, data)
        if name == "error":
            raise self._stream_error(value)
        return value

    def _stream_error(self, body: Any) -> StreamError:
        if self._redact is not None:
            body = self._redact(body)
        error = body.get("error", body) if isinstance(body, dict) else body
        message = error.get("message") if isinstance(error, dict) else error
        if not isinstance(message, str) or not message:
            message = "(no message)"
        code = error.get("code") if isinstance(error, dict) else None
        if code is not None:
            message = "%s (%s)" % (message, _shorten(str(code), 60))
        return self._tagged(
            StreamError("the server sent an error event: " + _shorten(message, 400), body=body)
        )

    def _delta_error(self, data: Any) -> ThreadRunError:
        """Why a delta's text cannot be read, quoting only the redacted data (the reason
        quotes a value, maybe a secret cut short)."""
        if self._redact is not None:
            data = self._redact(data)
        field = None
        try:
            _delta_text(data)
            reason = "not a valid delta"
        except ThreadRunError as exc:
            reason, field = _reason(exc), "delta" + _subscript(exc.field)
        where = "in event 'thread.message.delta': " + (field + ": " if field else "")
        error = ThreadRunError(where + reason)
        error.field = field
        return self._tagged(error)

    def _invalid(self, exc: ThreadRunError, name: str, data: Any) -> ThreadRunError:
        """The error for an event whose data cannot be read (``data``: as it came): it names
        the event and the stream's run, and carries the data."""
        where = "in event %r" % _shorten(name, 60)
        if self._run_id is not None:  # redacted before it is cut short, as in _other_run
            where += " of run %r" % _shorten((self._redact or _same)(self._run_id), 60)
        if isinstance(exc, APIError):
            # A client's parse_run error carries what the server sent: keep it, and its type.
            message = "%s: %s" % (where, exc.args[0])
            exc.args = (message,)
            exc.message = message
            return self._tagged(exc)
        reason = exc.args[0]
        if self._redact is not None:
            data = self._redact(data)
            if isinstance(data, dict):
                # The reason quotes a value, maybe a secret cut short: say it again from the
                # data without secrets.
                try:
                    self._parse_run(data)
                except ThreadRunError as again:
                    reason = again.args[0]
                except Exception:
                    pass  # the message is redacted all the same
        error = APIResponseValidationError(
            "%s: %s" % (where, reason), body=data, request_id=self.request_id,
            field=exc.field, line=exc.line, column=exc.column,
        )  # fmt: skip
        return self._tagged(error)

    def _tagged(self, exc: _Tagged) -> _Tagged:
        if exc.request_id is None:
            exc.request_id = self.request_id
        if isinstance(exc, APIError) and exc.run is None:
            exc.run = self.run
        if self._redact is not None:
            message = self._redact(str(exc.args[0])) if exc.args else ""
            exc.args = (message,)
            if isinstance(exc, APIError):
                exc.message = message
        return exc

    def _check_done(self) -> None:
        """After iteration: raise unless the stream reached its done event."""
        if self._done:
            return
        if self._failure is not None:
            raise self._failure
        raise self._tagged(APIConnectionError("the stream was closed before its done event"))

    def _finish(self) -> None:
        # The events are all in: whatever follows done is not waited for.
        self._done = True
        self._release_once(True)

    def _release_once(self, done: bool) -> None:
        release, self._release = self._release, None
        if release is not None:
            release(done)


def _is_other_run(run_id: Optional[str], thread_id: Optional[str], run: ThreadRun) -> bool:
    """Whether ``run`` is not ``run_id`` of ``thread_id`` (either None: any will do)."""
    return (run_id is not None and run.id != run_id) or (
        thread_id is not None and run.thread_id != thread_id
    )


def _other_run(
    run_id: Optional[str], thread_id: Optional[str], run: ThreadRun, scrub: Callable[[Any], Any]
) -> str:
    """What is wrong when ``run`` is not ``run_id`` of ``thread_id``, naming both; every id
    through ``scrub`` before it is cut short (a secret cut short could no longer be found)."""
    asked = "a run" if run_id is None else "run %r" % _shorten(scrub(run_id), 60)
    if thread_id is not None:
        asked += " of thread %r" % _shorten(scrub(thread_id), 60)
    return "asked for %s, the server answered with run %r of thread %r" % (
        asked, _shorten(scrub(run.id), 60), _shorten(scrub(run.thread_id), 60)
    )  # fmt: skip


def _same(value: Any) -> Any:
    return value


def _before_stray_brace(data: str) -> Any:
    """The object before a stray ``}`` that ends ``data``; None if that is not what it is."""
    stripped = data.rstrip(_JSON_SPACE)
    if stripped[-1:] != "}":
        return None
    try:
        value = _loads(stripped[:-1])
    except ThreadRunError:
        return None
    return value if type(value) is dict else None


def _delta_text(data: Any) -> str:
    """The text of a ``thread.message.delta`` event's data ("" when it has none)."""
    delta = data.get("delta") if type(data) is dict else None
    if type(delta) is not dict or delta.get("content") is None:
        return ""  # a delta of something other than content (the role, say)
    return message_text(delta)


def _reason(exc: ThreadRunError) -> str:
    """An error's message without the field that prefixes it."""
    message: str = exc.args[0]
    prefix = (exc.field or "") + ": "
    return message[len(prefix) :] if exc.field and message.startswith(prefix) else message


def _subscript(field: Optional[str]) -> str:
    """A field path as a subscript of its container: "content[0]" -> "['content'][0]"."""
    if not field:
        return ""
    head, bracket, rest = field.partition("[")
    return "[%r]%s%s" % (head, bracket, rest)


class _Pieces(list):  # type: ignore[type-arg]
    """The pieces of a string being appended to, joined once all are in."""


def _apply_deltas(entry: List[Any]) -> None:
    """A message entry of RunStream with its pending deltas applied."""
    message, deltas, owned = entry
    if not owned:
        message = _copied(message)
    joins: List[Tuple[Dict[str, Any], str]] = []
    for data in deltas:
        delta = data.get("delta")
        if type(delta) is dict:
            _merge(message, delta, joins)
    for target, key in joins:
        target[key] = "".join(target[key])
    entry[0], entry[1], entry[2] = message, [], True


def _merge(target: Dict[str, Any], delta: Dict[str, Any], joins: List[Any]) -> None:
    """``delta`` merged into ``target`` as the API's deltas build a message: a text's
    ``value`` appended to (as _Pieces, listed in ``joins``), objects merged, the items of an
    array that carry an ``index`` merged into the item at that place (others added), null
    changing nothing, anything else (a type, a role) replaced."""
    for key, value in delta.items():
        old = target.get(key)
        kind = type(value)
        if value is None:
            target.setdefault(key, None)
        elif kind is str and key == "value":
            if type(old) is _Pieces:
                old.append(value)
            elif type(old) is str:
                target[key] = _Pieces((old, value))
                joins.append((target, key))
            else:
                target[key] = value
        elif kind is dict:
            if type(old) is not dict:
                target[key] = old = {}
            _merge(old, value, joins)
        elif kind is list:
            if type(old) is not list:
                target[key] = old = []
            for item in value:
                if type(item) is not dict:
                    old.append(item)
                    continue
                index = item.get("index")
                fields = {k: v for k, v in item.items() if k != "index"}  # a place, not data
                if type(index) is int and 0 <= index < len(old) and type(old[index]) is dict:
                    _merge(old[index], fields, joins)
                else:
                    added: Dict[str, Any] = {}
                    _merge(added, fields, joins)
                    old.append(added)
        else:
            target[key] = value


def _copied(value: Any) -> Any:
    import copy  # already imported by dataclasses: costs nothing

    return copy.deepcopy(value)


class _EventDecoder:
    # The event-stream interpretation of the WHATWG HTML standard, incremental: feed() takes
    # the body's bytes as they arrive and returns the events they complete, as (type, data,
    # last event id). Speed comes from whole-chunk work in C: line ends normalised to LF and
    # the complete lines cut off by bytes methods, decoded from UTF-8 in one call (a line
    # end is never inside a UTF-8 sequence, so a character split between chunks waits, whole,
    # in the unfinished line), split in one call; only whole lines reach the Python loop.
    # Invalid UTF-8 is an error rather than U+FFFD as in the standard: a replaced character
    # would silently change the data.

    __slots__ = ("limit", "retry", "failure", "_partial", "_partial_size", "_event_size",
                 "_skip_lf", "_started", "_between_events", "_type", "_data", "_id")  # fmt: skip

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.retry: Optional[int] = None
        self.failure: Optional[Union[ResponseTooLargeError, ThreadRunError]] = None
        self._partial: List[bytes] = []  # the line not ended yet, in the pieces it came in
        self._partial_size = 0
        # Bytes of the event in progress before the unfinished line (line ends count one).
        self._event_size = 0
        self._skip_lf = False  # the last chunk ended in CR: a LF next is the rest of a CRLF
        self._started = False
        # Nothing carried over from the last chunk: the state of a live stream between reads.
        # False until the first chunk, whose BOM only the general path strips.
        self._between_events = False
        self._type = ""
        self._data: List[str] = []
        self._id = ""

    def feed(self, chunk: bytes) -> List[Tuple[str, str, str]]:
        if (
            self._between_events
            and chunk[-2:] == b"\n\n"
            and b"\r" not in chunk
            and len(chunk) <= self.limit
        ):
            # Whole events and nothing before them to carry on, as a live stream sends them
            # (an event a read): no line end, unfinished line or event size to account for.
            try:
                text = chunk.decode()
            except UnicodeDecodeError:
                text = self._complete_lines(chunk)
        else:
            text = self._complete_lines(chunk)
        lines = text.split("\n")
        lines.pop()  # the "" after the last line end
        events = []
        type_ = self._type
        data = self._data
        event_id = self._id
        for line in lines:
            if line:
                # The lines of nearly every event, first, without partition's copies.
                if line[:6] == "data: ":
                    data.append(line[6:])
                    continue
                if line[:7] == "event: ":
                    type_ = line[7:]
                    continue
                name, _, value = line.partition(":")
                if value[:1] == " ":
                    value = value[1:]
                if name == "event":
                    type_ = value
                elif name == "data":
                    data.append(value)
                elif name == "id" and "\0" not in value:
                    event_id = value
                elif name == "retry" and value.isdigit() and value.isascii():
                    self.retry = int(value)
                # Anything else, comments (an empty name) included, is ignored.
            else:
                if data:
                    events.append(
                        (type_ or "message", data[0] if len(data) == 1 else "\n".join(data),
                         event_id)
                    )  # fmt: skip
                    data = []
                type_ = ""
        self._type = type_
        self._data = data
        self._id = event_id
        return events

    def _complete_lines(self, chunk: bytes) -> str:
        """The lines ``chunk`` completes, decoded; the rest kept, the event sizes counted."""
        self._between_events = False
        if self.failure is not None or not chunk:
            return ""
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if b"\r" in chunk:
            self._skip_lf = chunk[-1:] == b"\r"
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        end = chunk.rfind(b"\n") + 1
        if not end:
            self._partial.append(chunk)
            self._partial_size += len(chunk)
            if self._event_size + self._partial_size > self.limit:
                self.failure = self._too_large()
            return ""
        if self._partial:
            self._partial.append(chunk[:end])
            block = b"".join(self._partial)
            self._partial = []
            self._partial_size = 0
        else:
            block = chunk if end == len(chunk) else chunk[:end]
        if self._event_size + len(block) > self.limit:
            cut = self._oversized_event(block)
            if cut >= 0:
                self.failure = self._too_large()
                block = block[:cut]
        blank = block.rfind(b"\n\n")
        if blank >= 0:
            self._event_size = len(block) - blank - 2
        elif block[:1] == b"\n":  # the blank line ending the event of the last chunk
            self._event_size = len(block) - 1
        else:
            self._event_size += len(block)
        if end != len(chunk):  # the start of a line to come
            self._partial.append(chunk[end:])
            self._partial_size = len(chunk) - end
            if self._event_size + self._partial_size > self.limit:
                self.failure = self._too_large()
        try:
            text = block.decode()
        except UnicodeDecodeError as exc:
            # The lines before the bad one are delivered; the error comes after them.
            text = block[: block.rfind(b"\n", 0, exc.start) + 1].decode()
            self.failure = ThreadRunError("invalid UTF-8 in the event stream: %s" % exc.reason)
        if not self._started:
            self._started = True
            if text[:1] == "\ufeff":
                text = text[1:]
        self._between_events = (
            not self._event_size and not self._partial and not self._skip_lf
            and self.failure is None
        )  # fmt: skip
        return text

    def done_pending(self) -> bool:
        # At the end of the body: the done event whole but for the blank line that would
        # dispatch it. The standard drops an event cut short, as it may lack data lines;
        # done has none to lack, and the API reference's examples end just so.
        data = self._data
        return (
            not self._partial
            and self.failure is None
            and bool(data)
            and (self._type == "done" or data == ["[DONE]"])
        )

    def _oversized_event(self, lines: bytes) -> int:
        """Where the first event over the limit starts in ``lines``, or -1 if none is."""
        start = 0
        size = self._event_size
        limit = self.limit
        while True:
            while lines[start : start + 1] == b"\n":  # blank lines end the event
                start += 1
                size = 0
            blank = lines.find(b"\n\n", start)
            stop = len(lines) if blank < 0 else blank + 1
            if size + stop - start > limit:
                return start
            if blank < 0:
                return -1
            start = blank + 1

    def _too_large(self) -> ResponseTooLargeError:
        return ResponseTooLargeError(
            "an event of the stream is over the limit of %d bytes (max_response_bytes)"
            % self.limit
        )


# --------------------------------------------------------------------------------------------
# Client: defaults and limits
# --------------------------------------------------------------------------------------------

_DEFAULT_BASE_URL = "https://api.openai.com/v1"
_DEFAULT_TIMEOUT = 60.0  # seconds, per request; urllib's own default is to wait forever
_DEFAULT_POLL_TIMEOUT = 900.0  # seconds; runs expire ten minutes after creation
_DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024
_INITIAL_RETRY_DELAY = 0.5
_MAX_RETRY_DELAY = 8.0
_RETRY_JITTER = 0.25  # a backoff delay is shortened by up to this fraction
_MAX_RETRY_AFTER = 60.0  # a server asking for a longer wait gets its error raised instead
_MAX_REDIRECTS = 5
_RETRY_STATUSES = frozenset((408, 409, 429))
_REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))
_BODY_HEADERS = ("Content-Type", "Content-Length", "Idempotency-Key")
# Header names that carry a credential when given in default_headers.
_CREDENTIAL_WORDS = ("auth", "key", "token", "secret", "cookie", "signature")
# RFC 9110 token characters: what a header name may contain.
_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
# What a request target may carry as is; anything else (space, controls, non-ASCII) is
# percent-encoded, as browsers do with a Location.
_TARGET_SAFE = "".join(chr(code) for code in range(33, 127) if chr(code) not in '"<>\\^`{|}')
# What an id may not contain: it would change the request's path or query.
_ID_REFUSED = frozenset(" /\\?#%")
# What an id may contain as is in a path; anything else is percent-encoded.
_ID_PLAIN = frozenset("-._~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# The clients to give a new lock in a forked child (a WeakSet, made with the first client).
_FORKED_CLIENTS: Any = None
# The openai SDK's per-request keywords, accepted by every endpoint method.
_REQUEST_OPTIONS = ("timeout", "extra_headers", "extra_query", "extra_body")
_STREAM_READ_SIZE = 65536  # at most this much of a stream's body per read: what has arrived
# Bytes read after the done event, of what has already arrived, looking for the end of the
# body (which makes the connection reusable); more than this and the connection is closed.
_DRAIN_AFTER_DONE = 65536
_EXCERPT_BYTES = 1024  # of an answer that is not what was asked for, read to quote its start
_FOREVER = float("inf")


# --------------------------------------------------------------------------------------------
# Transport: where a request goes, and one blocking HTTP/1.1 connection (http.client)
# --------------------------------------------------------------------------------------------


class _Origin:
    """Scheme, host and port: what decides where a credential may go."""

    __slots__ = ("scheme", "host", "port", "netloc")

    def __init__(self, scheme: str, host: str, port: Optional[int]) -> None:
        default_port = 443 if scheme == "https" else 80
        self.scheme = scheme
        self.host = host
        self.port = default_port if port is None else port
        name = "[%s]" % host if ":" in host else host
        self.netloc = name if self.port == default_port else "%s:%d" % (name, self.port)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, _Origin) and (
            self.scheme, self.host.lower(), self.port
        ) == (other.scheme, other.host.lower(), other.port)

    def __str__(self) -> str:
        return "%s://%s" % (self.scheme, self.netloc)


class _Proxy:
    """A forward proxy from the environment: where to connect, and its own credentials."""

    __slots__ = ("host", "port", "authorization")

    def __init__(self, host: str, port: int, authorization: Optional[str]) -> None:
        self.host = host
        self.port = port
        self.authorization = authorization

    @classmethod
    def from_environment(cls, origin: _Origin) -> Optional[_Proxy]:
        # Only consulted when a proxy variable is set: importing urllib.request is costly.
        if not any(name.lower().endswith("_proxy") for name in os.environ):
            return None
        import urllib.parse
        import urllib.request

        proxy_url = urllib.request.getproxies().get(origin.scheme)
        if not proxy_url or urllib.request.proxy_bypass(origin.host):
            return None
        if "://" not in proxy_url:
            proxy_url = "http://" + proxy_url
        try:
            parts = urllib.parse.urlsplit(proxy_url)
            port = parts.port
        except ValueError:
            raise OpenAIError("the proxy URL in the environment is invalid") from None
        if not parts.hostname:
            return None
        authorization = None
        if parts.username is not None:
            import base64

            credentials = "%s:%s" % (
                urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or "")
            )
            authorization = "Basic " + base64.b64encode(credentials.encode()).decode("ascii")
        return cls(parts.hostname, port or 80, authorization)

    @property
    def netloc(self) -> str:
        return _Origin("http", self.host, self.port).netloc


class _Request:
    """What one call sends: method, target, body and headers (redirects rewrite them)."""

    __slots__ = ("method", "target", "body", "headers", "timeout")

    def __init__(
        self,
        method: str,
        target: str,
        body: Optional[bytes],
        headers: Dict[str, str],
        timeout: float,
    ) -> None:
        self.method = method
        self.target = target
        self.body = body
        self.headers = headers
        self.timeout = timeout


class _Connection:
    """One kept-alive HTTP/1.1 connection to an origin (through a proxy, maybe).

    It knows nothing of runs or retries: it sends one request and reads one bounded answer
    within a total time, and is discarded whenever an exchange does not finish cleanly. A
    streamed answer's body is left to read_body() and end_body() instead: each read may
    wait for the longest silence allowed, up to the stream's own deadline.
    """

    def __init__(
        self,
        origin: _Origin,
        proxy: Optional[_Proxy],
        ssl_context: Optional[ssl.SSLContext],
        max_response_bytes: int,
    ) -> None:
        import http.client
        import select

        self._http = http.client
        self._select = select
        self.origin = origin
        self.proxy = proxy
        self.ssl_context = ssl_context
        self.max_response_bytes = max_response_bytes
        self._connection: Optional[http.client.HTTPConnection] = None
        self._poller: Any = None
        self._pid = 0
        self._deadline = 0.0
        self._silence = _FOREVER  # the longest wait of one read, for a streamed body
        self._received = False
        self._body: Optional[http.client.HTTPResponse] = None  # a streamed body being read
        self._body_socket: Any = None
        self._drain_only = False  # read only what has arrived (see _read_rest)

    @property
    def connected(self) -> bool:
        return self._connection is not None

    def sibling(self) -> _Connection:
        """A new, unconnected connection to the same place."""
        return _Connection(self.origin, self.proxy, self.ssl_context, self.max_response_bytes)

    def exchange(
        self, request: _Request, stream_until: Optional[float] = None
    ) -> Tuple[int, Dict[str, str], bytes]:
        """Send one request; return the status, lower-cased headers and body of the answer.

        With ``stream_until`` (a time.monotonic() deadline, or infinity), a 2xx answer's body
        is left unread (b"" is returned) for read_body(): each read then waits at most
        ``request.timeout`` seconds, and none goes past ``stream_until``.
        """
        timeout = request.timeout
        self._deadline = time.monotonic() + timeout
        self._silence = _FOREVER
        self._received = False
        reused = self._connection is not None and self._still_open()
        target = request.target
        if self.proxy is not None and self.origin.scheme == "http":
            target = "http://%s%s" % (self.origin.netloc, target)  # absolute form, for the proxy
        try:
            connection = self._connection if reused else self._connect()
            assert connection is not None and connection.sock is not None
            connection.sock.settimeout(self._remaining())
            sock = connection.sock
            connection.request(request.method, target, request.body, request.headers)
            response = connection.getresponse()
            if response.status < 200:
                # http.client hands back a 1xx as if it were final; its real answer would
                # then be read as the answer to the next request. Never reuse the connection.
                raise self._http.HTTPException(
                    "unexpected informational response %d" % response.status
                )
            if stream_until is not None and 200 <= response.status < 300:
                self._body, self._body_socket = response, sock
                self._deadline, self._silence = stream_until, timeout
                return response.status, _lower_headers(response), b""
            return self._read(response)
        except BaseException as exc:
            # Whatever stopped the exchange (a reset, a timeout, Ctrl-C), the connection may
            # hold half an answer or half a request: it must never carry another one.
            self.close()
            if isinstance(exc, APIError) or not isinstance(exc, Exception):
                raise
            error = self._error(exc)
            error.__cause__ = exc
            if reused and not self._received and not isinstance(error, APITimeoutError):
                # The server closed a kept-alive connection before reading the request (a
                # reset, or EOF before any answer): the request may be sent once more.
                raise _Stale(error) from exc
            raise error from exc

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def read_body(self) -> bytes:
        """The next bytes of a streamed body, as soon as any arrive; b"" at its end."""
        response = self._body
        if response is None:
            return b""  # ended (closed from another thread, maybe)
        if self._pid != os.getpid():
            raise APIConnectionError(
                "a stream cannot be read in a forked child: its connection is the parent's"
            )
        try:
            self._remaining()  # the deadline holds even while bytes keep coming
            return response.read1(_STREAM_READ_SIZE)
        except Exception as exc:
            if isinstance(exc, APIError):
                raise
            raise self._body_error(exc) from exc

    def end_body(self, reusable: bool) -> bool:
        """Stop reading a streamed body; True if the connection can carry another request
        (``reusable``, and the rest of the body already arrived: it is never waited for),
        else it is closed."""
        response, self._body = self._body, None
        sock, self._body_socket = self._body_socket, None
        self._silence = _FOREVER
        if response is None:
            return False
        if (
            reusable
            and not response.will_close
            and self._connection is not None
            and self._pid == os.getpid()
            and self._read_rest(response)
        ):
            return True
        if sock is not None and self._pid == os.getpid():
            # Wakes a read blocked in another thread (closing alone would not); a forked
            # child must not, as it would cut the parent's connection.
            import socket

            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        response.close()
        self.close()
        return False

    def _read_rest(self, response: http.client.HTTPResponse) -> bool:
        """Whether the rest of a streamed body (the API sends only its end after done) is
        in hand: read without waiting, up to _DRAIN_AFTER_DONE bytes, to its end."""
        self._drain_only = True  # _TimedReader: a read that would wait fails instead
        budget = _DRAIN_AFTER_DONE
        try:
            while budget > 0:
                chunk = response.read1(_STREAM_READ_SIZE)
                if not chunk:
                    # At the end, or with a declared length, cut short (read1 gives b"").
                    return response.isclosed() and not response.length
                budget -= len(chunk)
        except Exception:  # what the socket would not give at once, or a broken body
            pass
        finally:
            self._drain_only = False
        return False

    def _body_error(self, exc: Exception) -> APIConnectionError:
        netloc = self.origin.netloc
        if isinstance(exc, (TimeoutError, _socket_timeout())):
            if time.monotonic() >= self._deadline:
                return APITimeoutError(
                    "the stream from %s passed its deadline (stream_timeout)" % netloc
                )
            return APITimeoutError(
                "the stream from %s sent nothing for %.3g s (timeout: the longest silence "
                "allowed)" % (netloc, self._silence)
            )
        error = self._error(exc)  # which also empties what an IncompleteRead holds
        if isinstance(exc, (self._http.HTTPException, ConnectionError)):
            return APIConnectionError(
                "the stream from %s was cut: %s" % (netloc, type(exc).__name__)
            )
        return error

    def _still_open(self) -> bool:
        """False, and the connection closed, if it cannot carry a request any more."""
        assert self._connection is not None
        sock = self._connection.sock
        # A forked child must never talk over its parent's socket (closing the child's copy
        # leaves the parent's open). And idle, a kept-alive socket has nothing to read:
        # readable means the server closed it (or sent something unasked for). Either way,
        # reconnect now rather than fail after sending.
        if self._pid != os.getpid() or sock is None or self._readable(sock):
            self.close()
            return False
        return True

    def _readable(self, sock: Any) -> bool:
        if self._poller is not None:
            return bool(self._poller.poll(0))
        return bool(self._select.select([sock], [], [], 0)[0])  # no poll(): Windows

    def _remaining(self) -> float:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise _socket_timeout()("timed out")
        return remaining if remaining < self._silence else self._silence

    def _connect(self) -> http.client.HTTPConnection:
        httplib = self._http
        origin, proxy = self.origin, self.proxy
        host, port = (origin.host, origin.port) if proxy is None else (proxy.host, proxy.port)
        connection: http.client.HTTPConnection
        if origin.scheme == "https":
            if self.ssl_context is None:
                import ssl

                # Built once per client: loading the CA store takes tens of milliseconds.
                self.ssl_context = ssl.create_default_context()
            connection = httplib.HTTPSConnection(
                host, port, timeout=self._remaining(), context=self.ssl_context
            )
            if proxy is not None:
                auth = {"Proxy-Authorization": proxy.authorization} if proxy.authorization else None
                connection.set_tunnel(origin.host, origin.port, headers=auth)
        else:
            connection = httplib.HTTPConnection(host, port, timeout=self._remaining())
        # Every read of an answer (the proxy's CONNECT answer too) goes through _TimedReader,
        # which gives each socket operation only what is left of the request's time.
        connection.response_class = self._response  # type: ignore[assignment]
        self._connection = connection
        self._pid = os.getpid()
        self._poller = None
        try:
            connection.connect()
        except OSError as exc:
            status = _tunnel_status(exc)
            if status is None or proxy is None:
                raise
            raise APIStatusError(
                "HTTP %d from the proxy %s: the tunnel to %s was refused"
                % (status, proxy.netloc, origin.netloc),
                status_code=status,
            ) from None
        if hasattr(self._select, "poll"):
            self._poller = self._select.poll()
            self._poller.register(connection.sock, self._select.POLLIN)
        return connection

    def _response(self, sock: Any, *args: Any, **kwargs: Any) -> http.client.HTTPResponse:
        return self._http.HTTPResponse(_TimedReader(sock, self), *args, **kwargs)  # type: ignore[arg-type]

    def _read(self, response: http.client.HTTPResponse) -> Tuple[int, Dict[str, str], bytes]:
        headers = _lower_headers(response)
        status = response.status
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
                raise _body_too_large(limit, headers)
            payload = b"".join(chunks)
        response.close()
        if response.will_close:
            self.close()
        return status, headers, payload

    def _error(self, exc: Exception) -> APIConnectionError:
        netloc = self.origin.netloc
        if isinstance(exc, self._http.HTTPException):
            if isinstance(exc, self._http.IncompleteRead):
                # It carries the partial body, which may echo a credential.
                exc.partial, exc.args = b"", ()
            return _invalid_answer(netloc, exc)
        return _transport_error(netloc, exc)


class _TimedReader(RawIOBase):
    """The socket as http.client reads it, each read limited to the request's time left."""

    def __init__(self, sock: Any, connection: _Connection) -> None:
        self._sock = sock
        self._connection = connection
        # What socket.makefile() does, without its cost: count this reader among the
        # socket's users, so that it stays open until the answer is read even when
        # http.client closes the connection first (a "Connection: close" answer).
        sock._io_refs += 1

    def makefile(self, mode: str, *args: Any, **kwargs: Any) -> Any:
        return BufferedReader(self)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        connection = self._connection
        if connection._drain_only:
            pending = getattr(self._sock, "pending", None)  # TLS: bytes already decrypted
            if not (pending is not None and pending()) and not connection._readable(self._sock):
                raise _WouldWait()
            self._sock.settimeout(0.0)  # TLS: a record not whole raises, never waits
        else:
            self._sock.settimeout(connection._remaining())
        count: int = self._sock.recv_into(buffer)
        if count:
            connection._received = True
        return count

    def close(self) -> None:
        if not self.closed:
            self._sock._decref_socketios()
        super().close()


def _invalid_answer(netloc: str, exc: BaseException) -> APIConnectionError:
    return APIConnectionError(
        "invalid or incomplete HTTP response from %s: %s" % (netloc, type(exc).__name__)
    )


def _transport_error(netloc: str, exc: BaseException) -> APIConnectionError:
    """The client's error for what stopped an exchange with ``netloc``: a timeout, a closed
    connection, a failure to connect or of TLS (the same in both shells)."""
    if isinstance(exc, (TimeoutError, _socket_timeout())):
        return APITimeoutError("request to %s timed out" % netloc)
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return APIConnectionError("connection to %s closed: %s" % (netloc, type(exc).__name__))
    if isinstance(exc, OSError):
        reason = exc.strerror or type(exc).__name__
        if type(exc).__name__ == "SSLCertVerificationError":
            reason = "TLS certificate verification failed: %s" % getattr(
                exc, "verify_message", reason
            )
        return APIConnectionError("could not talk to %s: %s" % (netloc, reason))
    return APIConnectionError("request to %s failed: %s" % (netloc, type(exc).__name__))


def _lower_headers(response: http.client.HTTPResponse) -> Dict[str, str]:
    return {name.lower(): value for name, value in response.getheaders()}


def _socket_timeout() -> Any:
    # socket.timeout is TimeoutError from 3.10 on, an OSError of its own before.
    import socket

    return socket.timeout


def _tunnel_status(exc: OSError) -> Optional[int]:
    # http.client reports a refused CONNECT only as OSError("Tunnel connection failed: 407 ...").
    text = str(exc)
    prefix = "Tunnel connection failed: "
    if not text.startswith(prefix):
        return None
    code = text[len(prefix):].split(" ", 1)[0]
    return int(code) if code.isdigit() else None


# --------------------------------------------------------------------------------------------
# Retries, redirects, deadlines: the rules, and the loops' decisions, without I/O
# --------------------------------------------------------------------------------------------


def _should_retry(status: int, headers: Dict[str, str]) -> bool:
    should = headers.get("x-should-retry", "").strip().lower()
    if should == "true":
        return True
    if should == "false":
        return False
    return status in _RETRY_STATUSES or status >= 500


def _retry_after(headers: Dict[str, str]) -> Optional[float]:
    """The wait the server asks for, in seconds; None if it asks for none that makes sense."""
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
    if delay is None or delay != delay or delay < 0:
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


class _RetryPolicy:
    """Whether a failed attempt is tried again, and after how long (no sockets involved)."""

    def __init__(self, max_retries: int) -> None:
        self.max_retries = max_retries

    def after_status(self, retries: int, status: int, headers: Dict[str, str]) -> Optional[float]:
        """The delay before the next attempt after an error status; None: raise the error."""
        if retries >= self.max_retries or not _should_retry(status, headers):
            return None
        wait = _retry_after(headers)
        if wait is None:
            return self.backoff(retries)
        # Retrying sooner than the server asked would only earn the same answer.
        return wait if wait <= _MAX_RETRY_AFTER else None

    def after_error(self, retries: int, error: APIConnectionError) -> Optional[float]:
        """The delay before the next attempt after a connection error; None: raise it."""
        if retries >= self.max_retries:
            return None
        if type(error.__cause__).__name__ == "SSLCertVerificationError":
            return None  # the same certificate will fail the same way
        return self.backoff(retries)

    @staticmethod
    def backoff(retries: int) -> float:
        import random

        delay = min(_INITIAL_RETRY_DELAY * 2.0**retries, _MAX_RETRY_DELAY)
        return delay * (1 - _RETRY_JITTER * random.random())


class _WouldWait(Exception):
    """A read of what has already arrived found nothing: it would have to wait."""


class _Stale(Exception):
    """An exchange failed on a reused connection before any byte of an answer arrived."""

    def __init__(self, error: APIConnectionError) -> None:
        super().__init__(error)
        self.error = error


class _DeadlineReached(Exception):
    """A poll's deadline left no time for the next request or wait."""


def _redirect(
    request: _Request, status: int, headers: Dict[str, str], origin: _Origin
) -> Optional[_Request]:
    """The request a redirect answer asks for; None if it leads to another origin."""
    import urllib.parse

    location = headers.get("location", "")
    try:
        absolute = urllib.parse.urljoin(str(origin) + request.target, location)
        parts = urllib.parse.urlsplit(absolute)
        if _Origin(parts.scheme, parts.hostname or "", parts.port) != origin:
            return None
    except ValueError:  # an invalid host or port: not a URL of this origin
        return None
    target = urllib.parse.quote(
        (parts.path or "/") + ("?" + parts.query if parts.query else ""), safe=_TARGET_SAFE
    )
    if status == 303 or (status in (301, 302) and request.method == "POST"):
        kept = {k: v for k, v in request.headers.items() if k not in _BODY_HEADERS}
        return _Request("GET", target, None, kept, request.timeout)
    return _Request(request.method, target, request.body, request.headers, request.timeout)


class _Call:
    """One endpoint's request as data: method, path, body, query, the per-request options,
    and ``read``, which makes a 2xx answer (headers, body) what the endpoint returns (None
    for a stream, whose body is read as events)."""

    __slots__ = ("method", "path", "body", "query", "options", "read")

    def __init__(
        self,
        method: str,
        path: str,
        body: Optional[Dict[str, Any]],
        query: Optional[List[Tuple[str, str]]],
        options: Dict[str, Any],
        read: Optional[Callable[[Dict[str, str], bytes], Any]],
    ) -> None:
        self.method = method
        self.path = path
        self.body = body
        self.query = query
        self.options = options
        self.read = read


class _Attempts:
    """The retry loop's decisions for one request (no sockets involved): how long each
    attempt may take within the deadline, and after a failure, what to raise or how long to
    wait before the next attempt."""

    def __init__(
        self, client: _BaseClient, request: _Request, deadline: Optional[float], stream: bool
    ) -> None:
        self._client = client
        self._request = request
        self._timeout = request.timeout
        self._deadline = deadline
        self._stream = stream
        self._retries = 0
        self._resent = False
        self._clipped = False

    def begin(self) -> Optional[float]:
        """Before an attempt: the request's timeout, cut to what is left before the deadline
        (:class:`_DeadlineReached` if nothing is); returns, for a stream, the
        time.monotonic() its body must end by (infinity: no limit), else None."""
        deadline = self._deadline
        self._clipped = False
        if deadline is not None:
            remaining = deadline - self._client._clock()
            if remaining <= 0:
                raise _DeadlineReached()
            if remaining < self._timeout:
                self._request.timeout, self._clipped = remaining, True
        if not self._stream:
            return None
        if deadline is None:
            return _FOREVER
        return time.monotonic() + (deadline - self._client._clock())

    def stale(self, stale: _Stale) -> None:
        """A reused connection failed before the server read the request: it is sent again
        on a new connection without counting a retry, once per call (a second time goes to
        the retry rules)."""
        if self._resent:
            raise stale.error from stale.error.__cause__
        self._resent = True

    def failed(self, error: APIConnectionError) -> float:
        """The wait before the next attempt after a connection error, or the error raised."""
        if self._clipped and isinstance(error, APITimeoutError):
            raise _DeadlineReached() from error
        delay = self._client._retry.after_error(self._retries, error)
        if delay is None:
            raise error
        return self._wait(delay, error)

    def answered(self, status: int, headers: Dict[str, str], payload: bytes) -> float:
        """The wait before the next attempt after an error status, or its error raised."""
        client = self._client
        cause = client._status_error(status, headers, payload, self._request.target)
        delay = client._retry.after_status(self._retries, status, headers)
        if delay is None:
            raise cause
        return self._wait(delay, cause)

    def _wait(self, delay: float, cause: APIError) -> float:
        if self._deadline is not None and delay >= self._deadline - self._client._clock():
            raise _DeadlineReached() from cause
        self._retries += 1
        return delay


class _Poll:
    """The poll loop's decisions (no sockets involved): the deadline of each retrieve, and
    after each run, whether to return it, wait (how long), or raise PollTimeoutError."""

    def __init__(
        self, client: _BaseClient, interval: Optional[float], timeout: Optional[float]
    ) -> None:
        self._client = client
        self._interval = interval
        self._timeout = timeout
        self._deadline = client._deadline(timeout, interval)
        self._last: Optional[ThreadRun] = None
        self._check_once = False

    @property
    def start_deadline(self) -> Optional[float]:
        """The deadline of the request that starts a ``*_and_poll`` run; one already passed
        still lets it through ("timeout <= 0 checks once")."""
        return self._deadline if self._deadline > self._client._clock() else None

    def begin(self, started: Optional[ThreadRun]) -> Optional[ThreadRun]:
        """Before the first retrieve: the run to return at once, else None. ``started`` is
        the run a create or submit answered with (None for a plain poll): when the deadline
        has passed, it is the one check."""
        self._last = started
        self._check_once = self._deadline <= self._client._clock()
        if self._check_once and started is not None:
            if _is_settled(started):
                return started
            raise self.timed_out()
        return None

    @property
    def request_deadline(self) -> Optional[float]:
        return None if self._check_once else self._deadline

    def timed_out(self) -> PollTimeoutError:
        return self._client._poll_timeout(self._last, self._timeout)

    def after(self, run: ThreadRun, headers: Dict[str, str]) -> Optional[float]:
        """After a retrieve: None to return ``run``, else the wait before the next one."""
        self._last = run
        if _is_settled(run):
            return None
        delay = self._interval if self._interval is not None else _poll_after(headers)
        if self._check_once or delay >= self._deadline - self._client._clock():
            # The next check could not start before the deadline: say so now.
            raise self.timed_out()
        return delay


def _is_settled(run: ThreadRun) -> bool:
    """Whether polling stops at the run: terminal, or waiting for the caller."""
    return run.status in _TERMINAL or run.status == RunStatus.REQUIRES_ACTION


def _is_event_stream(content_type: Optional[str]) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == "text/event-stream"



# --------------------------------------------------------------------------------------------
# The client's core: configuration, endpoints as requests, answers read; no I/O
# --------------------------------------------------------------------------------------------


class _BaseClient:
    """What a client does without I/O: its configuration, the endpoints as requests to
    send (:class:`_Call`), and the reading of answers (runs, pages, objects, errors, all
    scrubbed of credentials). The shells, :class:`Client` (blocking) and ``AsyncClient``
    (asyncio, in threadrun/aio.py), send and receive: ``_execute``, ``_pages``, ``_poll``,
    ``_then_poll`` and ``_stream_request`` are theirs, each a few lines over the decisions
    of :class:`_Attempts`, :class:`_Poll` and the methods here. An endpoint method returns
    what its shell's method returns: a value in Client, an awaitable in AsyncClient.
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
        trust_env: bool = True,
        sleep: Optional[Callable[[float], Any]] = None,
        clock: Optional[Callable[[], float]] = None,
        run_adapter: Optional[Callable[[Any], Mapping[str, Any]]] = None,
    ) -> None:
        # The network modules are imported here, not at module import, so that a program
        # that only parses runs never pays for them.
        import urllib.parse

        self._urls = urllib.parse

        env: Mapping[str, str] = os.environ if trust_env else {}
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
        extra_headers = _checked_headers(default_headers, "default_headers")
        for setting, what in ((organization, "organization"), (project, "project")):
            if setting is not None:
                _header_value(setting, what)
        if not api_key and not any(_is_credential(name) for name in extra_headers):
            raise OpenAIError(
                "no API key: set the OPENAI_API_KEY environment variable or pass api_key "
                "(or authenticate through default_headers, e.g. an 'api-key' header)"
            )
        self.timeout = _checked_timeout(timeout, "timeout")
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError("max_retries must be an integer >= 0")
        if not isinstance(max_response_bytes, int) or max_response_bytes <= 0:
            raise ValueError("max_response_bytes must be a positive integer")
        if run_adapter is not None and not callable(run_adapter):
            raise TypeError("run_adapter must be callable, got %s" % type(run_adapter).__name__)

        origin, self._base_path = self._parse_base_url(base_url, allow_insecure_http)
        self.base_url = str(origin) + self._base_path
        self.organization = organization
        self.project = project
        self.max_retries = max_retries
        self.max_response_bytes = max_response_bytes
        self._secrets = tuple(
            secret
            for secret in [api_key or ""]
            + [value for name, value in extra_headers.items() if _is_credential(name)]
            if len(secret) >= 4
        )
        self._sleep = sleep or time.sleep
        self._clock = clock or time.monotonic
        self._query = list((default_query or {}).items())
        self._retry = _RetryPolicy(max_retries)
        self._run_adapter = run_adapter

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
        _merge_headers(headers, extra_headers)
        proxy = _Proxy.from_environment(origin) if trust_env else None
        if (
            proxy is not None
            and origin.scheme == "http"
            and not allow_insecure_http
            and not _is_loopback(proxy.host)
        ):
            # Plain http is allowed to loopback because nothing leaves the machine; through
            # a proxy elsewhere the key would travel in clear.
            raise OpenAIError(
                "refusing plain http:// through the proxy %s: the API key would travel "
                "unencrypted (set NO_PROXY, use https://, or allow_insecure_http=True)"
                % proxy.host
            )
        if proxy is not None and proxy.authorization and origin.scheme == "http":
            # Plain http goes through the proxy request by request (https tunnels instead).
            headers["Proxy-Authorization"] = proxy.authorization
        self._headers = headers
        self._origin = origin
        self._start_transport(origin, proxy, ssl_context)

    if TYPE_CHECKING:  # pragma: no cover
        # What a shell defines; its endpoint methods return what these return.

        def _start_transport(
            self, origin: _Origin, proxy: Optional[_Proxy], ssl_context: Optional[ssl.SSLContext]
        ) -> None: ...

        def _execute(self, call: _Call, deadline: Optional[float] = None) -> ThreadRun: ...

        def _execute_object(self, call: _Call) -> Dict[str, Any]: ...

        def _pages(
            self, path: str, query: List[Tuple[str, str]], options: Dict[str, Any], kind: str
        ) -> Iterator[Any]: ...

        def _poll(
            self,
            thread_id: str,
            run_id: str,
            interval: Optional[float],
            timeout: Optional[float],
            on_run: Optional[Callable[[ThreadRun], Any]],
        ) -> ThreadRun: ...

        def _then_poll(
            self,
            call: _Call,
            thread_id: Optional[str],
            interval: Optional[float],
            timeout: Optional[float],
            on_run: Optional[Callable[[ThreadRun], Any]],
        ) -> ThreadRun: ...

        def _stream_request(
            self,
            path: str,
            body: Dict[str, Any],
            query: Optional[List[Tuple[str, str]]],
            options: Dict[str, Any],
            stream_timeout: Optional[float],
            verb: str,
            asked: Tuple[Optional[str], Optional[str]],
        ) -> RunStream: ...

    # -- public API ----------------------------------------------------------------------

    def retrieve(self, thread_id: str, run_id: str, **options: Any) -> ThreadRun:
        """``GET /threads/{thread_id}/runs/{run_id}``."""
        return self._execute(self._run_call("GET", thread_id, run_id, "", None, options))

    def create(self, thread_id: str, assistant_id: str, **params: Any) -> ThreadRun:
        """``POST /threads/{thread_id}/runs``: start a run of ``assistant_id``.

        Other body parameters (model, instructions, additional_instructions,
        additional_messages, tools, metadata, temperature, top_p, max_prompt_tokens,
        max_completion_tokens, truncation_strategy, tool_choice, parallel_tool_calls,
        response_format, reasoning_effort, ...) are passed through as given;
        ``include`` (a list) goes to the query string.
        """
        options = _pop_options(params)
        return self._execute(self._create_call(thread_id, assistant_id, params, options))

    def update(
        self, thread_id: str, run_id: str, metadata: Mapping[str, str], **options: Any
    ) -> ThreadRun:
        """``POST /threads/{thread_id}/runs/{run_id}``: replace the run's metadata."""
        if not isinstance(metadata, _Mapping):
            raise TypeError("metadata must be a mapping of str to str")
        body = {"metadata": dict(metadata)}
        return self._execute(self._run_call("POST", thread_id, run_id, "", body, options))

    def cancel(self, thread_id: str, run_id: str, **options: Any) -> ThreadRun:
        """``POST /threads/{thread_id}/runs/{run_id}/cancel``."""
        return self._execute(self._run_call("POST", thread_id, run_id, "/cancel", None, options))

    def submit_tool_outputs(
        self, thread_id: str, run_id: str, tool_outputs: List[Mapping[str, str]], **options: Any
    ) -> ThreadRun:
        """``POST .../submit_tool_outputs`` with ``[{"tool_call_id": ..., "output": ...}]``."""
        return self._execute(self._submit_call(thread_id, run_id, tool_outputs, options))

    def list(
        self, thread_id: str, *,
        limit: Optional[int] = None, order: Optional[str] = None,
        after: Optional[str] = None, before: Optional[str] = None, **options: Any,
    ) -> Iterator[ThreadRun]:
        """``GET /threads/{thread_id}/runs``: every run, lazily, page after page."""
        path = "/threads/%s/runs" % self._id(thread_id, "thread_id")
        _check_options(options)
        return self._pages(path, _list_query(limit, order, after, before), options, "run")

    def list_steps(
        self, thread_id: str, run_id: str, *,
        limit: Optional[int] = None, order: Optional[str] = None,
        after: Optional[str] = None, before: Optional[str] = None, **options: Any,
    ) -> Iterator[Dict[str, Any]]:
        """``GET /threads/{thread_id}/runs/{run_id}/steps``: the run's steps, lazily, page
        after page.

        Each step is the JSON object the server sent, decoded, as a dict: steps are not
        modelled, and no ``run_adapter`` applies to them (a step's timestamps are as the
        server wrote them). On a server whose ``required_action`` is null, the tool calls
        are here: in ``step["step_details"]["tool_calls"]`` of a ``tool_calls`` step.
        """
        path = self._run_path(thread_id, run_id, "/steps")
        _check_options(options)
        return self._pages(path, _list_query(limit, order, after, before), options, "step")

    def retrieve_step(
        self, thread_id: str, run_id: str, step_id: str, **options: Any
    ) -> Dict[str, Any]:
        """``GET /threads/{thread_id}/runs/{run_id}/steps/{step_id}``: one step, as a dict
        (see :meth:`list_steps`)."""
        path = self._run_path(thread_id, run_id, "/steps/" + self._id(step_id, "step_id"))
        call = self._object_call("GET", path, None, options, "step", step_id)
        return self._execute_object(call)

    # -- threads and messages: dicts as the server sent them ------------------------------

    def create_thread(
        self, messages: Optional[List[Mapping[str, Any]]] = None, **params: Any
    ) -> Dict[str, Any]:
        """``POST /threads``: a new thread, with ``messages`` (each ``{"role": ...,
        "content": ...}``, content as :meth:`create_message` takes it) if given. Other body
        parameters (``metadata``, ``tool_resources``) are passed through.

        Threads and messages are the JSON objects the server sent, decoded, as dicts: they
        are not modelled, and no ``run_adapter`` applies to them. :func:`message_text`
        reads a message's text."""
        options = _pop_options(params)
        if messages is not None:
            params["messages"] = _checked_messages(messages)
        call = self._object_call("POST", "/threads", params, options, "thread", None)
        return self._execute_object(call)

    def retrieve_thread(self, thread_id: str, **options: Any) -> Dict[str, Any]:
        """``GET /threads/{thread_id}``: the thread, as a dict."""
        path = "/threads/" + self._id(thread_id, "thread_id")
        call = self._object_call("GET", path, None, options, "thread", thread_id)
        return self._execute_object(call)

    def update_thread(self, thread_id: str, **params: Any) -> Dict[str, Any]:
        """``POST /threads/{thread_id}``: change its ``metadata`` or ``tool_resources``."""
        options = _pop_options(params)
        path = "/threads/" + self._id(thread_id, "thread_id")
        call = self._object_call("POST", path, params, options, "thread", thread_id)
        return self._execute_object(call)

    def delete_thread(self, thread_id: str, **options: Any) -> Dict[str, Any]:
        """``DELETE /threads/{thread_id}``: the server's answer, ``{"id": ..., "object":
        "thread.deleted", "deleted": true}``."""
        path = "/threads/" + self._id(thread_id, "thread_id")
        call = self._object_call("DELETE", path, None, options, "thread", thread_id)
        return self._execute_object(call)

    def create_message(
        self, thread_id: str, content: Union[str, List[Mapping[str, Any]]], role: str = "user",
        **params: Any,
    ) -> Dict[str, Any]:
        """``POST /threads/{thread_id}/messages``: add a message to the thread. ``content``
        is a string or a list of content parts (``{"type": "text", "text": "..."}``,
        ``{"type": "image_url", ...}``); other body parameters (``attachments``,
        ``metadata``) are passed through. Returns the message, as a dict."""
        options = _pop_options(params)
        body = dict(params, role=_checked_role(role, "role"),
                    content=_checked_content(content, "content"))  # fmt: skip
        path = "/threads/%s/messages" % self._id(thread_id, "thread_id")
        call = self._object_call("POST", path, body, options, "message", None, thread_id)
        return self._execute_object(call)

    def list_messages(
        self, thread_id: str, run_id: Optional[str] = None, order: Optional[str] = None,
        limit: Optional[int] = None, after: Optional[str] = None, before: Optional[str] = None,
        **options: Any,
    ) -> Iterator[Dict[str, Any]]:
        """``GET /threads/{thread_id}/messages``: the thread's messages (only those ``run_id``
        created, if given), lazily, page after page, as :meth:`list` pages; each a dict.
        The server's default order is newest first: ``order="asc"`` for a conversation as
        it was written."""
        path = "/threads/%s/messages" % self._id(thread_id, "thread_id")
        _check_options(options)
        query = _list_query(limit, order, after, before)
        if run_id is not None:
            query.append(("run_id", _check_id(run_id, "run_id")))
        return self._pages(path, query, options, "message")

    def retrieve_message(self, thread_id: str, message_id: str, **options: Any) -> Dict[str, Any]:
        """``GET /threads/{thread_id}/messages/{message_id}``: one message, as a dict."""
        path = "/threads/%s/messages/%s" % (
            self._id(thread_id, "thread_id"), self._id(message_id, "message_id")
        )  # fmt: skip
        call = self._object_call("GET", path, None, options, "message", message_id, thread_id)
        return self._execute_object(call)

    def poll(
        self, thread_id: str, run_id: str, *,
        interval: Optional[float] = None, timeout: Optional[float] = None,
        on_run: Optional[Callable[[ThreadRun], Any]] = None, **unexpected: Any,
    ) -> ThreadRun:
        """Retrieve the run until it is terminal or ``requires_action``, and return it.

        Waits as the server's ``openai-poll-after-ms`` header says (1 s without it) unless
        ``interval`` is given. ``timeout`` (default 900 s) is a deadline: no request or wait
        outlives it, and once it leaves no time for the next one :class:`PollTimeoutError`
        is raised, carrying the last run seen. ``timeout <= 0`` checks once. ``on_run`` is
        called with every run retrieved.
        """
        if unexpected:
            _refuse_sdk_keywords(unexpected, "interval")
            raise TypeError(
                "poll() got an unexpected keyword argument %r" % sorted(unexpected)[0]
            )
        return self._poll(thread_id, run_id, interval, timeout, on_run)

    def create_and_poll(
        self, thread_id: str, assistant_id: str, *,
        poll_interval: Optional[float] = None, poll_timeout: Optional[float] = None,
        on_run: Optional[Callable[[ThreadRun], Any]] = None, **params: Any,
    ) -> ThreadRun:
        """:meth:`create`, then :meth:`poll` the new run, all within ``poll_timeout``."""
        options = _pop_options(params)
        call = self._create_call(thread_id, assistant_id, params, options)
        return self._then_poll(call, thread_id, poll_interval, poll_timeout, on_run)

    def submit_tool_outputs_and_poll(
        self, thread_id: str, run_id: str, tool_outputs: List[Mapping[str, str]], *,
        poll_interval: Optional[float] = None, poll_timeout: Optional[float] = None,
        on_run: Optional[Callable[[ThreadRun], Any]] = None, **options: Any,
    ) -> ThreadRun:
        """:meth:`submit_tool_outputs`, then :meth:`poll` the run, within ``poll_timeout``."""
        _check_options(options)
        call = self._submit_call(thread_id, run_id, tool_outputs, options)
        return self._then_poll(call, thread_id, poll_interval, poll_timeout, on_run)

    def stream(
        self, thread_id: str, assistant_id: str, *,
        stream_timeout: Optional[float] = None, **params: Any,
    ) -> RunStream:
        """``POST /threads/{thread_id}/runs`` with ``"stream": true``: start a run of
        ``assistant_id`` and return its events as they come, a :class:`RunStream`.

        Parameters as for :meth:`create`. The request is retried as any other only until
        the server answers 2xx (with the same ``Idempotency-Key``); once the stream has
        begun, a failure is raised, never retried, so a run is never started twice.
        ``timeout`` bounds the request until that answer, then becomes the longest silence
        allowed between two reads of the stream (a stream may last minutes);
        ``stream_timeout`` (seconds, None: no limit) bounds the whole, retries and stream
        together, raising :class:`APITimeoutError` when it passes. ``max_response_bytes``
        applies to each event; the ``run_adapter`` to each run event's data, and a run that
        cannot be read raises :class:`APIResponseValidationError` naming its event. Every run
        event must be of ``thread_id``, and of the stream's first run (:class:`APIError`
        otherwise). A 2xx answer that is not ``text/event-stream`` (JSON from a server that
        does not stream, a proxy's page) raises :class:`APIError` naming its type and quoting
        its start.

        The stream reads over a connection of its own, so the client's other calls go on
        meanwhile; read to its end, it hands the connection back for the next request.
        Close it (or use it in a ``with`` block) when leaving it early.
        """
        options = _pop_options(params)
        _check_id(assistant_id, "assistant_id")
        _pop_stream(params, "stream()", "create()")
        query = _include_query(params)
        body = dict(params, assistant_id=assistant_id, stream=True)
        path = "/threads/%s/runs" % self._id(thread_id, "thread_id")
        return self._stream_request(path, body, query, options, stream_timeout, "created",
                                    (thread_id, None))  # fmt: skip

    def submit_tool_outputs_stream(
        self, thread_id: str, run_id: str, tool_outputs: List[Mapping[str, str]], *,
        stream_timeout: Optional[float] = None, **options: Any,
    ) -> RunStream:
        """:meth:`submit_tool_outputs` with ``"stream": true``: the events of the rest of the
        run, a :class:`RunStream` (as :meth:`stream` says; every run event must be ``run_id``
        of ``thread_id``)."""
        _check_options(options)
        body = {"tool_outputs": _checked_outputs(tool_outputs), "stream": True}
        path = self._run_path(thread_id, run_id, "/submit_tool_outputs")
        return self._stream_request(path, body, None, options, stream_timeout, "sent",
                                    (thread_id, run_id))  # fmt: skip

    def create_thread_and_run(
        self, assistant_id: str, *,
        thread: Optional[Mapping[str, Any]] = None, **params: Any,
    ) -> ThreadRun:
        """``POST /threads/runs``: create a thread (``thread``: its ``messages``,
        ``metadata``, ``tool_resources``; empty if None) and start a run of ``assistant_id``
        in it. The run's ``thread_id`` is the new thread's. Other body parameters as for
        :meth:`create`."""
        options = _pop_options(params)
        return self._execute(self._thread_and_run_call(assistant_id, thread, params, options))

    def create_thread_and_run_stream(
        self, assistant_id: str, *,
        thread: Optional[Mapping[str, Any]] = None,
        stream_timeout: Optional[float] = None, **params: Any,
    ) -> RunStream:
        """:meth:`create_thread_and_run` with ``"stream": true``: a :class:`RunStream` whose
        first event is ``thread.created`` (as :meth:`stream` says)."""
        options = _pop_options(params)
        body = self._thread_and_run_body(
            assistant_id, thread, params, "create_thread_and_run_stream"
        )
        body["stream"] = True
        return self._stream_request(
            "/threads/runs", body, None, options, stream_timeout, "created", (None, None)
        )

    def create_thread_and_run_poll(
        self, assistant_id: str, *,
        thread: Optional[Mapping[str, Any]] = None,
        poll_interval: Optional[float] = None, poll_timeout: Optional[float] = None,
        on_run: Optional[Callable[[ThreadRun], Any]] = None, **params: Any,
    ) -> ThreadRun:
        """:meth:`create_thread_and_run`, then :meth:`poll` the new run, all within
        ``poll_timeout``."""
        options = _pop_options(params)
        call = self._thread_and_run_call(assistant_id, thread, params, options)
        # The thread is the one the request creates: the run names it.
        return self._then_poll(call, None, poll_interval, poll_timeout, on_run)

    # -- requests as data: what to send, and how to read the answer ----------------------

    def _run_call(
        self,
        method: str,
        thread_id: str,
        run_id: str,
        action: str,
        body: Optional[Dict[str, Any]],
        options: Dict[str, Any],
    ) -> _Call:
        """A request about one run; its answer must be that run."""
        path = self._run_path(thread_id, run_id, action)

        def read(headers: Dict[str, str], payload: bytes) -> ThreadRun:
            request_id = headers.get("x-request-id")
            run = self._parse_run(self._decoded(payload, request_id, "run"), request_id)
            if _is_other_run(run_id, thread_id, run):
                # A response meant for another request (a connection shared by mistake, a
                # confused proxy) must never pass for this run.
                raise APIError(
                    _other_run(run_id, thread_id, run, self._scrub_value),
                    request_id=request_id,
                )
            return run

        return _Call(method, path, body, None, options, read)

    def _polling(
        self, thread_id: str, run_id: str, interval: Optional[float], timeout: Optional[float]
    ) -> Tuple[_Poll, _Call]:
        """A poll's decisions and its retrieve (the deadline is set first, as it starts)."""
        poll = _Poll(self, interval, timeout)
        return poll, self._run_call("GET", thread_id, run_id, "", None, {})

    def _retrieve_after(self, call: _Call, thread_id: Optional[str], run: ThreadRun) -> _Call:
        """The retrieve that polls ``run``, which ``call`` started (in ``thread_id``, or
        the run's own thread if None). It sends no body: extra_body was for ``call``."""
        options = {k: v for k, v in call.options.items() if k != "extra_body"}
        return self._run_call("GET", thread_id or run.thread_id, run.id, "", None, options)

    def _created_run(self, headers: Dict[str, str], payload: bytes) -> ThreadRun:
        """The run a POST that makes one answered with."""
        request_id = headers.get("x-request-id")
        data = self._decoded(payload, request_id, "run", "", "created")
        return self._parse_run(data, request_id, "created")

    def _object_call(
        self,
        method: str,
        path: str,
        body: Optional[Dict[str, Any]],
        options: Dict[str, Any],
        kind: str,
        object_id: Optional[str],
        thread_id: Optional[str] = None,
    ) -> _Call:
        """A request whose answer is one object (a step, a thread, a message), returned as
        the dict the server sent: it must be an object, and the one asked for (``object_id``,
        and its ``thread_id`` where it names one), else an error."""

        def read(headers: Dict[str, str], payload: bytes) -> Dict[str, Any]:
            return self._read_object(headers, payload, kind, object_id, thread_id)

        return _Call(method, path, body, None, options, read)

    def _read_object(
        self,
        headers: Dict[str, str],
        payload: bytes,
        kind: str,
        object_id: Optional[str],
        thread_id: Optional[str],
    ) -> Dict[str, Any]:
        request_id = headers.get("x-request-id")
        decoded = self._decoded(payload, request_id, kind)
        try:
            item = _checked_object(decoded, kind)
        except ThreadRunError as exc:
            raise self._invalid(exc, decoded, decoded, request_id, kind) from None
        # As for a run: an answer meant for another request must never pass for this one.
        # A message that does not name its thread is taken as the path's.
        for key, expected in (("id", object_id), ("thread_id", thread_id)):
            answered = item.get(key)
            if expected is None or answered == expected:
                continue
            if key == "thread_id" and answered is None:
                continue
            answered = self._scrub_value(answered)
            subject = kind if key == "id" else "a %s of thread" % kind
            raise APIError(
                "asked for %s %r, the server answered with %s" % (
                    subject, _shorten(expected, 60),
                    "%s %r" % (subject, _shorten(answered, 60)) if isinstance(answered, str)
                    else "a %s whose %s is %s" % (kind, key, _describe(answered)),
                ),
                request_id=request_id,
            )  # fmt: skip
        return item

    def _build(self, call: _Call, stream: bool = False) -> _Request:
        """The request a call sends: target, headers, body, timeout and, for a POST, a new
        idempotency key (the same for all its retries)."""
        method, body = call.method, call.body
        headers = dict(self._headers, Accept="text/event-stream") if stream else self._headers
        timeout = self.timeout
        pairs = self._query + call.query if call.query else self._query
        if call.options:
            timeout, headers, pairs, body = self._apply_options(
                call.options, method, headers, pairs, body
            )
        target = self._base_path + call.path
        if pairs:
            target += "?" + self._urls.urlencode(pairs)
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
        return _Request(method, target, data, headers, timeout)

    def _redirected(self, request: _Request, status: int, headers: Dict[str, str]) -> _Request:
        """The request a same-origin redirect asks for; an error for any other."""
        next_request = _redirect(request, status, headers, self._origin)
        if next_request is None:
            location = headers.get("location", "")
            raise APIStatusError(
                "HTTP %d redirect to another origin not followed (credentials are never "
                "sent to another host): %s" % (status, _shorten(self._scrub(location), 200)),
                status_code=status,
                headers=headers,
                request_id=headers.get("x-request-id"),
            )  # fmt: skip
        return next_request

    def _too_many_redirects(self, status: int, headers: Dict[str, str]) -> APIStatusError:
        return APIStatusError(
            "too many redirects (more than %d)" % _MAX_REDIRECTS, status_code=status,
            headers=headers, request_id=headers.get("x-request-id"),
        )  # fmt: skip

    def _read_page(
        self,
        kind: str,
        query: List[Tuple[str, str]],
        headers: Dict[str, str],
        payload: bytes,
    ) -> Tuple[List[Any], Dict[str, Any]]:
        """A list page's items (runs for ``kind`` "run", else dicts), and the page."""
        after = next((value for name, value in query if name == "after"), None)
        where = "the page after %r" % _shorten(after, 60) if after else "the first page"
        request_id = headers.get("x-request-id")
        page = self._decoded(payload, request_id, "list page", " (%s)" % where)
        data = page.get("data") if isinstance(page, dict) else None
        if not isinstance(data, list):
            error = ThreadRunError("expected a list page with a 'data' array", "data")
            raise self._invalid(error, None, page, request_id, "list page", " (%s)" % where)
        items = []
        for index, item in enumerate(data):
            try:
                items.append(self._read_item(kind, item))
            except ThreadRunError as exc:
                place = " (data[%d] of %s)" % (index, where)
                raise self._invalid(exc, item, page, request_id, kind, place,
                                    "data[%d]" % index) from None  # fmt: skip
        return items, page

    def _next_query(
        self,
        query: List[Tuple[str, str]],
        page: Dict[str, Any],
        seen: Set[str],
        headers: Dict[str, str],
    ) -> Optional[List[Tuple[str, str]]]:
        """The query of the page after ``page`` (None: it was the last); ``seen``: the
        cursors followed so far."""
        data = page["data"]
        if not page.get("has_more") or not data:
            return None
        last = data[-1]
        cursor = str(page.get("last_id") or (last.get("id") if isinstance(last, dict) else ""))
        if cursor in seen:
            # A server that hands back a cursor it was given before would be asked the
            # same pages for ever: stop, and say so.
            raise APIError(
                "the list does not advance: cursor %r came back"
                % _shorten(self._scrub(cursor), 60),
                request_id=headers.get("x-request-id"),
            )
        seen.add(cursor)
        return [item for item in query if item[0] != "after"] + [("after", cursor)]

    def _stream_deadline(self, stream_timeout: Optional[float]) -> Optional[float]:
        if stream_timeout is None:
            return None
        return self._clock() + _checked_timeout(stream_timeout, "stream_timeout")

    def _stream_settings(
        self, request_id: Optional[str], verb: str, asked: Tuple[Optional[str], Optional[str]]
    ) -> Dict[str, Any]:
        """What a stream of this client is made with, but its read and release."""
        # verb: what the request did with the run, as _parse_run says it ("created", "sent");
        # asked: the thread and run every run event must be of (None: the stream's own).

        def parse_run(data: Any) -> ThreadRun:
            # The run_adapter applies; a run that cannot be read is an
            # APIResponseValidationError carrying it (RunStream names the event).
            return self._parse_run(data, request_id, verb)

        return {
            "max_event_bytes": self.max_response_bytes, "request_id": request_id,
            "parse_run": parse_run, "redact": self._scrub_value,
            "thread_id": asked[0], "run_id": asked[1],
        }  # fmt: skip

    def _not_a_stream(
        self, content_type: Optional[str], start: bytes, whole: bool, request_id: Optional[str]
    ) -> APIError:
        """The error for a 2xx answer to a streaming request that is not an event stream:
        its type and ``start``, the start of its body (``whole``: all of it)."""
        text = self._scrub(start.decode("utf-8", "replace"))
        if not whole:
            text = self._without_secret_start(text)
        text = " ".join(text.split())
        excerpt = _shorten(text, 200) if text else "(empty body)"
        if content_type is None:
            what = "an answer without a Content-Type"
        else:
            what = _shorten(self._scrub(" ".join(content_type.split())), 80)
        message = "the server answered with %s, not an event stream (text/event-stream): %s" % (
            what, excerpt)
        if content_type is not None and "json" in content_type.lower():
            message += (" (a server that does not stream; the request may have started a run "
                        "all the same: list the thread's runs)")
        return APIError(message, request_id=request_id)

    def _stream_timeout(self, stream_timeout: Optional[float]) -> APITimeoutError:
        return APITimeoutError(
            "the stream did not begin within stream_timeout (%s s)" % stream_timeout
        )

    # -- configuration -------------------------------------------------------------------

    def _parse_base_url(self, base_url: str, allow_insecure_http: bool) -> Tuple[_Origin, str]:
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
        if not all(" " < char < "\x7f" for char in parts.path) or not host.isascii():
            raise OpenAIError(
                "base_url must be plain ASCII without spaces (percent-encode the rest): %r"
                % _shorten(base_url, 80)
            )
        if scheme == "http" and not allow_insecure_http and not _is_loopback(host):
            raise OpenAIError(
                "refusing plain http:// to %s: the API key would travel unencrypted "
                "(use https://, or pass allow_insecure_http=True)" % host
            )
        return _Origin(scheme, host, port), parts.path.rstrip("/")

    # -- requests ------------------------------------------------------------------------

    def _id(self, value: Any, name: str) -> str:
        value = _check_id(value, name)
        return value if _ID_PLAIN.issuperset(value) else self._urls.quote(value, safe="")

    def _run_path(self, thread_id: str, run_id: str, tail: str) -> str:
        return "/threads/%s/runs/%s%s" % (
            self._id(thread_id, "thread_id"), self._id(run_id, "run_id"), tail
        )  # fmt: skip

    def _deadline(self, timeout: Optional[float], interval: Optional[float]) -> float:
        if timeout is None:
            timeout = _DEFAULT_POLL_TIMEOUT
        if interval is not None and not _is_seconds(interval):
            raise ValueError("interval must be a number of seconds >= 0")
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout != timeout:
            raise ValueError("timeout must be a number of seconds")
        return self._clock() + timeout

    def _open(self, deadline: float) -> Optional[float]:
        # A deadline already passed still lets the first request through ("check once").
        return deadline if deadline > self._clock() else None

    def _create_call(
        self, thread_id: str, assistant_id: str, params: Dict[str, Any], options: Dict[str, Any]
    ) -> _Call:
        _check_id(assistant_id, "assistant_id")
        if params.get("stream"):
            raise ValueError(
                "stream=True is not supported by create(): call stream() (the same "
                "parameters) for a RunStream of the run's events"
            )
        query = _include_query(params)
        body = dict(params, assistant_id=assistant_id)
        path = "/threads/%s/runs" % self._id(thread_id, "thread_id")
        return _Call("POST", path, body, query, options, self._created_run)

    def _submit_call(
        self,
        thread_id: str,
        run_id: str,
        tool_outputs: List[Mapping[str, str]],
        options: Dict[str, Any],
    ) -> _Call:
        body = {"tool_outputs": _checked_outputs(tool_outputs)}
        return self._run_call("POST", thread_id, run_id, "/submit_tool_outputs", body, options)

    def _thread_and_run_call(
        self,
        assistant_id: str,
        thread: Optional[Mapping[str, Any]],
        params: Dict[str, Any],
        options: Dict[str, Any],
    ) -> _Call:
        body = self._thread_and_run_body(assistant_id, thread, params, "create_thread_and_run")
        return _Call("POST", "/threads/runs", body, None, options, self._created_run)

    def _thread_and_run_body(
        self,
        assistant_id: str,
        thread: Optional[Mapping[str, Any]],
        params: Dict[str, Any],
        method: str,
    ) -> Dict[str, Any]:
        _check_id(assistant_id, "assistant_id")
        if thread is not None and not isinstance(thread, _Mapping):
            raise TypeError("thread must be a mapping (messages, metadata, tool_resources)")
        if method.endswith("_stream"):
            _pop_stream(params, method + "()", "create_thread_and_run()")
        elif params.get("stream"):
            raise ValueError(
                "stream=True is not supported by %s(): call create_thread_and_run_stream() "
                "(the same parameters) for a RunStream of the run's events" % method
            )
        body = dict(params, assistant_id=assistant_id)
        if thread is not None:
            body["thread"] = dict(thread)
        return body

    def _poll_timeout(self, run: Optional[ThreadRun], timeout: Optional[float]) -> PollTimeoutError:
        seconds = _DEFAULT_POLL_TIMEOUT if timeout is None else timeout
        if run is None:
            message = "no run after polling for %.1f s (the deadline)" % seconds
        else:
            message = "run %s is still %s after polling for %.1f s" % (
                self._scrub(run.id), self._scrub(run.status), seconds
            )  # fmt: skip
        return PollTimeoutError(message, run=run)

    def _parse_run(
        self, data: Any, request_id: Optional[str], verb: str = "sent", where: str = ""
    ) -> ThreadRun:
        """One run mapping a server sent (a response body, a stream event's data), through
        the ``run_adapter``, then validated. ``verb`` is "created" when the request created
        the run, which the error then says; ``where`` places it (" (event 'thread.run.
        created')"). A failure is an APIResponseValidationError carrying ``data``
        (scrubbed) and naming the run."""
        try:
            return self._build_run(data)
        except ThreadRunError as exc:
            raise self._invalid(exc, data, data, request_id, "run", where, "", verb) from None

    def _build_run(self, data: Any) -> ThreadRun:
        adapter = self._run_adapter
        if adapter is not None:
            try:
                data = adapter(data)
            except ThreadRunError:
                raise
            except Exception as exc:
                # The caller's code failed on the server's data: the run must not be lost
                # for it, so it becomes the same error, which carries the data.
                raise ThreadRunError(
                    "run_adapter raised %s: %s" % (type(exc).__name__, _shorten(str(exc), 200))
                ) from None
        return ThreadRun.from_dict(data)

    def _decoded(
        self,
        payload: bytes,
        request_id: Optional[str],
        kind: str,
        where: str = "",
        verb: str = "sent",
    ) -> Any:
        """The JSON value of a 2xx answer; invalid JSON raises an error carrying its text."""
        try:
            return _loads(payload)
        except ThreadRunError as exc:
            text = payload.decode("utf-8", "replace")
            raise self._invalid(exc, None, text, request_id, kind, where, "", verb) from None

    def _invalid(
        self,
        exc: ThreadRunError,
        item: Any,
        body: Any,
        request_id: Optional[str],
        kind: str,
        where: str = "",
        prefix: str = "",
        verb: str = "sent",
    ) -> APIResponseValidationError:
        """The error for an ``item`` (a run, a step; None for the answer as a whole) of a
        2xx answer ``body`` that could not be read as a ``kind``: ``where`` says where it is
        in a list, ``prefix`` is its path in ``body`` ("" for the body itself)."""
        reason = str(exc)
        if self._secrets:
            # The reason quotes a value of the item, which may echo a credential, whole or
            # cut short, plainly or in \u escapes: read the scrubbed item again for a reason
            # that quotes the scrubbed value.
            body = self._scrub_value(body)
            if item is not None:
                item = self._scrub_value(item)
                try:
                    self._read_item(kind, item)
                except ThreadRunError as again:
                    reason = str(again)
            reason = self._scrub(reason)
            # The new error is raised while handling ``exc``, which it keeps as its context:
            # no unscrubbed text may stay there, nor in what a run_adapter raised before it.
            exc.args = (reason,)
            exc.__context__ = None
        item_id = item.get("id") if isinstance(item, dict) else None
        thread_id = item.get("thread_id") if isinstance(item, dict) else None
        if isinstance(item_id, str):
            subject = "%s %r" % (kind, _shorten(item_id, 60))
            if isinstance(thread_id, str):
                subject += " of thread %r" % _shorten(thread_id, 60)
            message = "the server %s %s%s; it was not returned because: %s" % (
                verb, subject, where, reason
            )
        elif verb == "created":
            message = "the server created a %s%s; it was not returned because: %s" % (
                kind, where, reason
            )
        else:
            message = "the server's answer%s is not a valid %s: %s" % (where, kind, reason)
        field = exc.field
        if prefix:
            head, bracket, rest = (field or "").partition("[")
            field = prefix + ("[%r]%s%s" % (head, bracket, rest) if head else "")
        return APIResponseValidationError(
            message, body=body, request_id=request_id, field=field, line=exc.line,
            column=exc.column,
        )  # fmt: skip

    def _read_item(self, kind: str, item: Any) -> Any:
        return self._build_run(item) if kind == "run" else _checked_object(item, kind)

    def _apply_options(
        self,
        options: Dict[str, Any],
        method: str,
        headers: Dict[str, str],
        pairs: List[Tuple[str, str]],
        body: Optional[Dict[str, Any]],
    ) -> Tuple[float, Dict[str, str], List[Tuple[str, str]], Optional[Dict[str, Any]]]:
        _check_options(options)
        timeout = self.timeout
        if options.get("timeout") is not None:
            timeout = _checked_timeout(options["timeout"], "timeout")
        extra_headers = _checked_headers(options.get("extra_headers"), "extra_headers")
        for name in extra_headers:
            if _is_credential(name):
                raise OpenAIError(
                    "extra_headers must not carry a credential (%r): pass it to Client(...), "
                    "which keeps it out of errors" % name
                )
        if extra_headers:
            headers = dict(headers)
            _merge_headers(headers, extra_headers)
        extra_query = options.get("extra_query")
        if extra_query:
            if not isinstance(extra_query, _Mapping):
                raise TypeError("extra_query must be a mapping")
            names = set(extra_query)
            pairs = [pair for pair in pairs if pair[0] not in names] + [
                (str(name), str(value)) for name, value in extra_query.items()
            ]
        extra_body = options.get("extra_body")
        if extra_body:
            if not isinstance(extra_body, _Mapping):
                raise TypeError("extra_body must be a mapping")
            if method != "POST":
                raise TypeError("extra_body is only for requests with a body (POST)")
            body = dict(body or {}, **extra_body)
        return timeout, headers, pairs, body

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def _without_secret_start(self, text: str) -> str:
        """``text`` (the start of something longer) without an end that could be the start
        of a secret cut off there."""
        for secret in self._secrets:
            for size in range(min(len(secret), len(text)), 0, -1):
                if text.endswith(secret[:size]):
                    text = text[:-size]
                    break
        return text

    def _scrub_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._scrub(value)
        if isinstance(value, dict):
            return {self._scrub(str(k)): self._scrub_value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._scrub_value(item) for item in value]
        return value

    def _status_error(
        self, status: int, headers: Dict[str, str], payload: bytes, target: str
    ) -> APIStatusError:
        text = payload.decode("utf-8", "replace")
        try:
            # Parsed before scrubbing: a credential written with \u escapes is found too.
            body: Any = self._scrub_value(json.loads(text))
        except (ValueError, RecursionError):
            body = None
        text = self._scrub(text)
        message = _error_message(body)
        if not message:
            # Not the API's error body (an HTML page from a proxy, say): show its start.
            snippet = " ".join(text.split())
            message = _shorten(snippet, 200) if snippet else "(empty body)"
            if body is None and text:
                body = text
        if status == 404:
            message += self._scrub(_swapped_ids_note(target[len(self._base_path):]))
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


# --------------------------------------------------------------------------------------------
# Client: the blocking shell over the core
# --------------------------------------------------------------------------------------------


class Client(_BaseClient):
    """The client for the Thread Runs endpoints, and the threads and messages around a run,
    over the standard library's ``http.client`` (docs/client.md is its manual).

    Its settings come from the arguments, else the environment (``OPENAI_API_KEY``,
    ``OPENAI_BASE_URL``, ``OPENAI_ORG_ID``, ``OPENAI_PROJECT_ID``, proxies; ``trust_env=False``
    ignores it). Every request has a total ``timeout`` and a size cap
    (``max_response_bytes``); TLS is verified, plain ``http://`` refused beyond loopback
    unless ``allow_insecure_http=True``, redirects followed within the origin only, and
    failures retried up to ``max_retries`` times with backoff. ``run_adapter`` reads every
    run a server sends before it is validated. ``sleep`` and ``clock`` can be replaced.

    One client keeps one HTTP/1.1 connection alive, shared between threads under a lock (a
    forked child opens its own); a stream reads over a connection of its own and hands it
    back when read to its end. Use it as a context manager, or call :meth:`close`.
    """

    # The blocking shell: what _BaseClient decides, sent and read over http.client.

    def _start_transport(
        self, origin: _Origin, proxy: Optional[_Proxy], ssl_context: Optional[ssl.SSLContext]
    ) -> None:
        import threading
        import weakref

        self._lock = threading.Lock()
        _track_for_fork(self)
        self._streams: weakref.WeakSet[RunStream] = weakref.WeakSet()  # open ones, to close
        self._connection = _Connection(origin, proxy, ssl_context, self.max_response_bytes)

    def close(self) -> None:
        """Close the kept-alive connection (a later request opens a new one), and every
        stream of this client still open (their iteration ends)."""
        for stream in list(self._streams):
            stream.close()
        with self._lock:
            self._connection.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        # Never the key, nor any header value.
        return "<threadrun.Client base_url=%r>" % self.base_url

    def _execute(self, call: _Call, deadline: Optional[float] = None) -> Any:
        headers, payload, _ = self._exchange(call, deadline)
        assert call.read is not None
        return call.read(headers, payload)

    _execute_object = _execute

    def _exchange(
        self, call: _Call, deadline: Optional[float] = None, stream: bool = False
    ) -> Tuple[Dict[str, str], bytes, Optional[_Connection]]:
        """Send with retries; return the lower-cased headers and the body of a 2xx answer,
        or with ``stream``, its headers and the connection its body is to be read from."""
        request = self._build(call, stream)
        attempts = _Attempts(self, request, deadline, stream)
        while True:
            stream_until = attempts.begin()
            try:
                status, headers, payload, connection = self._send(request, stream_until)
            except _Stale as stale:
                attempts.stale(stale)
                continue
            except APIConnectionError as error:
                delay = attempts.failed(error)
            else:
                if 200 <= status < 300:
                    return headers, payload, connection
                delay = attempts.answered(status, headers, payload)
            self._sleep(delay)

    def _send(
        self, request: _Request, stream_until: Optional[float] = None
    ) -> Tuple[int, Dict[str, str], bytes, Optional[_Connection]]:
        """One attempt, following same-origin redirects. With ``stream_until``, a 2xx
        answer's body is left unread on the connection returned, which the client gives up
        to the stream (taking a new one for its other calls)."""
        for _ in range(_MAX_REDIRECTS + 1):
            with self._lock:
                connection = self._connection
                status, headers, payload = connection.exchange(request, stream_until)
                if stream_until is not None and 200 <= status < 300:
                    self._connection = connection.sibling()
                    return status, headers, payload, connection
            if status not in _REDIRECT_STATUSES:
                return status, headers, payload, None
            request = self._redirected(request, status, headers)
        raise self._too_many_redirects(status, headers)

    def _pages(
        self, path: str, query: List[Tuple[str, str]], options: Dict[str, Any], kind: str
    ) -> Iterator[Any]:
        """The items of a list, page after page: runs (``kind`` "run") or dicts."""
        seen: Set[str] = set()
        next_query: Optional[List[Tuple[str, str]]] = query
        while next_query is not None:
            query = next_query
            headers, payload, _ = self._exchange(_Call("GET", path, None, query, options, None))
            items, page = self._read_page(kind, query, headers, payload)
            yield from items
            next_query = self._next_query(query, page, seen, headers)

    def _poll(
        self,
        thread_id: str,
        run_id: str,
        interval: Optional[float],
        timeout: Optional[float],
        on_run: Optional[Callable[[ThreadRun], Any]],
    ) -> ThreadRun:
        poll, retrieve = self._polling(thread_id, run_id, interval, timeout)
        return self._poll_run(retrieve, poll, on_run, None)

    def _then_poll(
        self,
        call: _Call,
        thread_id: Optional[str],
        interval: Optional[float],
        timeout: Optional[float],
        on_run: Optional[Callable[[ThreadRun], Any]],
    ) -> ThreadRun:
        """The ``*_and_poll`` methods: ``call`` (the request that creates or moves the run),
        then a poll of the run it returns (in ``thread_id``, or the run's own thread if
        None), all within ``timeout``."""
        poll = _Poll(self, interval, timeout)
        try:
            run = self._execute(call, poll.start_deadline)
        except _DeadlineReached as exc:
            raise poll.timed_out() from exc.__cause__
        return self._poll_run(self._retrieve_after(call, thread_id, run), poll, on_run, run)

    def _poll_run(
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
                headers, payload, _ = self._exchange(retrieve, poll.request_deadline)
            except _DeadlineReached as exc:
                raise poll.timed_out() from exc.__cause__
            run: ThreadRun = retrieve.read(headers, payload)
            if on_run is not None:
                on_run(run)
            delay = poll.after(run, headers)
            if delay is None:
                return run
            self._sleep(delay)

    def _stream_request(
        self,
        path: str,
        body: Dict[str, Any],
        query: Optional[List[Tuple[str, str]]],
        options: Dict[str, Any],
        stream_timeout: Optional[float],
        verb: str,
        asked: Tuple[Optional[str], Optional[str]],
    ) -> RunStream:
        deadline = self._stream_deadline(stream_timeout)
        call = _Call("POST", path, body, query, options, None)
        try:
            headers, _, connection = self._exchange(call, deadline, stream=True)
        except _DeadlineReached as exc:
            raise self._stream_timeout(stream_timeout) from exc.__cause__
        assert connection is not None
        request_id = headers.get("x-request-id")
        content_type = headers.get("content-type")
        if not _is_event_stream(content_type):
            # A server that does not stream answers with the run itself, a proxy with its
            # login page: read as a stream, either would only end "before its done event",
            # which says nothing of the cause.
            start, whole = self._excerpt(connection)
            raise self._not_a_stream(content_type, start, whole, request_id)

        def release(reusable: bool) -> None:
            if connection.end_body(reusable):
                self._give_back(connection)

        settings = self._stream_settings(request_id, verb, asked)
        stream = RunStream(connection.read_body, release, **settings)
        self._streams.add(stream)
        return stream

    def _excerpt(self, connection: _Connection) -> Tuple[bytes, bool]:
        """The start of a body that is not a stream (read for as long as the request's
        timeout allows a silence), and whether it is the whole; the connection is closed."""
        start = b""
        try:
            while len(start) < _EXCERPT_BYTES:
                chunk = connection.read_body()
                if not chunk:
                    return start, True
                start += chunk
        except APIError:
            pass  # what came before is the excerpt
        finally:
            connection.end_body(False)
        return start, False

    def _give_back(self, connection: _Connection) -> None:
        # A stream read to its end: its connection becomes the client's kept-alive one,
        # unless the client opened another meanwhile (one idle connection is kept).
        with self._lock:
            if not self._connection.connected:
                self._connection = connection
                return
        connection.close()


# --------------------------------------------------------------------------------------------
# Helpers: reading error bodies, checking arguments
# --------------------------------------------------------------------------------------------


def _body_too_large(limit: int, headers: Dict[str, str]) -> ResponseTooLargeError:
    """The error for a response body over ``max_response_bytes``, in either shell."""
    return ResponseTooLargeError(
        "response body is over the limit of %d bytes (max_response_bytes)" % limit,
        request_id=headers.get("x-request-id"),
    )


def _error_message(body: Any) -> Optional[str]:
    """The message of an error body: the API's ``{"error": {"message": ...}}``, FastAPI's
    ``{"detail": "..."}`` or ``{"detail": [{"loc": [...], "msg": "..."}, ...]}``, or a plain
    ``{"message": "..."}``; None for any other body."""
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict):
        message = error.get("message")
        return message if isinstance(message, str) else None
    detail = body.get("detail")
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        # FastAPI's validation errors: "body.assistant_id: Field required; query.limit: ..."
        problems = []
        for problem in detail:
            if isinstance(problem, dict) and isinstance(problem.get("msg"), str):
                loc = problem.get("loc")
                where = ".".join(str(part) for part in loc) if isinstance(loc, list) else ""
                problems.append("%s: %s" % (where, problem["msg"]) if where else problem["msg"])
        return _shorten("; ".join(problems), 500) if problems else None
    message = body.get("message")
    return message if isinstance(message, str) else None


def _track_for_fork(client: Client) -> None:
    # A forked child gives every client a new lock: a thread of the parent may have held it
    # mid-request when the process forked, and would never release it in the child.
    global _FORKED_CLIENTS
    if _FORKED_CLIENTS is None:
        import weakref

        _FORKED_CLIENTS = weakref.WeakSet()
        if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
            os.register_at_fork(after_in_child=_reset_locks)
    _FORKED_CLIENTS.add(client)


def _reset_locks() -> None:
    import threading

    for client in list(_FORKED_CLIENTS or ()):
        client._lock = threading.Lock()


def _list_query(
    limit: Optional[int], order: Optional[str], after: Optional[str], before: Optional[str]
) -> List[Tuple[str, str]]:
    return [
        (name, str(value))
        for name, value in (("limit", limit), ("order", order), ("after", after),
                            ("before", before))
        if value is not None
    ]  # fmt: skip


def _include_query(params: Dict[str, Any]) -> List[Tuple[str, str]]:
    # The SDK sends the create call's include list in the query, as include[]=...
    return [("include[]", item) for item in params.pop("include", None) or ()]


def _checked_object(item: Any, kind: str) -> Dict[str, Any]:
    if type(item) is not dict:
        raise ThreadRunError("expected a %s object, got %s" % (kind, _describe(item)))
    return item


def _checked_role(role: Any, what: str) -> str:
    if not isinstance(role, str):
        raise TypeError("%s must be a str ('user' or 'assistant'), got %s"
                        % (what, type(role).__name__))  # fmt: skip
    return role


def _checked_content(content: Any, what: str) -> Any:
    """A message's content as the API takes it: a string, or a list of content parts (each a
    mapping with a str "type"), copied; anything else is a TypeError, before any request."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise TypeError("%s must be a str or a list of content parts, got %s"
                        % (what, type(content).__name__))  # fmt: skip
    parts = []
    for index, part in enumerate(content):
        if not isinstance(part, _Mapping) or not isinstance(part.get("type"), str):
            raise TypeError("%s[%d] must be a content part: a mapping with a str 'type', "
                            "got %s" % (what, index, type(part).__name__))  # fmt: skip
        parts.append(dict(part))
    return parts


def _checked_messages(messages: Any) -> List[Dict[str, Any]]:
    """create_thread's messages: a list of mappings, each with a valid role and content."""
    if not isinstance(messages, list):
        raise TypeError("messages must be a list of messages, got %s" % type(messages).__name__)
    checked = []
    for index, message in enumerate(messages):
        what = "messages[%d]" % index
        if not isinstance(message, _Mapping):
            raise TypeError("%s must be a mapping with 'role' and 'content', got %s"
                            % (what, type(message).__name__))  # fmt: skip
        item = dict(message)
        item["role"] = _checked_role(item.get("role", "user"), what + "['role']")
        item["content"] = _checked_content(item.get("content"), what + "['content']")
        checked.append(item)
    return checked


def _pop_options(params: Dict[str, Any]) -> Dict[str, Any]:
    _refuse_sdk_keywords(params)
    return {name: params.pop(name) for name in _REQUEST_OPTIONS if name in params}


def _refuse_sdk_keywords(keywords: Mapping[str, Any], interval: str = "poll_interval") -> None:
    """A TypeError for a keyword of the openai SDK that threadrun spells otherwise, before
    anything is sent (it would go to the server as a body parameter, or be ignored):
    ``interval`` is what the method calls its poll interval."""
    if "poll_interval_ms" in keywords:
        raise TypeError(
            "poll_interval_ms is the openai SDK's keyword: threadrun's is %s, in seconds "
            "(poll_interval_ms=500 is %s=0.5); nothing was sent" % (interval, interval)
        )
    if "event_handler" in keywords:
        raise TypeError(
            "event_handler is the openai SDK's keyword: threadrun has no event handlers; "
            "iterate the RunStream the method returns instead (for event, data in stream: "
            "...; text_deltas() for the text, until_done() for the final run); nothing was sent"
        )


def _swapped_ids_note(path: str) -> str:
    """What a 404 for ``path`` (``/threads/{thread_id}/runs/{run_id}...``, percent-encoded)
    adds when its ids look swapped or misplaced: a thread id that starts with ``run_``, a
    run id that starts with ``thread_``. The openai SDK's ``retrieve`` takes the run id
    first; threadrun's methods take the thread id first."""
    parts = path.split("?", 1)[0].split("/")
    if len(parts) < 4 or parts[1] != "threads" or parts[3] != "runs":
        return ""
    thread_id = parts[2]
    run_id = parts[4] if len(parts) > 4 else ""
    if thread_id.startswith("run_") or run_id.startswith("thread_"):
        return (
            " (the thread id %r and the run id %r look swapped: threadrun takes "
            "(thread_id, run_id), where the openai SDK's retrieve takes the run id first)"
            % (_shorten(thread_id, 40), _shorten(run_id, 40))
            if run_id
            else " (the thread id %r looks like a run id)" % _shorten(thread_id, 40)
        )
    return ""


def _pop_stream(params: Dict[str, Any], method: str, other: str) -> None:
    # A stream parameter other than True contradicts the method, which always streams.
    if params.pop("stream", True) is not True:
        raise ValueError("%s always streams: call %s for the run alone" % (method, other))


def _check_options(options: Dict[str, Any]) -> None:
    _refuse_sdk_keywords(options)
    unknown = sorted(set(options) - set(_REQUEST_OPTIONS))
    if unknown:
        raise TypeError(
            "unexpected keyword argument %r (the per-request options are %s)"
            % (unknown[0], ", ".join(_REQUEST_OPTIONS))
        )


def _checked_timeout(value: Any, what: str) -> float:
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not 0 < value < 1e9  # also refuses NaN and infinity
    ):
        raise ValueError("%s must be a positive, finite number of seconds" % what)
    return float(value)


def _is_seconds(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1e9


def _checked_headers(headers: Any, what: str) -> Dict[str, str]:
    if headers is None:
        return {}
    if not isinstance(headers, _Mapping):
        raise TypeError("%s must map str to str" % what)
    checked = dict(headers)
    for name, value in checked.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError("%s must map str to str" % what)
        if not name or not all(char in _TOKEN_CHARS for char in name):
            raise OpenAIError(
                "%s has an invalid header name %r (letters, digits and !#$%%&'*+-.^_`|~ only)"
                % (what, _shorten(name, 40))
            )
        _header_value(value, "%s[%r]" % (what, name))
    return checked


def _merge_headers(headers: Dict[str, str], extra: Dict[str, str]) -> None:
    # The caller's headers win, case-insensitively (an Azure "api-key" may replace the key).
    for name, value in extra.items():
        for existing in [key for key in headers if key.lower() == name.lower()]:
            del headers[existing]
        headers[name] = value


def _checked_outputs(tool_outputs: Any) -> List[Dict[str, Any]]:
    outputs = []
    for index, item in enumerate(tool_outputs):
        if not isinstance(item, _Mapping) or not isinstance(item.get("tool_call_id"), str):
            raise TypeError("tool_outputs[%d] must be a mapping with a str 'tool_call_id'" % index)
        outputs.append(dict(item))
    return outputs


def _check_id(value: Any, name: str) -> str:
    # Ids go into the path (an assistant's into the body, held to the same rules): refuse
    # anything that could change which resource is addressed (separators, dot segments,
    # percent escapes) or that no real id contains.
    if not isinstance(value, str):
        raise InvalidIdError("%s must be a string, got %s" % (name, type(value).__name__))
    if not value or value in (".", "..") or len(value) > 256:
        raise InvalidIdError(
            "%s is empty, a dot segment, or too long: %r" % (name, _shorten(value, 40))
        )
    # isprintable() is False for every whitespace but the space, and for control characters.
    if not value.isprintable() or not _ID_REFUSED.isdisjoint(value):
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
