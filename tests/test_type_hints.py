"""Specification: the annotations of threadrun, threadrun.archive and threadrun.aio resolve.

``typing.get_type_hints`` works on every public class, function and method, on every
supported Python, with typing's own objects as results; importing threadrun, ``dir()`` and
``vars()`` of it import nothing; the module is a plain module. For a type checker,
AsyncClient's endpoints are awaited (``await client.retrieve(...)`` is a ThreadRun), its
lists are async iterators and its streams async context managers: ``mypy --strict`` accepts
a program using them so and rejects one that forgets an ``await``.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import typing
import unittest
from typing import Any, Dict, Iterator, List, Optional, Tuple

from tests import SINGLE_FILE, corpus, threadrun

ThreadRun = threadrun.ThreadRun

MODULE_DIR = os.path.dirname(os.path.abspath(threadrun.__file__))
if os.path.basename(threadrun.__file__).startswith("__init__."):
    MODULE_DIR = os.path.dirname(MODULE_DIR)  # the package's parent, not the package

# What get_type_hints gives for ThreadRun: an evaluated Any reads as object (see the README).
HINTS = {
    "id": str, "object": str, "created_at": int, "thread_id": str, "assistant_id": str,
    "status": str, "required_action": Optional[object], "last_error": Optional[object],
    "expires_at": Optional[int], "started_at": Optional[int], "cancelled_at": Optional[int],
    "failed_at": Optional[int], "completed_at": Optional[int],
    "incomplete_details": Optional[object], "model": str, "instructions": Optional[str],
    "tools": List[object], "metadata": Dict[str, str], "usage": Optional[object],
    "extra": Dict[str, object],
}  # fmt: skip


def modules() -> List[Any]:
    found = [threadrun]
    if not SINGLE_FILE:  # the copied single file has no module beside it
        found.append(importlib.import_module("threadrun.archive"))
        found.append(importlib.import_module("threadrun.aio"))
    return found


def public_objects(module: Any) -> Iterator[Tuple[str, Any]]:
    """(name, object): each public class of the module, each function and method of its
    classes that is public or a dunder, and each public function."""
    for name in module.__all__:
        value = getattr(module, name)
        if inspect.isclass(value) and value.__module__ == module.__name__:
            yield name, value
            for attr, member in vars(value).items():
                if attr.startswith("_") and not attr.endswith("__"):
                    continue
                if isinstance(member, (classmethod, staticmethod)):
                    member = member.__func__
                if isinstance(member, property):
                    member = member.fget
                if inspect.isfunction(member):
                    yield "%s.%s" % (name, attr), member
        elif inspect.isfunction(value):
            yield name, value


def leaves(hint: Any) -> Iterator[Any]:
    yield hint
    for arg in getattr(hint, "__args__", None) or ():
        yield from leaves(arg)


class TestTypeHints(unittest.TestCase):
    maxDiff = 4000

    def test_every_public_class_function_and_method(self) -> None:
        count = 0
        for module in modules():
            for name, value in public_objects(module):
                with self.subTest(module=module.__name__, name=name):
                    hints = typing.get_type_hints(value)
                    for hint in hints.values():
                        for leaf in leaves(hint):  # typing's objects, never a stand-in
                            self.assertNotEqual(type(leaf).__name__, "_Deferred", hint)
                    count += 1
        self.assertGreater(count, 60)

    def test_thread_run_and_tool_call(self) -> None:
        self.assertEqual(typing.get_type_hints(ThreadRun), HINTS)
        self.assertEqual(
            typing.get_type_hints(threadrun.ToolCall), {"id": str, "name": str, "arguments": str}
        )
        self.assertEqual(
            typing.get_type_hints(ThreadRun.from_dict),
            {"data": typing.Mapping[str, object], "return": ThreadRun},
        )

    def test_modules_named_by_annotations(self) -> None:
        import ssl

        hints = typing.get_type_hints(threadrun.Client.__init__)
        self.assertEqual(hints["ssl_context"], Optional[ssl.SSLContext])

    def test_fresh_process(self) -> None:
        # In a fresh process: importing threadrun, then dir() and vars() of it, import
        # nothing (typing least of all); get_type_hints then works.
        code = (
            "import sys; sys.path.insert(0, sys.argv[1]); import threadrun\n"
            "before = set(sys.modules)\n"
            "dir(threadrun); vars(threadrun); threadrun.__dict__\n"
            "assert set(sys.modules) == before, sorted(set(sys.modules) - before)\n"
            "assert 'typing' not in sys.modules, 'import threadrun imported typing'\n"
            "import typing, dataclasses\n"
            "hints = typing.get_type_hints(threadrun.ThreadRun)\n"
            "print(hints['tools'], len(dataclasses.fields(threadrun.ThreadRun)),"
            " type(threadrun).__name__)\n"
        )
        proc = subprocess.run([sys.executable, "-I", "-S", "-c", code, MODULE_DIR],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.split(), ["typing.List[object]", "20", "module"])

    def test_aio_imports_no_typing(self) -> None:
        # threadrun.aio imports asyncio, which imports typing on 3.11+; aio itself adds it
        # nowhere (as threadrun, archive); get_type_hints then works.
        code = (
            "import sys; sys.path.insert(0, sys.argv[1]); import asyncio\n"
            "with_asyncio = 'typing' in sys.modules\n"
            "import threadrun.aio\n"
            "assert ('typing' in sys.modules) == with_asyncio, 'threadrun.aio imported typing'\n"
            "import typing\n"
            "hints = typing.get_type_hints(threadrun.aio.AsyncRunStream.text_deltas)\n"
            "print(hints['return'])\n"
        )
        if SINGLE_FILE:
            self.skipTest("the copied single file has no aio module beside it")
        proc = subprocess.run([sys.executable, "-I", "-S", "-c", code, MODULE_DIR],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.split(), ["typing.AsyncIterator[str]"])

    def test_inspect_get_annotations(self) -> None:
        get_annotations = getattr(inspect, "get_annotations", None)  # 3.10+
        if get_annotations is None:
            self.skipTest("inspect.get_annotations is new in 3.10")
        self.assertEqual(get_annotations(ThreadRun, eval_str=True), HINTS)

    def test_pydantic_type_adapter(self) -> None:
        try:
            import pydantic
        except ImportError:
            self.skipTest("pydantic is not installed (a dev tool, never a dependency)")
        adapter = pydantic.TypeAdapter(ThreadRun)
        for name, _raw, data in corpus():
            with self.subTest(name):
                run = ThreadRun.from_dict(data)
                self.assertIs(adapter.validate_python(run), run)
                fields = {name: getattr(run, name) for name in threadrun._FIELDS}
                self.assertEqual(adapter.validate_python(fields), run)
                self.assertEqual(adapter.validate_json(json.dumps(fields)), run)
                self.assertEqual(adapter.dump_python(run)["extra"], run.extra)
        fields = {name: getattr(run, name) for name in threadrun._FIELDS}
        with self.assertRaises(pydantic.ValidationError):
            adapter.validate_python(dict(fields, id=1))


# A program using AsyncClient as docs/async.md shows it: mypy --strict accepts it.
ASYNC_PROGRAM = """
import asyncio
from typing import Any, Dict, List

from threadrun import ThreadRun
from threadrun.aio import AsyncClient, AsyncRunStream


async def main() -> None:
    async with AsyncClient("sk-test", base_url="http://127.0.0.1:9/v1") as client:
        run: ThreadRun = await client.retrieve("thread_1", "run_1")
        runs: List[ThreadRun] = [each async for each in client.list("thread_1", limit=5)]
        messages: List[Dict[str, Any]] = []
        async for message in client.list_messages("thread_1", order="asc"):
            messages.append(message)
        async with await client.stream("thread_1", "asst_1") as stream:
            async for event in stream:
                print(event)
            kept: AsyncRunStream = stream
            last: ThreadRun = await kept.until_done()
        done: ThreadRun = await client.create_and_poll("thread_1", "asst_1", poll_timeout=5.0)
        print(run.status, len(runs), len(messages), last.id, done.id)


asyncio.run(main())
"""

# The same program, each time with one line written as for Client: mypy must reject each.
WRONG_LINES = {
    "not awaited": (
        'run: ThreadRun = await client.retrieve("thread_1", "run_1")',
        'run: ThreadRun = client.retrieve("thread_1", "run_1")',
    ),
    "for over an async iterator": (
        'async for message in client.list_messages("thread_1", order="asc"):',
        'for message in client.list_messages("thread_1", order="asc"):',
    ),
    "a list awaited": (
        'runs: List[ThreadRun] = [each async for each in client.list("thread_1", limit=5)]',
        'runs: List[ThreadRun] = await client.list("thread_1", limit=5)',
    ),
    "a stream not awaited": (
        'async with await client.stream("thread_1", "asst_1") as stream:',
        'async with client.stream("thread_1", "asst_1") as stream:',
    ),
    "poll not awaited": (
        'done: ThreadRun = await client.create_and_poll(',
        'done: ThreadRun = client.create_and_poll(',
    ),
}


class AsyncClientTypesTest(unittest.TestCase):
    """mypy --strict over user programs (mypy is a dev tool: skipped where not installed)."""

    def test_mypy_accepts_awaited_endpoints_and_rejects_forgotten_awaits(self) -> None:
        if SINGLE_FILE:
            self.skipTest("the copied single file has no aio module beside it")
        try:
            import mypy
        except ImportError:
            self.skipTest("mypy is not installed (a dev tool, never a dependency)")
        program = textwrap.dedent(ASYNC_PROGRAM).lstrip()
        with tempfile.TemporaryDirectory() as folder:
            files = {"right": program}
            for number, (wrong, (line, instead)) in enumerate(sorted(WRONG_LINES.items())):
                self.assertIn(line, program, wrong)
                files["wrong_%d" % number] = program.replace(line, instead)
            for name, text in files.items():
                with open(os.path.join(folder, name + ".py"), "w") as handle:
                    handle.write(text)
            mypy = [sys.executable, "-m", "mypy", "--strict", "--no-incremental",
                    "--cache-dir", os.path.join(folder, "cache")]  # fmt: skip
            proc = subprocess.run(
                [*mypy, *sorted(name + ".py" for name in files)],
                capture_output=True, text=True, timeout=600, cwd=folder,
                env=dict(os.environ, MYPYPATH=MODULE_DIR),
            )  # fmt: skip
        errors = [line for line in proc.stdout.splitlines() if ": error:" in line]
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertEqual([line for line in errors if line.startswith("right.py")], [])
        for number, (wrong, (line, _)) in enumerate(sorted(WRONG_LINES.items())):
            with self.subTest(wrong):
                # the error is on the changed line (the lines are the same in both)
                line_number = program[: program.index(line)].count("\n") + 1
                where = "wrong_%d.py:%d:" % (number, line_number)
                self.assertTrue(any(error.startswith(where) for error in errors), proc.stdout)


if __name__ == "__main__":
    unittest.main()
