"""Specification of how a run keeps what the input gave through every ordinary operation:
absent keys, null ``tools``/``metadata``, containers filled in after parsing, and
dataclass subclasses, through to_dict, to_json, copy, deepcopy, pickle, ``run.replace`` and
``copy.replace``; ``dataclasses.replace`` builds from values; pickling the module by value.

One table: run shapes x operations, each cell asserting ``to_dict()`` after the operation.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import pickle
import subprocess
import sys
import types
import unittest
from typing import Any, Callable, Dict, Iterator, List, Tuple

from tests import DATA_DIR, threadrun

ThreadRun = threadrun.ThreadRun
ThreadRunError = threadrun.ThreadRunError

KNOWN = threadrun._FIELDS[:-1]
OPTIONAL = ("required_action", "last_error", "expires_at", "started_at", "cancelled_at",
            "failed_at", "completed_at", "incomplete_details", "instructions", "usage")  # fmt: skip


def full() -> Dict[str, Any]:
    with open(os.path.join(DATA_DIR, "22-completed.json"), "rb") as file:
        data: Dict[str, Any] = json.loads(file.read())
    return data


def minimal() -> Dict[str, Any]:
    return {"id": "run_1", "object": "thread.run", "created_at": 1710351818,
            "thread_id": "thread_1", "assistant_id": "asst_1", "status": "queued",
            "model": "gpt-4o"}  # fmt: skip


def in_class_order(data: Dict[str, Any]) -> List[str]:
    """The keys of to_dict(): the known keys the data has, in class order, then the others."""
    return [key for key in KNOWN if key in data] + [key for key in data if key not in KNOWN]


def without(data: Dict[str, Any], *keys: str) -> Dict[str, Any]:
    return {key: value for key, value in data.items() if key not in keys}


# --------------------------------------------------------------------------------------------
# Subclasses, as users write them
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Tagged(ThreadRun):
    """A frozen dataclass subclass with a field of its own."""

    tag: str = "untagged"


@dataclasses.dataclass(frozen=True)
class Checked(ThreadRun):
    """Its own __post_init__, which calls ThreadRun's (the validation) through super()."""

    tag: str = "untagged"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.tag, str):
            raise TypeError("tag must be a string")


class Plain(ThreadRun):
    """A subclass that is not itself a dataclass."""


SUBCLASSES: List[type] = [Tagged, Checked, Plain]
if sys.version_info >= (3, 10):
    # (keyword form and a version test: the library and its tests keep Python 3.7 syntax)
    Slotted = dataclasses.dataclass(frozen=True, slots=True)(  # type: ignore[call-overload]
        type("Slotted", (ThreadRun,), {"__annotations__": {"tag": "str"}, "tag": "untagged",
                                       "__module__": __name__, "__qualname__": "Slotted"})
    )  # fmt: skip
    SUBCLASSES.append(Slotted)


# --------------------------------------------------------------------------------------------
# The table: shapes (how the run was made, what to_dict must give) x operations
# --------------------------------------------------------------------------------------------

Shape = Tuple[str, Callable[[], Any], Dict[str, Any]]


def _mutated(data: Dict[str, Any]) -> Callable[[], Any]:
    def make() -> Any:
        run = ThreadRun.from_dict(data)
        run.tools.append({"type": "code_interpreter"})
        run.metadata["user"] = "u1"
        return run

    return make


def shapes() -> Iterator[Shape]:
    """(label, a function making the run, the dict to_dict must give after any operation)."""
    sparse = without(full(), "required_action", "incomplete_details", "usage")
    nulls = dict(minimal(), tools=None, metadata=None, usage=None, zz=None)
    filled = dict(tools=[{"type": "code_interpreter"}], metadata={"user": "u1"})
    yield "full", lambda: ThreadRun.from_dict(full()), full()
    yield "sparse", lambda: ThreadRun.from_dict(sparse), sparse
    yield "minimal", lambda: ThreadRun.from_dict(minimal()), minimal()
    yield "null containers", lambda: ThreadRun.from_dict(nulls), nulls
    yield "empty containers", lambda: ThreadRun.from_dict(dict(minimal(), tools=[], metadata={})), \
        dict(minimal(), tools=[], metadata={})  # fmt: skip
    yield "absent, then filled", _mutated(minimal()), dict(minimal(), **filled)
    yield "null, then filled", _mutated(nulls), dict(nulls, **filled)
    yield "constructed", lambda: ThreadRun(**{name: getattr(ThreadRun.from_dict(minimal()), name)
                                              for name in threadrun._FIELDS}), \
        dict({key: None for key in KNOWN}, tools=[], metadata={}, **minimal())  # fmt: skip
    for cls in SUBCLASSES:
        name = cls.__name__
        yield name + ", sparse", lambda c=cls: c.from_dict(sparse), sparse
        yield name + ", null containers", lambda c=cls: c.from_dict(nulls), nulls
        yield name + ", absent, then filled", \
            lambda c=cls: _fill(c.from_dict(minimal())), dict(minimal(), **filled)  # fmt: skip


def _fill(run: Any) -> Any:
    run.tools.append({"type": "code_interpreter"})
    run.metadata["user"] = "u1"
    return run


def operations() -> Iterator[Tuple[str, Callable[[Any], Any]]]:
    yield "as parsed", lambda run: run
    yield "to_json", lambda run: type(run).from_json(run.to_json())
    yield "from_dict(to_dict())", lambda run: type(run).from_dict(run.to_dict())
    yield "copy.copy", copy.copy
    yield "copy.deepcopy", copy.deepcopy
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        yield "pickle %d" % protocol, lambda run, p=protocol: pickle.loads(pickle.dumps(run, p))
    yield "run.replace()", lambda run: run.replace()
    yield "run.replace(status)", lambda run: run.replace(status="completed").replace(
        status=run.status)  # fmt: skip
    if hasattr(copy, "replace"):  # 3.13+
        yield "copy.replace", lambda run: copy.replace(run)


class TestOperationsKeepEveryByte(unittest.TestCase):
    maxDiff = 4000

    def test_table(self) -> None:
        for label, make, expected in shapes():
            for how, operation in operations():
                with self.subTest(label, operation=how):
                    run = make()
                    again = operation(run)
                    self.assertEqual(again.to_dict(), expected)
                    self.assertEqual(list(again.to_dict()), in_class_order(expected))
                    self.assertEqual(json.loads(again.to_json()), expected)
                    self.assertEqual(again, run)
                    self.assertIs(type(again), type(run))

    def test_subclass_fields_survive(self) -> None:
        copiers: List[Tuple[str, Callable[[Any], Any]]] = [
            ("copy", copy.copy), ("deepcopy", copy.deepcopy),
            ("pickle", lambda run: pickle.loads(pickle.dumps(run))),
            ("replace", lambda run: run.replace()),
        ]  # fmt: skip
        for cls in SUBCLASSES:
            if dataclasses.fields(cls)[-1].name != "tag":
                continue  # Plain has no field of its own
            run = cls.from_dict(minimal()).replace(tag="mine")
            for how, copier in copiers:
                with self.subTest(cls.__name__, how=how):
                    again = copier(run)
                    self.assertIs(type(again), cls)
                    self.assertEqual(again.tag, "mine")
                    self.assertEqual(again.to_dict(), minimal())
                    self.assertEqual(again.id, "run_1")

    def test_subclasses_are_validated(self) -> None:
        for cls in SUBCLASSES:
            run = cls.from_dict(minimal())
            function, (klass, fields, wire) = run.__reduce__()
            with self.subTest(cls.__name__):
                with self.assertRaises(ThreadRunError) as caught:
                    cls.from_dict(dict(minimal(), created_at="1"))
                self.assertEqual(caught.exception.field, "created_at")
                with self.assertRaises(ThreadRunError):
                    run.replace(metadata={"k": 1})
                with self.assertRaises(ThreadRunError) as caught:  # what a pickle rebuilds
                    function(klass, dict(fields, status=5), wire)
                self.assertEqual(caught.exception.field, "status")

    def test_bad_pickled_record_refused(self) -> None:
        run = ThreadRun.from_dict(minimal())
        function, (cls, fields, wire) = run.__reduce__()
        self.assertEqual(function(cls, fields, wire).to_dict(), minimal())
        tools = frozenset(["tools"])
        for bad in (1, (frozenset(["id"]), frozenset()), (["usage"], frozenset()),
                    (frozenset(["nope"]), frozenset()), (tools, tools),
                    (frozenset(), frozenset(["usage"])), ()):  # fmt: skip
            with self.subTest(bad=bad), self.assertRaises(ThreadRunError) as caught:
                function(cls, fields, bad)
            self.assertIn("invalid state to restore a run from", str(caught.exception))


class TestReplace(unittest.TestCase):
    def test_replace_keeps_the_keys_it_does_not_change(self) -> None:
        data = dict(minimal(), tools=None, zz=1)
        run = ThreadRun.from_dict(data)
        replaced = run.replace(status="completed", completed_at=1710351900)
        self.assertEqual(
            replaced.to_dict(), dict(data, status="completed", completed_at=1710351900)
        )
        self.assertEqual(list(replaced.to_dict()), [
            "id", "object", "created_at", "thread_id", "assistant_id", "status", "completed_at",
            "model", "tools", "zz",
        ])  # fmt: skip
        # a key given a value is present, even given the value it reads as
        for field, value in (
            ("usage", None),
            ("tools", []),
            ("metadata", {}),
            ("instructions", "hi"),
        ):
            with self.subTest(field):
                self.assertEqual(
                    run.replace(**{field: value}).to_dict(), dict(data, **{field: value})
                )

    def test_replace_validates(self) -> None:
        run = ThreadRun.from_dict(minimal())
        for field, value in (("created_at", -1), ("id", 5), ("metadata", {"k": 1})):
            with self.subTest(field), self.assertRaises(ThreadRunError):
                run.replace(**{field: value})

    def test_copy_replace_is_run_replace(self) -> None:
        replace = getattr(copy, "replace", None)
        if replace is None:
            self.skipTest("copy.replace is new in Python 3.13")
        for cls in (ThreadRun, *SUBCLASSES):
            with self.subTest(cls.__name__):
                run = cls.from_dict(minimal())
                self.assertEqual(replace(run, status="x").to_dict(), dict(minimal(), status="x"))

    def test_dataclasses_replace_builds_from_values(self) -> None:
        # As the docstring of ThreadRun.replace says: like ThreadRun(...), every key present.
        for cls in (ThreadRun, *SUBCLASSES):
            with self.subTest(cls.__name__):
                run = cls.from_dict(minimal())
                built = dataclasses.replace(run, status="x")
                self.assertIs(type(built), cls)
                self.assertEqual(built, run.replace(status="x"))
                every_key = dict.fromkeys(KNOWN, None)
                every_key.update(minimal(), tools=[], metadata={}, status="x")
                self.assertEqual(built.to_dict(), every_key)
        self.assertIn("dataclasses.replace", ThreadRun.replace.__doc__ or "")


class TestNoInterpreterInternals(unittest.TestCase):
    def test_runtime_reads_no_frames(self) -> None:
        folder = os.path.dirname(os.path.abspath(threadrun.__file__))
        paths = [os.path.abspath(threadrun.__file__)]
        if os.path.basename(paths[0]).startswith("__init__."):
            paths = [os.path.join(folder, name) for name in sorted(os.listdir(folder))
                     if name.endswith(".py")]  # fmt: skip
        for path in paths:
            with open(path, encoding="utf-8") as file:
                text = file.read()
            for word in ("_getframe", "f_locals", "f_back", "_initializing", "__class__ = _"):
                with self.subTest(os.path.basename(path), word=word):
                    self.assertNotIn(word, text)

    def test_module_is_a_plain_module(self) -> None:
        self.assertIs(type(threadrun), types.ModuleType)


class TestPickleByValue(unittest.TestCase):
    """Distributed engines ship a copied-in module by value (cloudpickle)."""

    def test_cloudpickle_by_value(self) -> None:
        try:
            import cloudpickle
        except ImportError:
            self.skipTest("cloudpickle is not installed (a dev tool, never a dependency)")
        with open(os.path.join(DATA_DIR, "18-cancelling.json"), "rb") as file:
            body = file.read()
        run = ThreadRun.from_json(body)
        run.metadata["user"] = "u1"

        def work(line: bytes) -> Dict[str, Any]:
            return ThreadRun.from_json(line).replace(status="done").to_dict()

        cloudpickle.register_pickle_by_value(threadrun)
        try:
            payload = cloudpickle.dumps((run, work, body))
        finally:
            cloudpickle.unregister_pickle_by_value(threadrun)
        # A process where threadrun cannot be imported: all of it travels in the pickle.
        code = (
            "import pickle, sys, json\n"
            "sys.modules['threadrun'] = None\n"
            "run, work, body = pickle.loads(sys.stdin.buffer.read())\n"
            "print(json.dumps([run.to_dict(), work(body), type(run).__module__]))\n"
        )
        proc = subprocess.run([sys.executable, "-c", code], input=payload, capture_output=True,
                              cwd=DATA_DIR, timeout=120)  # fmt: skip
        self.assertEqual(proc.returncode, 0, proc.stderr.decode(errors="replace")[-2000:])
        got, worked, module = json.loads(proc.stdout)
        expected = json.loads(body)
        self.assertEqual(got, dict(expected, metadata={"user": "u1"}))
        self.assertEqual(worked, dict(expected, status="done"))
        self.assertEqual(module, "threadrun")


if __name__ == "__main__":
    unittest.main()
