"""Lines on a terminal, for the command line only (the library never draws).

The live line of ``wait``, ``demo``, ``create --stream`` and ``check``: redrawn in place,
always cut to the terminal's width, dropping its least useful parts first (:func:`fit`), so
that no redraw leaves a stale row behind. With it, the text helpers every terminal line
needs: control characters shown escaped (text from a server or a file must not drive the
terminal), and what the stream cannot encode as backslash escapes.
"""

from __future__ import annotations

import itertools
import os

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import IO, Any, Sequence, Tuple

__all__ = ["LiveLine", "can_encode", "clean", "columns", "encodable", "fit", "is_live", "isatty"]

# C0 and C1 control characters (escape sequences, newlines) in text from a file or a server,
# shown escaped: a run id or an error message must not drive the terminal.
_CONTROLS = {code: "\\x%02x" % code for code in itertools.chain(range(32), range(127, 160))}


def clean(text: str) -> str:
    """``text`` with its control characters as ``\\xNN`` escapes."""
    return text.translate(_CONTROLS)


def isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def is_live(stream: Any) -> bool:
    """Whether a line can be redrawn in place on ``stream``: a terminal, not a dumb one."""
    return isatty(stream) and os.environ.get("TERM", "") != "dumb"


def can_encode(stream: Any, text: str) -> bool:
    try:
        text.encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def encodable(text: str, stream: Any) -> str:
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


def columns(stream: Any) -> int:
    """The width of the terminal ``stream`` is on; 80 when it has not said (or is none)."""
    try:
        width = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        width = 0
    return max(width, 20) if width > 0 else 80


def fit(pieces: Sequence[Tuple[int, str]], width: int, separator: str) -> str:
    """The ``pieces`` (rank, text), joined by ``separator``, in at most ``width`` characters.

    Too long, the pieces of the highest rank (the least useful) are left out first, the
    last-written of them first, keeping the order of the rest; what still does not fit is
    cut at its end. Rank 0 is never left out."""
    kept = list(pieces)
    while len(separator.join(text for _, text in kept)) > width:
        rank = max(rank for rank, _ in kept)
        if rank == 0:
            break
        last = max(i for i, (r, _) in enumerate(kept) if r == rank)
        del kept[last]
    return separator.join(text for _, text in kept)[: max(width, 1)]


class LiveLine:
    """One line on a terminal, redrawn in place (``\\r`` and erase-to-end-of-line), and the
    plain lines written between two draws. Writing never fails: when the stream is gone,
    the display is not worth failing for."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.drawn = False

    @property
    def width(self) -> int:
        """Room for a drawn line: one column less than the terminal, so the cursor never
        wraps to a new row."""
        return columns(self.stream) - 1

    def draw(self, text: str) -> None:
        self.write("\r" + text + "\x1b[K")
        self.drawn = True

    def finish(self, text: str) -> None:
        """Replace the live line by a last one that stays."""
        self.write("\r" + text + "\x1b[K\n")
        self.drawn = False

    def clear(self) -> None:
        if self.drawn:
            self.write("\r\x1b[K")
            self.drawn = False

    def write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass
