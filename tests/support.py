"""Shared test infrastructure: one place for what several test modules (and .ci/run and the
benchmarks) need.

- Interpreters: which Pythons this machine has, found by one rule everywhere (also from the
  command line: ``python -m tests.support interpreters``).
- Loopback networking: ports, request-id shapes and other helpers of the HTTP tests.
"""

from __future__ import annotations

import functools
import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import unittest
from typing import List, NamedTuple, Optional, Tuple

# --------------------------------------------------------------------------------------------
# Interpreters
# --------------------------------------------------------------------------------------------

# One rule, used by tests/test_copyin.py, .ci/run (``python -m tests.support interpreters``)
# and benchmarks/run.py. The candidates are
#   - CPython 3.7+ installed by pyenv: $(pyenv root)/versions/3.X.Y/bin/python;
#   - CPython that .ci/run provides (Debian's builds, extracted; see .ci/debian-python):
#     .ci/.cache/python/3.X/usr/bin/python3.X;
#   - PyPy: pypy3 on PATH, and pyenv's pypy3.X-* versions.
# Each candidate is run once to say what it is (a candidate that does not run is not an
# interpreter); of each implementation and minor version the newest release is kept.

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CI_PYTHONS = os.path.join(REPO, ".ci", ".cache", "python")
OLDEST = (3, 7)  # requires-python in pyproject.toml

_PROBE = "import sys; print(sys.implementation.name, *sys.version_info[:3])"


class Interpreter(NamedTuple):
    implementation: str  # sys.implementation.name: "cpython" or "pypy"
    version: Tuple[int, int, int]  # of the Python language (PyPy's own version aside)
    path: str

    @property
    def name(self) -> str:
        """One per implementation and minor version: "3.12", "pypy3.9"."""
        prefix = "" if self.implementation == "cpython" else self.implementation
        return "%s%d.%d" % (prefix, self.version[0], self.version[1])

    @property
    def release(self) -> str:
        """The full version: "3.12.1", "pypy3.9.16"."""
        return "%s.%d" % (self.name, self.version[2])


def pyenv_root() -> Optional[str]:
    root = os.environ.get("PYENV_ROOT")
    if root and os.path.isdir(root):
        return root
    exe = shutil.which("pyenv")
    if exe:
        command = [exe, "root"]
        try:
            proc = subprocess.run(
                command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=60
            )
            out = proc.stdout.decode().strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and os.path.isdir(out):
            return out
    guess = os.path.expanduser("~/.pyenv")
    return guess if os.path.isdir(guess) else None


def _candidates() -> List[str]:
    paths = []
    root = pyenv_root()
    if root:
        for path in sorted(glob.glob(os.path.join(root, "versions", "*", "bin", "python"))):
            match = re.match(r"3\.(\d+)\.\d+$", path.split(os.sep)[-3])
            if match and (3, int(match.group(1))) >= OLDEST:
                paths.append(path)
        paths += sorted(glob.glob(os.path.join(root, "versions", "pypy3.*", "bin", "pypy3")))
    for path in sorted(glob.glob(os.path.join(CI_PYTHONS, "*", "usr", "bin", "python3.*"))):
        if re.match(r"python3\.\d+$", os.path.basename(path)):
            paths.append(path)
    pypy = shutil.which("pypy3")
    if pypy:
        paths.append(pypy)
    return paths


def _probe(path: str) -> Optional[Interpreter]:
    try:
        proc = subprocess.run(
            [path, "-I", "-S", "-c", _PROBE],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=120,  # a loaded machine: generous
        )
    except (OSError, subprocess.SubprocessError):
        return None
    words = proc.stdout.decode("ascii", "replace").split()
    if proc.returncode != 0 or len(words) != 4 or not all(w.isdigit() for w in words[1:]):
        return None
    major, minor, micro = (int(w) for w in words[1:])
    return Interpreter(words[0], (major, minor, micro), path)


@functools.lru_cache(maxsize=None)
def interpreters() -> Tuple[Interpreter, ...]:
    """Every usable interpreter, newest release of each implementation and minor version:
    CPython by version, then the others."""
    best = {}
    for path in _candidates():
        found = _probe(path)
        if found is None or found.version[:2] < OLDEST:
            continue
        kept = best.get(found.name)
        if kept is None or kept.version < found.version:
            best[found.name] = found
    by_version = sorted(best.values(), key=lambda i: i.version)
    return tuple(sorted(by_version, key=lambda i: i.implementation != "cpython"))


# Tests that need what only CPython has (tracemalloc: PyPy has no _tracemalloc).
try:
    import tracemalloc
except ImportError:
    tracemalloc = None  # type: ignore[assignment]

requires_tracemalloc = unittest.skipIf(
    tracemalloc is None, "needs tracemalloc, which %s does not have" % sys.implementation.name
)

# --------------------------------------------------------------------------------------------
# Loopback networking
# --------------------------------------------------------------------------------------------

# What threadrun.testing.FakeRunsServer sends as x-request-id.
REQUEST_ID = re.compile(r"^req_[0-9a-f]{32}$")


def closed_port() -> int:
    """A loopback port with nothing listening on it (bound, then closed: connection refused)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
    finally:
        sock.close()


# --------------------------------------------------------------------------------------------
# Command line: python -m tests.support interpreters (for .ci/run: "VERSION PATH" lines)
# --------------------------------------------------------------------------------------------


def main(argv: List[str]) -> int:
    if argv != ["interpreters"]:
        print("usage: python -m tests.support interpreters", file=sys.stderr)
        return 2
    for found in interpreters():
        print(found.release, found.path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
