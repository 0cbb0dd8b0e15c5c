"""Validate and summarise archives of run objects: the machinery of ``threadrun check``.

:class:`Summary` is public: a picklable, mergeable tally of valid runs, so the same counting
runs in ``check --jobs N`` workers and on Dask or Spark workers (see the README, "Archives on
Dask or Spark"). This module imports only the runtime (``threadrun``, which may be the single
file ``threadrun.py``), so it ships to workers as one more file.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import sys
import threading
import time
import zlib

# The runtime's decoder and its rules (NaN, Infinity and 1e400 refused; JSON whitespace):
# package-internal names, shared so that a run gets the same verdict in every layout.
from threadrun import (
    _DECODER,
    _JSON_SPACE,
    ThreadRun,
    ThreadRunError,
    _describe,
    _loads,
    _shorten,
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
        Iterator,
        List,
        Optional,
        Sequence,
        Set,
        Tuple,
    )

    _Record = Tuple[int, Any]
    _Report = Callable[[str, int, str], None]
else:
    # The names annotations use, as in threadrun (see _Deferred there): typing's objects when
    # typing.get_type_hints() evaluates them, typing not imported until then.
    from threadrun import _Deferred

    Any = object
    IO, BinaryIO, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple = (
        _Deferred("typing", name)
        for name in (
            "IO", "BinaryIO", "Callable", "Dict", "Iterable", "Iterator", "List", "Optional",
            "Sequence", "Set", "Tuple",
        )
    )  # fmt: skip

__all__ = [
    "MAX_LINE_BYTES", "OutputError", "Summary", "WorkerDied", "check_files", "usable_jobs",
]  # fmt: skip

# A JSON Lines line longer than this is reported as too large and skipped without being held
# in memory: a run the API returns is at most a few hundred kilobytes, and the client refuses
# responses over 8 MiB. (A whole-file JSON document is read whole, whatever its size.)
MAX_LINE_BYTES = 16 * 1024 * 1024

PROG = "threadrun"
EXIT_OK = 0
EXIT_INVALID = 1
EXIT_UNREADABLE = 2

# --jobs: each plain JSON Lines file is cut into ranges of about size / (jobs * _SPLITS)
# bytes (so that a slow range does not leave the other workers idle at the end), at least
# _MIN_RANGE: a range costs a round trip to a worker and a summary to merge.
_SPLITS = 4
_MIN_RANGE = 4 * 1024 * 1024
_MAX_RANGE = 16 * 1024 * 1024  # and the progress line moves on at least this often
# Seconds between redraws of the progress line.
_PROGRESS_EVERY = 0.25


# --------------------------------------------------------------------------------------------
# The summary
# --------------------------------------------------------------------------------------------


class Summary:
    """What ``threadrun check`` counts: a tally of runs that merges.

    ``add(run)`` counts a valid :class:`threadrun.ThreadRun`; count an invalid one with
    ``summary.invalid += 1``. ``merge(other)`` adds another summary into this one (the order
    and grouping of merges never change the result), so partial summaries made in other
    processes or on other machines combine into the one a single pass would give. It
    pickles. ``to_dict()`` is what ``threadrun check --json`` prints.

    Memory grows with the number of distinct (status, model, assistant) triples and of
    distinct durations in whole seconds, never with the number of runs. ``files`` and
    ``unreadable_files`` are the counts ``check`` keeps of its inputs; set them yourself when
    you read the files some other way.
    """

    def __init__(self) -> None:
        self.files = 0
        self.unreadable_files = 0
        self.invalid = 0
        # (status, model, assistant_id) -> runs: one dict update per run for three tables
        self.combos: Dict[Tuple[str, str, str], int] = {}
        # completed_at - started_at (seconds) -> runs: exact percentiles from a histogram
        self.durations: Dict[int, int] = {}
        self.usage_runs = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.total_tokens = 0

    def add(self, run: ThreadRun) -> None:
        """Count one valid run."""
        key = (run.status, run.model, run.assistant_id)
        combos = self.combos
        combos[key] = combos.get(key, 0) + 1
        usage = run.usage
        if type(usage) is dict:
            self.usage_runs += 1
            value = usage.get("prompt_tokens")
            if type(value) is int:
                self.prompt_tokens += value
            value = usage.get("completion_tokens")
            if type(value) is int:
                self.completion_tokens += value
            value = usage.get("total_tokens")
            if type(value) is int:
                self.total_tokens += value
        end = run.completed_at
        if end is not None:
            start = run.started_at
            if start is not None:
                end -= start
                durations = self.durations
                durations[end] = durations.get(end, 0) + 1

    def merge(self, other: Summary) -> Summary:
        """Add ``other``'s counts to this summary; return this summary."""
        self.files += other.files
        self.unreadable_files += other.unreadable_files
        self.invalid += other.invalid
        _add_counts(self.combos, other.combos)
        _add_counts(self.durations, other.durations)
        self.usage_runs += other.usage_runs
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.total_tokens += other.total_tokens
        return self

    @property
    def valid(self) -> int:
        """The number of valid runs counted."""
        return sum(self.combos.values())

    def to_dict(self) -> Dict[str, Any]:
        """The summary as ``threadrun check --json`` prints it."""
        valid = self.valid
        return {
            "files": self.files,
            "unreadable_files": self.unreadable_files,
            "runs": valid + self.invalid,
            "valid": valid,
            "invalid": self.invalid,
            "by_status": self._by(0),
            "by_model": self._by(1),
            "by_assistant": self._by(2),
            "usage": {
                "runs": self.usage_runs,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "total_tokens": self.total_tokens,
            },
            "duration_seconds": dict(self._percentiles(), method="nearest-rank"),
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Summary):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return "Summary(files=%d, valid=%d, invalid=%d)" % (self.files, self.valid, self.invalid)

    def _by(self, index: int) -> Dict[str, int]:
        counts: Dict[str, int] = {}
        for key, count in self.combos.items():
            counts[key[index]] = counts.get(key[index], 0) + count
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def _percentiles(self) -> Dict[str, Any]:
        # Nearest rank: the smallest duration d such that at least p% of the runs took d or
        # less (always one of the observed values).
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


# --------------------------------------------------------------------------------------------
# Validating records
# --------------------------------------------------------------------------------------------


def _add_counts(table: Dict[Any, int], more: Dict[Any, int]) -> None:
    for key, count in more.items():
        table[key] = table.get(key, 0) + count


class _TooLarge:
    """A JSON Lines line over MAX_LINE_BYTES, skipped unread (what stands for it)."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size


def _tally(
    records: Iterable[_Record],
    parse: Callable[[Any], ThreadRun],
    name: str,
    summary: Summary,
    report: _Report,
) -> None:
    """Validate ``(line number, raw record)`` pairs and count the valid runs: the hot loop.

    Each run is counted as soon as it is parsed and dropped at once: the next parse then
    reuses the same, cache-hot memory.
    """
    add = summary.add
    for line, record in records:
        try:
            run = parse(record)
        except ThreadRunError as exc:
            if type(record) is bytes and not record.strip():
                continue  # a blank line
            summary.invalid += 1
            report(name, line, _record_error(exc, record))
            continue
        except Exception as exc:  # a bug in threadrun: say so, keep going
            summary.invalid += 1
            report(
                name, line, "unexpected %s (a bug in threadrun?): %s" % (type(exc).__name__, exc)
            )
            continue
        add(run)


def _record_error(exc: ThreadRunError, record: Any) -> str:
    """The message for an invalid record; a JSON Lines record's syntax error gets its column
    (the line is the record's own)."""
    if type(record) is _TooLarge:
        return "line too large: %d bytes or more, the limit is %d (MAX_LINE_BYTES)" % (
            record.size,
            MAX_LINE_BYTES,
        )
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


# --------------------------------------------------------------------------------------------
# JSON Lines
# --------------------------------------------------------------------------------------------


def _pieces(stream: BinaryIO, first: Sequence[bytes] = ()) -> Iterator[bytes]:
    """The stream's lines, none longer than MAX_LINE_BYTES + 1 (a longer line comes in
    pieces), after the lines already read in ``first``."""
    more = iter(lambda: stream.readline(MAX_LINE_BYTES + 1), b"")
    return itertools.chain(first, more) if first else more


def _jsonl_records(
    pieces: Iterator[bytes], length: float = float("inf"), lines: Optional[List[int]] = None
) -> Iterator[_Record]:
    """(line number, line) for each line, until ``length`` bytes are read; a line over the
    limit is skipped piece by piece (never held whole) and stands as a _TooLarge. The number
    of lines read is appended to ``lines`` at the end."""
    size = MAX_LINE_BYTES + 1
    number = 0
    try:
        for line in pieces:
            number += 1
            used = len(line)
            if used == size and line[-1:] != b"\n":
                for piece in pieces:
                    used += len(piece)
                    if piece[-1:] == b"\n":
                        break
                yield number, _TooLarge(used)
            else:
                yield number, line
            length -= used
            if length <= 0:
                return
    finally:
        if lines is not None:
            lines.append(number)


# --------------------------------------------------------------------------------------------
# Whole-file JSON documents
# --------------------------------------------------------------------------------------------

# Where a value that the runtime's decoder refuses (NaN, 1e400) ends, so that the next one is
# read: the same value decoded without those checks.
_LENIENT = json.JSONDecoder(parse_constant=lambda name: None, parse_float=lambda text: None)


# Stands for a value reported and skipped.
_SKIPPED = object()


def _document_records(
    data: bytes, name: str, summary: Summary, report: _Report
) -> Iterator[_Record]:
    """(line, value) for each run of a whole-file JSON document: a run object, an array of
    run objects, or a sequence of either. A value the runtime refuses (NaN, 1e400) is reported
    and skipped, as from_json refuses it in a JSON Lines file; a syntax error ends the file."""
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
    del data
    text = text.lstrip("\ufeff")
    decode = _DECODER.raw_decode
    size = len(text)
    pos = 0
    line = 1
    in_array = False

    def skip_space(pos: int) -> int:
        while pos < size and text[pos] in _JSON_SPACE:
            pos += 1
        return pos

    while True:
        start, pos = pos, skip_space(pos)
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
            start, pos = pos + 1, skip_space(pos + 1)
            line += text.count("\n", start, pos)
            if pos < size and text[pos] == "]":  # an empty array
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
        except ThreadRunError as exc:  # NaN, Infinity, 1e400: this value only
            try:
                end = _LENIENT.raw_decode(text, pos)[1]
            except (ValueError, RecursionError):
                end = -1
            summary.invalid += 1
            report(name, line, str(exc))
            if end < 0:
                return
            value = _SKIPPED
        except (ValueError, RecursionError) as exc:
            summary.invalid += 1
            report(name, line, "invalid JSON: %s" % (str(exc) or "nested too deeply")[:200])
            return
        if value is not _SKIPPED:
            yield line, value
        line += text.count("\n", pos, end)
        pos = end
        if in_array:
            start, pos = pos, skip_space(pos)
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


# --------------------------------------------------------------------------------------------
# Telling JSON Lines from a document
# --------------------------------------------------------------------------------------------


def _detect(stream: BinaryIO) -> Tuple[bool, List[bytes]]:
    """Whether the stream holds a whole-file JSON document, and the lines read to tell.

    A file is JSON Lines unless its first value is unambiguously a document: a value that
    spans several lines and parses to its end (a pretty-printed run, an array, ``jq .``
    output), an array alone on its line with nothing after it, or a "[" alone on the first
    line (a pretty-printed array, where a syntax error is reported and ends the file).
    Damaged lines cannot fool this: the first line that cannot continue the value decides
    JSON Lines, and what is read to tell is at most about twice the text up to that line.
    """
    read: List[bytes] = []
    readline = stream.readline
    size = MAX_LINE_BYTES + 1
    while True:  # the first line with something on it
        line = readline(size)
        if not line:
            return False, read
        read.append(line)
        if len(line) == size and line[-1:] != b"\n":
            return False, read  # a line too large: JSON Lines, where it is reported
        if line.strip(b" \t\r\n\xef\xbb\xbf"):
            break
    head = line.lstrip(b" \t\r\n\xef\xbb\xbf")[:1]
    if head not in (b"{", b"["):
        return False, read
    if line.strip(b" \t\r\n\xef\xbb\xbf") == b"[":
        return True, read  # a pretty-printed array: no JSON Lines record is a lone "["
    first = len(read) - 1
    buffered = decoded = len(line)
    while True:
        # Decoded again after each of the first lines, then each time the text has doubled:
        # linear in all, for a document of any size.
        if len(read) - first <= 16 or buffered >= 2 * decoded:
            decoded = buffered
            status = _prefix_status(read[first:])
            if status == "invalid":
                return False, read
            if status == "complete":
                if len(read) - first > 1:
                    return True, read
                if head == b"{":
                    return False, read
                break  # an array on one line: a document if nothing follows it
        line = readline(size)
        if not line:
            # The end of the file: the value is complete there, or the file is JSON Lines
            # (where its lines are reported).
            document = decoded < buffered and _prefix_status(read[first:]) == "complete"
            return document, read
        read.append(line)
        if len(line) == size and line[-1:] != b"\n":
            return False, read
        buffered += len(line)
    while True:
        line = readline(size)
        if not line:
            return True, read
        read.append(line)
        if line.strip() or (len(line) == size and line[-1:] != b"\n"):
            return False, read


def _prefix_status(lines: List[bytes]) -> str:
    """'complete' when the text's first value ends within it, 'invalid' when the text cannot
    be the start of a JSON value, 'partial' when it may be one that goes on."""
    data = b"".join(lines)
    try:
        text = data.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError:
        return "invalid"
    start = len(text) - len(text.lstrip(_JSON_SPACE))
    try:
        _LENIENT.raw_decode(text, start)
    except json.JSONDecodeError as exc:
        # Strings never span lines: an error before the last non-blank character means no
        # further line can mend the text.
        return "partial" if exc.pos >= len(text.rstrip(_JSON_SPACE)) else "invalid"
    except (ValueError, RecursionError):
        return "invalid"
    return "complete"


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def _open(path: str) -> BinaryIO:
    if path.endswith(".gz"):
        import gzip

        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _check_stream(
    stream: BinaryIO,
    name: str,
    summary: Summary,
    report: _Report,
    run_adapter: Optional[Callable[[Any], Any]] = None,
) -> None:
    """JSON Lines, streamed: one line in memory at a time. A whole-file JSON document is
    read whole."""
    from_json, from_value = _parsers(run_adapter)
    document, read = _detect(stream)
    if document:
        data = b"".join(read) + stream.read()
        del read[:]
        _tally(_document_records(data, name, summary, report), from_value, name, summary, report)
    else:
        _tally(_jsonl_records(_pieces(stream, read)), from_json, name, summary, report)


def _parsers(
    run_adapter: Optional[Callable[[Any], Any]],
) -> Tuple[Callable[[Any], ThreadRun], Callable[[Any], ThreadRun]]:
    """How to read a JSON Lines record and a decoded value: with ``run_adapter`` (as the
    client's: e.g. threadrun.iso_timestamps) applied to each run before it is validated."""
    if run_adapter is None:
        return ThreadRun.from_json, ThreadRun.from_dict

    def from_value(value: Any) -> ThreadRun:
        try:
            value = run_adapter(value)
        except ThreadRunError:
            raise
        except Exception as exc:  # the caller's code, not a bug in threadrun: say whose
            raise ThreadRunError(
                "run_adapter raised %s: %s" % (type(exc).__name__, _shorten(str(exc), 200))
            ) from None
        return ThreadRun.from_dict(value)

    def from_json(record: Any) -> ThreadRun:
        value = _loads(record)
        if type(value) is not dict:  # as ThreadRun.from_json says it
            raise ThreadRunError(
                "expected a JSON object at the top level, got " + _describe(value)
            )
        return from_value(value)

    return from_json, from_value


def _unreadable(exc: BaseException) -> str:
    if isinstance(exc, MemoryError):
        return "out of memory (a whole-file JSON document is read whole: convert it to JSON Lines)"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


# The errors that make a file unreadable (gzip: EOFError, zlib.error).
_READ_ERRORS = (OSError, EOFError, zlib.error, MemoryError)


class OutputError(Exception):
    """Writing check's report or summary failed (disk full, a closed pipe): ``error`` is the
    OSError. Raised instead of the OSError so that it is never taken for a read error."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error)
        self.error = error


class _Output:
    """Where check writes: the report on ``err``, the summary on ``out``; the progress line
    is cleared before a report line."""

    def __init__(self, out: IO[str], err: IO[str]) -> None:
        self.out = out
        self.err = err
        self.meter: Optional[_Meter] = None

    def write_err(self, text: str) -> None:
        meter = self.meter
        try:
            if meter is None:
                self.err.write(text)
            else:
                with meter.lock:
                    meter.clear_locked()
                    self.err.write(text)
        except OSError as exc:
            raise OutputError(exc) from None

    def report(self, name: str, line: int, message: str) -> None:
        self.write_err("%s:%d: %s\n" % (name, line, message))

    def write_out(self, text: str) -> None:
        try:
            self.err.flush()
            self.out.write(text)
            self.out.flush()
        except OSError as exc:
            raise OutputError(exc) from None


def check_files(
    paths: Sequence[str],
    *,
    out: Optional[IO[str]] = None,
    err: Optional[IO[str]] = None,
    as_json: bool = False,
    stdin: Optional[BinaryIO] = None,
    jobs: int = 1,
    progress: bool = False,
    start_method: Optional[str] = None,
    range_bytes: Optional[int] = None,
    run_adapter: Optional[Callable[[Any], Any]] = None,
) -> int:
    """Validate the runs in ``paths`` (``-``: stdin; ``*.gz``: gzip), report each invalid one
    on ``err`` as ``FILE:LINE: field: what is wrong`` and the summary on ``out``.

    ``jobs`` worker processes (``0``: one per core) share the work; the output is the same
    whatever their number. ``progress``: a live progress line on ``err`` (a terminal).
    ``run_adapter`` is applied to each run before it is validated, as the client's
    (``threadrun.iso_timestamps`` for an archive of ISO timestamps); with ``jobs`` it must
    pickle (a module-level function does).
    Returns 0 when every run is valid, 1 when one is not, 2 when a file could not be read.
    Raises OutputError when writing ``out`` or ``err`` fails, WorkerDied when a worker
    process ends without its result.
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    if jobs == 0:
        jobs = _cores()
    summary = Summary()
    output = _Output(out, err)
    meter = output.meter = _Meter(err, paths) if progress else None
    try:
        if meter is not None and jobs <= 1:
            meter.start()  # with --jobs, once the workers are started: never fork a thread
        if jobs > 1:
            _check_parallel(
                list(paths or ["-"]), summary, output, stdin, jobs, meter, start_method,
                range_bytes, run_adapter,
            )  # fmt: skip
        else:
            for path in paths or ["-"]:
                _check_one(path, summary, output, stdin, meter, run_adapter)
    finally:
        if meter is not None:
            meter.stop()
            output.meter = None
    if as_json:
        output.write_out(json.dumps(summary.to_dict(), indent=2) + "\n")
    else:
        output.write_out(_encodable(_format_summary(summary.to_dict()), out))
    if summary.unreadable_files:
        return EXIT_UNREADABLE
    return EXIT_INVALID if summary.invalid else EXIT_OK


def usable_jobs(requested: int) -> Tuple[int, str]:
    """The worker processes ``check --jobs requested`` starts (``0``: one per core), and a
    note to show when that is fewer than asked: more workers than the cores this process
    may use would only compete for them, and each worker takes file descriptors (EMFILE
    beyond the limit)."""
    return _jobs_within(requested, _cores(), _descriptor_limit())


def _jobs_within(requested: int, cores: int, descriptors: Optional[int]) -> Tuple[int, str]:
    if requested == 0:
        requested = cores
    allowed = cores
    if descriptors is not None:
        # Each worker holds a pipe end and a sentinel in this process, and a few more while
        # it starts; the rest of the process keeps some for itself (stdio, the files read).
        allowed = min(cores, max(1, (descriptors - 64) // 3))
    if requested <= allowed:
        return requested, ""
    plural = "" if allowed == 1 else "s"
    if descriptors is not None and allowed < cores:
        return allowed, "--jobs %d: using %d worker%s (ulimit -n %d allows no more)" % (
            requested, allowed, plural, descriptors
        )  # fmt: skip
    return allowed, "--jobs %d: using %d worker%s, one per usable core" % (
        requested, allowed, plural
    )  # fmt: skip


def _descriptor_limit() -> Optional[int]:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return None if soft == resource.RLIM_INFINITY else int(soft)


def _cores() -> int:
    """The cores this process may run on (a container or taskset may allow fewer than
    the machine has)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _check_one(
    path: str,
    summary: Summary,
    output: _Output,
    stdin: Optional[BinaryIO],
    meter: Optional[_Meter],
    run_adapter: Optional[Callable[[Any], Any]],
) -> None:
    summary.files += 1
    if path == "-":
        _check_stdin(summary, output, stdin, run_adapter)
        return
    _check_path(path, summary, output, meter, run_adapter)


def _check_path(
    path: str,
    summary: Summary,
    output: _Output,
    meter: Optional[_Meter],
    run_adapter: Optional[Callable[[Any], Any]],
) -> None:
    try:
        with _open(path) as stream:
            if meter is not None:
                meter.follow(stream, summary)
            _check_stream(stream, path, summary, output.report, run_adapter)
    except _READ_ERRORS as exc:
        summary.unreadable_files += 1
        output.write_err("%s: error: cannot read %r: %s\n" % (PROG, path, _unreadable(exc)))
    finally:
        if meter is not None:
            meter.file_done(path)


# --------------------------------------------------------------------------------------------
# --jobs: worker processes
# --------------------------------------------------------------------------------------------


def _plan(paths: List[str], jobs: int, range_bytes: Optional[int]) -> Iterator[Tuple[str, Any]]:
    """The tasks in output order: ("range", (path, start, length, first of file?)),
    ("file", path) for a .gz file or a document, ("stdin", None), ("stream", path) for
    anything but a regular file (a FIFO, a pipe as /dev/stdin, a process substitution: read
    once, by this process, in its turn), ("unreadable", (path, reason))."""
    import stat

    for path in paths:
        if path == "-":
            yield "stdin", None
            continue
        try:
            regular = stat.S_ISREG(os.stat(path).st_mode)
        except _READ_ERRORS as exc:
            yield "unreadable", (path, _unreadable(exc))
            continue
        if not regular:
            # Never opened here: opening a FIFO waits for its writer, and reading it to
            # plan would leave nothing for the worker.
            yield "stream", path
            continue
        if path.endswith(".gz"):
            yield "file", path
            continue
        try:
            with open(path, "rb") as stream:
                size = os.fstat(stream.fileno()).st_size
                document, _ = _detect(stream)
                if document:
                    yield "file", path
                    continue
                step = range_bytes or min(max(size // (jobs * _SPLITS), _MIN_RANGE), _MAX_RANGE)
                start = 0
                while True:
                    end = _line_start_after(stream, start + step, size)
                    yield "range", (path, start, end - start, start == 0)
                    if end >= size:
                        break
                    start = end
        except _READ_ERRORS as exc:
            yield "unreadable", (path, _unreadable(exc))


def _line_start_after(stream: BinaryIO, offset: int, size: int) -> int:
    """The first line start at or after ``offset`` (``size`` if none)."""
    if offset >= size:
        return size
    stream.seek(offset - 1)
    position = offset - 1
    while True:
        block = stream.read(64 * 1024)
        if not block:
            return size
        found = block.find(b"\n")
        if found >= 0:
            return position + found + 1
        position += len(block)


def _run_task(task: Tuple[str, Any], run_adapter: Optional[Callable[[Any], Any]]) -> Dict[str, Any]:
    """Check one task in a worker: its summary, its messages (line numbers from the task's
    first line) and its line count."""
    kind, what = task
    summary = Summary()
    messages: List[Tuple[int, str]] = []

    def report(name: str, line: int, message: str) -> None:
        messages.append((line, message))

    result: Dict[str, Any] = {"error": None, "lines": 0}
    try:
        if kind == "range":
            path, start, length = what[:3]
            with open(path, "rb") as raw:
                raw.seek(start)
                lines: List[int] = []
                records = _jsonl_records(_pieces(raw), length, lines)
                _tally(records, _parsers(run_adapter)[0], path, summary, report)
                result["lines"] = lines[0]
        else:
            with _open(what) as stream:
                _check_stream(stream, what, summary, report, run_adapter)
    except _READ_ERRORS as exc:
        result["error"] = _unreadable(exc)
    result["summary"] = summary
    result["messages"] = messages
    return result


def _worker(conn: Any, run_adapter: Optional[Callable[[Any], Any]]) -> None:
    """A worker process: tasks in, results out, until told to stop (None) or the parent
    goes away. Ctrl-C is the parent's to handle: it stops the workers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        conn.send(_run_task(task, run_adapter))


@contextlib.contextmanager
def _sigint_held(context: Any) -> Iterator[None]:
    """Starts processes with Ctrl-C held back. A terminal's Ctrl-C goes to the whole process
    group: a process born meanwhile (a spawned interpreter still importing, a forked worker
    before it ignores SIGINT, the forkserver of Python 3.14's default start method) would die
    with a KeyboardInterrupt traceback, and this process, interrupted inside Process.start(),
    would leave a worker it does not know of running (a forked one holds both ends of its
    pipe: it waits for ever). So SIGINT is blocked while they start: they inherit the mask
    (and ignore SIGINT), and here it stays pending until every worker is known. Not ignored
    meanwhile: a pending signal set to SIG_IGN is lost."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - Windows
        yield
        return
    if context.get_start_method() != "fork":
        # Before 3.14 the resource tracker unblocks SIGINT after starting itself (from the
        # first spawn or forkserver start): it starts first.
        try:
            from multiprocessing import resource_tracker
        except ImportError:  # 3.7: a semaphore tracker, which leaves the mask alone
            pass
        else:
            resource_tracker.ensure_running()
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _check_parallel(
    paths: List[str],
    summary: Summary,
    output: _Output,
    stdin: Optional[BinaryIO],
    jobs: int,
    meter: Optional[_Meter],
    start_method: Optional[str],
    range_bytes: Optional[int],
    run_adapter: Optional[Callable[[Any], Any]],
) -> None:
    import multiprocessing
    import multiprocessing.connection

    context = multiprocessing.get_context(start_method)
    tasks = list(_plan(paths, jobs, range_bytes))
    summary.files += len(paths)
    if meter is not None:
        meter.total = sum(_task_size(task) for task in tasks if task[0] in ("range", "file"))
    workers: List[Any] = []
    pipes: List[Any] = []
    busy: Dict[int, int] = {}  # worker -> task index
    results: Dict[int, Dict[str, Any]] = {}
    queue = [index for index, (kind, _) in enumerate(tasks) if kind in ("range", "file")]
    queue.reverse()
    try:
        with _sigint_held(context):
            for _ in range(min(jobs, len(queue))):
                try:
                    parent, child = context.Pipe()
                    process = context.Process(  # type: ignore[attr-defined]
                        target=_worker, args=(child, run_adapter), daemon=True
                    )
                    process.start()
                except OSError as exc:  # EMFILE, EAGAIN: not an output error
                    raise WorkerDied(
                        "cannot start worker process %d of %d: %s (try a smaller --jobs)"
                        % (len(workers) + 1, jobs, exc.strerror or exc)
                    ) from None
                child.close()
                workers.append(process)
                pipes.append(parent)
        if meter is not None:
            meter.start()
        emitted = 0
        line_base: Dict[str, int] = {}
        failed: Set[str] = set()
        while emitted < len(tasks):
            for number, pipe in enumerate(pipes):
                if number not in busy and queue:
                    index = queue.pop()
                    try:
                        pipe.send(tasks[index])
                    except OSError:  # EPIPE: the worker died before it took a task
                        raise _died(workers[number], tasks[index]) from None
                    busy[number] = index
            # What can be printed now, in order.
            while emitted < len(tasks):
                kind, what = tasks[emitted]
                if kind == "stdin":
                    _check_stdin(summary, output, stdin, run_adapter)
                elif kind == "stream":
                    _check_path(what, summary, output, None, run_adapter)
                elif kind == "unreadable":
                    summary.unreadable_files += 1
                    output.write_err("%s: error: cannot read %r: %s\n" % (PROG, what[0], what[1]))
                elif emitted in results:
                    _emit(tasks[emitted], results.pop(emitted), summary, output, line_base, failed)
                else:
                    break
                emitted += 1
            if emitted >= len(tasks):
                break
            waiting = [pipes[number] for number in busy] + [
                workers[number].sentinel for number in busy
            ]
            ready = multiprocessing.connection.wait(waiting, timeout=_PROGRESS_EVERY)
            for number in list(busy):
                pipe = pipes[number]
                if pipe.poll():
                    try:
                        result = results[busy[number]] = pipe.recv()
                    except (EOFError, OSError):
                        pass  # the worker died: its sentinel says so, now or soon
                    else:
                        if meter is not None:
                            meter.task_done(_task_size(tasks[busy[number]]), result["summary"])
                        del busy[number]
                        continue
                if workers[number].sentinel in ready:
                    raise _died(workers[number], tasks[busy[number]])
    finally:
        for pipe in pipes:
            try:
                pipe.send(None)
            except (OSError, ValueError):
                pass
        for process in workers:
            if process.is_alive() and busy:
                process.terminate()
        for process in workers:
            process.join(5)
            if process.is_alive():  # pragma: no cover - a worker stuck in a system call
                process.kill()
                process.join()
        for pipe in pipes:
            pipe.close()


class WorkerDied(Exception):
    """A --jobs worker process could not be started, or ended without its result (killed,
    out of memory)."""


def _died(process: Any, task: Tuple[str, Any]) -> WorkerDied:
    process.join(1)
    code = process.exitcode
    how = "killed by signal %d" % -code if code and code < 0 else "exit %s" % code
    return WorkerDied(
        "a worker process died (%s) while checking %r: its counts are lost, "
        "so no summary is printed" % (how, _task_path(task))
    )


def _task_path(task: Tuple[str, Any]) -> str:
    kind, what = task
    return str(what[0] if kind == "range" else what)


def _task_size(task: Tuple[str, Any]) -> int:
    kind, what = task
    return int(what[2]) if kind == "range" else _file_size(what)


def _file_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _check_stdin(
    summary: Summary,
    output: _Output,
    stdin: Optional[BinaryIO],
    run_adapter: Optional[Callable[[Any], Any]],
) -> None:
    stream = stdin if stdin is not None else sys.stdin.buffer
    if _isatty(stream):
        output.write_err("%s: reading runs from standard input (end with Ctrl-D)\n" % PROG)
    if output.meter is not None:
        output.meter.follow(None, summary)
    try:
        _check_stream(stream, "<stdin>", summary, output.report, run_adapter)
    except _READ_ERRORS as exc:
        summary.unreadable_files += 1
        output.write_err("%s: error: cannot read standard input: %s\n" % (PROG, _unreadable(exc)))


def _emit(
    task: Tuple[str, Any],
    result: Dict[str, Any],
    summary: Summary,
    output: _Output,
    line_base: Dict[str, int],
    failed: Set[str],
) -> None:
    kind, what = task
    path = _task_path(task)
    base = 0
    if kind != "range" or what[3]:
        # A file begins: the same path given again counts again, as with one process.
        failed.discard(path)
    if kind == "range":
        if what[3]:
            line_base[path] = 0
        base = line_base[path]
        line_base[path] = base + result["lines"]
    report = output.report
    for line, message in result["messages"]:
        report(path, base + line, message)
    summary.merge(result["summary"])
    if result["error"] is not None and path not in failed:
        failed.add(path)  # once for a file, whichever of its ranges failed
        summary.unreadable_files += 1
        output.write_err("%s: error: cannot read %r: %s\n" % (PROG, path, result["error"]))


# --------------------------------------------------------------------------------------------
# The progress line
# --------------------------------------------------------------------------------------------


class _Meter:
    """One live line on a terminal's stderr while check runs: bytes and runs done, runs/s,
    invalid so far, ETA. Redrawn by a thread every _PROGRESS_EVERY seconds, so that the hot
    loop pays nothing; cleared before anything else is written and at the end."""

    def __init__(self, err: IO[str], paths: Sequence[str]) -> None:
        self.err = err
        self.started = time.monotonic()
        self.total = sum(_file_size(path) for path in paths if path != "-")
        self.done_bytes = 0  # of finished files or tasks
        self.done = Summary()  # of finished tasks (--jobs)
        self.current: Any = None
        self.current_offset = 0
        self.current_summary: Optional[Summary] = None
        self.drawn = False
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="threadrun-progress", daemon=True)

    def start(self) -> None:
        self.thread.start()

    # -- fed by check ----------------------------------------------------------------------

    def follow(self, stream: Any, summary: Summary) -> None:
        fileobj = getattr(stream, "fileobj", None)  # gzip: the compressed bytes read
        self.current = fileobj if fileobj is not None else stream
        self.current_offset = 0
        self.current_summary = summary

    def file_done(self, path: str) -> None:
        self.current = None
        self.done_bytes += _file_size(path)

    def task_done(self, size: int, summary: Summary) -> None:
        self.done_bytes += size
        self.done.merge(summary)

    def clear(self) -> None:
        with self.lock:
            self.clear_locked()

    def clear_locked(self) -> None:
        if self.drawn:
            self._write("\r\x1b[K")
            self.drawn = False

    def stop(self) -> None:
        self.stopped.set()
        if self.thread.ident is not None:
            self.thread.join()
        self.clear()

    # -- drawing -----------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:  # drawn at once, then every _PROGRESS_EVERY seconds
            with self.lock:
                if self.stopped.is_set():
                    return
                self._write("\r" + self._line() + "\x1b[K")
                self.drawn = True
            if self.stopped.wait(_PROGRESS_EVERY):
                return

    def _line(self) -> str:
        stream = self.current
        if stream is not None:
            try:
                self.current_offset = os.lseek(stream.fileno(), 0, os.SEEK_CUR)
            except (AttributeError, ValueError, OSError):
                pass  # closed between the file's end and file_done(): keep the last offset
        done = self.done_bytes + (self.current_offset if stream is not None else 0)
        counted = self.current_summary or self.done
        valid = sum(list(counted.combos.values()))
        runs = valid + counted.invalid
        elapsed = max(time.monotonic() - self.started, 1e-9)
        line = "%s: %s of %s, %d runs, %d runs/s, %d invalid" % (
            PROG,
            _size(done),
            _size(self.total),
            runs,
            runs / elapsed,
            counted.invalid,
        )
        if 0 < done < self.total:
            line += ", ETA %s" % _duration(elapsed * (self.total - done) / done)
        return line

    def _write(self, text: str) -> None:
        try:
            self.err.write(text)
            self.err.flush()
        except (OSError, ValueError):
            pass  # the progress line is not worth failing for


def _size(count: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return ("%d %s" if unit == "B" else "%.1f %s") % (count, unit)
        count /= 1000
    return "%d B" % count  # pragma: no cover


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return "%ds" % seconds
    if seconds < 3600:
        return "%dm%02ds" % divmod(seconds, 60)
    return "%dh%02dm" % (seconds // 3600, seconds % 3600 // 60)


# --------------------------------------------------------------------------------------------
# The human summary
# --------------------------------------------------------------------------------------------

# How many entries a "by ..." table of the human summary shows (--json shows all).
_TOP = 10
# C0 and C1 control characters (escape sequences, newlines) in text from a file, shown
# escaped: a run id or an error message must not drive the terminal.
_CONTROLS = {code: "\\x%02x" % code for code in itertools.chain(range(32), range(127, 160))}


def _clean(text: str) -> str:
    return text.translate(_CONTROLS)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


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


def _format_summary(data: Dict[str, Any]) -> str:
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
