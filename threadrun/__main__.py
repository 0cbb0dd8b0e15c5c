"""The ``threadrun`` command line: ``python -m threadrun COMMAND ...``.

    threadrun get THREAD_ID RUN_ID          the run, as JSON
    threadrun create THREAD_ID ASSISTANT_ID start a run (--stream: its events, as they come)
    threadrun wait THREAD_ID RUN_ID         poll until it stops moving; exit code tells how
    threadrun list THREAD_ID                the thread's runs, as JSON Lines
    threadrun steps THREAD_ID RUN_ID        the run's steps, as JSON Lines
    threadrun cancel THREAD_ID RUN_ID       cancel it
    threadrun check [FILE ...]              validate and summarise JSON / JSON Lines archives
    threadrun demo [--stream]               one run end to end against an in-process fake server

Standard output carries only JSON (``check`` prints a human summary unless ``--json``);
progress and errors go to standard error. This module parses arguments and prints;
``check``'s machinery is ``threadrun.archive``. It is the only module that imports both
``threadrun`` and ``threadrun.testing`` (lazily, for ``demo``); nothing imports it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import signal
import sys
import textwrap
import threading
import time

import threadrun
from threadrun import (
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    Client,
    OpenAIError,
    PollTimeoutError,
    RunStatus,
    RunStream,
    ThreadRun,
    ThreadRunError,
)
from threadrun.archive import (
    MAX_LINE_BYTES,
    OutputError,
    WorkerDied,
    _clean,
    _encodable,
    _isatty,
    check_files,
    usable_jobs,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import (
        IO,
        Any,
        Callable,
        Dict,
        List,
        Mapping,
        Optional,
        Sequence,
        Tuple,
    )

    # An option of a command, declared before its parser exists: see _option.
    _Option = Tuple[Tuple[str, ...], Dict[str, Any]]

__all__ = ["main"]

PROG = "threadrun"

EXIT_OK = 0
EXIT_ERROR = 1  # API, connection or invalid-data error; check: an invalid run
EXIT_USAGE = 2  # bad arguments, missing key, bad configuration; check: unreadable file
EXIT_REQUIRES_ACTION = 3
EXIT_RUN_FAILED = 4  # failed, expired, cancelled, incomplete
EXIT_POLL_TIMEOUT = 5
EXIT_OUTPUT = 6  # stdout or stderr could not be written (disk full, closed)
EXIT_NO_MEMORY = 7
EXIT_INTERRUPTED = 130  # Ctrl-C
EXIT_BROKEN_PIPE = 141  # stdout closed early (``| head``), as if killed by SIGPIPE

EXIT_CODES_HELP = """\
exit status:
  0    success; wait: the run completed
  1    API error (HTTP status, message and request id on stderr), connection error, or an
       invalid run from the server; check: at least one invalid run
  2    usage error: bad arguments, no API key (set OPENAI_API_KEY), bad configuration;
       check: a file could not be read
  3    wait, create --stream: the run requires action (its tool calls are in the JSON
       printed)
  4    wait, create --stream: the run failed, expired, was cancelled or is incomplete
  5    wait: --deadline passed first (the last run seen is still printed); create
       --stream: its --deadline passed
  6    the output could not be written (disk full, a closed stdout or stderr); get and
       cancel also say whether the server acted
  7    out of memory
  130  interrupted (Ctrl-C)
  141  stdout was closed early (e.g. piped into head)"""

# Seconds between spinner frames while waiting.
_FRAME = 0.08
_RUN_TIMESTAMPS = (
    "created_at", "expires_at", "started_at", "cancelled_at", "failed_at", "completed_at",
)  # fmt: skip
# The field an APIResponseValidationError names: its name (in a list page, after data[N]),
# and what lies within it (a metadata key).
_FIELD_NAME = re.compile(r"^(?:data\[\d+\])?(?:\['(\w+)'\]|(\w+))(\[.*)?$")


class _UsageError(Exception):
    """A problem with how the command was called or configured: exit 2."""


# --------------------------------------------------------------------------------------------
# Terminal helpers
# --------------------------------------------------------------------------------------------


def _can_encode(stream: Any, text: str) -> bool:
    try:
        text.encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _columns(stream: Any) -> int:
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        columns = 0
    return max(columns, 20) if columns > 0 else 80  # 0: a terminal that has not said


_COLORS = {
    RunStatus.COMPLETED: "32",  # green
    RunStatus.REQUIRES_ACTION: "33",  # yellow
    RunStatus.CANCELLING: "33",
    RunStatus.FAILED: "31",  # red
    RunStatus.EXPIRED: "31",
    RunStatus.CANCELLED: "31",
    RunStatus.INCOMPLETE: "31",
    RunStatus.QUEUED: "36",  # cyan
    RunStatus.IN_PROGRESS: "36",
}


class _Progress:
    """The status display of ``wait`` and ``demo``, on standard error.

    On a terminal: one live line (spinner, run id, the statuses seen so far, elapsed time),
    redrawn in place with ``\\r`` and erase-to-end-of-line, animated while the client sleeps
    between polls (:meth:`sleep` is the client's ``sleep``); colours unless ``NO_COLOR`` is
    set. Elsewhere (a pipe, a file, ``TERM=dumb``): one plain line per status change.
    """

    def __init__(self, stream: IO[str], run_id: str) -> None:
        self.stream = stream
        self.live = _isatty(stream) and os.environ.get("TERM", "") != "dumb"
        self.color = self.live and not os.environ.get("NO_COLOR")
        fancy = _can_encode(stream, "\u280b\u203a\u2714\u2718\u2026")
        self.spinner = (
            "\u280b\u2819\u2839\u2838\u283c\u2834\u2826\u2827\u2807\u280f" if fancy else "|/-\\"
        )
        self.arrow = " \u203a " if fancy else " > "
        self.ellipsis = "\u2026" if fancy else "..."
        self.marks = ("\u2714", "!", "\u2718") if fancy else ("+", "!", "x")
        self.started = time.monotonic()
        self.run_id = run_id
        self.trail: List[str] = []
        self.frame = 0
        self.drawn = False

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    # -- the client's callbacks ----------------------------------------------------------

    def on_run(self, run: ThreadRun) -> None:
        _check_interrupted()
        self.run_id = _clean(run.id)
        status = _clean(run.status)
        if not self.trail or self.trail[-1] != status:
            self.trail.append(status)
            if not self.live:
                self._write(
                    "[%5.1fs] %s: %s%s\n" % (self.elapsed(), self.run_id, status, _detail(run))
                )
        if self.live:
            self._draw()

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, turning the spinner meanwhile (the client's ``sleep``)."""
        _check_interrupted()
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, _FRAME if self.live else 0.25))
            _check_interrupted()
            if not self.live:
                continue
            self.frame += 1
            self._draw()

    # -- output --------------------------------------------------------------------------

    def finish(self, run: ThreadRun, note: str = "") -> None:
        """Replace the live line by a final one (terminal); a plain note line otherwise."""
        if self.live:
            if note:
                mark, paint = self.marks[2], RunStatus.FAILED  # red
            elif run.status == RunStatus.COMPLETED:
                mark, paint = self.marks[0], run.status
            elif run.status in RunStatus.TERMINAL:
                mark, paint = self.marks[2], run.status
            else:
                mark, paint = self.marks[1], run.status
            note = (_detail(run) + "  " + note).strip()
            self._write("\r" + self._line(mark, note, paint) + "\x1b[K\n")
            self.drawn = False
        elif note:
            self._write("[%5.1fs] %s: %s\n" % (self.elapsed(), _clean(run.id), note))
        self.trail = []

    def say(self, text: str) -> None:
        """A line of its own (the live line is cleared first and redrawn by the next poll)."""
        self.clear()
        self._write(_clean(text) + "\n")

    def clear(self) -> None:
        if self.drawn:
            self._write("\r\x1b[K")
            self.drawn = False

    def _draw(self) -> None:
        spin = self.spinner[self.frame % len(self.spinner)]
        self._write("\r" + self._line(spin, "") + "\x1b[K")
        self.drawn = True

    def _line(self, mark: str, note: str, paint: Optional[str] = None) -> str:
        width = _columns(self.stream) - 1
        trail = list(self.trail)
        clock = "%.1fs" % self.elapsed()
        cut = False
        while True:
            shown = ([self.ellipsis] if cut else []) + trail
            plain = "%s %s  %s  %s" % (mark, self.run_id, self.arrow.join(shown), clock)
            if note:
                plain += "  " + note
            if len(plain) <= width or len(trail) <= 1:
                break
            trail.pop(0)
            cut = True
        if len(plain) > width:
            return plain[: max(width, 1)]
        if not self.color:
            return plain
        colored = [self._paint(status) for status in shown]
        text = "%s %s  %s  %s" % (
            self._paint(paint or (self.trail[-1] if self.trail else ""), mark),
            self.run_id,
            self.arrow.join(colored),
            "\x1b[2m%s\x1b[0m" % clock,
        )
        return text + ("  " + note if note else "")

    def _paint(self, status: str, text: Optional[str] = None) -> str:
        code = _COLORS.get(status)
        text = status if text is None else text
        return "\x1b[%sm%s\x1b[0m" % (code, text) if code else text

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # stderr gone: the progress display is not worth failing for


def _detail(run: ThreadRun) -> str:
    """What a status line adds: the tool calls asked for, or the run's error."""
    return _clean(_raw_detail(run))


def _raw_detail(run: ThreadRun) -> str:
    if run.status == RunStatus.REQUIRES_ACTION:
        try:
            names = [call.name for call in run.tool_calls]
        except ThreadRunError:
            return " (malformed required_action)"
        return " (tool calls: %s)" % ", ".join(names) if names else ""
    error = run.last_error
    if run.status in RunStatus.TERMINAL and isinstance(error, dict):
        message = error.get("message")
        if isinstance(message, str) and message:
            code = error.get("code")
            return " (%s%s)" % ("%s: " % code if isinstance(code, str) else "", message[:200])
    details = run.incomplete_details
    if run.status == RunStatus.INCOMPLETE and isinstance(details, dict):
        reason = details.get("reason")
        if isinstance(reason, str):
            return " (%s)" % reason
    return ""


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def _error(message: str) -> None:
    _say("error", _clean(message))


def _warn(message: str) -> None:
    _say("warning", message)


def _note(message: str) -> None:
    _say("note", message)


def _say(kind: str, message: str) -> None:
    """One line on stderr, ``threadrun: KIND: MESSAGE``; a stderr gone is no reason to fail."""
    try:
        sys.stderr.write("%s: %s: %s\n" % (PROG, kind, message))
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _indent(args: argparse.Namespace, stream: Any) -> Optional[int]:
    if getattr(args, "compact", False):
        return None
    indent = getattr(args, "indent", None)
    if indent is not None:
        return int(indent)
    return 2 if _isatty(stream) else None


def _print_run(run: ThreadRun, args: argparse.Namespace) -> None:
    """The run as JSON on stdout: indented on a terminal, one compact line otherwise."""
    out = sys.stdout
    indent = _indent(args, out)
    if indent is None:
        text = run.to_json()  # ASCII: safe whatever stdout's encoding
    else:
        data = run.to_dict()
        text = json.dumps(data, indent=indent, ensure_ascii=False)
        if not _can_encode(out, text):
            text = json.dumps(data, indent=indent)
    out.write(text + "\n")
    out.flush()


def _reading_hint(exc: APIResponseValidationError) -> str:
    """The option that would read what ``exc`` refused: --timestamps iso, --lenient, or none."""
    match = _FIELD_NAME.match(exc.field or "")
    if match is None:
        return ""
    name, within, text = match.group(1) or match.group(2), match.group(3), exc.message
    if name in _RUN_TIMESTAMPS and "got string" in text:
        return " (a server that writes ISO-8601 timestamps: add --timestamps iso)"
    if (
        "threadrun.lenient" in text
        or (name == "model" and text.endswith("got null"))
        or (name == "metadata" and within is not None and "expected a string, got" in text)
        or (name == "object" and ("got string" in text or "got null" in text))
        or (name in _RUN_TIMESTAMPS and "got number" in text)
    ):
        return " (a server with this quirk: add --lenient)"
    return ""


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, APIResponseValidationError):
        # It says what the server sent, and which run.
        text = exc.message + _reading_hint(exc)
    elif isinstance(exc, ThreadRunError):
        text = "the server sent an invalid run: %s" % exc
    elif isinstance(exc, APIError):
        text = exc.message
    else:
        text = str(exc)
    request_id = getattr(exc, "request_id", None)
    if request_id:
        text += " (request id %s)" % request_id
    return text


# --------------------------------------------------------------------------------------------
# Commands that talk to the API
# --------------------------------------------------------------------------------------------


def _client(args: argparse.Namespace, sleep: Optional[Callable[[float], Any]] = None) -> Client:
    key = args.api_key or os.environ.get("OPENAI_API_KEY")
    headers, query, base_url = _azure_style(
        key, dict(args.header or ()), dict(args.query or ()), args.base_url, os.environ
    )
    if not key and not any(threadrun._is_credential(name) for name in headers):
        raise _UsageError(
            "no API key: set the OPENAI_API_KEY environment variable (or pass --api-key, "
            "which leaves the key in your shell history and the process list; or, for a "
            "server that takes its key in an api-key header, AZURE_OPENAI_API_KEY)"
        )
    options: Dict[str, Any] = {}
    if args.request_timeout is not None:
        options["timeout"] = args.request_timeout
    if args.max_retries is not None:
        options["max_retries"] = args.max_retries
    adapter = _run_adapter(args)
    if adapter is not None:
        options["run_adapter"] = adapter
    try:
        return Client(
            key or None, base_url=base_url, sleep=sleep, default_headers=headers,
            default_query=query, allow_insecure_http=bool(args.allow_insecure_http), **options,
        )  # fmt: skip
    except (OpenAIError, ValueError, TypeError) as exc:
        # The refusals name the library's arguments: here they are the command's options.
        message = str(exc).replace("allow_insecure_http=True", "--allow-insecure-http")
        raise _UsageError(message.replace("default_headers", "--header")) from None


def _azure_style(
    key: Optional[str],
    headers: Dict[str, str],
    query: Dict[str, str],
    base_url: Optional[str],
    env: Mapping[str, str],
) -> Tuple[Dict[str, str], Dict[str, str], Optional[str]]:
    """The headers, query and base URL to send, with the openai SDK's Azure variables: with
    no other key, AZURE_OPENAI_API_KEY is the api-key header (kept off the command line);
    with an api-key header, OPENAI_API_VERSION is the api-version query and
    AZURE_OPENAI_ENDPOINT + "/openai" the base URL, unless given otherwise."""
    lower = {name.lower() for name in headers}
    if not key and not any(threadrun._is_credential(name) for name in lower):
        azure_key = env.get("AZURE_OPENAI_API_KEY")
        if azure_key:
            headers = dict(headers, **{"api-key": azure_key})
            lower.add("api-key")
    if "api-key" not in lower:
        return headers, query, base_url
    version = env.get("OPENAI_API_VERSION")
    if version and "api-version" not in query:
        query = dict(query, **{"api-version": version})
    endpoint = env.get("AZURE_OPENAI_ENDPOINT")
    if endpoint and base_url is None and not env.get("OPENAI_BASE_URL"):
        base_url = endpoint.rstrip("/") + "/openai"
    return headers, query, base_url


def _run_adapter(args: argparse.Namespace) -> Optional[Callable[[Any], Any]]:
    """How the command reads runs: --lenient, --timestamps iso, or strictly (None)."""
    if getattr(args, "lenient", False):
        return threadrun.lenient
    if getattr(args, "timestamps", None) == "iso":
        return threadrun.iso_timestamps
    return None


def _cmd_one_run(args: argparse.Namespace) -> int:
    """get and cancel: one request, the run it returns printed."""
    with _client(args) as client:
        if args.command == "cancel":
            run = client.cancel(args.thread_id, args.run_id)
            acted = "the server accepted the cancellation (run %s is %s)" % (run.id, run.status)
        else:
            run = client.retrieve(args.thread_id, args.run_id)
            acted = "nothing was changed on the server"
    _AFTER_ACTION.append(_clean(acted))
    _print_run(run, args)
    return EXIT_OK


def _exit_for(run: ThreadRun) -> int:
    if run.status == RunStatus.COMPLETED:
        return EXIT_OK
    if run.status == RunStatus.REQUIRES_ACTION:
        return EXIT_REQUIRES_ACTION
    return EXIT_RUN_FAILED


def _cmd_wait(args: argparse.Namespace) -> int:
    deadline = args.deadline
    if args.old_deadline is not None:
        _warn("'wait --timeout' is deprecated: it is the deadline, spelt '--deadline' now")
        if deadline is None:
            deadline = args.old_deadline
    progress = _Progress(sys.stderr, args.run_id)
    _ACTIVE.append(progress)
    with _client(args, sleep=progress.sleep) as client:
        try:
            run = client.poll(
                args.thread_id,
                args.run_id,
                interval=args.interval,
                timeout=deadline,
                on_run=progress.on_run,
            )
        except PollTimeoutError as exc:
            if exc.run is not None:  # None when the deadline passed before any answer
                progress.finish(exc.run, "timed out")
                _print_run(exc.run, args)
            _error(exc.message)
            return EXIT_POLL_TIMEOUT
    progress.finish(run)
    _print_run(run, args)
    return _exit_for(run)


def _cmd_create(args: argparse.Namespace) -> int:
    params: Dict[str, Any] = {}
    if args.instructions is not None:
        params["instructions"] = args.instructions
    if args.model is not None:
        params["model"] = args.model
    if args.metadata:
        params["metadata"] = dict(args.metadata)
    if not args.stream:
        if args.deadline is not None:
            raise _UsageError("--deadline bounds a stream: it needs --stream")
        with _client(args) as client:
            run = client.create(args.thread_id, args.assistant_id, **params)
        _AFTER_ACTION.append(_clean("the server created run %s (%s)" % (run.id, run.status)))
        _print_run(run, args)
        return EXIT_OK
    started = time.monotonic()
    with _client(args) as client:
        stream = client.stream(
            args.thread_id, args.assistant_id, stream_timeout=args.deadline, **params
        )
        _AFTER_ACTION.append("the server started a run")
        try:
            with stream:
                run = _print_events(stream, _Text(sys.stderr))
        except APITimeoutError as exc:
            if args.deadline is None or time.monotonic() - started < args.deadline:
                raise  # a silence longer than the request timeout: a connection error
            _error(exc.message)
            return EXIT_POLL_TIMEOUT
    return _exit_for(run)


def _print_events(stream: RunStream, text: _Text) -> ThreadRun:
    """Each event of ``stream`` as a JSON line on stdout as it arrives, the message text on
    ``text``; returns the last run."""
    out = sys.stdout
    for event, data in stream:
        if isinstance(data, ThreadRun):
            data = data.to_dict()
        elif event == "thread.message.delta":
            text.delta(data)
        elif event == "thread.message.completed":
            text.end()
        # ASCII JSON: safe whatever stdout's encoding.
        out.write(json.dumps({"event": event, "data": data}, separators=(",", ":")) + "\n")
        out.flush()
        _check_interrupted()
    return stream.until_done()


class _Text:
    """The assistant's text as it is written, on ``stream`` when it is a terminal (for
    ``create --stream``, whose stdout has every event already: a pipe or a file gets no
    second copy) or ``always`` (the demo's)."""

    def __init__(self, stream: IO[str], always: bool = False) -> None:
        self.stream = stream
        terminal = _isatty(stream) and os.environ.get("TERM", "") != "dumb"
        self.live = always or terminal
        # The demo's model writes at reading speed on a terminal: a word every 50 ms.
        self.pace = 0.05 if always and terminal else 0.0
        self.open = False

    def delta(self, data: Any) -> None:
        if not self.live:
            return
        delta = data.get("delta") if isinstance(data, dict) else None
        content = delta.get("content") if isinstance(delta, dict) else None
        for part in content if isinstance(content, list) else ():
            text = part.get("text") if isinstance(part, dict) else None
            value = text.get("value") if isinstance(text, dict) else None
            if isinstance(value, str):
                # Control characters shown escaped (they must not drive the terminal);
                # the message's own line breaks kept.
                lines = [_clean(line) for line in value.split("\n")]
                self._write(_encodable("\n".join(lines), self.stream))
                self.open = True
                if self.pace:
                    time.sleep(self.pace)

    def end(self) -> None:
        if self.open:
            self._write("\n")
            self.open = False

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # stderr gone: the text is on stdout too


def _cmd_list(args: argparse.Namespace) -> int:
    limit = args.limit
    out = sys.stdout
    write = out.write
    flush = out.flush
    with _client(args) as client:
        runs = client.list(
            args.thread_id, limit=None if limit is None else min(limit, 100), order=args.order
        )
        for run in itertools.islice(runs, limit):
            write(run.to_json() + "\n")
            flush()
            _check_interrupted()
    return EXIT_OK


def _cmd_steps(args: argparse.Namespace) -> int:
    limit = args.limit
    write = sys.stdout.write
    flush = sys.stdout.flush
    with _client(args) as client:
        read = _step_reader(args, client._scrub)
        steps = client.list_steps(
            args.thread_id, args.run_id, limit=None if limit is None else min(limit, 100),
            order=args.order,
        )  # fmt: skip
        for step in itertools.islice(steps, limit):
            step = read(step)
            # ASCII, compact: as list writes runs (a decoded step holds no NaN to refuse).
            write(json.dumps(step, separators=(",", ":")) + "\n")
            flush()
            _check_interrupted()
    return EXIT_OK


_STEP_TIMESTAMPS = ("created_at", "expired_at", "cancelled_at", "failed_at", "completed_at")


def _step_reader(
    args: argparse.Namespace, scrub: Callable[[str], str]
) -> Callable[[Dict[str, Any]], Dict[str, Any]]:
    """What --timestamps iso and --lenient do to a step (no run adapter applies to steps):
    its timestamps read as they read a run's, and printed as integer seconds. An error
    quotes the step as the client's errors do: ``scrub`` keeps the key out."""
    if not getattr(args, "lenient", False) and getattr(args, "timestamps", None) != "iso":
        return lambda step: step

    # threadrun's reading of a run's timestamps: the same verdict for a step's.
    lenient = bool(getattr(args, "lenient", False))
    read_one = threadrun._lenient_timestamp if lenient else threadrun._iso_to_unix

    def read(step: Dict[str, Any]) -> Dict[str, Any]:
        step = dict(step)
        for field in _STEP_TIMESTAMPS:
            value = step.get(field)
            if value is None or (not lenient and type(value) is not str):
                continue
            try:
                step[field] = read_one(value, field)
            except ThreadRunError:
                # The reason quotes the value, perhaps cut short: read the scrubbed value
                # again for a reason that quotes no part of a key.
                reason = _reason(read_one, scrub(value) if isinstance(value, str) else value,
                                 field)  # fmt: skip
                raise APIError(scrub(
                    "the server sent step %r, whose %s" % (_clean(str(step.get("id"))), reason)
                )) from None
        return step

    return read


def _reason(read_one: Callable[[Any, str], Any], value: Any, field: str) -> str:
    try:
        read_one(value, field)
    except ThreadRunError as exc:
        return str(exc)
    return "%s: not readable" % field  # pragma: no cover - a scrubbed value read after all


# --------------------------------------------------------------------------------------------
# demo
# --------------------------------------------------------------------------------------------

def _made_up_weather(arguments: str) -> str:
    try:
        given = json.loads(arguments)
    except ValueError:
        given = {}
    if not isinstance(given, dict):
        given = {}
    unit = given.get("unit") if given.get("unit") in ("celsius", "fahrenheit") else "celsius"
    return json.dumps(
        {
            "location": str(given.get("location") or "San Francisco, CA"),
            "temperature": 57 if unit == "fahrenheit" else 14,
            "unit": unit,
            "conditions": "fog, clearing by noon",
        },
        separators=(",", ":"),
    )


def _cmd_demo(args: argparse.Namespace) -> int:
    from threadrun.testing import _WEATHER_TOOL, FakeRunsServer

    err = sys.stderr
    progress = _Progress(err, "run")
    _ACTIVE.append(progress)
    # The fake is on loopback: no proxy applies, whatever the environment says.
    saved = {
        name: os.environ.pop(name) for name in list(os.environ) if name.lower().endswith("_proxy")
    }
    server = FakeRunsServer(
        poll_after_ms=350,
        default_statuses=("queued", "in_progress", "in_progress", "requires_action"),
        default_after_tool_outputs=("in_progress", "in_progress", "completed"),
        api_key="sk-demo-not-a-real-key",
    )
    try:
        with server:
            progress.say(
                "%s demo: a fake Runs API at %s, served by this process: no API key, no network"
                % (PROG, server.base_url)
            )
            client = Client(
                "sk-demo-not-a-real-key", base_url=server.base_url, sleep=progress.sleep
            )
            # What both ways create: a run that calls the fake's weather function.
            params = {
                "model": "gpt-4o",
                "instructions": "You are a weather bot. Use the provided functions to answer.",
                "tools": [_WEATHER_TOOL],
                "metadata": {"source": "threadrun demo" + (" --stream" if args.stream else "")},
            }
            with client:
                run = (_demo_stream if args.stream else _demo_poll)(client, progress, params)
    finally:
        os.environ.update(saved)
    _print_run(run, args)
    return _exit_for(run)


def _demo_poll(client: Client, progress: _Progress, params: Dict[str, Any]) -> ThreadRun:
    """The demo's run, polled."""
    run = client.create("thread_demo", "asst_demo", **params)
    progress.on_run(run)
    run = client.poll("thread_demo", run.id, timeout=60, on_run=progress.on_run)
    progress.finish(run)
    while run.status == RunStatus.REQUIRES_ACTION:
        run = client.submit_tool_outputs_and_poll(
            "thread_demo", run.id, _demo_outputs(run, progress), poll_timeout=60,
            on_run=progress.on_run,
        )  # fmt: skip
        progress.finish(run)
    return run


def _demo_outputs(run: ThreadRun, progress: _Progress) -> List[Mapping[str, str]]:
    outputs: List[Mapping[str, str]] = []
    for call in run.tool_calls:
        output = _made_up_weather(call.arguments)
        progress.say("  -> %s(%s)" % (call.name, call.arguments))
        time.sleep(0.25)  # a tool takes a moment
        progress.say("  <- %s" % output)
        outputs.append({"tool_call_id": call.id, "output": output})
    return outputs


def _demo_stream(client: Client, progress: _Progress, params: Dict[str, Any]) -> ThreadRun:
    """The demo's run, streamed: statuses as they come, the answer word by word."""
    text = _Text(sys.stderr, always=True)
    stream = client.stream("thread_demo", "asst_demo", **params)
    while True:
        with stream:
            for event, data in stream:
                if isinstance(data, ThreadRun):
                    progress.on_run(data)
                elif event == "thread.message.delta":
                    progress.clear()
                    text.delta(data)
                elif event == "thread.message.completed":
                    text.end()
                _check_interrupted()
            run = stream.until_done()
        progress.finish(run)
        if run.status != RunStatus.REQUIRES_ACTION:
            return run
        outputs = _demo_outputs(run, progress)
        stream = client.submit_tool_outputs_stream("thread_demo", run.id, outputs)


# --------------------------------------------------------------------------------------------
# check (its machinery: threadrun/archive.py)
# --------------------------------------------------------------------------------------------


def _cmd_check(args: argparse.Namespace) -> int:
    jobs, note = usable_jobs(args.jobs)
    if note:
        _note(note)
    return check_files(
        args.files,
        as_json=args.json,
        jobs=jobs,
        run_adapter=_run_adapter(args),
        progress=not args.quiet and _isatty(sys.stderr) and os.environ.get("TERM") != "dumb",
    )


# --------------------------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------------------------


def _number(
    convert: Callable[[str], Any], minimum: float, *, above: bool = False
) -> Callable[[str], Any]:
    """An argparse type: ``convert(text)``, finite, at least ``minimum`` (more if ``above``)."""
    noun = "an integer" if convert is int else "a number of seconds"
    bound = "%s %s" % (">" if above else ">=", minimum)

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError("expected %s, got %r" % (noun, text)) from None
        if not (value > minimum if above else value >= minimum) or value == float("inf"):
            raise argparse.ArgumentTypeError("expected %s %s, got %r" % (noun, bound, text))
        return value

    return parse


def _header(text: str) -> Tuple[str, str]:
    name, colon, value = text.partition(":")
    if not colon or not name.strip() or name != name.strip():
        # Never the text itself: it may hold a credential.
        raise argparse.ArgumentTypeError("expected 'NAME: VALUE' (the name, a colon, the value)")
    return name, value.strip()


def _pair(text: str) -> Tuple[str, str]:
    key, equals, value = text.partition("=")
    if not equals or not key:
        raise argparse.ArgumentTypeError("expected KEY=VALUE, got %r" % text)
    return key, value


_seconds = _number(float, 0)
_positive_seconds = _number(float, 0, above=True)


def _option(*names: str, **settings: Any) -> _Option:
    """An option as ``add_argument(*names, **settings)`` declares it, for a list of them."""
    return names, settings


def _add_options(parser: Any, *options: _Option, **shared: Any) -> None:
    """Add the ``options`` to a parser or group, with the ``shared`` settings where an option
    has none of its own."""
    for names, settings in options:
        parser.add_argument(*names, **dict(shared, **settings))


def _add_connection_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """The options every API command takes, before the command (``top``) or after it."""
    group = parser.add_argument_group("connection options (before or after the command)")
    _add_options(
        group,
        _option("--base-url", metavar="URL",
                help="API base URL (default: $OPENAI_BASE_URL, else https://api.openai.com/v1)"),
        _option("--api-key", metavar="KEY",
                help="API key; discouraged: it stays in shell history and the process list. "
                "Prefer the OPENAI_API_KEY environment variable (the default)"),
        _option("--request-timeout", *(["--timeout"] if top else []), dest="request_timeout",
                metavar="S", type=_positive_seconds,
                help="timeout of each HTTP request in seconds (default 60)"
                + ("; '--timeout S' before the command is the same" if top else "")),
        _option("--max-retries", metavar="N", type=_number(int, 0),
                help="retries of a failed request (429, 5xx, connection errors; default 2)"),
        _option("--header", metavar="'NAME: VALUE'", type=_header, action="append",
                help="a header sent with every request (repeatable); one whose name says "
                "key, token, auth or secret is a credential, kept out of every message, and "
                "stands for the API key: --header 'api-key: ...'"),
        _option("--query", metavar="KEY=VALUE", type=_pair, action="append",
                help="a query parameter sent with every request (repeatable): "
                "--query api-version=2024-05-01-preview"),
        _option("--allow-insecure-http", action="store_true",
                help="allow a plain http:// base URL to a host other than this machine (the "
                "key then travels unencrypted)"),
        default=None if top else argparse.SUPPRESS,
    )  # fmt: skip


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output options")
    _add_options(
        group.add_mutually_exclusive_group(),
        _option("--compact", action="store_true",
                help="one compact line of JSON even on a terminal"),
        _option("--indent", metavar="N", type=_number(int, 0),
                help="indent the JSON by N spaces even when piped (default: 2 on a terminal, "
                "compact otherwise)"),
    )  # fmt: skip


def _page_options(items: str) -> List[_Option]:
    # The commands that print a list, page after page: how much of it, in which order.
    return [
        _option("--limit", metavar="N", type=_number(int, 1),
                help="print at most N %s (each page asks for min(N, 100)); default: all" % items),
        _option("--order", choices=("asc", "desc"), help="by creation time (server default: desc)"),
    ]  # fmt: skip


_RUN_READING = (
    _option(
        "--timestamps", choices=("unix", "iso"), default="unix",
        help="how the runs write their timestamps: 'unix' (integer seconds, the API "
        "reference's; the default) or 'iso' (RFC 3339 / ISO-8601 strings, as some self-hosted "
        "servers write them: read as integer seconds, and printed so)",
    ),
    _option(
        "--lenient", action="store_true",
        help="read runs as threadrun.lenient does: ISO-8601 and millisecond timestamps as "
        "integer seconds, a null model as \"\", metadata values that are not strings as their "
        "JSON text (what is printed is what was read)",
    ),
)  # fmt: skip


def _command(
    commands: Any,
    name: str,
    func: Callable[[argparse.Namespace], int],
    summary: str,
    *,
    ids: Sequence[str] = (),
    api: bool = True,
    prints_a_run: bool = False,
    reads_runs: bool = False,
    options: Sequence[_Option] = (),
    help: str,
) -> None:
    """A command: its positional ids, the option groups it shares (``api``: the connection
    options; ``prints_a_run``: the output options; ``reads_runs``: --timestamps and --lenient),
    its own
    ``options``, and its ``help``: a paragraph that describes it (refilled), a blank line,
    then the rest as written (examples, exit statuses)."""
    description, epilog = help.split("\n\n", 1)
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=textwrap.fill(" ".join(description.split()), 88),
        epilog=epilog % {"p": PROG, "codes": EXIT_CODES_HELP},
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    for id_name in ids:
        parser.add_argument(id_name, metavar=id_name.upper())
    if prints_a_run:
        _add_output_options(parser)
    if reads_runs:
        _add_options(parser, *_RUN_READING)
    if api:
        _add_connection_options(parser, top=False)
    _add_options(parser, *options)
    parser.set_defaults(func=func)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=textwrap.fill(
            "The Assistants Thread Runs API from the command line: get, create (streamed or "
            "not), wait for, list and cancel runs, list a run's steps; validate and summarise "
            "archives of run objects. Standard output carries JSON only; progress and errors "
            "go to standard error. The API key is read from the OPENAI_API_KEY environment "
            "variable.",
            88,
        ),
        epilog="examples:\n"
        "  %(prog)s demo                                  # try it: no key, no network\n"
        "  export OPENAI_API_KEY=...                       # then, against a server:\n"
        "  %(prog)s get thread_abc123 run_abc123\n"
        "  %(prog)s create thread_abc123 asst_abc123 --stream | jq -r .event\n"
        "  %(prog)s wait thread_abc123 run_abc123 --deadline 300 && echo done\n"
        "  %(prog)s list thread_abc123 --limit 50 > runs.jsonl\n"
        "  %(prog)s list thread_abc123 --timestamps iso   # a server writing ISO-8601 times\n"
        "  %(prog)s check runs.jsonl\n\n"
        "'%(prog)s COMMAND --help' describes each command.\n\n" + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument(
        "--version",
        action="version",
        version="%s %s (Python %d.%d)" % (PROG, threadrun.__version__, *sys.version_info[:2]),
    )
    _add_connection_options(parser, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    commands.required = True
    run_ids = ("thread_id", "run_id")

    _command(
        commands, "get", _cmd_one_run, "print a run as JSON",
        ids=run_ids, prints_a_run=True, reads_runs=True,
        help="""\
Print a run as JSON.

example:
  %(p)s get thread_abc123 run_abc123 | jq -r .status""",
    )  # fmt: skip

    _command(
        commands, "create", _cmd_create, "start a run; with --stream, print its events",
        ids=("thread_id", "assistant_id"), prints_a_run=True, reads_runs=True,
        options=[
            _option("--stream", action="store_true",
                    help="stream the run's events (JSON Lines on stdout)"),
            _option("--instructions", metavar="TEXT", help="the run's instructions"),
            _option("--model", metavar="MODEL", help="the model (default: the assistant's)"),
            _option("--metadata", metavar="KEY=VALUE", type=_pair, action="append",
                    help="a metadata pair (repeatable)"),
            _option("--deadline", metavar="S", type=_positive_seconds,
                    help="with --stream: give up after S seconds with exit status 5 (default: "
                    "none; --request-timeout is the longest silence allowed)"),
        ],
        help="""\
Start a run of ASSISTANT_ID in THREAD_ID and print it as JSON. With --stream, print each of
its events as a JSON line, {"event": ..., "data": ...}, as it arrives, with the assistant's
text live on stderr when stderr is a terminal; the exit status then tells how the run ended,
as for 'wait'.

examples:
  %(p)s create thread_abc123 asst_abc123 --model gpt-4o --metadata user=u1
  %(p)s create thread_abc123 asst_abc123 --stream > events.jsonl
  %(p)s create thread_abc123 asst_abc123 --stream | jq -r .event

%(codes)s""",
    )  # fmt: skip

    _command(
        commands, "wait", _cmd_wait, "poll a run until it completes, fails or requires action",
        ids=run_ids, prints_a_run=True, reads_runs=True,
        options=[
            _option("--deadline", metavar="S", type=_seconds,
                    help="give up after S seconds with exit status 5 (default 900)"),
            _option("--timeout", dest="old_deadline", metavar="S", type=_seconds,
                    help="deprecated spelling of --deadline, kept working (everywhere else "
                    "--timeout is the per-request timeout, as --request-timeout)"),
            _option("--interval", metavar="S", type=_seconds,
                    help="seconds between polls (default: as the server's "
                    "openai-poll-after-ms header says, else 1)"),
        ],
        help="""\
Poll a run until it is terminal or requires action, showing its status on stderr (a live
line on a terminal, one line per status change otherwise), then print it as JSON on stdout.
The exit status tells how it ended.

examples:
  %(p)s wait thread_abc123 run_abc123
  %(p)s wait thread_abc123 run_abc123 --deadline 600 --interval 2 > run.json
  case $? in 0) echo completed;; 3) echo 'tool calls to answer';; *) echo failed;; esac

%(codes)s""",
    )  # fmt: skip

    _command(
        commands, "list", _cmd_list, "print a thread's runs as JSON Lines",
        ids=("thread_id",), reads_runs=True, options=_page_options("runs"),
        help="""\
Print a thread's runs as JSON Lines (one compact run per line), newest first unless --order
asc, each line written as soon as its page arrives; pages are followed until the end or
--limit.

examples:
  %(p)s list thread_abc123 > runs.jsonl
  %(p)s list thread_abc123 --limit 5 --order asc | jq -r .status""",
    )  # fmt: skip

    _command(
        commands, "steps", _cmd_steps, "print a run's steps as JSON Lines",
        ids=run_ids, reads_runs=True, options=_page_options("steps"),
        help="""\
Print a run's steps as JSON Lines (one compact step per line, as the server sent it), newest
first unless --order asc; pages are followed until the end or --limit. On a server whose
runs leave required_action null, the tool calls a run waits for are in its tool_calls step.

examples:
  %(p)s steps thread_abc123 run_abc123 > steps.jsonl
  %(p)s steps thread_abc123 run_abc123 | jq -c '.step_details.tool_calls // empty'""",
    )  # fmt: skip

    _command(
        commands, "cancel", _cmd_one_run, "cancel a run and print it",
        ids=run_ids, prints_a_run=True, reads_runs=True,
        help="""\
Ask the server to cancel a run and print the run (usually 'cancelling') as JSON; 'wait' then
sees it to 'cancelled' (exit status 4).

example:
  %(p)s cancel thread_abc123 run_abc123 && %(p)s wait thread_abc123 run_abc123""",
    )  # fmt: skip

    _command(
        commands, "check", _cmd_check, "validate and summarise files of run objects",
        api=False, reads_runs=True,
        options=[
            _option("files", metavar="FILE", nargs="*",
                    help="JSON or JSON Lines files ('-' or none: stdin)"),
            _option("--json", action="store_true", help="print the summary as JSON"),
            _option("--jobs", "-j", metavar="N", type=_number(int, 0), default=1,
                    help="worker processes (default 1; 0: one per core). A JSON Lines file is "
                    "split into byte ranges at line starts; a .gz file cannot be split (a gzip "
                    "stream is read from its start), so each .gz file, like each whole-file "
                    "JSON document, goes to one worker; a FIFO or a pipe is read once, by the "
                    "main process. N above the usable cores (or above what the file-descriptor "
                    "limit allows) is lowered to that, with a note. The output is the same "
                    "whatever N"),
            _option("--quiet", "-q", action="store_true",
                    help="no progress line (shown on stderr only when it is a terminal)"),
        ],
        help=_CHECK_HELP,
    )  # fmt: skip

    _command(
        commands, "demo", _cmd_demo,
        "drive one run end to end against an in-process fake server (no key, no network)",
        api=False, prints_a_run=True,
        options=[
            _option("--stream", action="store_true",
                    help="stream the run: statuses as they come, the answer word by word"),
        ],
        help="""\
Start threadrun.testing.FakeRunsServer on loopback in this process and drive one run through
the real client: created, queued, in progress, requires action (its tool call answered with
a made-up weather report), completed; the progress shows on stderr as with 'wait', the final
run on stdout. Needs no API key and sends nothing beyond loopback.

example:
  %(p)s demo""",
    )  # fmt: skip
    return parser


_CHECK_HELP = """\
Validate files of run objects (exports, archives) and summarise them. Each invalid run is
reported on stderr as FILE:LINE: field: what is wrong; the summary goes to stdout.

examples:
  %(p)s check runs.jsonl archive-2025.jsonl.gz
  %(p)s check --jobs 0 archive/*.jsonl            # every core
  %(p)s list thread_abc123 | %(p)s check --json
  %(p)s check tests/data/*.json 2> invalid.txt

Input: JSON Lines (one run per line; blank lines skipped), streamed with flat memory
whatever the size; a line over %(limit)d MiB is reported as too large and skipped unread.
Or a whole-file JSON document -- one run (pretty-printed or not), an array of runs, or
several of these one after the other -- read whole (memory proportional to that file). A
file is JSON Lines unless its first value spans several lines and parses to its end, is
an array alone in the file, or starts with a '[' alone on the first line (a syntax error
in a document is reported and ends that file): damaged lines never make a document.
*.gz is decompressed.

Summary: runs by status, model and assistant; token totals from 'usage'; run
durations (completed_at - started_at, where both are set) p50, p95 and max, exact,
by the nearest-rank method (the smallest observed duration that at least p%%%% of the
runs do not exceed), kept as a histogram of whole seconds: memory grows with the
number of distinct durations and of (status, model, assistant) triples, not runs.

On a terminal, stderr shows a progress line (bytes and runs done, runs/s, invalid so
far, ETA), cleared before the summary.

exit status: 0 all runs valid, 1 some run invalid or a worker process died, 2 a file
could not be read, 6 the output could not be written, 7 out of memory, 130 interrupted
""" % {"limit": MAX_LINE_BYTES // (1024 * 1024), "p": "%(p)s"}


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------

# The progress display of the running command, to tidy up on Ctrl-C or an error.
_ACTIVE: List[_Progress] = []
# What the server has done once a request succeeded: said when the output then fails.
_AFTER_ACTION: List[str] = []
# Set by Ctrl-C. A KeyboardInterrupt raised while a finalizer runs is lost (CPython ignores
# exceptions in __del__): http.client's HTTPResponse closes itself from __del__, in Python,
# when the next request drops it, so a Ctrl-C landing there during ``wait`` would vanish.
# The flag lets the poll loop raise it again.
_INTERRUPTED: List[bool] = []


def _on_sigint(signum: int, frame: Any) -> None:
    _INTERRUPTED.append(True)
    raise KeyboardInterrupt


def _check_interrupted() -> None:
    if _INTERRUPTED:
        raise KeyboardInterrupt


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _tidy() -> None:
    while _ACTIVE:
        _ACTIVE.pop().clear()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
    func: Callable[[argparse.Namespace], int] = args.func
    # Started with stdout closed (``>&-``): nothing is done at all (cancel would act on the
    # server and have nowhere to print the run).
    if sys.stdout is None:
        _error("stdout is closed: nothing done")
        return EXIT_OUTPUT
    # Ctrl-C as usual, remembered too (see _INTERRUPTED); an ignored SIGINT (nohup, a
    # background job) or a caller's own handler is left alone.
    previous = None
    del _INTERRUPTED[:]
    if (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    ):
        previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        status = func(args)
        _check_interrupted()  # a Ctrl-C lost on the way: honoured all the same
        return status
    except KeyboardInterrupt:
        _tidy()
        try:
            sys.stderr.write("%s: interrupted\n" % PROG)
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        return EXIT_INTERRUPTED
    except _UsageError as exc:
        _tidy()
        _error(str(exc))
        return EXIT_USAGE
    except (APIError, ThreadRunError) as exc:
        _tidy()
        _error(_describe_error(exc))
        return EXIT_ERROR
    except OpenAIError as exc:  # configuration, or an id that cannot be a run's
        _tidy()
        _error(str(exc))
        return EXIT_USAGE
    except (OSError, OutputError) as exc:
        # Writing stdout or stderr failed: reading a file and talking to the server have
        # their own errors. Stdout goes to /dev/null so that the interpreter does not fail
        # again when it flushes it at exit.
        error = exc.error if isinstance(exc, OutputError) else exc
        _silence_stdout()
        _tidy()
        acted = "; " + _AFTER_ACTION[-1] if _AFTER_ACTION else ""
        if isinstance(error, BrokenPipeError):  # the reader went away (``| head``)
            if acted:
                _error("stdout was closed before the run was printed" + acted)
            return EXIT_BROKEN_PIPE
        _error("cannot write the output: %s%s" % (error.strerror or error, acted))
        return EXIT_OUTPUT
    except MemoryError:
        _tidy()
        _error("out of memory")
        return EXIT_NO_MEMORY
    except WorkerDied as exc:
        _tidy()
        _error(str(exc))
        return EXIT_ERROR
    finally:
        del _ACTIVE[:]
        del _AFTER_ACTION[:]
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    sys.exit(main())
