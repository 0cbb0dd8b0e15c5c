"""Specification of threadrun.Client, exercised over real loopback HTTP (issue 3, section 8).

Every request goes to a ``FakeRunsServer`` on 127.0.0.1 (a second one, on another port, plays
"another origin"; a tiny forward proxy written here plays the HTTP proxy). Nothing is ever
sent beyond loopback: the default base URL is only checked as configuration, and the
plain-http refusal is checked at construction only.

Retry and poll waits go through an injected ``sleep``/``clock`` pair (``FakeClock``), so the
waits the client asks for are recorded exactly and cost no time.

Tests that need ``threadrun.testing`` get it from ``load_testing()`` in ``setUpClass``: they
are skipped in single-file mode only; the others (configuration, connection refused, ids,
import cost) run against the copied file too.
"""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import http.server
import itertools
import json
import os
import pickle
import re
import socket
import socketserver
import subprocess
import sys
import threading
import time
import unittest
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple
from urllib.parse import urlsplit

from tests import load_testing, threadrun
from tests.support import REQUEST_ID, closed_port, requires_tracemalloc, tracemalloc

testing: Any = None  # threadrun.testing, set by ServerTest.setUpClass (skipped in single-file mode)

# The one API key every test client uses: it must never show in any error or repr.
KEY = "sk-proj-TESTKEY-4f9c2a7e1b3d5a6c8e0f"
AZURE_KEY = "azure-secret-9b8c7d6e5f4a3b2c1d0e"
IDEMPOTENCY_KEY = re.compile(r"^threadrun-[0-9a-f]{32}$")
HOSTILE_IDS = (
    "../x", "a/b", "a?b", "a#b", "%2e%2e", " x", "", ".", "..", "\n",
    "x\n", "a\\b", "a%2Fb", "x ", "\t", "a\x00b", "a\rb", "..%2f", "run\u2028",
)  # fmt: skip
THREAD = "thread_1"




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


# ------------------------------------------------------------------------------------------
# Base classes
# ------------------------------------------------------------------------------------------


def _isolated_name(name: str) -> bool:
    upper = name.upper()
    return upper.startswith("OPENAI_") or upper.endswith("_PROXY") or upper == "REQUEST_METHOD"


class EnvTest(unittest.TestCase):
    """Runs every test with no OPENAI_* or *_proxy variable set; restores them afterwards."""

    def setUp(self) -> None:
        saved = {k: v for k, v in os.environ.items() if _isolated_name(k)}
        for name in saved:
            del os.environ[name]
        self.addCleanup(self._restore_env, saved)

    @staticmethod
    def _restore_env(saved: Dict[str, str]) -> None:
        for name in [k for k in os.environ if _isolated_name(k)]:
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


class ServerTest(EnvTest):
    """A fresh FakeRunsServer per test, and ``self.client(...)`` for clients pointed at it."""

    options: Dict[str, Any] = {}

    @classmethod
    def setUpClass(cls) -> None:
        global testing
        testing = load_testing()  # SkipTest in single-file mode only

    def setUp(self) -> None:
        super().setUp()
        self.server = self.start_server(**self.options)
        self.clock = FakeClock()

    def start_server(self, **options: Any) -> Any:
        server = testing.FakeRunsServer(**options).start()
        self.addCleanup(self.stop_server, server)
        return server

    def stop_server(self, server: Any) -> None:
        server.stop()
        self.assertEqual(server.errors, [])  # no bug inside the fake in any test

    def client(self, **kwargs: Any) -> Any:
        kwargs.setdefault("api_key", KEY)
        kwargs.setdefault("base_url", self.server.base_url)
        kwargs.setdefault("sleep", self.clock.sleep)
        kwargs.setdefault("clock", self.clock)
        client = threadrun.Client(**kwargs)
        self.addCleanup(client.close)
        return client

    def add_run(self, **kwargs: Any) -> Dict[str, Any]:
        kwargs.setdefault("statuses", ("completed",))
        return dict(self.server.add_run(kwargs.pop("thread_id", THREAD), **kwargs))

    def paths(self, server: Any = None) -> List[Tuple[str, str]]:
        return [(r.method, r.path) for r in (server or self.server).requests]

    def sent(self, server: Any = None) -> int:
        return len((server or self.server).requests)


# ------------------------------------------------------------------------------------------
# Configuration (no server needed)
# ------------------------------------------------------------------------------------------


class ConfigTest(EnvTest):
    def test_default_base_url_is_https_openai(self) -> None:
        # Configuration only: this client is never used for a request.
        client = threadrun.Client(api_key="k")
        self.assertEqual(client.base_url, "https://api.openai.com/v1")

    def test_base_url_from_env(self) -> None:
        os.environ["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"
        os.environ["OPENAI_API_KEY"] = KEY
        client = threadrun.Client()
        self.assertEqual(client.base_url, "http://127.0.0.1:9/v1")

    def test_explicit_base_url_beats_env(self) -> None:
        os.environ["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"
        client = threadrun.Client(api_key=KEY, base_url="http://127.0.0.1:10/v2")
        self.assertEqual(client.base_url, "http://127.0.0.1:10/v2")

    def test_trailing_slash_of_base_url_is_dropped(self) -> None:
        client = threadrun.Client(api_key=KEY, base_url="http://127.0.0.1:9/v1/")
        self.assertEqual(client.base_url, "http://127.0.0.1:9/v1")

    def test_missing_key_names_the_env_var(self) -> None:
        with self.raises(threadrun.OpenAIError) as cm:
            threadrun.Client(base_url="http://127.0.0.1:9/v1")
        self.assertIn("OPENAI_API_KEY", str(cm.exception))
        self.assertNotIsInstance(cm.exception, threadrun.APIError)

    def test_empty_key_in_env_counts_as_missing(self) -> None:
        os.environ["OPENAI_API_KEY"] = ""
        with self.raises(threadrun.OpenAIError) as cm:
            threadrun.Client(base_url="http://127.0.0.1:9/v1")
        self.assertIn("OPENAI_API_KEY", str(cm.exception))

    def test_key_from_env_is_enough(self) -> None:
        os.environ["OPENAI_API_KEY"] = KEY
        client = threadrun.Client(base_url="http://127.0.0.1:9/v1")
        self.assertNotIn(KEY, repr(client))

    def test_azure_style_api_key_header_needs_no_key(self) -> None:
        client = threadrun.Client(
            base_url="http://127.0.0.1:9/v1", default_headers={"api-key": AZURE_KEY}
        )
        self.assertNotIn(AZURE_KEY, repr(client))
        self.assertNotIn(AZURE_KEY, str(client))

    def test_plain_http_to_other_hosts_is_refused_at_construction(self) -> None:
        # Construction only: nothing is sent to any of these hosts.
        for url in (
            "http://example.com/v1",
            "http://api.openai.com/v1",
            "http://10.0.0.1/v1",
            "http://127.0.0.1.example.com/v1",
            "http://localhost.example.com:8080/v1",
        ):
            with self.subTest(url=url):
                with self.raises(threadrun.OpenAIError) as cm:
                    threadrun.Client(api_key=KEY, base_url=url)
                self.assertNotIsInstance(cm.exception, threadrun.APIError)

    def test_plain_http_base_url_from_env_is_refused_too(self) -> None:
        os.environ["OPENAI_BASE_URL"] = "http://example.com/v1"
        with self.raises(threadrun.OpenAIError):
            threadrun.Client(api_key=KEY)

    def test_malformed_base_urls_are_refused(self) -> None:
        for url in (
            "ftp://127.0.0.1/v1",
            "127.0.0.1:9/v1",
            "http:///v1",
            "http://user:pw@127.0.0.1:9/v1",
            "http://127.0.0.1:9/v1?api-version=1",
            "http://127.0.0.1:99999/v1",
        ):
            with self.subTest(url=url), self.raises(threadrun.OpenAIError):
                threadrun.Client(api_key=KEY, base_url=url)

    def test_plain_http_to_other_hosts_allowed_when_asked(self) -> None:
        client = threadrun.Client(
            api_key=KEY, base_url="http://example.com/v1", allow_insecure_http=True
        )
        self.assertEqual(client.base_url, "http://example.com/v1")

    def test_plain_http_to_loopback_is_allowed(self) -> None:
        for url in (
            "http://127.0.0.1:9/v1",
            "http://127.1.2.3:9/v1",
            "http://localhost:9/v1",
            "http://LOCALHOST:9/v1",
            "http://[::1]:9/v1",
        ):
            with self.subTest(url=url):
                threadrun.Client(api_key=KEY, base_url=url)

    def test_https_to_any_host_is_allowed(self) -> None:
        client = threadrun.Client(api_key=KEY, base_url="https://example.com/openai/v1")
        self.assertEqual(client.base_url, "https://example.com/openai/v1")

    def test_default_timeout_is_a_positive_number(self) -> None:
        client = threadrun.Client(api_key=KEY, base_url="http://127.0.0.1:9/v1")
        self.assertIsInstance(client.timeout, (int, float))
        self.assertGreater(client.timeout, 0)
        self.assertLess(client.timeout, float("inf"))
        self.assertEqual(client.timeout, 60.0)

    def test_bad_settings_are_refused(self) -> None:
        url = "http://127.0.0.1:9/v1"
        for kwargs in ({"timeout": 0}, {"timeout": -1}, {"max_retries": -1},
                       {"max_response_bytes": 0}):  # fmt: skip
            with self.subTest(**kwargs), self.assertRaises((TypeError, ValueError)):
                threadrun.Client(api_key=KEY, base_url=url, **kwargs)

    def test_repr_never_shows_the_key(self) -> None:
        client = threadrun.Client(
            api_key=KEY, base_url="http://127.0.0.1:9/v1", organization="org_1", project="p"
        )
        self.assertNotIn(KEY, repr(client))
        self.assertNotIn(KEY, str(client))
        self.assertIn("127.0.0.1:9", repr(client))


class NoServerTest(EnvTest):
    """Client behaviour that needs no fake server (also runs in single-file mode)."""

    def test_connection_refused_is_api_connection_error(self) -> None:
        clock = FakeClock()
        port = closed_port()
        client = threadrun.Client(
            api_key=KEY, base_url="http://127.0.0.1:%d/v1" % port, max_retries=0,
            sleep=clock.sleep, clock=clock,
        )  # fmt: skip
        self.addCleanup(client.close)
        with self.raises(threadrun.APIConnectionError) as cm:
            client.retrieve(THREAD, "run_1")
        self.assertNotIsInstance(cm.exception, threadrun.APITimeoutError)
        self.assertIsInstance(cm.exception, threadrun.APIError)
        self.assertIsInstance(cm.exception.__cause__, OSError)  # chained
        self.assertEqual(clock.sleeps, [])

    def test_connection_refused_is_retried(self) -> None:
        clock = FakeClock()
        client = threadrun.Client(
            api_key=KEY, base_url="http://127.0.0.1:%d/v1" % closed_port(), max_retries=2,
            sleep=clock.sleep, clock=clock,
        )  # fmt: skip
        self.addCleanup(client.close)
        with self.raises(threadrun.APIConnectionError):
            client.retrieve(THREAD, "run_1")
        self.assertEqual(len(clock.sleeps), 2)

    def test_bad_ids_are_refused_before_connecting(self) -> None:
        # The port is closed: reaching the network would give APIConnectionError instead.
        client = threadrun.Client(
            api_key=KEY, base_url="http://127.0.0.1:%d/v1" % closed_port(), max_retries=0
        )
        self.addCleanup(client.close)
        for bad in HOSTILE_IDS:
            with self.subTest(id=bad):
                with self.raises(threadrun.InvalidIdError):
                    client.retrieve(THREAD, bad)
                with self.raises(threadrun.InvalidIdError):
                    client.retrieve(bad, "run_1")

    def test_import_is_cheap_and_client_imports_http_client(self) -> None:
        file = os.path.abspath(threadrun.__file__)
        if os.path.basename(file) == "__init__.py":
            root = os.path.dirname(os.path.dirname(file))  # the package's parent
        else:
            root = os.path.dirname(file)  # single-file mode: the copied threadrun.py
        script = "\n".join([
            "import sys",
            "sys.path.insert(0, sys.argv[1])",
            "import threadrun",
            "print(threadrun.__file__)",
            "net = [m for m in ('http.client', 'urllib.request', 'ssl') if m in sys.modules]",
            "print('import:' + ','.join(net))",
            "threadrun.Client(api_key='k', base_url='http://127.0.0.1:9/v1')",
            "print('client:' + str('http.client' in sys.modules))",
        ])  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not _isolated_name(k)}
        proc = subprocess.run(
            [sys.executable, "-I", "-c", script, root],
            capture_output=True,
            env=env,
            cwd=root,
            timeout=60,
        )
        out = proc.stdout.decode("utf-8", "replace").split()
        self.assertEqual(proc.returncode, 0, proc.stderr.decode("utf-8", "replace"))
        self.assertEqual(os.path.abspath(out[0]), file)
        self.assertEqual(out[1], "import:", "imported at import time: %s" % out[1])
        self.assertEqual(out[2], "client:True")


class RawServer:
    """A loopback server answering every connection with canned bytes, then closing it.

    For responses the fake server never sends (no Content-Length, chunked, garbage)."""

    def __init__(self, response: bytes) -> None:
        self.response = response
        self.requests: List[bytes] = []
        self.connections = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.settimeout(0.05)
        self.port = int(self._sock.getsockname()[1])
        self.base_url = "http://127.0.0.1:%d/v1" % self.port
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(5)
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    head += chunk
                self.requests.append(head)
                try:
                    conn.sendall(self.response)
                    conn.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(5)
        self._sock.close()


def chunked(body: bytes, size: int = 1000) -> bytes:
    out = b""
    for i in range(0, len(body), size):
        piece = body[i : i + size]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    return out + b"0\r\n\r\n"


RAW_RUN = json.dumps({
    "id": "run_raw", "object": "thread.run", "created_at": 1, "thread_id": THREAD,
    "assistant_id": "asst_1", "status": "completed", "model": "gpt-4o",
}).encode()  # fmt: skip


class RawResponseTest(EnvTest):
    """Responses without a declared length, and broken ones (no fake server needed)."""

    def serve(self, response: bytes, **kwargs: Any) -> Any:
        server = RawServer(response)
        self.addCleanup(server.stop)
        self.clock = FakeClock()
        kwargs.setdefault("max_retries", 0)
        client = threadrun.Client(
            api_key=KEY, base_url=server.base_url, sleep=self.clock.sleep, clock=self.clock,
            **kwargs,
        )  # fmt: skip
        self.addCleanup(client.close)
        return server, client

    def test_chunked_run(self) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        head += b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        server, client = self.serve(head + chunked(RAW_RUN, 7))
        self.assertEqual(client.retrieve(THREAD, "run_raw").id, "run_raw")
        self.assertTrue(server.requests[0].startswith(b"GET /v1/threads/thread_1/runs/run_raw "))

    def test_close_delimited_run_then_a_new_connection(self) -> None:
        server, client = self.serve(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + RAW_RUN)
        self.assertEqual(client.retrieve(THREAD, "run_raw").status, "completed")
        self.assertEqual(client.retrieve(THREAD, "run_raw").status, "completed")
        self.assertEqual(server.connections, 2)

    def test_chunked_body_over_the_limit(self) -> None:
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        _, client = self.serve(head + chunked(b"x" * 100000), max_response_bytes=4096)
        with self.raises(threadrun.ResponseTooLargeError):
            client.retrieve(THREAD, "run_raw")

    def test_close_delimited_body_over_the_limit(self) -> None:
        response = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"x" * 100000
        _, client = self.serve(response, max_response_bytes=4096)
        with self.raises(threadrun.ResponseTooLargeError):
            client.retrieve(THREAD, "run_raw")

    def test_body_cut_short_is_connection_error_and_retried(self) -> None:
        # The server closes before sending all of its declared Content-Length: the response
        # is incomplete (a broken connection, retried), never data to parse.
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n"
        for name, response in (
            ("truncated JSON", head + RAW_RUN[:100]),
            ("complete JSON, short of the length", head + RAW_RUN),
            ("truncated chunked", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
             + chunked(RAW_RUN)[:60]),
        ):  # fmt: skip
            with self.subTest(name):
                server, client = self.serve(response, max_retries=1)
                with self.raises(threadrun.APIConnectionError) as cm:
                    client.retrieve(THREAD, "run_raw")
                self.assertIsNotNone(cm.exception.__cause__)
                self.assertEqual(server.connections, 2)
                self.assertEqual(len(self.clock.sleeps), 1)

    def test_garbage_response_is_connection_error(self) -> None:
        server, client = self.serve(b"SSH-2.0-OpenSSH_9.6\r\n\r\n", max_retries=1)
        with self.raises(threadrun.APIConnectionError) as cm:
            client.retrieve(THREAD, "run_raw")
        self.assertIsNotNone(cm.exception.__cause__)
        self.assertEqual(len(self.clock.sleeps), 1)
        self.assertEqual(server.connections, 2)


# ------------------------------------------------------------------------------------------
# Headers and configuration as the server sees them
# ------------------------------------------------------------------------------------------


class HeadersTest(ServerTest):
    options = {"api_key": KEY, "require_beta_header": True}

    def test_standard_headers_on_get(self) -> None:
        run = self.add_run()
        self.client().retrieve(THREAD, run["id"])
        (request,) = self.server.requests
        headers = request.headers
        self.assertEqual(headers.get_all("Authorization"), ["Bearer " + KEY])
        self.assertEqual(headers.get_all("OpenAI-Beta"), ["assistants=v2"])
        self.assertEqual(headers["Accept"], "application/json")
        self.assertEqual(
            headers["User-Agent"],
            "threadrun/%s Python/%d.%d" % (threadrun.__version__, *sys.version_info[:2]),
        )
        self.assertEqual(request.body, b"")
        self.assertIsNone(headers["Idempotency-Key"])
        self.assertIsNone(headers["OpenAI-Organization"])
        self.assertIsNone(headers["OpenAI-Project"])

    def test_content_type_and_json_body_on_post(self) -> None:
        self.client().create(THREAD, "asst_1")
        (request,) = self.server.requests
        self.assertEqual(request.method, "POST")
        self.assertEqual(request.headers["Content-Type"], "application/json")
        self.assertEqual(request.headers["Accept"], "application/json")
        self.assertEqual(request.json, {"assistant_id": "asst_1"})
        self.assertEqual(int(request.headers["Content-Length"]), len(request.body))

    def test_env_defaults_reach_the_server(self) -> None:
        os.environ["OPENAI_API_KEY"] = KEY
        os.environ["OPENAI_BASE_URL"] = self.server.base_url
        os.environ["OPENAI_ORG_ID"] = "org-env"
        os.environ["OPENAI_PROJECT_ID"] = "proj_env"
        client = threadrun.Client(sleep=self.clock.sleep, clock=self.clock)
        self.addCleanup(client.close)
        self.assertEqual(client.base_url, self.server.base_url)
        run = self.add_run()
        self.assertEqual(client.retrieve(THREAD, run["id"]).id, run["id"])
        headers = self.server.requests[-1].headers
        self.assertEqual(headers["Authorization"], "Bearer " + KEY)
        self.assertEqual(headers["OpenAI-Organization"], "org-env")
        self.assertEqual(headers["OpenAI-Project"], "proj_env")

    def test_explicit_organization_and_project_beat_env(self) -> None:
        os.environ["OPENAI_ORG_ID"] = "org-env"
        os.environ["OPENAI_PROJECT_ID"] = "proj_env"
        run = self.add_run()
        self.client(organization="org-arg", project="proj_arg").retrieve(THREAD, run["id"])
        headers = self.server.requests[-1].headers
        self.assertEqual(headers.get_all("OpenAI-Organization"), ["org-arg"])
        self.assertEqual(headers.get_all("OpenAI-Project"), ["proj_arg"])

    def test_wrong_key_is_authentication_error_not_retried(self) -> None:
        run = self.add_run()
        client = self.client(api_key="sk-wrong-key-000000000000")
        with self.raises(threadrun.AuthenticationError) as cm:
            client.retrieve(THREAD, run["id"])
        self.assertEqual(cm.exception.status_code, 401)
        self.assertEqual(cm.exception.code, "invalid_api_key")
        self.assertEqual(self.sent(), 1)
        self.assertEqual(self.clock.sleeps, [])


class AzureStyleTest(ServerTest):
    """A compatible server that authenticates with an ``api-key`` header and wants
    ``?api-version=`` on every request."""

    def azure_client(self, **kwargs: Any) -> Any:
        return self.client(
            api_key=None,
            default_headers={"api-key": AZURE_KEY},
            default_query={"api-version": "2024-05-01-preview"},
            **kwargs,
        )

    def test_works_without_a_key_and_sends_no_authorization(self) -> None:
        client = self.azure_client()
        run = self.add_run(statuses=("queued", "requires_action"))
        client.retrieve(THREAD, run["id"])
        created = client.create(THREAD, "asst_1", metadata={"k": "v"})
        client.update(THREAD, created.id, {"k": "w"})
        client.cancel(THREAD, created.id)
        self.assertEqual(len(list(client.list(THREAD))), 2)
        self.assertEqual(self.sent(), 5)
        for request in self.server.requests:
            with self.subTest(method=request.method, path=request.path):
                self.assertIsNone(request.headers["Authorization"])
                self.assertEqual(request.headers.get_all("api-key"), [AZURE_KEY])
                self.assertEqual(request.query.get("api-version"), ["2024-05-01-preview"])
                self.assertEqual(request.headers["OpenAI-Beta"], "assistants=v2")

    def test_default_query_on_every_page_with_the_list_query(self) -> None:
        for i in range(3):
            self.add_run(id="run_%d" % i)
        client = self.azure_client()
        ids = [r.id for r in client.list(THREAD, limit=1, order="asc")]
        self.assertEqual(ids, ["run_0", "run_1", "run_2"])
        self.assertEqual(self.sent(), 3)
        for request in self.server.requests:
            self.assertEqual(request.query["api-version"], ["2024-05-01-preview"])
            self.assertEqual(request.query["limit"], ["1"])
            self.assertEqual(request.query["order"], ["asc"])

    def test_default_query_with_a_key_too(self) -> None:
        run = self.add_run()
        self.client(default_query={"api-version": "v"}).retrieve(THREAD, run["id"])
        (request,) = self.server.requests
        self.assertEqual(request.query, {"api-version": ["v"]})
        self.assertEqual(request.path, "/v1/threads/%s/runs/%s" % (THREAD, run["id"]))

    def test_default_headers_replace_the_client_headers_case_insensitively(self) -> None:
        self.server.require_beta_header = False
        run = self.add_run()
        client = self.client(
            default_headers={"openai-beta": "assistants=v1", "authorization": "Bearer " + KEY,
                             "user-agent": "mine/1"},
        )  # fmt: skip
        client.retrieve(THREAD, run["id"])
        headers = self.server.requests[-1].headers
        self.assertEqual(headers.get_all("OpenAI-Beta"), ["assistants=v1"])
        self.assertEqual(headers.get_all("Authorization"), ["Bearer " + KEY])
        self.assertEqual(headers.get_all("User-Agent"), ["mine/1"])

    def test_custom_default_header_is_sent(self) -> None:
        run = self.add_run()
        self.client(default_headers={"X-Custom": "yes"}).retrieve(THREAD, run["id"])
        headers = self.server.requests[-1].headers
        self.assertEqual(headers["X-Custom"], "yes")
        self.assertEqual(headers["Authorization"], "Bearer " + KEY)


# ------------------------------------------------------------------------------------------
# Every method
# ------------------------------------------------------------------------------------------


class MethodsTest(ServerTest):
    def test_retrieve(self) -> None:
        run = self.add_run(metadata={"a": "b"}, custom_field={"x": [1, 2]})
        got = self.client().retrieve(THREAD, run["id"])
        self.assertIsInstance(got, threadrun.ThreadRun)
        self.assertEqual(got.to_dict(), self.server.get_run(run["id"]))
        self.assertEqual(got.metadata, {"a": "b"})
        self.assertEqual(got.extra["custom_field"], {"x": [1, 2]})
        self.assertEqual(self.paths(), [("GET", "/v1/threads/%s/runs/%s" % (THREAD, run["id"]))])

    def test_create_passes_params_through(self) -> None:
        params = {
            "model": "gpt-4o-mini",
            "instructions": "Be brief.",
            "additional_instructions": "Really brief.",
            "tools": [{"type": "code_interpreter"}],
            "metadata": {"user": "u1"},
            "temperature": 0.5,
            "top_p": 0.9,
            "max_completion_tokens": 100,
            "tool_choice": "auto",
            "parallel_tool_calls": False,
            "response_format": {"type": "json_object"},
        }
        run = self.client().create("thread_new", "asst_42", **params)
        (request,) = self.server.requests
        self.assertEqual(request.method, "POST")
        self.assertEqual(request.path, "/v1/threads/thread_new/runs")
        self.assertEqual(request.json, dict(params, assistant_id="asst_42"))
        self.assertEqual(run.assistant_id, "asst_42")
        self.assertEqual(run.thread_id, "thread_new")
        self.assertEqual(run.status, "queued")
        self.assertEqual(run.model, "gpt-4o-mini")
        self.assertEqual(run.instructions, "Be brief.")
        self.assertEqual(run.metadata, {"user": "u1"})
        self.assertEqual(run.tools, [{"type": "code_interpreter"}])
        self.assertEqual(run.extra["temperature"], 0.5)
        self.assertEqual(run.extra["parallel_tool_calls"], False)
        self.assertEqual(run.to_dict(), self.server.get_run(run.id))

    def test_create_include_goes_to_the_query(self) -> None:
        include = ["step_details.tool_calls[*].file_search.results[*].content"]
        self.client().create(THREAD, "asst_1", include=include)
        (request,) = self.server.requests
        self.assertEqual(request.query, {"include[]": include})
        self.assertEqual(request.json, {"assistant_id": "asst_1"})

    def test_create_stream_is_refused_without_a_request(self) -> None:
        with self.assertRaises(ValueError):
            self.client().create(THREAD, "asst_1", stream=True)
        self.assertEqual(self.sent(), 0)

    def test_update_metadata(self) -> None:
        run = self.add_run(metadata={"old": "1"})
        got = self.client().update(THREAD, run["id"], {"new": "2", "k": "v"})
        (request,) = self.server.requests
        self.assertEqual(request.method, "POST")
        self.assertEqual(request.path, "/v1/threads/%s/runs/%s" % (THREAD, run["id"]))
        self.assertEqual(request.json, {"metadata": {"new": "2", "k": "v"}})
        self.assertEqual(got.metadata, {"new": "2", "k": "v"})
        self.assertEqual(self.server.get_run(run["id"])["metadata"], {"new": "2", "k": "v"})

    def test_cancel(self) -> None:
        run = self.add_run(statuses=("queued", "in_progress", "completed"))
        client = self.client()
        got = client.cancel(THREAD, run["id"])
        (request,) = self.server.requests
        self.assertEqual(request.method, "POST")
        self.assertEqual(request.path, "/v1/threads/%s/runs/%s/cancel" % (THREAD, run["id"]))
        self.assertIn(request.body, (b"", b"{}"))
        self.assertEqual(got.status, "cancelling")
        self.assertEqual(client.retrieve(THREAD, run["id"]).status, "cancelled")

    def test_submit_tool_outputs(self) -> None:
        run = self.add_run(statuses=("requires_action",), tool_calls=[("a", "{}"), ("b", "{}")])
        client = self.client()
        calls = client.retrieve(THREAD, run["id"]).tool_calls
        self.assertEqual([c.name for c in calls], ["a", "b"])
        outputs = [{"tool_call_id": c.id, "output": "out-" + c.name} for c in calls]
        got = client.submit_tool_outputs(THREAD, run["id"], outputs)
        request = self.server.requests[-1]
        self.assertEqual(request.method, "POST")
        self.assertEqual(
            request.path, "/v1/threads/%s/runs/%s/submit_tool_outputs" % (THREAD, run["id"])
        )
        self.assertEqual(request.json, {"tool_outputs": outputs})
        self.assertEqual(got.status, "in_progress")
        self.assertEqual(got.tool_calls, ())

    def test_submit_tool_outputs_rejects_bad_items_without_a_request(self) -> None:
        run = self.add_run(statuses=("requires_action",))
        for bad in ([{"output": "x"}], [{"tool_call_id": 1, "output": "x"}], ["call_1"]):
            with self.subTest(outputs=bad), self.assertRaises((TypeError, ValueError)):
                self.client().submit_tool_outputs(THREAD, run["id"], bad)
        self.assertEqual(self.sent(), 0)

    def test_server_side_validation_error_is_bad_request(self) -> None:
        with self.raises(threadrun.BadRequestError) as cm:
            self.client().create(THREAD, "asst_1", temperature=5)
        error = cm.exception
        self.assertEqual(error.status_code, 400)
        self.assertEqual(error.param, "temperature")
        self.assertEqual(error.code, "invalid_value")
        self.assertEqual(error.type, "invalid_request_error")
        self.assertEqual(self.sent(), 1)


class ListTest(ServerTest):
    def setUp(self) -> None:
        super().setUp()
        self.ids = ["run_p%d" % i for i in range(5)]
        for run_id in self.ids:
            self.add_run(id=run_id)

    def test_list_is_lazy(self) -> None:
        client = self.client()
        runs = client.list(THREAD)
        self.assertEqual(self.sent(), 0)
        self.assertEqual([r.id for r in runs], self.ids[::-1])  # desc by default
        self.assertEqual(self.sent(), 1)
        self.assertEqual(self.paths(), [("GET", "/v1/threads/%s/runs" % THREAD)])

    def test_list_checks_the_thread_id_eagerly(self) -> None:
        with self.raises(threadrun.InvalidIdError):
            self.client().list("a/b")
        self.assertEqual(self.sent(), 0)

    def test_follows_has_more_and_last_id(self) -> None:
        runs = list(self.client().list(THREAD, limit=2, order="asc"))
        self.assertTrue(all(isinstance(r, threadrun.ThreadRun) for r in runs))
        self.assertEqual([r.id for r in runs], self.ids)
        requests = self.server.requests
        self.assertEqual(len(requests), 3)
        self.assertEqual([r.query.get("after") for r in requests],
                         [None, ["run_p1"], ["run_p3"]])  # fmt: skip
        self.assertEqual([r.query.get("limit") for r in requests], [["2"]] * 3)
        self.assertEqual([r.query.get("order") for r in requests], [["asc"]] * 3)

    def test_pages_are_fetched_only_as_needed(self) -> None:
        runs = self.client().list(THREAD, limit=2, order="desc")
        first_two = list(itertools.islice(runs, 2))
        self.assertEqual([r.id for r in first_two], ["run_p4", "run_p3"])
        self.assertEqual(self.sent(), 1)
        self.assertEqual(next(runs).id, "run_p2")
        self.assertEqual(self.sent(), 2)
        self.assertEqual(self.server.requests[-1].query["after"], ["run_p3"])

    def test_after_and_before(self) -> None:
        client = self.client()
        got = [r.id for r in client.list(THREAD, order="asc", after="run_p1")]
        self.assertEqual(got, ["run_p2", "run_p3", "run_p4"])
        self.assertEqual(self.server.requests[0].query["after"], ["run_p1"])
        got = [r.id for r in client.list(THREAD, order="asc", before="run_p3", limit=10)]
        self.assertEqual(got, ["run_p0", "run_p1", "run_p2"])
        self.assertEqual(self.server.requests[-1].query["before"], ["run_p3"])

    def test_exact_page_and_empty_thread(self) -> None:
        client = self.client()
        self.assertEqual(len(list(client.list(THREAD, limit=5))), 5)
        self.assertEqual(self.sent(), 1)
        self.server.add_thread("thread_empty")
        self.assertEqual(list(client.list("thread_empty")), [])
        self.assertEqual(self.sent(), 2)

    def test_unknown_thread_is_not_found_when_iterated(self) -> None:
        runs = self.client().list("thread_nope")
        with self.raises(threadrun.NotFoundError):
            list(runs)

    def test_a_cursor_that_does_not_advance_ends_the_listing(self) -> None:
        # A broken server (or proxy) answering every page with has_more and the same
        # last_id must not make list() request the same page for ever.
        run = self.server.get_run("run_p0")
        page = {"object": "list", "data": [run], "has_more": True,
                "first_id": "run_p0", "last_id": "run_p0"}  # fmt: skip
        self.server.invalid_next(json.dumps(page).encode(), count=20)
        try:
            list(itertools.islice(self.client().list(THREAD), 10))
        except (threadrun.ThreadRunError, threadrun.APIError):
            pass
        self.assertLessEqual(self.sent(), 2)

    def test_a_cursor_cycle_ends_the_listing(self) -> None:
        # The same with two pages pointing back at each other: A -> B -> A -> ...
        pages = []
        for run_id in ("run_p0", "run_p1"):
            run = self.server.get_run(run_id)
            pages.append({"object": "list", "data": [run], "has_more": True,
                          "first_id": run_id, "last_id": run_id})  # fmt: skip
        for i in range(12):
            self.server.invalid_next(json.dumps(pages[i % 2]).encode())
        try:
            list(itertools.islice(self.client().list(THREAD), 10))
        except (threadrun.ThreadRunError, threadrun.APIError):
            pass
        self.assertLessEqual(self.sent(), 3)

    def test_invalid_run_in_a_page_is_thread_run_error_with_request_id(self) -> None:
        page = {"object": "list", "data": [{"id": "run_x"}], "has_more": False,
                "first_id": "run_x", "last_id": "run_x"}  # fmt: skip
        self.server.invalid_next(
            json.dumps(page).encode(), headers={"x-request-id": "req_page_bad"}
        )
        with self.assertRaises(threadrun.ThreadRunError) as cm:
            list(self.client().list(THREAD))
        self.assertEqual(cm.exception.request_id, "req_page_bad")


class PollTest(ServerTest):
    def test_stops_at_requires_action_using_poll_after_header(self) -> None:
        run = self.add_run(statuses=("queued", "queued", "in_progress", "in_progress",
                                     "requires_action"))  # fmt: skip
        seen: List[str] = []
        got = self.client().poll(THREAD, run["id"], on_run=lambda r: seen.append(r.status))
        self.assertEqual(got.status, "requires_action")
        self.assertEqual(len(got.tool_calls), 1)
        self.assertEqual(seen, ["queued", "in_progress", "in_progress", "requires_action"])
        self.assertEqual(self.clock.sleeps, [0.005] * 3)  # openai-poll-after-ms: 5
        self.assertEqual(self.sent(), 4)

    def test_stops_at_terminal(self) -> None:
        for final in ("completed", "failed", "cancelled", "expired", "incomplete"):
            with self.subTest(status=final):
                run = self.add_run(statuses=("queued", "in_progress", final))
                before = self.sent()
                got = self.client().poll(THREAD, run["id"])
                self.assertEqual(got.status, final)
                self.assertTrue(got.is_terminal)
                self.assertEqual(self.sent() - before, 2)

    def test_already_terminal_run_needs_one_request_and_no_sleep(self) -> None:
        run = self.add_run(statuses=("completed",))
        self.assertEqual(self.client().poll(THREAD, run["id"]).status, "completed")
        self.assertEqual(self.sent(), 1)
        self.assertEqual(self.clock.sleeps, [])

    def test_poll_after_header_value_is_used(self) -> None:
        self.server.poll_after_ms = 250
        run = self.add_run(statuses=("queued", "queued", "in_progress", "completed"))
        self.client().poll(THREAD, run["id"])
        self.assertEqual(self.clock.sleeps, [0.25, 0.25])

    def test_one_second_default_without_the_header(self) -> None:
        self.server.poll_after_ms = None
        run = self.add_run(statuses=("queued", "queued", "in_progress", "completed"))
        got = self.client().poll(THREAD, run["id"])
        self.assertEqual(got.status, "completed")
        self.assertEqual(self.clock.sleeps, [1.0, 1.0])

    def test_interval_overrides_the_header(self) -> None:
        run = self.add_run(statuses=("queued", "queued", "in_progress", "completed"))
        self.client().poll(THREAD, run["id"], interval=0.3)
        self.assertEqual(self.clock.sleeps, [0.3, 0.3])

    def test_timeout_raises_with_the_last_run(self) -> None:
        run = self.add_run(statuses=("queued",))  # never moves on
        seen: List[Any] = []
        with self.raises(threadrun.PollTimeoutError) as cm:
            self.client().poll(THREAD, run["id"], interval=1.0, timeout=3.0, on_run=seen.append)
        error = cm.exception
        self.assertIsInstance(error, threadrun.APIError)
        self.assertIsInstance(error, TimeoutError)
        self.assertIsInstance(error.run, threadrun.ThreadRun)
        self.assertEqual(error.run.id, run["id"])
        self.assertEqual(error.run.status, "queued")
        self.assertIs(error.run, seen[-1])
        self.assertEqual(self.clock.sleeps, [1.0, 1.0, 1.0])
        self.assertEqual(self.sent(), 4)  # at 0, 1, 2 and 3 s: the last one at the deadline

    def test_timeout_never_sleeps_past_the_deadline(self) -> None:
        run = self.add_run(statuses=("queued",))
        with self.raises(threadrun.PollTimeoutError):
            self.client().poll(THREAD, run["id"], interval=2.0, timeout=3.0)
        self.assertEqual(self.clock.sleeps, [2.0, 1.0])
        self.assertEqual(self.clock.elapsed, 3.0)

    def test_create_and_poll(self) -> None:
        seen: List[str] = []
        got = self.client().create_and_poll(
            THREAD, "asst_1", model="gpt-4o-mini", metadata={"k": "v"},
            poll_interval=0.5, on_run=lambda r: seen.append(r.status),
        )  # fmt: skip
        self.assertEqual(got.status, "completed")
        self.assertEqual(got.model, "gpt-4o-mini")
        self.assertEqual(seen, ["in_progress", "completed"])
        self.assertEqual(self.clock.sleeps, [0.5])
        post = self.server.requests[0]
        self.assertEqual(post.method, "POST")
        self.assertEqual(post.json, {"assistant_id": "asst_1", "model": "gpt-4o-mini",
                                     "metadata": {"k": "v"}})  # fmt: skip
        self.assertEqual([m for m, _ in self.paths()], ["POST", "GET", "GET"])

    def test_create_and_poll_timeout(self) -> None:
        self.server.default_statuses = ("queued",)
        with self.raises(threadrun.PollTimeoutError) as cm:
            self.client().create_and_poll(THREAD, "asst_1", poll_interval=1, poll_timeout=2)
        self.assertEqual(cm.exception.run.status, "queued")
        self.assertEqual(self.clock.elapsed, 2.0)

    def test_submit_tool_outputs_and_poll(self) -> None:
        run = self.add_run(
            statuses=("requires_action",), after_tool_outputs=("queued", "in_progress", "completed")
        )
        client = self.client()
        calls = client.retrieve(THREAD, run["id"]).tool_calls
        seen: List[str] = []
        got = client.submit_tool_outputs_and_poll(
            THREAD, run["id"], [{"tool_call_id": calls[0].id, "output": "72F"}],
            poll_interval=0.25, on_run=lambda r: seen.append(r.status),
        )  # fmt: skip
        self.assertEqual(got.status, "completed")
        self.assertEqual(seen, ["in_progress", "completed"])
        self.assertEqual(self.clock.sleeps, [0.25])
        submit = self.server.requests[1]
        self.assertEqual(submit.json, {"tool_outputs": [{"tool_call_id": calls[0].id,
                                                         "output": "72F"}]})  # fmt: skip

    def test_on_run_error_propagates_and_stops_polling(self) -> None:
        run = self.add_run(statuses=("queued", "in_progress", "completed"))

        def boom(_: Any) -> None:
            raise KeyError("stop")

        with self.assertRaises(KeyError):
            self.client().poll(THREAD, run["id"], on_run=boom)
        self.assertEqual(self.sent(), 1)


# ------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------


class ErrorsTest(ServerTest):
    def test_not_found_carries_message_type_request_id_and_body(self) -> None:
        self.server.add_thread(THREAD)
        self.server.inject(testing.Fault(headers={"x-request-id": "req_not_found_42"}))
        with self.raises(threadrun.NotFoundError) as cm:
            self.client().retrieve(THREAD, "run_missing")
        error = cm.exception
        self.assertIsInstance(error, threadrun.APIStatusError)
        self.assertIsInstance(error, threadrun.APIError)
        self.assertIsInstance(error, threadrun.OpenAIError)
        self.assertEqual(error.status_code, 404)
        self.assertEqual(error.request_id, "req_not_found_42")
        self.assertEqual(error.type, "invalid_request_error")
        self.assertIn("No run found with id 'run_missing'.", error.message)
        self.assertIn("404", str(error))
        self.assertIn("No run found with id 'run_missing'.", str(error))
        self.assertEqual(error.body, {"error": {"message": "No run found with id 'run_missing'.",
                                                "type": "invalid_request_error", "param": None,
                                                "code": None}})  # fmt: skip
        self.assertEqual(error.headers.get("x-request-id"), "req_not_found_42")
        self.assertEqual(self.sent(), 1)

    def test_errors_survive_pickling(self) -> None:
        self.server.fail_next(429, headers={"x-request-id": "req_pickle"})
        with self.raises(threadrun.RateLimitError) as cm:
            self.client(max_retries=0).retrieve(THREAD, self.add_run()["id"])
        copy = pickle.loads(pickle.dumps(cm.exception))
        self.assertIs(type(copy), threadrun.RateLimitError)
        for attr in ("message", "status_code", "request_id", "body", "type", "code", "param"):
            self.assertEqual(getattr(copy, attr), getattr(cm.exception, attr), attr)
        self.assertEqual(str(copy), str(cm.exception))
        run = self.add_run(statuses=("queued",))
        with self.raises(threadrun.PollTimeoutError) as poll:
            self.client().poll(THREAD, run["id"], interval=1, timeout=1)
        copy = pickle.loads(pickle.dumps(poll.exception))
        self.assertEqual(copy.run, poll.exception.run)
        self.assertEqual(str(copy), str(poll.exception))

    def test_server_generated_request_id_is_kept(self) -> None:
        with self.raises(threadrun.NotFoundError) as cm:
            self.client().retrieve("thread_unknown", "run_1")
        self.assertRegex(cm.exception.request_id, REQUEST_ID)
        self.assertIn("No thread found", str(cm.exception))

    def test_statuses_map_to_classes(self) -> None:
        table = {
            400: threadrun.BadRequestError,
            401: threadrun.AuthenticationError,
            403: threadrun.PermissionDeniedError,
            404: threadrun.NotFoundError,
            409: threadrun.ConflictError,
            422: threadrun.UnprocessableEntityError,
            429: threadrun.RateLimitError,
            500: threadrun.InternalServerError,
            502: threadrun.InternalServerError,
            503: threadrun.InternalServerError,
            504: threadrun.InternalServerError,
            418: threadrun.APIStatusError,
        }
        run = self.add_run()
        client = self.client(max_retries=0)
        for status, cls in table.items():
            with self.subTest(status=status):
                before = self.sent()
                self.server.fail_next(status)
                with self.raises(threadrun.APIStatusError) as cm:
                    client.retrieve(THREAD, run["id"])
                self.assertIs(type(cm.exception), cls)
                self.assertEqual(cm.exception.status_code, status)
                self.assertRegex(cm.exception.request_id, REQUEST_ID)
                self.assertIn(str(status), str(cm.exception))
                self.assertEqual(self.sent() - before, 1)
        self.assertEqual(self.clock.sleeps, [])
        # and the client still works afterwards, on whatever connection it has
        self.assertEqual(client.retrieve(THREAD, run["id"]).id, run["id"])

    def test_rate_limit_body_details(self) -> None:
        self.server.fail_next(429)
        with self.raises(threadrun.RateLimitError) as cm:
            self.client(max_retries=0).retrieve(THREAD, self.add_run()["id"])
        self.assertEqual(cm.exception.code, "rate_limit_exceeded")
        self.assertEqual(cm.exception.type, "requests")
        self.assertIn("Rate limit reached", str(cm.exception))

    def test_html_error_page(self) -> None:
        page = (b"<html><head><title>502 Bad Gateway</title></head><body>"
                b"<center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center>"
                b"</body></html>")  # fmt: skip
        self.server.invalid_next(page, status=502, headers={"Content-Type": "text/html"})
        with self.raises(threadrun.APIStatusError) as cm:
            self.client(max_retries=0).retrieve(THREAD, self.add_run()["id"])
        error = cm.exception
        self.assertIsInstance(error, threadrun.InternalServerError)
        self.assertEqual(error.status_code, 502)
        self.assertIn("502", str(error))
        self.assertIn("Bad Gateway", str(error))
        self.assertIsNone(error.type)
        self.assertIsNone(error.code)

    def test_empty_error_body(self) -> None:
        self.server.invalid_next(b"", status=403)
        with self.raises(threadrun.PermissionDeniedError) as cm:
            self.client(max_retries=0).retrieve(THREAD, self.add_run()["id"])
        self.assertIn("403", str(cm.exception))

    def test_invalid_run_in_200_is_thread_run_error_with_request_id(self) -> None:
        run = self.add_run()
        client = self.client()
        bodies = (
            b'{"object": "thread.run", "id": "run_1"}',  # missing keys
            b'{"id": "run_1", "object": "thread.run", "created_at": "yesterday",'
            b' "thread_id": "t", "assistant_id": "a", "status": "queued", "model": "m"}',
            b'{"id": "run_',  # truncated JSON
            b"<html>hello</html>",
            b"[]",
        )
        for i, body in enumerate(bodies):
            with self.subTest(body=body):
                self.server.invalid_next(body, headers={"x-request-id": "req_bad_%d" % i})
                with self.assertRaises(threadrun.ThreadRunError) as cm:
                    client.retrieve(THREAD, run["id"])
                self.assertEqual(cm.exception.request_id, "req_bad_%d" % i)
                self.assertIsInstance(cm.exception, ValueError)
        self.assertEqual(self.sent(), len(bodies))  # not retried
        self.assertEqual(client.retrieve(THREAD, run["id"]).id, run["id"])

    def test_slow_server_is_timeout_error(self) -> None:
        run = self.add_run()
        client = self.client(timeout=0.2, max_retries=0)
        self.server.delay_next(2.0)
        started = time.monotonic()
        with self.raises(threadrun.APITimeoutError) as cm:
            client.retrieve(THREAD, run["id"])
        self.assertLess(time.monotonic() - started, 1.5)
        self.assertIsInstance(cm.exception, threadrun.APIConnectionError)
        self.assertIsInstance(cm.exception.__cause__, OSError)  # socket.timeout, chained
        self.assertEqual(self.sent(), 1)

    def test_a_late_answer_is_never_taken_for_the_next_one(self) -> None:
        self.add_run(id="run_slow")
        self.add_run(id="run_fast")
        client = self.client(timeout=0.2, max_retries=0)
        client.retrieve(THREAD, "run_fast")  # a kept-alive connection is open
        self.server.delay_next(0.35, path="/v1/threads/%s/runs/run_slow" % THREAD)
        with self.raises(threadrun.APITimeoutError):
            client.retrieve(THREAD, "run_slow")
        self.assertEqual(self.sent(), 2)  # a timeout is not a stale connection: no resend
        time.sleep(0.25)  # the late answer for run_slow is sent by now
        self.assertEqual(client.retrieve(THREAD, "run_fast").id, "run_fast")
        self.assertEqual(client.retrieve(THREAD, "run_slow").id, "run_slow")

    def test_timeout_is_retried(self) -> None:
        run = self.add_run()
        client = self.client(timeout=0.2, max_retries=1)
        self.server.delay_next(2.0)
        self.assertEqual(client.retrieve(THREAD, run["id"]).id, run["id"])
        self.assertEqual(self.sent(), 2)
        self.assertEqual(len(self.clock.sleeps), 1)

    def test_dropped_connection_on_a_fresh_connection_is_connection_error(self) -> None:
        run = self.add_run()
        self.server.drop_next()
        with self.raises(threadrun.APIConnectionError) as cm:
            self.client(max_retries=0).retrieve(THREAD, run["id"])
        self.assertNotIsInstance(cm.exception, threadrun.APITimeoutError)
        self.assertIsNotNone(cm.exception.__cause__)

    def test_server_gone_is_connection_error(self) -> None:
        run = self.add_run()
        client = self.client(max_retries=1)
        client.retrieve(THREAD, run["id"])
        self.server.stop()
        with self.raises(threadrun.APIConnectionError) as cm:
            client.retrieve(THREAD, run["id"])
        self.assertIsNotNone(cm.exception.__cause__)
        self.assertEqual(len(self.clock.sleeps), 1)


# ------------------------------------------------------------------------------------------
# Retries
# ------------------------------------------------------------------------------------------


class RetryTest(ServerTest):
    def setUp(self) -> None:
        super().setUp()
        self.run_id = self.add_run()["id"]

    def retrieve(self, **kwargs: Any) -> Any:
        return self.client(**kwargs).retrieve(THREAD, self.run_id)

    def test_503_then_success(self) -> None:
        self.server.fail_next(503)
        self.assertEqual(self.retrieve().id, self.run_id)
        self.assertEqual(self.sent(), 2)
        self.assertEqual(len(self.clock.sleeps), 1)

    def test_max_retries_is_respected(self) -> None:
        for retries in (0, 1, 3):
            with self.subTest(max_retries=retries):
                self.server.clear()
                self.clock.sleeps.clear()
                run_id = self.add_run()["id"]
                self.server.fail_next(503, count=10)
                with self.raises(threadrun.InternalServerError):
                    self.client(max_retries=retries).retrieve(THREAD, run_id)
                self.assertEqual(self.sent(), retries + 1)
                self.assertEqual(len(self.clock.sleeps), retries)

    def test_default_max_retries_is_two(self) -> None:
        self.server.fail_next(500, count=10)
        with self.raises(threadrun.InternalServerError):
            self.retrieve()
        self.assertEqual(self.sent(), 3)

    def test_retried_statuses(self) -> None:
        client = self.client(max_retries=1)
        for status in (408, 409, 429, 500, 502, 503, 504, 529):
            with self.subTest(status=status):
                before = self.sent()
                self.server.fail_next(status)
                self.assertEqual(client.retrieve(THREAD, self.run_id).id, self.run_id)
                self.assertEqual(self.sent() - before, 2)

    def test_not_retried_statuses(self) -> None:
        client = self.client(max_retries=3)
        for status in (400, 401, 403, 404, 422):
            with self.subTest(status=status):
                before = self.sent()
                self.server.fail_next(status)
                with self.raises(threadrun.APIStatusError):
                    client.retrieve(THREAD, self.run_id)
                self.assertEqual(self.sent() - before, 1)
        self.assertEqual(self.clock.sleeps, [])

    def test_retry_after_seconds_is_honoured_exactly(self) -> None:
        self.server.fail_next(429, headers={"Retry-After": "3"})
        self.retrieve()
        self.assertEqual(self.clock.sleeps, [3.0])

    def test_retry_after_ms_is_honoured(self) -> None:
        self.server.fail_next(503, headers={"retry-after-ms": "250"})
        self.retrieve()
        self.assertEqual(self.clock.sleeps, [0.25])

    def test_retry_after_ms_wins_over_retry_after(self) -> None:
        self.server.fail_next(503, headers={"retry-after-ms": "1500", "Retry-After": "7"})
        self.retrieve()
        self.assertEqual(self.clock.sleeps, [1.5])

    def test_retry_after_http_date(self) -> None:
        when = email.utils.formatdate(time.time() + 5, usegmt=True)
        self.server.fail_next(503, headers={"Retry-After": when})
        self.retrieve()
        (delay,) = self.clock.sleeps
        self.assertGreaterEqual(delay, 3.0)
        self.assertLessEqual(delay, 5.0)

    def test_absurd_retry_after_falls_back_to_backoff(self) -> None:
        for value in ("3600", "-1", "soon", "nan"):
            with self.subTest(retry_after=value):
                self.clock.sleeps.clear()
                self.server.fail_next(503, headers={"Retry-After": value})
                self.retrieve()
                (delay,) = self.clock.sleeps
                self.assertGreaterEqual(delay, 0.375)
                self.assertLessEqual(delay, 0.5)

    def test_x_should_retry_true_retries_a_400(self) -> None:
        self.server.fail_next(400, headers={"x-should-retry": "true"})
        self.assertEqual(self.retrieve().id, self.run_id)
        self.assertEqual(self.sent(), 2)
        self.assertEqual(len(self.clock.sleeps), 1)

    def test_x_should_retry_false_stops_a_503(self) -> None:
        self.server.fail_next(503, headers={"x-should-retry": "false"})
        with self.raises(threadrun.InternalServerError):
            self.retrieve()
        self.assertEqual(self.sent(), 1)
        self.assertEqual(self.clock.sleeps, [])

    def test_backoff_delays_with_jitter(self) -> None:
        client = self.client(max_retries=2)
        firsts, seconds = [], []
        for _ in range(20):
            self.clock.sleeps.clear()
            self.server.fail_next(503, count=2)
            client.retrieve(THREAD, self.run_id)
            first, second = self.clock.sleeps
            self.assertGreaterEqual(first, 0.375)
            self.assertLessEqual(first, 0.5)
            self.assertGreaterEqual(second, 0.75)
            self.assertLessEqual(second, 1.0)
            firsts.append(first)
            seconds.append(second)
        self.assertGreater(len(set(firsts)), 1, "no jitter")
        self.assertGreater(len(set(seconds)), 1, "no jitter")

    def test_backoff_is_capped(self) -> None:
        self.server.fail_next(503, count=9)
        with self.raises(threadrun.InternalServerError):
            self.retrieve(max_retries=8)
        self.assertEqual(len(self.clock.sleeps), 8)
        self.assertTrue(all(0 < d <= 8.0 for d in self.clock.sleeps), self.clock.sleeps)
        self.assertGreaterEqual(self.clock.sleeps[-1], 6.0)

    def test_idempotency_key_on_post_identical_across_retries(self) -> None:
        client = self.client()
        self.server.fail_next(503, count=2)
        client.create(THREAD, "asst_1", metadata={"n": "1"})
        client.create(THREAD, "asst_1", metadata={"n": "2"})
        posts = [r for r in self.server.requests if r.method == "POST"]
        self.assertEqual(len(posts), 4)
        keys = [r.headers["Idempotency-Key"] for r in posts]
        for key in keys:
            self.assertRegex(key, IDEMPOTENCY_KEY)
        self.assertEqual(keys[0], keys[1])
        self.assertEqual(keys[1], keys[2])
        self.assertNotEqual(keys[2], keys[3])  # a new request, a new key
        self.assertEqual(posts[0].body, posts[2].body)
        self.assertEqual(len(self.clock.sleeps), 2)

    def test_idempotency_key_on_every_post_method(self) -> None:
        client = self.client()
        run = self.add_run(statuses=("queued", "requires_action"))
        client.update(THREAD, run["id"], {"a": "b"})
        client.cancel(THREAD, run["id"])
        other = self.add_run(statuses=("requires_action",))
        call = client.retrieve(THREAD, other["id"]).tool_calls[0]
        client.submit_tool_outputs(THREAD, other["id"], [{"tool_call_id": call.id, "output": ""}])
        for request in self.server.requests:
            with self.subTest(method=request.method, path=request.path):
                if request.method == "POST":
                    self.assertRegex(request.headers["Idempotency-Key"], IDEMPOTENCY_KEY)
                else:
                    self.assertIsNone(request.headers["Idempotency-Key"])

    def test_no_idempotency_key_on_get(self) -> None:
        self.server.fail_next(503)
        self.retrieve()
        list(self.client().list(THREAD))
        for request in self.server.requests:
            self.assertEqual(request.method, "GET")
            self.assertIsNone(request.headers["Idempotency-Key"])

    def test_dropped_connection_is_retried(self) -> None:
        self.server.drop_next()
        self.assertEqual(self.retrieve(max_retries=1).id, self.run_id)
        self.assertEqual(self.sent(), 2)

    def test_dropped_connections_give_up_after_max_retries(self) -> None:
        self.server.drop_next(count=10)
        with self.raises(threadrun.APIConnectionError):
            self.retrieve(max_retries=2)
        self.assertEqual(len(self.clock.sleeps), 2)
        self.assertLessEqual(self.sent(), 4)  # at most one extra, "stale connection" resend

    def test_dropped_post_is_retried_with_the_same_key(self) -> None:
        self.server.drop_next(method="POST")
        run = self.client().create(THREAD, "asst_1")
        posts = [r for r in self.server.requests if r.method == "POST"]
        self.assertEqual(len(posts), 2)
        self.assertEqual(posts[0].headers["Idempotency-Key"], posts[1].headers["Idempotency-Key"])
        self.assertEqual(run.assistant_id, "asst_1")


# ------------------------------------------------------------------------------------------
# Security: redirects, ids, size cap, secrets
# ------------------------------------------------------------------------------------------


class RedirectTest(ServerTest):
    def setUp(self) -> None:
        super().setUp()
        self.other = self.start_server()  # another port: another origin
        self.run_id = self.add_run()["id"]
        self.other.add_run(THREAD, id=self.run_id, statuses=("completed",))
        self.path = "/v1/threads/%s/runs/%s" % (THREAD, self.run_id)

    def test_redirect_to_another_origin_is_not_followed(self) -> None:
        for status in (301, 302, 303, 307, 308):
            with self.subTest(status=status):
                before = self.sent()
                self.server.redirect_next(self.other.url + self.path, status=status)
                with self.raises(threadrun.APIStatusError) as cm:
                    self.client().retrieve(THREAD, self.run_id)
                self.assertEqual(cm.exception.status_code, status)
                self.assertEqual(self.sent() - before, 1)  # not retried either
        self.assertEqual(self.other.requests, [])
        self.assertEqual(self.other.connections_opened, 0)
        self.assertEqual(self.clock.sleeps, [])

    def test_post_redirect_to_another_origin_is_not_followed(self) -> None:
        self.server.redirect_next(self.other.base_url + "/threads/%s/runs" % THREAD, status=307)
        with self.raises(threadrun.APIStatusError):
            self.client().create(THREAD, "asst_1")
        self.assertEqual(self.other.connections_opened, 0)
        self.assertEqual(self.other.requests, [])

    def test_same_machine_other_name_or_scheme_is_another_origin(self) -> None:
        for location in (
            "http://localhost:%d%s" % (self.other.port, self.path),
            "https://127.0.0.1:%d%s" % (self.server.port, self.path),
            "//127.0.0.1:%d%s" % (self.other.port, self.path),
        ):
            with self.subTest(location=location):
                self.server.redirect_next(location)
                with self.raises(threadrun.APIStatusError) as cm:
                    self.client().retrieve(THREAD, self.run_id)
                self.assertEqual(cm.exception.status_code, 307)
        self.assertEqual(self.other.connections_opened, 0)

    def test_same_origin_redirect_is_followed(self) -> None:
        self.server.redirect_next(self.server.url + self.path, path="/v1/threads/t/runs/old")
        got = self.client().retrieve("t", "old")
        self.assertEqual(got.id, self.run_id)
        self.assertEqual(
            self.paths(), [("GET", "/v1/threads/t/runs/old"), ("GET", self.path)]
        )
        self.assertEqual(self.server.requests[1].headers["Authorization"], "Bearer " + KEY)
        self.assertEqual(self.other.connections_opened, 0)

    def test_relative_same_origin_redirect_is_followed(self) -> None:
        self.server.redirect_next(self.path, status=308)
        self.assertEqual(self.client().retrieve(THREAD, "moved").id, self.run_id)
        self.assertEqual(self.paths()[-1], ("GET", self.path))

    def test_same_origin_307_keeps_post_and_body(self) -> None:
        self.server.redirect_next("/v1/threads/thread_2/runs", status=307, method="POST")
        run = self.client().create(THREAD, "asst_1", metadata={"k": "v"})
        self.assertEqual(run.thread_id, "thread_2")
        first, second = self.server.requests
        self.assertEqual((second.method, second.path), ("POST", "/v1/threads/thread_2/runs"))
        self.assertEqual(second.json, {"assistant_id": "asst_1", "metadata": {"k": "v"}})
        self.assertEqual(second.headers["Idempotency-Key"], first.headers["Idempotency-Key"])

    def test_same_origin_303_after_post_becomes_a_get(self) -> None:
        self.server.redirect_next(self.path, status=303, method="POST")
        run = self.client().create(THREAD, "asst_1", metadata={"k": "v"})
        self.assertEqual(run.id, self.run_id)
        first, second = self.server.requests
        self.assertEqual((first.method, second.method), ("POST", "GET"))
        self.assertEqual(second.path, self.path)
        self.assertEqual(second.body, b"")
        self.assertIsNone(second.headers["Content-Type"])
        self.assertEqual(second.headers["Authorization"], "Bearer " + KEY)

    def test_redirect_loop_ends(self) -> None:
        self.server.redirect_next(self.path, count=50)
        with self.raises(threadrun.APIStatusError):
            self.client(max_retries=0).retrieve(THREAD, self.run_id)
        self.assertLess(self.sent(), 50)


class IdTest(ServerTest):
    def test_hostile_ids_are_refused_and_nothing_is_sent(self) -> None:
        client = self.client()
        run = self.add_run(statuses=("requires_action",))
        outputs = [{"tool_call_id": "call_1", "output": "x"}]
        calls: List[Tuple[str, Callable[..., Any], Callable[[str], Tuple[Any, ...]]]] = [
            ("retrieve run", client.retrieve, lambda bad: (THREAD, bad)),
            ("retrieve thread", client.retrieve, lambda bad: (bad, run["id"])),
            ("create", client.create, lambda bad: (bad, "asst_1")),
            ("update", client.update, lambda bad: (THREAD, bad, {"a": "b"})),
            ("cancel", client.cancel, lambda bad: (THREAD, bad)),
            ("cancel thread", client.cancel, lambda bad: (bad, run["id"])),
            ("submit", client.submit_tool_outputs, lambda bad: (THREAD, bad, outputs)),
            ("list", lambda *a: list(client.list(*a)), lambda bad: (bad,)),
            ("poll", client.poll, lambda bad: (THREAD, bad)),
            ("create_and_poll", client.create_and_poll, lambda bad: (bad, "asst_1")),
            ("submit_and_poll", client.submit_tool_outputs_and_poll,
             lambda bad: (bad, run["id"], outputs)),
        ]  # fmt: skip
        for bad in HOSTILE_IDS:
            for name, method, args in calls:
                with self.subTest(id=bad, method=name):
                    with self.raises(threadrun.InvalidIdError) as cm:
                        method(*args(bad))
                    self.assertIsInstance(cm.exception, threadrun.OpenAIError)
                    self.assertIsInstance(cm.exception, ValueError)
        self.assertEqual(self.server.requests, [])

    def test_non_string_ids_are_refused(self) -> None:
        client = self.client()
        for bad in (None, 123, b"run_1", ["run_1"]):
            with self.subTest(id=bad), self.assertRaises((TypeError, ValueError)):
                client.retrieve(THREAD, bad)
        self.assertEqual(self.server.requests, [])

    def test_unusual_but_legitimate_ids_are_percent_encoded(self) -> None:
        client = self.client()
        for run_id, encoded in (
            ("run:1", "run%3A1"),
            ("run+1", "run%2B1"),
            ("run@x", "run%40x"),
            ("r\u00fcn", "r%C3%BCn"),
            ("run;1=2", "run%3B1%3D2"),
            ("run_abc-DEF.9~", "run_abc-DEF.9~"),
        ):
            with self.subTest(id=run_id):
                self.add_run(id=run_id)
                got = client.retrieve(THREAD, run_id)
                self.assertEqual(got.id, run_id)
                self.assertEqual(
                    self.server.requests[-1].path, "/v1/threads/%s/runs/%s" % (THREAD, encoded)
                )

    def test_thread_id_is_percent_encoded_too(self) -> None:
        self.client().create("thread:1", "asst_1")
        self.assertEqual(self.server.requests[-1].path, "/v1/threads/thread%3A1/runs")


class SizeTest(ServerTest):
    def test_oversized_response_is_refused_then_client_works_again(self) -> None:
        run = self.add_run()
        client = self.client(max_response_bytes=4096)
        self.assertEqual(client.max_response_bytes, 4096)
        self.server.oversized_next(100000)
        with self.raises(threadrun.ResponseTooLargeError) as cm:
            client.retrieve(THREAD, run["id"])
        self.assertIsInstance(cm.exception, threadrun.APIError)
        self.assertEqual(self.sent(), 1)  # not retried
        self.assertEqual(self.clock.sleeps, [])
        self.assertEqual(client.retrieve(THREAD, run["id"]).id, run["id"])
        self.assertEqual(self.sent(), 2)

    def test_limit_is_inclusive(self) -> None:
        run = self.add_run()
        client = self.client(max_response_bytes=4096)
        self.server.oversized_next(4096)
        got = client.retrieve(THREAD, run["id"])
        self.assertEqual(got.id, run["id"])
        self.assertGreater(len(got.to_json()), 3000)
        self.assertIn("x_padding", got.extra)
        self.server.oversized_next(4097)
        with self.raises(threadrun.ResponseTooLargeError):
            client.retrieve(THREAD, run["id"])

    def test_oversized_error_body_is_refused_too(self) -> None:
        self.server.invalid_next(b'{"error": {"message": "' + b"x" * 10000 + b'"}}', status=400)
        with self.raises(threadrun.ResponseTooLargeError):
            self.client(max_response_bytes=4096).retrieve(THREAD, "run_1")

    @requires_tracemalloc
    def test_reading_a_small_body_does_not_allocate_the_limit(self) -> None:
        # The cap bounds what is read; it must not be the size of a buffer allocated for every
        # response (http.client's read(amt) on 3.7-3.9 allocates bytearray(amt) up front).
        run = self.add_run()
        client = self.client(max_response_bytes=64 * 1024 * 1024)
        client.retrieve(THREAD, run["id"])  # warm: connection open, modules imported
        tracemalloc.start()
        try:
            client.retrieve(THREAD, run["id"])
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        self.assertLess(peak, 4 * 1024 * 1024, "peak %d bytes for a ~2 KB response" % peak)

    def test_default_limit_is_8_mib(self) -> None:
        self.assertEqual(self.client().max_response_bytes, 8 * 1024 * 1024)


class SecretTest(ServerTest):
    def echo_body(self, secret: str) -> Dict[str, Any]:
        return {"error": {"message": "Incorrect API key provided: %s. Bye." % secret,
                          "type": "invalid_request_error", "param": None,
                          "code": "invalid_api_key"}}  # fmt: skip

    def test_401_echoing_the_key_is_scrubbed(self) -> None:
        self.server.fail_next(401, body=self.echo_body(KEY))
        with self.raises(threadrun.AuthenticationError) as cm:
            self.client().retrieve(THREAD, "run_1")
        self.assertIn("Incorrect API key provided", str(cm.exception))

    def test_html_401_echoing_the_key_is_scrubbed(self) -> None:
        page = ("<html><body>Bad key %s, Authorization: Bearer %s</body></html>" % (KEY, KEY))
        self.server.invalid_next(page.encode(), status=401, headers={"Content-Type": "text/html"})
        with self.raises(threadrun.AuthenticationError):
            self.client().retrieve(THREAD, "run_1")

    def test_500_echoing_the_key_is_scrubbed(self) -> None:
        self.server.fail_next(500, count=3, body=self.echo_body(KEY))
        with self.raises(threadrun.InternalServerError):
            self.client().retrieve(THREAD, "run_1")

    def test_azure_key_echo_is_scrubbed(self) -> None:
        self.server.fail_next(401, body=self.echo_body(AZURE_KEY))
        client = self.client(api_key=None, default_headers={"api-key": AZURE_KEY})
        with self.raises(threadrun.AuthenticationError):
            client.retrieve(THREAD, "run_1")

    def test_key_with_control_characters_never_leaks_nor_injects(self) -> None:
        # A key read from a file often ends with a newline. Whatever happens (stripped, or
        # refused at construction or at the call), no error may show the key, and no header
        # may be smuggled in.
        run = self.add_run()
        cases = [
            {"api_key": KEY + "\n"},
            {"api_key": KEY + "\r\nX-Injected: 1"},
            {"api_key": None, "default_headers": {"api-key": AZURE_KEY + "\n"}},
        ]
        for index, kwargs in enumerate(cases):
            with self.subTest(case=index):
                try:
                    self.client(**kwargs).retrieve(THREAD, run["id"])
                except Exception as exc:
                    self.assertNoSecret(exc)
        for request in self.server.requests:
            self.assertIsNone(request.headers["X-Injected"])
            self.assertIn(request.headers["Authorization"], (None, "Bearer " + KEY))

    def test_key_from_env_with_a_trailing_newline_never_leaks(self) -> None:
        os.environ["OPENAI_API_KEY"] = KEY + "\n"
        run = self.add_run()
        try:
            self.client(api_key=None).retrieve(THREAD, run["id"])
        except Exception as exc:
            self.assertNoSecret(exc)

    def test_key_not_in_repr_of_a_used_client(self) -> None:
        client = self.client()
        client.retrieve(THREAD, self.add_run()["id"])
        self.assertNotIn(KEY, repr(client))
        self.assertNotIn(KEY, str(client))

    def test_key_is_never_sent_to_another_origin(self) -> None:
        other = self.start_server()
        self.server.redirect_next(other.base_url + "/threads/t/runs/r")
        with self.raises(threadrun.APIStatusError):
            self.client().retrieve("t", "r")
        self.assertEqual(other.requests, [])
        self.assertEqual(other.connections_opened, 0)


# ------------------------------------------------------------------------------------------
# Connections
# ------------------------------------------------------------------------------------------


class KeepAliveTest(ServerTest):
    def test_fifty_calls_one_connection(self) -> None:
        run = self.add_run()
        client = self.client()
        for _ in range(50):
            self.assertEqual(client.retrieve(THREAD, run["id"]).id, run["id"])
        self.assertEqual(self.server.connections_opened, 1)
        self.assertEqual(len({r.connection_id for r in self.server.requests}), 1)
        self.assertEqual(self.sent(), 50)

    def test_mixed_methods_share_the_connection(self) -> None:
        client = self.client()
        run = client.create(THREAD, "asst_1")
        client.retrieve(THREAD, run.id)
        client.update(THREAD, run.id, {"a": "b"})
        list(client.list(THREAD))
        client.cancel(THREAD, client.create(THREAD, "asst_1").id)
        self.assertEqual(self.server.connections_opened, 1)

    def test_error_responses_keep_the_connection(self) -> None:
        run = self.add_run()
        client = self.client(max_retries=0)
        for status in (404, 400, 503):
            self.server.fail_next(status)
            with self.raises(threadrun.APIStatusError):
                client.retrieve(THREAD, run["id"])
        client.retrieve(THREAD, run["id"])
        self.assertEqual(self.server.connections_opened, 1)

    def test_server_closing_idle_connection_is_transparent(self) -> None:
        run = self.add_run()
        self.server.close_idle_after(0.05)
        client = self.client(max_retries=0)  # the resend is not a counted retry
        client.retrieve(THREAD, run["id"])
        time.sleep(0.1)
        self.assertEqual(client.retrieve(THREAD, run["id"]).id, run["id"])
        self.assertEqual(self.server.connections_opened, 2)
        first, second = self.server.requests
        self.assertNotEqual(first.connection_id, second.connection_id)
        self.assertEqual(self.clock.sleeps, [])

    def test_server_closing_idle_connection_before_a_post(self) -> None:
        self.server.close_idle_after(0.05)
        client = self.client(max_retries=0)
        client.create(THREAD, "asst_1")
        time.sleep(0.1)
        client.create(THREAD, "asst_1")
        self.assertEqual([r.method for r in self.server.requests], ["POST", "POST"])
        self.assertEqual(self.server.connections_opened, 2)

    def test_server_closing_all_connections_is_transparent(self) -> None:
        run = self.add_run()
        client = self.client(max_retries=0)
        client.retrieve(THREAD, run["id"])
        self.server.close_connections()
        time.sleep(0.05)
        self.assertEqual(client.retrieve(THREAD, run["id"]).id, run["id"])
        self.assertEqual(self.server.connections_opened, 2)

    def test_keep_alive_false_server(self) -> None:
        self.server.keep_alive = False
        run = self.add_run()
        client = self.client(max_retries=0)
        for _ in range(5):
            self.assertEqual(client.retrieve(THREAD, run["id"]).id, run["id"])
        self.assertEqual(self.server.connections_opened, 5)
        self.assertEqual(self.clock.sleeps, [])

    def test_close_then_call_opens_a_new_connection(self) -> None:
        run = self.add_run()
        client = self.client()
        client.retrieve(THREAD, run["id"])
        client.close()
        client.close()  # idempotent
        self.assertEqual(client.retrieve(THREAD, run["id"]).id, run["id"])
        self.assertEqual(self.server.connections_opened, 2)

    def test_context_manager_closes(self) -> None:
        run = self.add_run()
        with self.client() as client:
            self.assertEqual(client.retrieve(THREAD, run["id"]).id, run["id"])
            self.assertEqual(self.server.open_connections, 1)
        deadline = time.monotonic() + 2.0
        while self.server.open_connections and time.monotonic() < deadline:
            time.sleep(0.005)
        self.assertEqual(self.server.open_connections, 0)


class ThreadsTest(ServerTest):
    def test_four_threads_share_one_client(self) -> None:
        runs = [self.add_run(id="run_t%d" % i)["id"] for i in range(4)]
        client = self.client()
        results: Dict[int, List[str]] = {}
        errors: List[BaseException] = []

        def work(index: int) -> None:
            try:
                results[index] = [client.retrieve(THREAD, runs[index]).id for _ in range(20)]
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        self.assertEqual(errors, [])
        self.assertEqual(results, {i: [runs[i]] * 20 for i in range(4)})
        self.assertEqual(self.sent(), 80)
        self.assertEqual(self.server.connections_opened, 1)


# ------------------------------------------------------------------------------------------
# Proxy
# ------------------------------------------------------------------------------------------

_HOP_BY_HOP = frozenset((
    "connection", "keep-alive", "proxy-authorization", "proxy-connection", "te", "trailer",
    "transfer-encoding", "upgrade", "content-length",
))  # fmt: skip


class _ProxyServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    proxy: LoopbackProxy

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), which may send a DNS query: bind
        # without it, so that nothing leaves loopback.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


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

    def _reply(self, status: int, headers: List[Tuple[str, str]], data: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class LoopbackProxy:
    """A forward HTTP proxy on 127.0.0.1 that records absolute-form request lines and
    forwards only to one loopback port."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.lines: List[str] = []
        self.proxy_auth: List[Optional[str]] = []
        self._lock = threading.Lock()
        self._httpd = _ProxyServer(("127.0.0.1", 0), _ProxyHandler, bind_and_activate=False)
        self._httpd.proxy = self
        self._httpd.server_bind()
        self._httpd.server_activate()
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


class ProxyTest(ServerTest):
    def setUp(self) -> None:
        super().setUp()
        self.proxy = LoopbackProxy(self.server.port)
        self.addCleanup(self.proxy.stop)
        self.run_id = self.add_run()["id"]
        self.path = "/v1/threads/%s/runs/%s" % (THREAD, self.run_id)

    def test_http_proxy_is_used(self) -> None:
        for name in ("HTTP_PROXY", "http_proxy"):
            with self.subTest(variable=name):
                for var in [k for k in os.environ if _isolated_name(k)]:
                    del os.environ[var]
                os.environ[name] = "http://127.0.0.1:%d" % self.proxy.port
                before_lines, before_sent = len(self.proxy.lines), self.sent()
                client = self.client(default_query={"api-version": "1"})
                self.assertEqual(client.retrieve(THREAD, self.run_id).id, self.run_id)
                client.close()
                self.assertEqual(
                    self.proxy.lines[before_lines:],
                    ["GET http://127.0.0.1:%d%s?api-version=1 HTTP/1.1"
                     % (self.server.port, self.path)],
                )  # fmt: skip
                self.assertEqual(self.sent() - before_sent, 1)  # forwarded
                self.assertEqual(self.server.requests[-1].headers["Authorization"], "Bearer " + KEY)

    def test_post_through_the_proxy(self) -> None:
        os.environ["HTTP_PROXY"] = "http://127.0.0.1:%d" % self.proxy.port
        run = self.client().create(THREAD, "asst_1", metadata={"via": "proxy"})
        self.assertEqual(run.metadata, {"via": "proxy"})
        self.assertEqual(
            self.proxy.lines,
            ["POST http://127.0.0.1:%d/v1/threads/%s/runs HTTP/1.1" % (self.server.port, THREAD)],
        )

    def test_proxy_credentials_are_sent_to_the_proxy(self) -> None:
        os.environ["HTTP_PROXY"] = "http://user:p%%40ss@127.0.0.1:%d" % self.proxy.port
        self.client().retrieve(THREAD, self.run_id)
        self.assertEqual(len(self.proxy.lines), 1)
        self.assertEqual(self.proxy.proxy_auth, ["Basic dXNlcjpwQHNz"])  # user:p@ss
        self.assertIsNone(self.server.requests[-1].headers["Proxy-Authorization"])

    def test_no_proxy_goes_direct(self) -> None:
        for no_proxy in ("127.0.0.1", "localhost,127.0.0.1", "*"):
            with self.subTest(no_proxy=no_proxy):
                os.environ["HTTP_PROXY"] = "http://127.0.0.1:%d" % self.proxy.port
                os.environ["NO_PROXY"] = no_proxy
                before = self.sent()
                client = self.client()
                self.assertEqual(client.retrieve(THREAD, self.run_id).id, self.run_id)
                client.close()
                self.assertEqual(self.proxy.lines, [])
                self.assertEqual(self.sent() - before, 1)
                self.assertEqual(self.server.requests[-1].target, self.path)

    def test_unreachable_proxy_is_connection_error_without_its_credentials(self) -> None:
        os.environ["HTTP_PROXY"] = "http://user:proxysecret@127.0.0.1:%d" % closed_port()
        with self.raises(threadrun.APIConnectionError) as cm:
            self.client(max_retries=0).retrieve(THREAD, self.run_id)
        for error in errors_in_chain(cm.exception):
            self.assertNotIn("proxysecret", str(error))
        self.assertEqual(self.sent(), 0)

    def test_https_proxy_is_not_used_for_http(self) -> None:
        os.environ["HTTPS_PROXY"] = "http://127.0.0.1:%d" % self.proxy.port
        self.client().retrieve(THREAD, self.run_id)
        self.assertEqual(self.proxy.lines, [])
        self.assertEqual(self.sent(), 1)


if __name__ == "__main__":
    unittest.main()
