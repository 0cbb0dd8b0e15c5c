"""The command line's ``check``: driving :mod:`threadrun.archive` over files.

The order of work (files one after another, or ``--jobs N`` worker processes given files and
byte ranges of JSON Lines files), the progress line on a terminal, the report of each invalid
run, the summary (``--json``, or for people) and the exit status. Imported only by
``threadrun.__main__`` (and the tests and benchmarks of ``check``); a worker on Dask or Spark
needs none of it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time

from threadrun._live import LiveLine, clean, encodable, fit, isatty
from threadrun.archive import (
    READ_ERRORS,
    Summary,
    check_lines,
    check_stream,
    is_document,
    open_archive,
    unreadable_reason,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import (
        IO,
        Any,
        BinaryIO,
        Callable,
        Dict,
        Iterator,
        List,
        Optional,
        Sequence,
        Set,
        Tuple,
    )  # fmt: skip

__all__ = ["OutputError", "WorkerDied", "check_files", "usable_jobs"]

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
    No human summary when no file could be read (its error says all), a JSON one always.
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
    elif summary.unreadable_files < summary.files:  # else only errors to say: said already
        output.write_out(encodable(_format_summary(summary.to_dict()), out))
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
        with open_archive(path) as stream:
            if meter is not None:
                meter.follow(stream, summary)
            check_stream(stream, path, summary, output.report, run_adapter)
    except READ_ERRORS as exc:
        summary.unreadable_files += 1
        output.write_err("%s: error: cannot read %r: %s\n" % (PROG, path, unreadable_reason(exc)))
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
        except READ_ERRORS as exc:
            yield "unreadable", (path, unreadable_reason(exc))
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
                document = is_document(stream)
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
        except READ_ERRORS as exc:
            yield "unreadable", (path, unreadable_reason(exc))


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
                result["lines"] = check_lines(raw, length, path, summary, report, run_adapter)
        else:
            with open_archive(what) as stream:
                check_stream(stream, what, summary, report, run_adapter)
    except READ_ERRORS as exc:
        result["error"] = unreadable_reason(exc)
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
    if isatty(stream):
        output.write_err("%s: reading runs from standard input (end with Ctrl-D)\n" % PROG)
    if output.meter is not None:
        output.meter.follow(None, summary)
    try:
        check_stream(stream, "<stdin>", summary, output.report, run_adapter)
    except READ_ERRORS as exc:
        summary.unreadable_files += 1
        reason = unreadable_reason(exc)
        output.write_err("%s: error: cannot read standard input: %s\n" % (PROG, reason))


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
        self.line = LiveLine(err)
        self.started = time.monotonic()
        self.total = sum(_file_size(path) for path in paths if path != "-")
        self.done_bytes = 0  # of finished files or tasks
        self.done = Summary()  # of finished tasks (--jobs)
        self.current: Any = None
        self.current_offset = 0
        self.current_summary: Optional[Summary] = None
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
        self.line.clear()

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
                self.line.draw(self._line())
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
        # By use: the runs and the ETA matter most, then the invalid count.
        pieces = [
            (2, "%s of %s" % (_size(done), _size(self.total))),
            (0, _plural(runs, "run")),
            (2, "%d runs/s" % (runs / elapsed)),
            (1, "%d invalid" % counted.invalid),
        ]
        if 0 < done < self.total:
            pieces.append((0, "ETA %s" % _duration(elapsed * (self.total - done) / done)))
        width = self.line.width
        line = "%s: %s" % (PROG, ", ".join(text for _, text in pieces))
        return line if len(line) <= width else fit(pieces, width, ", ")


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
        items = [(clean(name), count) for name, count in data[key].items()]
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
