"""The documentation's examples run as written: every ```python block of README.md and of
docs/*.md is a test.

Each block runs in a namespace of its own, with ``OPENAI_BASE_URL``/``OPENAI_API_KEY`` (and
``AZURE_OPENAI_API_KEY``) pointing at a running ``threadrun.testing.FakeRunsServer`` that
requires that key, no proxy variables, and a fence that refuses to resolve any host but
loopback (no packet may leave the machine, whatever a block says). The ``test_`` functions a
block defines are called. The Lambda handler block is called with a fake Lambda context with
3 s, 30 s and 900 s left.

A block that cannot run as it stands carries a marker on the line before its fence, an HTML
comment (invisible on the rendered page, plain in the source):

- ``<!-- not run: REASON -->``: skipped, for the reason given (e.g. a block of pseudo-output);
- ``<!-- given: NAME, ... -->``: the block uses names the prose describes as the reader's
  (``body``: the JSON of a run); the test provides them, from ``GIVEN`` below;
- ``<!-- script: ... -->``: lines for the top of a script, run as a script (``__file__``) in a
  real subprocess with ``python -I`` next to a copied ``threadrun.py``.

An unmarked block that fails fails this test; an unknown marker is an error.
"""

from __future__ import annotations

import contextlib
import glob
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional

from tests import DATA_DIR, load_testing, threadrun

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(REPO, "README.md")
DOCS = [README, *sorted(glob.glob(os.path.join(REPO, "docs", "*.md")))]
KEY = "sk-readme-test-0123456789"

with open(os.path.join(DATA_DIR, "06-requires_action.json"), "rb") as _fh:
    GIVEN: Dict[str, Any] = {"body": _fh.read()}  # a run that requires action, as served

MARKER = re.compile(r"^<!--\s*(?P<kind>[a-z ]+):\s*(?P<note>.*?)\s*-->$")
KINDS = ("not run", "given", "script")


class Block(NamedTuple):
    line: int  # of the opening fence, 1-based
    code: str
    kind: Optional[str]  # the marker's kind, None when unmarked
    note: str
    path: str = "README.md"  # the file, relative to the repository


def blocks(text: str, path: str = "README.md") -> List[Block]:
    """The ```python blocks of a Markdown text (the file ``path``), with the marker on the line
    before each."""
    found: List[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = lines[i].strip()
        if not fence.startswith("```"):
            i += 1
            continue
        end = i + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if fence == "```python":
            before = lines[i - 1].strip() if i else ""
            kind, note = None, ""
            if before.startswith("<!--"):
                marker = MARKER.match(before)
                if marker is None or marker.group("kind") not in KINDS:
                    raise ValueError("%s:%d: unknown marker %r" % (path, i, before))
                kind, note = marker.group("kind"), marker.group("note")
                if not note:
                    raise ValueError("%s:%d: the marker %r says nothing" % (path, i, before))
            found.append(Block(i + 1, "\n".join(lines[i + 1 : end]) + "\n", kind, note, path))
        i = end + 1
    return found


def run_block(block: Block, globals_: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Run an unmarked or ``given`` block in a namespace of its own (plus ``globals_``), then
    the ``test_`` functions it defines; returns the namespace, with what the block printed
    as ``__stdout__``."""
    namespace: Dict[str, Any] = {"__name__": "readme_block_%d" % block.line}
    if block.kind == "given":
        for name in re.split(r"[,\s]+", block.note):
            if name not in GIVEN:
                where = "%s:%d" % (block.path, block.line)
                raise AssertionError("%s: nothing is given as %r" % (where, name))
            namespace[name] = GIVEN[name]
    namespace.update(globals_ or {})
    code = compile(block.code, "%s:%d" % (block.path, block.line), "exec")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(code, namespace)
        for name, value in list(namespace.items()):
            if name.startswith("test_") and callable(value):
                value()
    namespace["__stdout__"] = printed.getvalue()
    return namespace


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """Refuse to resolve any host but loopback: a block can never reach the network."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "::1", "localhost", b"127.0.0.1"):
            raise OSError("test_readme: %r is not loopback, refused" % (host,))
        return real(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.getaddrinfo = real


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """os.environ with ``values`` set and the proxy and OPENAI_* variables removed."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name.startswith("OPENAI_"):
            del os.environ[name]
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class FakeLambdaContext:
    """The part of AWS Lambda's context object the README uses: time left, as it runs out."""

    def __init__(self, seconds_left: float) -> None:
        self.deadline = time.monotonic() + seconds_left

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def all_blocks() -> List[Block]:
    """The blocks of README.md, then of each page of docs/, in the order of their names."""
    found: List[Block] = []
    for path in DOCS:
        with open(path, encoding="utf-8") as fh:
            found.extend(blocks(fh.read(), os.path.relpath(path, REPO)))
    return found


BLOCKS = all_blocks()


class ReadmeTest(unittest.TestCase):
    """Against a fake server, as a reader following the README would run the examples."""

    @classmethod
    def setUpClass(cls) -> None:
        testing = load_testing()
        cls.server = testing.FakeRunsServer(api_key=KEY)
        cls.server.start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()

    def setUp(self) -> None:
        self.server.clear()
        stack = contextlib.ExitStack()
        self.addCleanup(stack.close)
        stack.enter_context(loopback_only())
        stack.enter_context(
            environment(
                OPENAI_BASE_URL=self.server.base_url,
                OPENAI_API_KEY=KEY,
                AZURE_OPENAI_API_KEY="azure-readme-test",
            )
        )

    def tearDown(self) -> None:
        self.assertEqual(self.server.errors, [])

    def run_block(self, block: Block) -> Dict[str, Any]:
        namespace = run_block(block)
        for value in namespace.values():
            if isinstance(value, threadrun.Client):
                self.addCleanup(value.close)  # a client made once per container, as on Lambda
        return namespace

    def test_every_python_block_runs_or_is_marked(self) -> None:
        for block in BLOCKS:
            with self.subTest(path=block.path, line=block.line, kind=block.kind):
                if block.kind in ("not run", "script"):
                    continue  # skipped for its reason / run by test_copy_in_script_*
                self.run_block(block)
        self.assertGreaterEqual(len(BLOCKS), 6)  # the parser still finds the blocks

    def test_every_page_of_docs_is_read(self) -> None:
        pages = {os.path.relpath(path, REPO) for path in DOCS}
        self.assertIn(os.path.join("docs", "client.md"), pages)
        with_python = {block.path for block in BLOCKS}
        for page in ("README.md", "docs/client.md", "docs/streaming.md", "docs/testing.md"):
            self.assertIn(os.path.normpath(page), with_python)

    def test_blocks_reach_the_fake_server(self) -> None:
        for block in BLOCKS:
            # Client's blocks (docs/async.md's AsyncClient() ones post too, uncounted here)
            if block.kind is None and re.search(r"\bClient\(\)", block.code):
                self.run_block(block)
        posts = [r for r in self.server.requests if r.method == "POST"]
        # The first example's create_thread and create_and_poll, docs/client.md's
        # create_and_poll, and docs/streaming.md's stream.
        self.assertEqual(len(posts), 4)
        for post in posts:
            self.assertEqual(post.headers["Authorization"], "Bearer " + KEY)

    def test_the_first_example_asks_answers_a_tool_call_and_prints_the_answer(self) -> None:
        first = BLOCKS[0]
        self.assertIn("create_thread", first.code)
        self.assertLessEqual(len(first.code.strip().splitlines()), 16)
        self.server.default_statuses = ("queued", "in_progress", "requires_action")
        self.addCleanup(setattr, self.server, "default_statuses",
                        ("queued", "in_progress", "completed"))  # fmt: skip
        printed = self.run_block(first)["__stdout__"]
        self.assertEqual(printed, self.server.default_message + "\n")
        [thread] = [r for r in self.server.requests if r.path == "/v1/threads"]
        self.assertEqual(thread.json["messages"][0]["content"], "Weather in Paris?")
        [submit] = [r for r in self.server.requests if r.path.endswith("/submit_tool_outputs")]
        self.assertEqual(submit.json["tool_outputs"][0]["output"], "21 degrees, sunny")

    def lambda_handler(self) -> Callable[[Any, Any], Any]:
        [block] = [b for b in BLOCKS if "def handler(event, context):" in b.code]
        handler: Callable[[Any, Any], Any] = self.run_block(block)["handler"]
        return handler

    def run_lambda(self, seconds_left: float) -> Any:
        handler = self.lambda_handler()
        statuses = ("queued", "in_progress", "requires_action")
        run = self.server.add_run("thread_lambda", statuses=statuses)
        event = {"thread_id": "thread_lambda", "run_id": run["id"]}
        return handler(event, FakeLambdaContext(seconds_left))

    def test_lambda_handler_with_900_s_left(self) -> None:
        result = self.run_lambda(900)
        self.assertEqual((result["status"], result["run"]["status"]), ("completed", "completed"))
        self.assertEqual(result["answer"], self.server.default_message)
        [submit] = [r for r in self.server.requests if r.path.endswith("/submit_tool_outputs")]
        self.assertEqual(submit.json["tool_outputs"][0]["output"], "21 degrees, sunny")

    def test_lambda_handler_with_30_s_left(self) -> None:
        result = self.run_lambda(30)
        self.assertEqual(result["status"], "completed")

    def test_lambda_handler_with_3_s_left(self) -> None:
        # Lambda's default timeout: two seconds of polling are enough for the fake's run.
        result = self.run_lambda(3)
        self.assertEqual((result["status"], result["run"]["status"]), ("completed", "completed"))

    def test_lambda_handler_with_less_than_its_margin_left(self) -> None:
        # Less than the handler's one-second margin: the run is checked once, and the
        # handler hands it over to the next invocation instead of failing.
        result = self.run_lambda(0.5)
        self.assertEqual((result["status"], result["run"]["status"]), ("pending", "in_progress"))
        self.assertEqual(len([r for r in self.server.requests if r.method == "GET"]), 1)


class ReadmeMarkersTest(unittest.TestCase):
    """The rules of this file: what runs, what is skipped, what fails."""

    def test_an_unmarked_failing_block_fails(self) -> None:
        [block] = blocks("text\n\n```python\nraise KeyError('x')\n```\n")
        self.assertIsNone(block.kind)
        with self.assertRaises(KeyError):
            run_block(block)
        [block] = blocks("```python\ndef test_it():\n    assert 1 == 2\n```\n")
        with self.assertRaises(AssertionError):
            run_block(block)

    def test_markers(self) -> None:
        text = (
            "<!-- not run: pseudo-output -->\n```python\n>>> 1\n```\n"
            "<!-- given: body -->\n```python\nassert body\n```\n"
            "```\nnot python\n```\n```console\n$ x\n```\n"
        )
        skipped, given = blocks(text)
        self.assertEqual((skipped.kind, skipped.note), ("not run", "pseudo-output"))
        self.assertEqual(skipped.line, 2)
        self.assertEqual(given.kind, "given")
        run_block(given)
        for bad in ("<!-- skip: x -->", "<!-- not run: -->", "<!-- not run x -->"):
            with self.subTest(bad), self.assertRaises(ValueError):
                blocks(bad + "\n```python\npass\n```\n")
        with self.assertRaises(AssertionError):
            run_block(blocks("<!-- given: nothing_such -->\n```python\npass\n```\n")[0])

    def test_a_block_runs_in_its_own_namespace(self) -> None:
        first, second = blocks("```python\nx = 1\n```\n```python\nx\n```\n")
        self.assertEqual(run_block(first)["x"], 1)
        with self.assertRaises(NameError):
            run_block(second)


class CopyInScriptTest(unittest.TestCase):
    """``python -I`` leaves the script's folder off sys.path; the README's lines put it back.

    Real subprocesses of this interpreter, in a temporary folder holding the script and a copy
    of threadrun/__init__.py as threadrun.py, started from another working directory."""

    def setUp(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="threadrun-readme-")
        self.addCleanup(shutil.rmtree, self.folder)
        shutil.copy(os.path.join(REPO, "threadrun", "__init__.py"), self.folder + "/threadrun.py")

    def run_script(self, source: str, *flags: str) -> subprocess.CompletedProcess[bytes]:
        script = os.path.join(self.folder, "app.py")
        with open(script, "w", encoding="utf-8") as fh:
            fh.write(source + "print(threadrun.__file__)\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        return subprocess.run(
            [sys.executable, *flags, script],
            cwd=tempfile.gettempdir(),
            env=env,
            capture_output=True,
            timeout=60,
        )

    def test_copy_in_script_under_python_isolated(self) -> None:
        [block] = [b for b in BLOCKS if b.kind == "script"]
        plain = self.run_script("import threadrun\n")
        self.assertEqual(plain.returncode, 0, plain.stderr)  # the script's folder is on sys.path
        isolated = self.run_script("import threadrun\n", "-I")
        self.assertNotEqual(isolated.returncode, 0)
        self.assertIn(b"No module named 'threadrun'", isolated.stderr)
        fixed = self.run_script(block.code, "-I")
        self.assertEqual(fixed.returncode, 0, fixed.stderr)
        self.assertEqual(
            os.path.realpath(fixed.stdout.decode().strip()),
            os.path.realpath(os.path.join(self.folder, "threadrun.py")),
        )


if __name__ == "__main__":
    unittest.main()
