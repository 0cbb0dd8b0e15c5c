"""Specification: the annotations of threadrun and threadrun.archive resolve.

``typing.get_type_hints`` works on every public class, function and method, on every
supported Python, with typing's own objects as results; importing threadrun, ``dir()`` and
``vars()`` of it import nothing; the module is a plain module.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import subprocess
import sys
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
    if not SINGLE_FILE:  # the copied single file has no archive module beside it
        found.append(importlib.import_module("threadrun.archive"))
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


if __name__ == "__main__":
    unittest.main()
