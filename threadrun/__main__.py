"""The ``threadrun`` command line: ``python -m threadrun COMMAND ...``.

    threadrun get THREAD_ID RUN_ID          the run, as JSON
    threadrun wait THREAD_ID RUN_ID         poll until it stops moving; exit code tells how
    threadrun list THREAD_ID                the thread's runs, as JSON Lines
    threadrun cancel THREAD_ID RUN_ID       cancel it
    threadrun check [FILE ...]              validate and summarise JSON / JSON Lines archives
    threadrun demo                          one run end to end against an in-process fake server

Standard output carries only JSON (``check`` prints a human summary unless ``--json``);
progress and errors go to standard error. This module is the only one that imports both
``threadrun`` and ``threadrun.testing`` (lazily, for ``demo``); nothing imports it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import sys
import textwrap
import threading
import time
import zlib

import threadrun
from threadrun import (
    APIError,
    Client,
    OpenAIError,
    PollTimeoutError,
    RunStatus,
    ThreadRun,
    ThreadRunError,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import (
        IO,
        Any,
        BinaryIO,
        Callable,
        Dict,
        Iterable,
        List,
        Mapping,
        Optional,
        Sequence,
        Tuple,
    )

    _Record = Tuple[int, Any]
    _Report = Callable[[str, int, str], None]

__all__ = ["check_files", "main"]

PROG = "threadrun"

EXIT_OK = 0
EXIT_ERROR = 1  # API, connection or invalid-data error; check: an invalid run
EXIT_USAGE = 2  # bad arguments, missing key, bad configuration; check: unreadable file
EXIT_REQUIRES_ACTION = 3
EXIT_RUN_FAILED = 4  # failed, expired, cancelled, incomplete
EXIT_POLL_TIMEOUT = 5
EXIT_INTERRUPTED = 130  # Ctrl-C
EXIT_BROKEN_PIPE = 141  # stdout closed early (``| head``), as if killed by SIGPIPE

EXIT_CODES_HELP = """\
exit status:
  0    success; wait: the run completed
  1    API error (HTTP status, message and request id on stderr), connection error, or an
       invalid run from the server; check: at least one invalid run
  2    usage error: bad arguments, no API key (set OPENAI_API_KEY), bad configuration;
       check: a file could not be read
  3    wait: the run requires action (its tool calls are in the JSON printed)
  4    wait: the run failed, expired, was cancelled or is incomplete
  5    wait: --timeout passed first (the last run seen is still printed)
  130  interrupted (Ctrl-C)
  141  stdout was closed early (e.g. piped into head)"""

# How many entries a "by ..." table of the human check summary shows (--json shows all).
_TOP = 10
# Seconds between spinner frames while waiting.
_FRAME = 0.08


class _UsageError(Exception):
    """A problem with how the command was called or configured: exit 2."""


# --------------------------------------------------------------------------------------------
# Terminal helpers
# --------------------------------------------------------------------------------------------


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


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


# C0 and C1 control characters (escape sequences, newlines) in text from a server or a
# file, shown escaped: a run id or an error message must not drive the terminal.
_CONTROLS = {code: "\\x%02x" % code for code in itertools.chain(range(32), range(127, 160))}


def _clean(text: str) -> str:
    return text.translate(_CONTROLS)


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
    try:
        sys.stderr.write("%s: error: %s\n" % (PROG, _clean(message)))
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


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, ThreadRunError):
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
    if not key:
        raise _UsageError(
            "no API key: set the OPENAI_API_KEY environment variable (or pass --api-key, "
            "which leaves the key in your shell history and the process list)"
        )
    options: Dict[str, Any] = {}
    if args.request_timeout is not None:
        options["timeout"] = args.request_timeout
    if args.max_retries is not None:
        options["max_retries"] = args.max_retries
    try:
        return Client(key, base_url=args.base_url, sleep=sleep, **options)
    except (OpenAIError, ValueError, TypeError) as exc:
        raise _UsageError(str(exc)) from None


def _cmd_get(args: argparse.Namespace) -> int:
    with _client(args) as client:
        run = client.retrieve(args.thread_id, args.run_id)
    _print_run(run, args)
    return EXIT_OK


def _cmd_cancel(args: argparse.Namespace) -> int:
    with _client(args) as client:
        run = client.cancel(args.thread_id, args.run_id)
    _print_run(run, args)
    return EXIT_OK


def _exit_for(run: ThreadRun) -> int:
    if run.status == RunStatus.COMPLETED:
        return EXIT_OK
    if run.status == RunStatus.REQUIRES_ACTION:
        return EXIT_REQUIRES_ACTION
    return EXIT_RUN_FAILED


def _cmd_wait(args: argparse.Namespace) -> int:
    progress = _Progress(sys.stderr, args.run_id)
    _ACTIVE.append(progress)
    with _client(args, sleep=progress.sleep) as client:
        try:
            run = client.poll(
                args.thread_id,
                args.run_id,
                interval=args.interval,
                timeout=args.poll_timeout,
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


# --------------------------------------------------------------------------------------------
# demo
# --------------------------------------------------------------------------------------------

_DEMO_TOOL = {
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
    from threadrun.testing import FakeRunsServer

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
            with client:
                run = client.create(
                    "thread_demo",
                    "asst_demo",
                    model="gpt-4o",
                    instructions="You are a weather bot. Use the provided functions to answer.",
                    tools=[_DEMO_TOOL],
                    metadata={"source": "threadrun demo"},
                )
                progress.on_run(run)
                run = client.poll("thread_demo", run.id, timeout=60, on_run=progress.on_run)
                progress.finish(run)
                while run.status == RunStatus.REQUIRES_ACTION:
                    outputs: List[Mapping[str, str]] = []
                    for call in run.tool_calls:
                        output = _made_up_weather(call.arguments)
                        progress.say("  -> %s(%s)" % (call.name, call.arguments))
                        time.sleep(0.25)  # a tool takes a moment
                        progress.say("  <- %s" % output)
                        outputs.append({"tool_call_id": call.id, "output": output})
                    run = client.submit_tool_outputs_and_poll(
                        "thread_demo", run.id, outputs, poll_timeout=60, on_run=progress.on_run
                    )
                    progress.finish(run)
    finally:
        os.environ.update(saved)
    _print_run(run, args)
    return _exit_for(run)


# --------------------------------------------------------------------------------------------
# check
# --------------------------------------------------------------------------------------------


class _Summary:
    """What ``check`` counts. Memory: a counter per distinct (status, model, assistant) and
    per distinct duration in seconds -- never per run."""

    def __init__(self) -> None:
        self.files = 0
        self.unreadable = 0
        self.invalid = 0
        # (status, model, assistant_id) -> runs: one dict update per run for all three tables
        self.combos: Dict[Tuple[str, str, str], int] = {}
        # completed_at - started_at (seconds) -> runs: exact percentiles from a histogram
        self.durations: Dict[int, int] = {}
        self.usage_runs = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.total_tokens = 0

    @property
    def valid(self) -> int:
        return sum(self.combos.values())

    def by(self, index: int) -> Dict[str, int]:
        counts: Dict[str, int] = {}
        for key, count in self.combos.items():
            counts[key[index]] = counts.get(key[index], 0) + count
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def percentiles(self) -> Dict[str, Any]:
        """p50, p95 and max by the nearest-rank method: the smallest duration d such that at
        least p% of the runs took d or less (always one of the observed values)."""
        n = sum(self.durations.values())
        result: Dict[str, Any] = {"runs": n, "p50": None, "p95": None, "max": None}
        if not n:
            return result
        ranks = [("p50", max(1, (50 * n + 99) // 100)), ("p95", max(1, (95 * n + 99) // 100))]
        seen = 0
        for value in sorted(self.durations):
            seen += self.durations[value]
            while ranks and seen >= ranks[0][1]:
                result[ranks.pop(0)[0]] = value
        result["max"] = max(self.durations)
        return result

    def to_dict(self) -> Dict[str, Any]:
        valid = self.valid
        return {
            "files": self.files,
            "unreadable_files": self.unreadable,
            "runs": valid + self.invalid,
            "valid": valid,
            "invalid": self.invalid,
            "by_status": self.by(0),
            "by_model": self.by(1),
            "by_assistant": self.by(2),
            "usage": {
                "runs": self.usage_runs,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "total_tokens": self.total_tokens,
            },
            "duration_seconds": dict(self.percentiles(), method="nearest-rank"),
        }


def _tally(
    records: Iterable[_Record],
    parse: Callable[[Any], ThreadRun],
    name: str,
    summary: _Summary,
    report: _Report,
) -> None:
    """Validate ``(line number, raw record)`` pairs and count the valid runs: the hot loop.

    Each run is counted as soon as it is parsed and dropped at once: the next parse then
    reuses the same, cache-hot memory. (Counting in batches with C-level loops was tried:
    keeping a few hundred runs alive costs more in cache misses than it saves.)
    """
    combos = summary.combos
    combos_get = combos.get
    durations = summary.durations
    durations_get = durations.get
    invalid = usage_runs = prompt = completion = total = 0
    try:
        for line, record in records:
            try:
                run = parse(record)
            except ThreadRunError as exc:
                if type(record) is bytes and not record.strip():
                    continue  # a blank line
                invalid += 1
                report(name, line, _record_error(exc, record))
                continue
            except Exception as exc:  # a bug in threadrun: say so, keep going
                invalid += 1
                report(
                    name,
                    line,
                    "unexpected %s (a bug in threadrun?): %s" % (type(exc).__name__, exc),
                )
                continue
            key = (run.status, run.model, run.assistant_id)
            combos[key] = combos_get(key, 0) + 1
            usage = run.usage
            if usage is not None and type(usage) is dict:
                usage_runs += 1
                value = usage.get("prompt_tokens")
                if type(value) is int:
                    prompt += value
                value = usage.get("completion_tokens")
                if type(value) is int:
                    completion += value
                value = usage.get("total_tokens")
                if type(value) is int:
                    total += value
            end = run.completed_at
            if end is not None:
                start = run.started_at
                if start is not None:
                    end -= start
                    durations[end] = durations_get(end, 0) + 1
    finally:
        summary.invalid += invalid
        summary.usage_runs += usage_runs
        summary.prompt_tokens += prompt
        summary.completion_tokens += completion
        summary.total_tokens += total


def _record_error(exc: ThreadRunError, record: Any) -> str:
    """The message for an invalid record; a JSON Lines record's syntax error gets its column
    (the line is the record's own)."""
    if exc.line is not None and type(record) is bytes:
        try:
            ThreadRun.from_json(record.rstrip(b"\r\n"))
        except ThreadRunError as again:
            if again.line == 1 and again.column is not None:
                text = str(again)
                suffix = " at line 1 column %d" % again.column
                if text.endswith(suffix):
                    return text[: -len(suffix)] + " at column %d" % again.column
                return text
    return str(exc)


def _is_complete_object(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (ValueError, RecursionError):
        return False


def _ends_early(line: bytes) -> bool:
    """Whether ``line`` is the start of a JSON document that goes on past the line end."""
    text = line.decode("utf-8", "replace").lstrip("\ufeff")
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return exc.pos >= len(text.rstrip())
    except (ValueError, RecursionError):
        return False
    return False


def _check_stream(stream: BinaryIO, name: str, summary: _Summary, report: _Report) -> None:
    """JSON Lines, streamed: one line in memory at a time. A file that is one JSON document
    over many lines (a pretty-printed run, an array of runs, ``jq .`` output) is read whole."""
    peeked: List[bytes] = []
    first = None
    for line in stream:
        peeked.append(line)
        if line.strip():
            first = line
            break
    if first is None:
        return  # empty, or blank lines only: no runs
    head = first.lstrip()
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:].lstrip()
    document = head[:1] == b"["
    if not document and head[:1] == b"{" and _ends_early(first):
        second = None
        for line in stream:
            peeked.append(line)
            if line.strip():
                second = line
                break
        # A truncated first record of a JSON Lines file is followed by a complete one; the
        # first line of a pretty-printed object is followed by more of the same object.
        document = second is None or not _is_complete_object(second)
    if document:
        data = b"".join(peeked) + stream.read()
        del peeked[:]
        _tally(
            _document_records(data, name, summary, report),
            ThreadRun.from_dict,
            name,
            summary,
            report,
        )
    else:
        _tally(
            enumerate(itertools.chain(peeked, stream), 1),
            ThreadRun.from_json,
            name,
            summary,
            report,
        )


def _reject_constant(name: str) -> Any:
    raise ValueError("%s is not a JSON number" % name)


_STRICT_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_JSON_SPACE = " \t\n\r"


def _document_records(
    data: bytes, name: str, summary: _Summary, report: _Report
) -> Iterable[_Record]:
    """(line, value) for each run of a whole-file JSON document: a run object, an array of
    run objects, or a sequence of either; a syntax error ends the file."""
    try:
        text = data.decode(json.detect_encoding(data))
    except UnicodeDecodeError as exc:
        summary.invalid += 1
        report(
            name,
            data.count(b"\n", 0, exc.start) + 1,
            "invalid UTF-8: byte %d (%s)" % (exc.start, exc.reason),
        )
        return
    text = text.lstrip("\ufeff")
    decode = _STRICT_DECODER.raw_decode
    size = len(text)
    pos = 0
    line = 1
    in_array = False
    while True:
        start = pos
        while pos < size and text[pos] in _JSON_SPACE:
            pos += 1
        line += text.count("\n", start, pos)
        if pos >= size:
            if in_array:
                summary.invalid += 1
                last = text.count("\n", 0, len(text.rstrip(_JSON_SPACE))) + 1
                report(name, last, "invalid JSON: the file ends inside an array (no ']')")
            return
        char = text[pos]
        if in_array and char == "]":
            in_array = False
            pos += 1
            continue
        if not in_array and char == "[":
            in_array = True
            pos += 1
            # A run right after '[' is read below; an empty array closes at once.
            start = pos
            while pos < size and text[pos] in _JSON_SPACE:
                pos += 1
            line += text.count("\n", start, pos)
            if pos < size and text[pos] == "]":
                in_array = False
                pos += 1
                continue
        try:
            value, end = decode(text, pos)
        except json.JSONDecodeError as exc:
            summary.invalid += 1
            report(
                name,
                exc.lineno,
                "invalid JSON: %s at line %d column %d" % (exc.msg, exc.lineno, exc.colno),
            )
            return
        except (ValueError, RecursionError) as exc:
            summary.invalid += 1
            report(name, line, "invalid JSON: %s" % (str(exc) or "nested too deeply")[:200])
            return
        yield line, value
        line += text.count("\n", pos, end)
        pos = end
        if in_array:
            start = pos
            while pos < size and text[pos] in _JSON_SPACE:
                pos += 1
            line += text.count("\n", start, pos)
            if pos >= size:
                continue  # reported above as an array not closed
            if text[pos] == ",":
                pos += 1
            elif text[pos] == "]":
                pos += 1
                in_array = False
            else:
                summary.invalid += 1
                report(name, line, "invalid JSON: expected ',' or ']' after an array element")
                return


def _open(path: str) -> BinaryIO:
    if path.endswith(".gz"):
        import gzip

        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def check_files(
    paths: Sequence[str],
    *,
    out: Optional[IO[str]] = None,
    err: Optional[IO[str]] = None,
    as_json: bool = False,
    stdin: Optional[BinaryIO] = None,
) -> int:
    """Validate the runs in ``paths`` (``-``: stdin; ``*.gz``: gzip), report each invalid one
    on ``err`` as ``FILE:LINE: field: what is wrong`` and the summary on ``out``.

    Returns 0 when every run is valid, 1 when one is not, 2 when a file could not be read.
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    summary = _Summary()
    write_err = err.write

    def report(name: str, line: int, message: str) -> None:
        write_err("%s:%d: %s\n" % (name, line, message))

    for path in paths or ["-"]:
        summary.files += 1
        if path == "-":
            stream = stdin if stdin is not None else sys.stdin.buffer
            if _isatty(stream):
                write_err("%s: reading runs from standard input (end with Ctrl-D)\n" % PROG)
            _check_stream(stream, "<stdin>", summary, report)
            continue
        try:
            with _open(path) as stream:
                _check_stream(stream, path, summary, report)
        except BrokenPipeError:
            raise  # writing the report failed, not reading: main() handles it
        except (OSError, EOFError, zlib.error) as exc:  # gzip: EOFError, zlib.error
            summary.unreadable += 1
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            write_err("%s: error: cannot read %r: %s\n" % (PROG, path, reason))
    err.flush()
    if as_json:
        out.write(json.dumps(summary.to_dict(), indent=2) + "\n")
    else:
        out.write(_encodable(_format_summary(summary), out))
    out.flush()
    if summary.unreadable:
        return EXIT_USAGE
    return EXIT_ERROR if summary.invalid else EXIT_OK


def _encodable(text: str, stream: Any) -> str:
    """``text`` with what ``stream`` cannot encode (a lone surrogate from a ``"\\ud800"``
    escape, non-ASCII on an ASCII terminal) as backslash escapes."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except LookupError:
        encoding = "ascii"
    except UnicodeEncodeError:
        pass
    else:
        return text
    return text.encode(encoding, "backslashreplace").decode(encoding)


def _plural(count: int, noun: str) -> str:
    return "%d %s%s" % (count, noun, "" if count == 1 else "s")


def _format_summary(summary: _Summary) -> str:
    data = summary.to_dict()
    head = "%s in %s: %d valid, %d invalid" % (
        _plural(data["runs"], "run"),
        _plural(data["files"], "file"),
        data["valid"],
        data["invalid"],
    )
    lines = [head]
    if data["unreadable_files"]:
        lines.append("%s could not be read" % _plural(data["unreadable_files"], "file"))
    tables = []
    for title, key in (
        ("status", "by_status"),
        ("model", "by_model"),
        ("assistant", "by_assistant"),
    ):
        items = [(_clean(name), count) for name, count in data[key].items()]
        if items:
            tables.append((title, items[:_TOP], len(items) - _TOP))
    usage = data["usage"]
    durations = data["duration_seconds"]
    width = max([11] + [len(name) for _, items, _ in tables for name, _ in items])
    row = "  %-*s %12s"
    for title, items, more in tables:
        lines.append("")
        lines.append("%-*s   %12s" % (width, title, "runs"))
        lines.extend(row % (width, name, count) for name, count in items)
        if more > 0:
            lines.append("  ... and %d more (--json lists all)" % more)
    lines.append("")
    lines.append("tokens (%s with usage)" % _plural(usage["runs"], "run"))
    for name in ("prompt", "completion", "total"):
        lines.append(row % (width, name, usage[name + "_tokens"]))
    lines.append("")
    lines.append(
        "duration, completed_at - started_at (%s; nearest-rank percentiles)"
        % _plural(durations["runs"], "run")
    )
    for name in ("p50", "p95", "max"):
        value = durations[name]
        lines.append(row % (width, name, "-" if value is None else "%d s" % value))
    return "\n".join(lines) + "\n"


def _cmd_check(args: argparse.Namespace) -> int:
    return check_files(args.files, as_json=args.json)


# --------------------------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------------------------


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number of seconds, got %r" % text) from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("expected a positive number of seconds, got %r" % text)
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number of seconds, got %r" % text) from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("expected a number of seconds >= 0, got %r" % text)
    return value


def _count(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError("expected an integer, got %r" % text) from None
        if value < minimum:
            raise argparse.ArgumentTypeError("expected an integer >= %d, got %r" % (minimum, text))
        return value

    return parse


def _add_connection_options(
    parser: argparse.ArgumentParser, *, top: bool, timeout: bool = True
) -> None:
    """The options every API command takes, before the command (``top``) or after it."""
    group = parser.add_argument_group("connection options (before or after the command)")
    default: Any = None if top else argparse.SUPPRESS
    group.add_argument(
        "--base-url",
        metavar="URL",
        default=default,
        help="API base URL (default: $OPENAI_BASE_URL, else https://api.openai.com/v1)",
    )
    group.add_argument(
        "--api-key",
        metavar="KEY",
        default=default,
        help="API key; discouraged: it stays in shell history and the process list. "
        "Prefer the OPENAI_API_KEY environment variable (the default)",
    )
    names = ["--timeout", "--request-timeout"] if timeout else ["--request-timeout"]
    group.add_argument(
        *names,
        dest="request_timeout",
        metavar="S",
        type=_positive_float,
        default=default,
        help="timeout of each HTTP request in seconds (default 60)"
        + ("" if timeout else "; 'wait --timeout' is the overall poll deadline"),
    )
    group.add_argument(
        "--max-retries",
        metavar="N",
        type=_count(0),
        default=default,
        help="retries of a failed request (429, 5xx, connection errors; default 2)",
    )


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output options")
    exclusive = group.add_mutually_exclusive_group()
    exclusive.add_argument(
        "--compact", action="store_true", help="one compact line of JSON even on a terminal"
    )
    exclusive.add_argument(
        "--indent",
        metavar="N",
        type=_count(0),
        help="indent the JSON by N spaces even when piped (default: 2 on a terminal, "
        "compact otherwise)",
    )


def _subparser(
    commands: Any, name: str, summary: str, epilog: str, description: str = ""
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=textwrap.fill(description or summary[:1].upper() + summary[1:] + ".", 88),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=textwrap.fill(
            "The Assistants Thread Runs API from the command line: get, wait for, list and "
            "cancel runs; validate and summarise archives of run objects. Standard output "
            "carries JSON only; progress and errors go to standard error. The API key is "
            "read from the OPENAI_API_KEY environment variable.",
            88,
        ),
        epilog="examples:\n"
        "  %(prog)s demo                                  # try it: no key, no network\n"
        "  export OPENAI_API_KEY=...                       # then, against a server:\n"
        "  %(prog)s get thread_abc123 run_abc123\n"
        "  %(prog)s wait thread_abc123 run_abc123 --timeout 300 && echo done\n"
        "  %(prog)s list thread_abc123 --limit 50 > runs.jsonl\n"
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

    get = _subparser(
        commands,
        "get",
        "print a run as JSON",
        "example:\n  %s get thread_abc123 run_abc123 | jq -r .status" % PROG,
    )
    get.add_argument("thread_id", metavar="THREAD_ID")
    get.add_argument("run_id", metavar="RUN_ID")
    _add_output_options(get)
    _add_connection_options(get, top=False)
    get.set_defaults(func=_cmd_get)

    wait = _subparser(
        commands,
        "wait",
        "poll a run until it completes, fails or requires action",
        "examples:\n"
        "  %(p)s wait thread_abc123 run_abc123\n"
        "  %(p)s wait thread_abc123 run_abc123 --timeout 600 --interval 2 > run.json\n"
        "  case $? in 0) echo completed;; 3) echo 'tool calls to answer';; *) echo failed;; esac\n"
        "\n"
        "--timeout here is the overall deadline; the per-request timeout is '%(p)s --timeout S\n"
        "wait ...' (before the command) or 'wait --request-timeout S'.\n\n%(codes)s"
        % {"p": PROG, "codes": EXIT_CODES_HELP},
        description="Poll a run until it is terminal or requires action, showing its "
        "status on stderr (a live line on a terminal, one line per status change "
        "otherwise), then print it as JSON on stdout. The exit status tells how it ended.",
    )
    wait.add_argument("thread_id", metavar="THREAD_ID")
    wait.add_argument("run_id", metavar="RUN_ID")
    wait.add_argument(
        "--timeout",
        dest="poll_timeout",
        metavar="S",
        type=_seconds,
        help="give up after S seconds with exit status 5 (default 900)",
    )
    wait.add_argument(
        "--interval",
        metavar="S",
        type=_seconds,
        help="seconds between polls (default: as the server's openai-poll-after-ms "
        "header says, else 1)",
    )
    _add_output_options(wait)
    _add_connection_options(wait, top=False, timeout=False)
    wait.set_defaults(func=_cmd_wait)

    list_ = _subparser(
        commands,
        "list",
        "print a thread's runs as JSON Lines",
        "examples:\n"
        "  %s list thread_abc123 > runs.jsonl\n"
        "  %s list thread_abc123 --limit 5 --order asc | jq -r .status" % (PROG, PROG),
        description="Print a thread's runs as JSON Lines (one compact run per line), newest "
        "first unless --order asc, each line written as soon as its page arrives; pages "
        "are followed until the end or --limit.",
    )
    list_.add_argument("thread_id", metavar="THREAD_ID")
    list_.add_argument(
        "--limit",
        metavar="N",
        type=_count(1),
        help="print at most N runs (each page asks for min(N, 100)); default: all",
    )
    list_.add_argument(
        "--order", choices=("asc", "desc"), help="by creation time (server default: desc)"
    )
    _add_connection_options(list_, top=False)
    list_.set_defaults(func=_cmd_list)

    cancel = _subparser(
        commands,
        "cancel",
        "cancel a run and print it",
        "example:\n  %s cancel thread_abc123 run_abc123 && %s wait thread_abc123 run_abc123"
        % (PROG, PROG),
        description="Ask the server to cancel a run and print the run (usually 'cancelling') "
        "as JSON; 'wait' then sees it to 'cancelled' (exit status 4).",
    )
    cancel.add_argument("thread_id", metavar="THREAD_ID")
    cancel.add_argument("run_id", metavar="RUN_ID")
    _add_output_options(cancel)
    _add_connection_options(cancel, top=False)
    cancel.set_defaults(func=_cmd_cancel)

    check = _subparser(
        commands,
        "check",
        "validate and summarise files of run objects",
        "examples:\n"
        "  %(p)s check runs.jsonl archive-2025.jsonl.gz\n"
        "  %(p)s list thread_abc123 | %(p)s check --json\n"
        "  %(p)s check tests/data/*.json 2> invalid.txt\n\n"
        "Input: JSON Lines (one run per line; blank lines skipped), streamed with flat memory\n"
        "whatever the size; or a whole-file JSON document -- one run (pretty-printed or not),\n"
        "an array of runs, or several of these one after the other -- recognised from its\n"
        "first lines and read whole (memory proportional to that file). *.gz is decompressed.\n\n"
        "Summary: runs by status, model and assistant; token totals from 'usage'; run\n"
        "durations (completed_at - started_at, where both are set) p50, p95 and max, exact,\n"
        "by the nearest-rank method (the smallest observed duration that at least p%% of the\n"
        "runs do not exceed), kept as a histogram of whole seconds: memory grows with the\n"
        "number of distinct durations and of (status, model, assistant) triples, not runs.\n\n"
        "exit status: 0 all runs valid, 1 some run invalid, 2 a file could not be read"
        % {"p": PROG},
        description="Validate files of run objects (exports, archives) and summarise them. "
        "Each invalid run is reported on stderr as FILE:LINE: field: what is wrong; the "
        "summary goes to stdout.",
    )
    check.add_argument(
        "files", metavar="FILE", nargs="*", help="JSON or JSON Lines files ('-' or none: stdin)"
    )
    check.add_argument("--json", action="store_true", help="print the summary as JSON")
    check.set_defaults(func=_cmd_check)

    demo = _subparser(
        commands,
        "demo",
        "drive one run end to end against an in-process fake server (no key, no network)",
        "example:\n  %s demo" % PROG,
        description="Start threadrun.testing.FakeRunsServer on loopback in this process and "
        "drive one run through the real client: created, queued, in progress, requires "
        "action (its tool call answered with a made-up weather report), completed; the "
        "progress shows on stderr as with 'wait', the final run on stdout. Needs no API "
        "key and sends nothing beyond loopback.",
    )
    _add_output_options(demo)
    demo.set_defaults(func=_cmd_demo)
    return parser


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------

# The progress display of the running command, to tidy up on Ctrl-C or an error.
_ACTIVE: List[_Progress] = []
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
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, and keep the interpreter from
        # complaining when it flushes stdout at exit.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return EXIT_BROKEN_PIPE
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
    finally:
        del _ACTIVE[:]
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    sys.exit(main())
