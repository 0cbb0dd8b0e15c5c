"""Validate and summarise archives of run objects: what a worker needs, on Dask, Spark or
``threadrun check --jobs N``.

- :class:`Summary`: a picklable, mergeable tally of valid runs (``add``, ``merge``,
  ``to_dict``; docs/archives.md has the recipes);
- :func:`open_archive`, :func:`check_stream`: a file (``*.gz`` decompressed), read as JSON
  Lines line by line or as a whole-file JSON document, each run counted into a Summary and
  each invalid one reported; :func:`check_lines`: a byte range of a JSON Lines file;
  :func:`is_document`: which of the two a stream holds; :data:`READ_ERRORS` and
  :func:`unreadable_reason`: what makes a file unreadable, and how to say it.

This module imports only the runtime (``threadrun``, which may be the single file
``threadrun.py``), so it ships to workers as one more file. Driving a check (the process
pool, the progress line, the human summary, exit statuses) is the command line's:
``threadrun/_cli_check.py``.
"""

from __future__ import annotations

import itertools
import json
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
    IO, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple = (
        _Deferred("typing", name)
        for name in (
            "IO", "Callable", "Dict", "Iterable", "Iterator", "List", "Optional", "Sequence",
            "Set", "Tuple",
        )
    )  # fmt: skip

__all__ = [
    "MAX_LINE_BYTES", "READ_ERRORS", "Summary", "check_lines", "check_stream", "is_document",
    "open_archive", "unreadable_reason",
]  # fmt: skip

# A JSON Lines line longer than this is reported as too large and skipped without being held
# in memory: a run the API returns is at most a few hundred kilobytes, and the client refuses
# responses over 8 MiB. (A whole-file JSON document is read whole, whatever its size.)
MAX_LINE_BYTES = 16 * 1024 * 1024



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


def _reason(exc: json.JSONDecodeError) -> str:
    """What json says is wrong, without its last word when that is "at" (as in "Unterminated
    string starting at"): the position follows, "at line 1 column 603"."""
    return exc.msg[:-3] if exc.msg.endswith(" at") else exc.msg


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


def _pieces(stream: IO[bytes], first: Sequence[bytes] = ()) -> Iterator[bytes]:
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
                "invalid JSON: %s at line %d column %d" % (_reason(exc), exc.lineno, exc.colno),
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


def _detect(stream: IO[bytes]) -> Tuple[bool, List[bytes]]:
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


def open_archive(path: str) -> IO[bytes]:
    """``path`` opened for reading bytes; a ``.gz`` file decompressed."""
    if path.endswith(".gz"):
        import gzip

        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def check_stream(
    stream: IO[bytes],
    name: str,
    summary: Summary,
    report: Callable[[str, int, str], None],
    run_adapter: Optional[Callable[[Any], Any]] = None,
) -> None:
    """Each run of ``stream`` counted into ``summary``, each invalid one given to ``report``
    (name, line, message): JSON Lines streamed, one line in memory at a time; a whole-file
    JSON document read whole."""
    from_json, from_value = _parsers(run_adapter)
    document, read = _detect(stream)
    if document:
        data = b"".join(read) + stream.read()
        del read[:]
        _tally(_document_records(data, name, summary, report), from_value, name, summary, report)
    else:
        _tally(_jsonl_records(_pieces(stream, read)), from_json, name, summary, report)


def check_lines(
    raw: IO[bytes],
    length: float,
    name: str,
    summary: Summary,
    report: Callable[[str, int, str], None],
    run_adapter: Optional[Callable[[Any], Any]] = None,
) -> int:
    """The JSON Lines of ``raw`` from where it stands, ``length`` bytes (a range a line
    starts at and ends with), counted into ``summary`` as :func:`check_stream` does; returns
    the number of lines read (their numbers in reports count from the range's first)."""
    lines: List[int] = []
    records = _jsonl_records(_pieces(raw), length, lines)
    _tally(records, _parsers(run_adapter)[0], name, summary, report)
    return lines[0]


def is_document(stream: IO[bytes]) -> bool:
    """Whether ``stream`` holds a whole-file JSON document rather than JSON Lines (read from
    where it stands; it is not rewound)."""
    return _detect(stream)[0]


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


def unreadable_reason(exc: BaseException) -> str:
    """Why a file could not be read, in a few words (one of READ_ERRORS)."""
    if isinstance(exc, MemoryError):
        return "out of memory (a whole-file JSON document is read whole: convert it to JSON Lines)"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


# The errors that make a file unreadable (gzip: EOFError, zlib.error).
READ_ERRORS = (OSError, EOFError, zlib.error, MemoryError)
