"""Shared test infrastructure: one place for what several test modules (and .ci/run and the
benchmarks) need.

- Interpreters: which Pythons this machine has, found by one rule everywhere (also from the
  command line: ``python -m tests.support interpreters``).
- Loopback networking: ports, request-id shapes, base classes of the client tests (a fake
  clock, a FakeRunsServer per test), a scripted raw-socket server and a forward proxy.

The client's specification is split by concern across
tests/test_client_*.py. Every request they make goes to a server on 127.0.0.1
(threadrun.testing's FakeRunsServer, or the scripted raw server and forward proxy here);
nothing is ever sent beyond loopback. Waits go through an injected ``sleep``/``clock``
(``FakeClock``).
"""

from __future__ import annotations

import contextlib
import functools
import glob
import http.client
import http.server
import json
import os
import re
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import unittest
import warnings
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple
from urllib.parse import urlsplit

from tests import load_testing, threadrun

# --------------------------------------------------------------------------------------------
# Interpreters
# --------------------------------------------------------------------------------------------

# One rule, used by tests/test_copyin.py, .ci/run (``python -m tests.support interpreters``)
# and benchmarks/run.py. The candidates are
#   - CPython 3.7+ installed by pyenv: $(pyenv root)/versions/3.X.Y/bin/python;
#   - what .ci/run provides (Debian's builds, extracted; see .ci/debian-python): CPython at
#     .ci/.cache/python/3.X/usr/bin/python3.X, PyPy at .ci/.cache/python/pypy3/usr/bin/pypy3;
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
    paths += glob.glob(os.path.join(CI_PYTHONS, "pypy3", "usr", "bin", "pypy3"))
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


# The one API key every test client uses: it must never show in any error or repr.
KEY = "sk-proj-TESTKEY-4f9c2a7e1b3d5a6c8e0f"
AZURE_KEY = "azure-secret-9b8c7d6e5f4a3b2c1d0e"
IDEMPOTENCY_KEY = re.compile(r"^threadrun-[0-9a-f]{32}$")
HOSTILE_IDS = (
    "../x", "a/b", "a?b", "a#b", "%2e%2e", " x", "", ".", "..", "\n",
    "x\n", "a\\b", "a%2Fb", "x ", "\t", "a\x00b", "a\rb", "..%2f", "run\u2028",
)  # fmt: skip
THREAD = "thread_1"


def wait_status_of_child(check: Callable[[], bool]) -> int:
    """Fork, call ``check`` in the child, and return the child's wait status: 0 only when
    ``check`` returned True (exit status 1 if False, 3 if it raised). The child reports
    through its exit status alone: it never returns into the test runner."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, 3.12+
        pid = os.fork()
    if pid == 0:
        code = 3
        try:
            code = 0 if check() else 1
        finally:
            os._exit(code)
    return os.waitpid(pid, 0)[1]


def backoff_range(retries: int) -> Tuple[float, float]:
    """The shortest and longest backoff delay before retry number ``retries + 1``, from the
    client's own constants."""
    longest = min(
        threadrun._INITIAL_RETRY_DELAY * 2.0**retries, threadrun._MAX_RETRY_DELAY
    )
    return longest * (1 - threadrun._RETRY_JITTER), longest


def errors_in_chain(exc: Optional[BaseException]) -> Iterator[BaseException]:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


class FakeClock:
    """Injected ``clock`` and ``sleep``: sleeping records the delay and moves the clock."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.start = start
        self.sleeps: List[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds

    @property
    def elapsed(self) -> float:
        return self.now - self.start


def isolated_name(name: str) -> bool:
    """An environment variable the client reads: tests run without any of them."""
    upper = name.upper()
    return upper.startswith("OPENAI_") or upper.endswith("_PROXY") or upper == "REQUEST_METHOD"


class EnvTest(unittest.TestCase):
    """Runs every test with no OPENAI_* or *_proxy variable set; restores them afterwards.

    ``shell`` is the client ``raw_client`` makes: "sync", a Client; "async", an AsyncClient
    driven as one (tests/shells.py)."""

    shell = "sync"

    def setUp(self) -> None:
        saved = {k: v for k, v in os.environ.items() if isolated_name(k)}
        for name in saved:
            del os.environ[name]
        self.addCleanup(self._restore_env, saved)

    @staticmethod
    def _restore_env(saved: Dict[str, str]) -> None:
        for name in [k for k in os.environ if isolated_name(k)]:
            del os.environ[name]
        os.environ.update(saved)

    def assertNoSecret(self, exc: BaseException) -> None:
        for error in errors_in_chain(exc):
            texts = [str(error), repr(error), repr(error.args)]
            for attr in ("message", "body"):
                value = getattr(error, attr, None)
                if value is not None:
                    texts.append(value if isinstance(value, str) else repr(value))
            for text in texts:
                for secret in (KEY, AZURE_KEY):
                    self.assertNotIn(secret, text, "a credential leaked into %r" % type(error))

    @contextlib.contextmanager
    def raises(self, cls: Any) -> Iterator[Any]:
        """assertRaises that also checks the error never shows a credential."""
        with self.assertRaises(cls) as cm:
            yield cm
        self.assertNoSecret(cm.exception)

    def raw_client(self, base_url: str, **kwargs: Any) -> Any:
        """A client with the test key and an injected clock (``self.clock``), closed after."""
        self.clock = getattr(self, "clock", None) or FakeClock()
        kwargs.setdefault("api_key", KEY)
        kwargs.setdefault("sleep", self.clock.sleep)
        kwargs.setdefault("clock", self.clock)
        if self.shell == "async":
            from tests.shells import SyncOverAsync

            client: Any = SyncOverAsync(base_url=base_url, **kwargs)
        else:
            client = threadrun.Client(base_url=base_url, **kwargs)
        self.addCleanup(client.close)
        return client


class ServerTest(EnvTest):
    """A fresh FakeRunsServer per test, and ``self.client(...)`` for clients pointed at it.

    ``self.testing`` is threadrun.testing (the class is skipped in single-file mode)."""

    options: Dict[str, Any] = {}
    testing: Any = None

    @classmethod
    def setUpClass(cls) -> None:
        cls.testing = load_testing()  # SkipTest in single-file mode only

    def setUp(self) -> None:
        super().setUp()
        self.server = self.start_server(**self.options)
        self.clock = FakeClock()

    def start_server(self, **options: Any) -> Any:
        server = self.testing.FakeRunsServer(**options).start()
        self.addCleanup(self.stop_server, server)
        return server

    def stop_server(self, server: Any) -> None:
        server.stop()
        self.assertEqual(server.errors, [])  # no bug inside the fake in any test

    def client(self, **kwargs: Any) -> Any:
        return self.raw_client(kwargs.pop("base_url", self.server.base_url), **kwargs)

    def add_run(self, **kwargs: Any) -> Dict[str, Any]:
        kwargs.setdefault("statuses", ("completed",))
        return dict(self.server.add_run(kwargs.pop("thread_id", THREAD), **kwargs))

    def paths(self, server: Any = None) -> List[Tuple[str, str]]:
        return [(r.method, r.path) for r in (server or self.server).requests]

    def sent(self, server: Any = None) -> int:
        return len((server or self.server).requests)


def read_request(conn: socket.socket) -> Optional[bytes]:
    """One HTTP request from ``conn`` (head and Content-Length body); None at EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    length = int(match.group(1)) if match else 0
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head + b"\r\n\r\n" + body


def http_response(body: bytes, status: str = "200 OK", headers: str = "") -> bytes:
    return (
        "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
        % (status, len(body), headers)
    ).encode() + body


def run_json(run_id: str = "run_raw", thread_id: str = THREAD, **fields: Any) -> bytes:
    """A minimal valid run, as a server would send it."""
    run = {
        "id": run_id, "object": "thread.run", "created_at": 1, "thread_id": thread_id,
        "assistant_id": "asst_1", "status": "completed", "model": "gpt-4o",
    }  # fmt: skip
    run.update(fields)
    return json.dumps(run).encode()


RAW_RUN = run_json()


def chunked(body: bytes, size: int = 1000) -> bytes:
    out = b""
    for i in range(0, len(body), size):
        piece = body[i : i + size]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    return out + b"0\r\n\r\n"


class ScriptedServer:
    """A loopback TCP server that runs ``script(conn, index)`` for each connection it
    accepts (``index`` counts from 0), each in a thread of its own.

    For what FakeRunsServer never does: answers without a declared length, garbage, a
    dripping answer, an answer cut at a chosen byte. ``requests`` records (connection index,
    raw request) when scripts use ``self.read``."""

    def __init__(self, script: Callable[[socket.socket, int], None]) -> None:
        self.script = script
        self.requests: List[Tuple[int, bytes]] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.port = int(self._sock.getsockname()[1])
        self.base_url = "http://127.0.0.1:%d/v1" % self.port
        self._threads: List[threading.Thread] = []
        self._accepting = threading.Thread(target=self._serve, daemon=True)
        self._accepting.start()

    def read(self, conn: socket.socket, index: int) -> Optional[bytes]:
        request = read_request(conn)
        if request is not None:
            with self._lock:
                self.requests.append((index, request))
        return request

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:  # closed by stop()
                return
            with self._lock:
                index = self.connections
                self.connections += 1
            thread = threading.Thread(target=self._run, args=(conn, index), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _run(self, conn: socket.socket, index: int) -> None:
        with conn:
            conn.settimeout(10)
            try:
                self.script(conn, index)
            except OSError:
                pass  # the client went away: what several scripts test

    def stop(self) -> None:
        # shutdown() wakes the accept() blocked in the serving thread (close() alone may not).
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self._accepting.join(5)
        for thread in self._threads:
            thread.join(5)


class RawServer(ScriptedServer):
    """Answers every connection's first request with canned bytes, then closes it."""

    def __init__(self, response: bytes) -> None:
        self.response = response
        super().__init__(self._answer)

    def _answer(self, conn: socket.socket, index: int) -> None:
        self.read(conn, index)
        conn.sendall(self.response)
        conn.shutdown(socket.SHUT_WR)


# A forward proxy, for the client's proxy support.

_HOP_BY_HOP = frozenset((
    "connection", "keep-alive", "proxy-authorization", "proxy-connection", "te", "trailer",
    "transfer-encoding", "upgrade", "content-length",
))  # fmt: skip


# A plain TCPServer, not http.server.HTTPServer: HTTPServer.server_bind calls
# socket.getfqdn(), which may send a DNS query, and nothing may leave loopback. The handler
# needs nothing HTTPServer adds.
class _ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    proxy: LoopbackProxy


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 5
    server: _ProxyServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        proxy = self.server.proxy
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        proxy.record(self.requestline, self.headers.get("Proxy-Authorization"))
        parts = urlsplit(self.path)
        # Forward only to the fake server it was made for: never anywhere off loopback.
        if parts.scheme != "http" or parts.hostname != "127.0.0.1" or parts.port != proxy.target:
            refused = b"proxy: refused " + self.path.encode()
            self._reply(502, [("Content-Type", "text/plain")], refused)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        target = parts.path + ("?" + parts.query if parts.query else "")
        upstream = http.client.HTTPConnection("127.0.0.1", proxy.target, timeout=5)
        try:
            upstream.request(self.command, target, body, headers)
            response = upstream.getresponse()
            data = response.read()
            out = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
            self._reply(response.status, out, data)
        finally:
            upstream.close()

    do_POST = do_GET

    def do_CONNECT(self) -> None:
        # Tunnels are never opened (they could lead anywhere): the proxy asks for credentials.
        self.server.proxy.record(self.requestline, self.headers.get("Proxy-Authorization"))
        self._reply(407, [("Proxy-Authenticate", 'Basic realm="loopback"')], b"")

    def _reply(self, status: int, headers: List[Tuple[str, str]], data: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class LoopbackProxy:
    """A forward HTTP proxy on 127.0.0.1 that records request lines, forwards only to one
    loopback port, and answers every CONNECT with 407."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.lines: List[str] = []
        self.proxy_auth: List[Optional[str]] = []
        self._lock = threading.Lock()
        self._httpd = _ProxyServer(("127.0.0.1", 0), _ProxyHandler)
        self._httpd.proxy = self
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def record(self, line: str, auth: Optional[str]) -> None:
        with self._lock:
            self.lines.append(line)
            self.proxy_auth.append(auth)

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


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
