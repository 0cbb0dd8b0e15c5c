"""The ``threadrun`` command line: ``python -m threadrun COMMAND ...``.

    threadrun get THREAD_ID RUN_ID          the run, as JSON
    threadrun create THREAD_ID ASSISTANT_ID start a run (--stream: its events, as they come)
    threadrun wait THREAD_ID RUN_ID         poll until it stops moving; exit code tells how
    threadrun list THREAD_ID                the thread's runs, as JSON Lines
    threadrun steps THREAD_ID RUN_ID        the run's steps, as JSON Lines
    threadrun ask ASSISTANT_ID QUESTION     the whole job: a thread, a run, the answer as text
    threadrun messages THREAD_ID            the thread's messages, as JSON Lines
    threadrun cancel THREAD_ID RUN_ID       cancel it
    threadrun check [FILE ...]              validate and summarise JSON / JSON Lines archives
    threadrun demo [--stream]               one run end to end against an in-process fake server

Standard output carries only JSON (``check`` prints a human summary unless ``--json``, ``ask``
the assistant's answer as plain text);
progress and errors go to standard error. This module parses arguments and prints;
``check`` is driven by ``threadrun._cli_check`` (over ``threadrun.archive``, the worker
library), and every live terminal line is drawn by ``threadrun._live``. It is the only module
that imports both ``threadrun`` and ``threadrun.testing`` (lazily, for ``demo``); nothing
imports it.
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
from threadrun._cli_check import OutputError, WorkerDied, check_files, usable_jobs
from threadrun._live import LiveLine, can_encode, clean, columns, encodable, fit, is_live, isatty
from threadrun.archive import MAX_LINE_BYTES

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import (
        IO,
        Any,
        Callable,
        Dict,
        Iterable,
        Iterator,
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
EXIT_RUN_GOING = 8  # create --stream: the stream ended while the run goes on
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
       printed); ask: the run requires action (its tool calls named on stderr)
  4    wait, create --stream, ask: the run failed, expired, was cancelled or is
       incomplete
  5    wait: --deadline passed first (the last run seen is still printed); create
       --stream, ask: its --deadline passed
  6    the output could not be written (disk full, a closed stdout or stderr); get and
       cancel also say whether the server acted
  7    out of memory
  8    create --stream: the stream ended with the run still going (queued,
       in_progress, cancelling): follow it with wait
  130  interrupted (Ctrl-C)
  141  stdout was closed early (e.g. piped into head)"""

# Each exit status of the commands that talk to the API (and of demo), as each command's help
# says it: "*" for every command, else the commands it can end with that status.
_STATUS_BY_COMMAND = (
    (0, {"*": "success", "wait": "the run completed"}),
    (1, {"*": "API error (HTTP status, message and request id on stderr), connection error, "
              "or an invalid run from the server"}),
    (2, {"*": "usage error: bad arguments, no API key (set OPENAI_API_KEY), bad configuration"}),
    (3, {"wait": "the run requires action (its tool calls are in the JSON printed)",
         "create": "with --stream: the run requires action (its tool calls are in the JSON "
                   "printed)",
         "ask": "the run requires action (its tool calls named on stderr)"}),
    (4, {name: prefix + "the run failed, expired, was cancelled or is incomplete"
         for name, prefix in (("wait", ""), ("create", "with --stream: "), ("ask", ""))}),
    (5, {"wait": "--deadline passed first (the last run seen is still printed)",
         "create": "with --stream: its --deadline passed", "ask": "its --deadline passed"}),
    (6, {"*": "the output could not be written (disk full, a closed stdout or stderr)",
         "get": "the output could not be written (disk full, a closed stdout or stderr); the "
                "message says whether the server acted",
         "cancel": "the output could not be written (disk full, a closed stdout or stderr); "
                   "the message says whether the server acted"}),
    (7, {"*": "out of memory"}),
    (8, {"create": "with --stream: the stream ended with the run still going (queued, "
                   "in_progress, cancelling): follow it with wait"}),
    (130, {"*": "interrupted (Ctrl-C)"}),
    (141, {"*": "stdout was closed early (e.g. piped into head)"}),
)  # fmt: skip


def _exit_help(command: str) -> str:
    """The exit statuses ``command`` can end with, one line each (refilled when shown)."""
    rows = [
        "  %-4s %s" % (code, texts.get(command) or texts.get("*"))
        for code, texts in _STATUS_BY_COMMAND
        if command in texts or "*" in texts
    ]
    return "exit status:\n" + "\n".join(rows)


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
        self.line = LiveLine(stream)
        self.live = is_live(stream)
        self.color = self.live and not os.environ.get("NO_COLOR")
        fancy = can_encode(stream, "\u280b\u203a\u2714\u2718\u2026")
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

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    # -- the client's callbacks ----------------------------------------------------------

    def on_run(self, run: ThreadRun) -> None:
        _check_interrupted()
        self.run_id = clean(run.id)
        status = clean(run.status)
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
            self.line.finish(self._line(mark, note, paint))
        elif note:
            self._write("[%5.1fs] %s: %s\n" % (self.elapsed(), clean(run.id), note))
        self.trail = []

    def say(self, text: str) -> None:
        """A line of its own (the live line is cleared first and redrawn by the next poll)."""
        self.clear()
        self._write(clean(text) + "\n")

    def clear(self) -> None:
        self.line.clear()

    def _draw(self) -> None:
        spin = self.spinner[self.frame % len(self.spinner)]
        self.line.draw(self._line(spin, ""))

    def _line(self, mark: str, note: str, paint: Optional[str] = None) -> str:
        width = self.line.width
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
            # The status and the time matter most, then the note, then the run id.
            pieces = [(0, mark), (3, self.run_id), (0, self.arrow.join(shown)), (1, clock)]
            return fit([*pieces, (2, note)] if note else pieces, width, "  ")
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
        self.line.write(text)  # stderr gone: the progress display is not worth failing for


def _detail(run: ThreadRun) -> str:
    """What a status line adds: the tool calls asked for, or the run's error."""
    return clean(_raw_detail(run))


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
    _say("error", clean(message))


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
    return 2 if isatty(stream) else None


def _print_run(run: ThreadRun, args: argparse.Namespace) -> None:
    """The run as JSON on stdout: indented on a terminal, one compact line otherwise."""
    out = sys.stdout
    indent = _indent(args, out)
    if indent is None:
        text = run.to_json()  # ASCII: safe whatever stdout's encoding
    else:
        data = run.to_dict()
        text = json.dumps(data, indent=indent, ensure_ascii=False)
        if not can_encode(out, text):
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
    _AFTER_ACTION.append(clean(acted))
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


def _run_params(args: argparse.Namespace) -> Dict[str, Any]:
    """The body parameters of the run a command starts: --instructions, --model, --metadata
    (where the command has them)."""
    params: Dict[str, Any] = {}
    for name in ("instructions", "model"):
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    if getattr(args, "metadata", None):
        params["metadata"] = dict(args.metadata)
    return params


def _cmd_create(args: argparse.Namespace) -> int:
    params = _run_params(args)
    if not args.stream:
        if args.deadline is not None:
            raise _UsageError("--deadline bounds a stream: it needs --stream")
        with _client(args) as client:
            run = client.create(args.thread_id, args.assistant_id, **params)
        _AFTER_ACTION.append(clean("the server created run %s (%s)" % (run.id, run.status)))
        _print_run(run, args)
        return EXIT_OK
    text = _Text(sys.stderr)
    stream: Optional[RunStream] = None
    try:
        with _client(args) as client:
            stream = client.stream(
                args.thread_id, args.assistant_id, stream_timeout=args.deadline, **params
            )
            _AFTER_ACTION.append("the server started a run")
            with stream:
                run = _print_events(stream, text)
    except APITimeoutError as exc:
        # The client's deadline errors, before the stream began or during it, name
        # stream_timeout; any other timeout is a silence: a connection error.
        if args.deadline is None or "stream_timeout" not in exc.message:
            raise
        _error(exc.message)
        return EXIT_POLL_TIMEOUT
    finally:
        # However it ended (Ctrl-C too): which run was started, and where it was last seen.
        seen = None if stream is None else stream.run
        if seen is not None:
            _AFTER_ACTION.append(
                clean("the server started run %s (%s when last seen)" % (seen.id, seen.status))
            )
            text.status(seen.id, seen.status)
    if run.status in RunStatus.TERMINAL or run.status == RunStatus.REQUIRES_ACTION:
        return _exit_for(run)
    return EXIT_RUN_GOING


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
        self.line = LiveLine(stream)
        terminal = is_live(stream)
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
                lines = [clean(line) for line in value.split("\n")]
                self._write(encodable("\n".join(lines), self.stream))
                self.open = True
                if self.pace:
                    time.sleep(self.pace)

    def end(self) -> None:
        if self.open:
            self._write("\n")
            self.open = False

    def status(self, run_id: str, status: str) -> None:
        """A line of its own on a terminal (create --stream's run and its status), cut to
        the width: the status kept whole."""
        if self.live:
            self.end()
            pieces = [(1, encodable(clean(run_id), self.stream)), (0, clean(status))]
            self._write(fit(pieces, self.line.width, ": ") + "\n")

    def _write(self, text: str) -> None:
        self.line.write(text)  # stderr gone: the text is on stdout too


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
    with _client(args) as client:
        steps = client.list_steps(args.thread_id, args.run_id, limit=_page_size(args.limit),
                                  order=args.order)  # fmt: skip
        return _print_objects(
            steps, args.limit, _timestamp_reader(args, client._scrub, "step", _STEP_TIMESTAMPS)
        )


def _page_size(limit: Optional[int]) -> Optional[int]:
    # The size of the pages of a list printed up to --limit N: min(N, 100), 100 the API's most.
    return None if limit is None else min(limit, 100)


def _print_objects(
    objects: Iterator[Dict[str, Any]], limit: Optional[int],
    read: Callable[[Dict[str, Any]], Dict[str, Any]],
) -> int:
    """Up to ``limit`` of the decoded objects (steps, messages) as JSON Lines, each as
    ``read`` gives it, written as its page arrives."""
    write = sys.stdout.write
    flush = sys.stdout.flush
    for item in itertools.islice(objects, limit):
        item = read(item)
        # ASCII, compact: as list writes runs (a decoded object holds no NaN to refuse).
        write(json.dumps(item, separators=(",", ":")) + "\n")
        flush()
        _check_interrupted()
    return EXIT_OK


# The timestamp fields of the objects printed as they come (no run adapter applies to them).
_STEP_TIMESTAMPS = ("created_at", "expired_at", "cancelled_at", "failed_at", "completed_at")
_MESSAGE_TIMESTAMPS = ("created_at", "completed_at", "incomplete_at")


def _timestamp_reader(
    args: argparse.Namespace, scrub: Callable[[str], str], kind: str, fields: Sequence[str]
) -> Callable[[Dict[str, Any]], Dict[str, Any]]:
    """What --timestamps iso and --lenient do to a step or a message (``kind``): its
    timestamp ``fields`` read as they read a run's, and printed as integer seconds. An error
    quotes the object as the client's errors do: ``scrub`` keeps the key out."""
    if not getattr(args, "lenient", False) and getattr(args, "timestamps", None) != "iso":
        return lambda item: item

    # threadrun's reading of a run's timestamps: the same verdict for these.
    lenient = bool(getattr(args, "lenient", False))
    read_one = threadrun._lenient_timestamp if lenient else threadrun._iso_to_unix

    def read(item: Dict[str, Any]) -> Dict[str, Any]:
        item = dict(item)
        for field in fields:
            value = item.get(field)
            if value is None or (not lenient and type(value) is not str):
                continue
            try:
                item[field] = read_one(value, field)
            except ThreadRunError:
                # The reason quotes the value, perhaps cut short: read the scrubbed value
                # again for a reason that quotes no part of a key.
                reason = _reason(read_one, scrub(value) if isinstance(value, str) else value,
                                 field)  # fmt: skip
                raise APIError(scrub(
                    "the server sent %s %r, whose %s" % (kind, clean(str(item.get("id"))), reason)
                )) from None
        return item

    return read


def _reason(read_one: Callable[[Any, str], Any], value: Any, field: str) -> str:
    try:
        read_one(value, field)
    except ThreadRunError as exc:
        return str(exc)
    return "%s: not readable" % field  # pragma: no cover - a scrubbed value read after all


# --------------------------------------------------------------------------------------------
# ask and messages: threads and messages
# --------------------------------------------------------------------------------------------

def _cmd_messages(args: argparse.Namespace) -> int:
    with _client(args) as client:
        messages = client.list_messages(args.thread_id, run_id=args.run, order=args.order,
                                        limit=_page_size(args.limit))  # fmt: skip
        read = _timestamp_reader(args, client._scrub, "message", _MESSAGE_TIMESTAMPS)
        return _print_objects(messages, args.limit, read)


def _cmd_ask(args: argparse.Namespace) -> int:
    params = _run_params(args)
    progress = _Progress(sys.stderr, "run")
    _ACTIVE.append(progress)
    with _client(args, sleep=progress.sleep) as client:
        if args.thread is None:
            thread = client.create_thread([{"role": "user", "content": args.question}])
            thread_id = thread.get("id")
            if not isinstance(thread_id, str):
                raise APIResponseValidationError(
                    "the server created a thread without a string id", body=thread,
                    request_id=None, field="id",
                )  # fmt: skip
            _AFTER_ACTION.append(clean("the server created thread %s" % thread_id))
        else:
            thread_id = args.thread
            client.create_message(thread_id, args.question)
            _AFTER_ACTION.append(clean("the question was added to thread %s" % thread_id))
        progress.say("thread: " + thread_id)
        ask = _ask_streamed if args.stream else _ask_polled
        outcome = ask(client, args, thread_id, params, progress)
        if isinstance(outcome, int):
            return outcome
        run, answer, shown = outcome
        if run.status == RunStatus.COMPLETED and answer is None:
            answer = _answer_of(client, thread_id, run.id)
    if run.status == RunStatus.REQUIRES_ACTION:
        _error("run %s requires action (the command line runs no tools); it asks for:"
               % run.id)
        _say_tool_calls(run)
        return EXIT_REQUIRES_ACTION
    if run.status != RunStatus.COMPLETED:
        _error("run %s ended %s%s" % (run.id, run.status, _detail(run)))
        return EXIT_RUN_FAILED
    if answer is not None and not shown:
        _Answer(sys.stdout).write(answer)
    return EXIT_OK


def _ask_polled(
    client: Client, args: argparse.Namespace, thread_id: str, params: Dict[str, Any],
    progress: _Progress,
) -> Any:
    """The run, created then polled with the progress on stderr: (run, None, False) (its
    answer is to be read), or the exit status of a deadline passed."""
    named: List[str] = []

    def on_run(run: ThreadRun) -> None:
        if not named:
            named.append(run.id)
            progress.say("run: " + run.id)
        progress.on_run(run)

    try:
        run = client.create_and_poll(thread_id, args.assistant_id, poll_timeout=args.deadline,
                                     on_run=on_run, **params)  # fmt: skip
    except PollTimeoutError as exc:
        if exc.run is not None:
            if not named:
                progress.say("run: " + exc.run.id)
            progress.finish(exc.run, "timed out")
        _error(exc.message)
        return EXIT_POLL_TIMEOUT
    if not named:  # the created run was already where polling stops
        progress.say("run: " + run.id)
    progress.finish(run)
    return run, None, False


def _ask_streamed(
    client: Client, args: argparse.Namespace, thread_id: str, params: Dict[str, Any],
    progress: _Progress,
) -> Any:
    """The run, streamed, its text live on stdout when that is a terminal: (run, the text of
    the messages it streamed, whether that was shown live), (run, None, False) when it
    streamed no message, or the exit status of a deadline passed."""
    started = time.monotonic()
    stream = client.stream(thread_id, args.assistant_id, stream_timeout=args.deadline, **params)
    _AFTER_ACTION.append("the server started a run in thread %s" % clean(thread_id))
    live = _Answer(sys.stdout) if _Answer.is_live(sys.stdout) else None
    shown = False
    try:
        with stream:
            for event in stream:  # up to the run's first event, which names it
                _check_interrupted()
                if isinstance(event.data, ThreadRun):
                    progress.say("run: " + event.data.id)
                    break
            for piece in stream.text_deltas():
                _check_interrupted()
                if live is not None:
                    live.delta(piece)
                    shown = True
            run = stream.until_done()
    except APITimeoutError as exc:
        if args.deadline is None or time.monotonic() - started < args.deadline:
            raise  # a silence longer than the request timeout: a connection error
        _error(exc.message)
        return EXIT_POLL_TIMEOUT
    finally:
        if live is not None:
            live.end()
    # The messages as the stream completed them, not the deltas: a completed message is
    # the server's last word on its text.
    answer = _assistant_text(stream.messages)
    if answer is None:  # a server that streams no message: the answer is read from the thread
        return run, None, False
    return run, answer, shown


def _answer_of(client: Client, thread_id: str, run_id: str) -> Optional[str]:
    """The text of the assistant's messages that the run wrote; None (and a warning) if it
    wrote none."""
    answer = _assistant_text(client.list_messages(thread_id, run_id=run_id, order="asc"))
    if answer is None:
        _warn("run %s completed without writing a message" % clean(run_id))
    return answer


def _assistant_text(messages: Iterable[Dict[str, Any]]) -> Optional[str]:
    """The text of the assistant's messages among ``messages``, oldest first, a blank line
    between two; None if there is none."""
    texts = []
    for message in messages:
        if message.get("role") != "assistant":
            continue
        try:
            texts.append(threadrun.message_text(message))
        except ThreadRunError as exc:
            raise APIResponseValidationError(
                "the server sent message %r, whose text cannot be read: %s"
                % (message.get("id"), exc), body=message, request_id=None, field=exc.field,
            ) from None  # fmt: skip
    return "\n\n".join(texts) if texts else None


def _say_tool_calls(run: ThreadRun) -> None:
    """The tool calls a run asks for, a line each on stderr (cut to a terminal's width)."""
    width = columns(sys.stderr) if isatty(sys.stderr) else 0
    try:
        calls = run.tool_calls
    except ThreadRunError as exc:
        _warn("its required_action cannot be read: %s" % exc)
        return
    for call in calls:
        line = clean("  %s %s %s" % (call.id, call.name, call.arguments))
        if width and len(line) >= width:
            line = line[: width - 4] + "..."
        try:
            sys.stderr.write(encodable(line, sys.stderr) + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


class _Answer:
    """The assistant's answer on stdout: as it is, on a pipe or in a file; on a terminal,
    control characters shown escaped (they must not drive the terminal) and the words
    wrapped to its width, written as they come (:meth:`delta`) or whole (:meth:`write`)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.live = self.is_live(stream)
        self.width = columns(stream) - 1 if self.live else 0
        self.column = 0
        self.space = ""  # spaces written after the last word, held until the next one

    @staticmethod
    def is_live(stream: IO[str]) -> bool:
        # Any terminal, a dumb one too: escapes must not reach it, and its width holds.
        return isatty(stream)

    def write(self, text: str) -> None:
        self.delta(text)
        self.end()

    def delta(self, text: str) -> None:
        if not self.live:
            self._write(encodable(text, self.stream))
            return
        out = []
        for token in re.split(r"(\r?\n| +)", text):
            if token in ("\n", "\r\n"):
                out.append("\n")
                self.column, self.space = 0, ""
            elif token.startswith(" "):
                self.space += token
            elif token:
                token = encodable(clean(token), self.stream)
                if self.column and self.column + len(self.space) + len(token) > self.width:
                    out.append("\n")
                    self.column, self.space = 0, ""
                out.append(self.space + token)
                self.column += len(self.space) + len(token)
                self.space = ""
        self._write("".join(out))

    def end(self) -> None:
        if not self.live or self.column:
            self._write("\n")
        self.column, self.space = 0, ""

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


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
    from threadrun.testing import WEATHER_TOOL, FakeRunsServer

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
                "tools": [WEATHER_TOOL],
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
        progress=not args.quiet and is_live(sys.stderr),
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
    ``options``, and its ``help``: a paragraph that describes it, a blank line, then the
    rest (examples), to which the command's own exit statuses are added."""
    description, epilog = help.split("\n\n", 1)
    epilog %= {"p": PROG}
    if name != "check":  # check says its own
        epilog += "\n\n" + _exit_help(name)
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=_HelpFormatter,
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


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help wrapped to the terminal's width, at most 80 columns (80 when it is unknown, on a
    pipe). Descriptions and epilogs are refilled by paragraph: prose lines joined, each
    indented line (an example, an exit status) wrapped on its own under its indentation."""

    def __init__(self, prog: str, **settings: Any) -> None:
        settings.setdefault("width", min(columns(sys.stdout), 80) - 1)
        super().__init__(prog, **settings)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(indent + line for line in _refill(text, width - len(indent))) + "\n"

    def format_help(self) -> str:
        # What argparse itself leaves wider (a usage part under a long prefix, a group's
        # title), wrapped under its own indentation.
        lines: List[str] = []
        for line in super().format_help().splitlines():
            lead = line[: len(line) - len(line.lstrip())][: self._width // 2]
            if len(line) <= self._width:
                lines.append(line)
            else:
                lines.extend(textwrap.wrap(line.strip(), self._width, initial_indent=lead,
                                           subsequent_indent=lead, break_on_hyphens=False))
        return "\n".join(lines) + "\n"


def _refill(text: str, width: int) -> List[str]:
    """``text`` in lines of at most ``width``: see _HelpFormatter."""
    blocks: List[List[str]] = []  # [first indent, indent of the next lines, text]
    for line in text.splitlines():
        words = line.strip()
        lead = line[: len(line) - len(line.lstrip())]
        row = re.match(r" +\d+ +", line)  # an exit status: its text hangs after the code
        last = blocks[-1] if blocks else None
        if not words:
            blocks.append(["", "", ""])
        elif last and last[2] and not lead and not last[0] and not last[2].endswith(":"):
            last[2] += " " + words  # prose goes on
        elif last and last[2] and lead and not row and len(lead) == len(last[1]) > 4:
            last[2] += " " + words  # an exit status goes on
        else:
            hang = row.group() if row else lead + "    "
            blocks.append([lead, " " * len(hang) if lead else "", words])
    lines: List[str] = []
    for first, rest, words in blocks:
        lines.extend(
            textwrap.wrap(
                words, max(width, 10), initial_indent=first, subsequent_indent=rest,
                break_on_hyphens=False,
            ) or [""]
        )  # fmt: skip
    return lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "The Assistants Thread Runs API from the command line: ask an assistant a question; "
            "get, create (streamed or not), wait for, list and cancel runs, list a run's steps "
            "and a thread's messages; validate and summarise archives of run objects. Standard "
            "output carries JSON only (ask: the answer as text); progress and errors go to "
            "standard error. The API key is read from the OPENAI_API_KEY environment "
            "variable."
        ),
        epilog="examples:\n"
        "  %(prog)s demo                                  # try it: no key, no network\n"
        "  export OPENAI_API_KEY=...                       # then, against a server:\n"
        "  %(prog)s get thread_abc123 run_abc123\n"
        "  %(prog)s ask asst_abc123 'What is the weather in Paris?'\n"
        "  %(prog)s create thread_abc123 asst_abc123 --stream | jq -r .event\n"
        "  %(prog)s wait thread_abc123 run_abc123 --deadline 300 && echo done\n"
        "  %(prog)s list thread_abc123 --limit 50 > runs.jsonl\n"
        "  %(prog)s list thread_abc123 --timestamps iso   # a server writing ISO-8601 times\n"
        "  %(prog)s check runs.jsonl\n\n"
        "'%(prog)s COMMAND --help' describes each command.\n\n" + EXIT_CODES_HELP,
        formatter_class=_HelpFormatter,
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
text live on stderr when stderr is a terminal, and there, at the end, the run's id and last
status; the exit status then tells how the run ended, as for 'wait' (8: the stream ended
with the run still going).

examples:
  %(p)s create thread_abc123 asst_abc123 --model gpt-4o --metadata user=u1
  %(p)s create thread_abc123 asst_abc123 --stream > events.jsonl
  %(p)s create thread_abc123 asst_abc123 --stream | jq -r .event""",
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
  case $? in 0) echo completed;; 3) echo 'tool calls to answer';; *) echo failed;; esac""",
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
        commands, "ask", _cmd_ask, "ask an assistant a question; print its answer as text",
        ids=("assistant_id", "question"), reads_runs=True,
        options=[
            _option("--thread", metavar="THREAD_ID",
                    help="ask in this thread (the conversation so far); default: a new one"),
            _option("--stream", action="store_true",
                    help="stream the run: the answer written as it comes on a terminal"),
            _option("--deadline", metavar="S", type=_positive_seconds,
                    help="give up after S seconds with exit status 5 (default: 900 polled, "
                    "none streamed)"),
            _option("--instructions", metavar="TEXT", help="the run's instructions"),
            _option("--model", metavar="MODEL", help="the model (default: the assistant's)"),
        ],
        help="""\
The whole job in one command: a new thread holding QUESTION (or QUESTION added to --thread's),
a run of ASSISTANT_ID in it, polled (the status on stderr, as 'wait' shows it) or streamed,
then the assistant's answer printed as plain text on stdout (on a terminal, written as it
comes with --stream, and wrapped to its width). The thread and run ids go to stderr, so the
conversation can go on with --thread. A run that requires action exits 3, naming the tool
calls it asks for on stderr: the command line runs no tools.

examples:
  %(p)s ask asst_abc123 "What is the weather in Paris?"
  %(p)s ask asst_abc123 "And tomorrow?" --thread thread_abc123 --stream
  answer=$(%(p)s ask asst_abc123 "Summarise the report." 2>/dev/null)""",
    )  # fmt: skip

    _command(
        commands, "messages", _cmd_messages, "print a thread's messages as JSON Lines",
        ids=("thread_id",), reads_runs=True,
        options=[
            _option("--run", metavar="RUN_ID", help="only the messages this run wrote"),
            *_page_options("messages"),
        ],
        help="""\
Print a thread's messages as JSON Lines (one compact message per line, as the server sent it,
timestamps as integer seconds with --timestamps iso), newest first unless --order asc; pages
are followed until the end or --limit.

examples:
  %(p)s messages thread_abc123 --order asc > conversation.jsonl
  %(p)s messages thread_abc123 --run run_abc123 | jq -r '.content[].text.value'""",
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
