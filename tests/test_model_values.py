"""Specification of the Run model, continued: what a parsed run gives back and how it
behaves -- the lossless round trip, one schema for every path, the dataclass (replace,
pickle, copy, subclasses), statuses, tool calls and to_json. Runs against the package or, with
THREADRUN_TEST_MODULE_DIR, against the single file (see tests/__init__.py).
"""
from __future__ import annotations

import copy
import dataclasses
import dis
import json
import pickle
import types
import unittest
from typing import Any, Callable, Dict, Iterator, List, Tuple

from tests import threadrun
from tests.test_model import (
    ANY_OPTIONAL,
    CALL_ID,
    CORPUS,
    FIELDS,
    KNOWN,
    NON_TERMINAL,
    OPTIONAL,
    REQUIRED,
    TERMINAL,
    Base,
    MyMapping,
    P,
    Str,
    Sub,
    bad_dict_cases,
    by_name,
    expected_attributes,
    expected_keys,
    kwargs_of,
    minimal,
    valid_json_with,
    with_,
    without,
)  # fmt: skip

ThreadRun = threadrun.ThreadRun
ThreadRunError = threadrun.ThreadRunError
ToolCall = threadrun.ToolCall
RunStatus = threadrun.RunStatus


def wire_cases() -> Iterator[Tuple[str, Dict[str, Any]]]:
    """(label, valid data) rows where each optional key is absent, null, or empty/set."""
    for k in (*OPTIONAL, "tools", "metadata"):
        yield "%s absent" % k, without(by_name("22-completed.json"), k)
        yield "%s null" % k, with_(by_name("22-completed.json"), **{k: None})
    yield "tools []", with_(minimal(), tools=[])
    yield "metadata {}", with_(minimal(), metadata={})
    yield "all absent", minimal()
    yield "all null", with_(minimal(), **{k: None for k in (*OPTIONAL, "tools", "metadata")})
    yield "null and absent, unknown keys", with_(minimal(), tools=None, usage=None, zz=None)


class TestLossless(Base):
    def test_corpus_round_trips_exactly(self) -> None:
        # 9 of the 23 files lack a known key: to_dict used to fill it in with null
        for name, raw, data in CORPUS:
            with self.subTest(name):
                run = ThreadRun.from_json(raw)
                self.assertEqual(run.to_dict(), data)
                self.assertEqual(json.loads(run.to_json()), json.loads(raw))
                self.assertEqual(ThreadRun.from_dict(types.MappingProxyType(data)).to_dict(), data)

    def test_absent_null_and_empty_kept(self) -> None:
        for label, data in wire_cases():
            for wrap in (dict, types.MappingProxyType, MyMapping):
                with self.subTest(label, path=wrap.__name__):
                    run = ThreadRun.from_dict(wrap(data))
                    self.assertEqual(run.to_dict(), data)
                    self.assertEqual(list(run.to_dict()), expected_keys(data))
                    self.assertEqual(json.loads(run.to_json()), data)
                    self.assertEqual(ThreadRun.from_json(json.dumps(data)).to_dict(), data)
                    exp = expected_attributes(data)
                    for k in KNOWN:  # the attributes keep their documented values
                        self.assertEqual(getattr(run, k), exp[k], k)
                    self.assertEqual(type(run.tools), list)
                    self.assertEqual(type(run.metadata), dict)

    def test_equality_and_hash_ignore_how_keys_were_given(self) -> None:
        full = by_name("22-completed.json")
        for label, given, other in (
            ("usage", with_(full, usage=None), without(full, "usage")),
            ("tools", with_(full, tools=[]), with_(full, tools=None)),
            ("metadata", with_(full, metadata={}), without(full, "metadata")),
        ):
            with self.subTest(label):
                run, other_run = ThreadRun.from_dict(given), ThreadRun.from_dict(other)
                self.assertNotEqual(run.to_dict(), other_run.to_dict())
                self.assertEqual(other_run, run)
                self.assertEqual(hash(other_run), hash(run))
        self.assertEqual(ThreadRun.from_dict(with_(minimal(), tools=None)),
                         ThreadRun.from_dict(minimal()))  # fmt: skip

    def test_copy_and_pickle_keep_absence(self) -> None:
        copiers: List[Tuple[str, Callable[[Any], Any]]] = [
            ("copy", copy.copy), ("deepcopy", copy.deepcopy),
        ]  # fmt: skip
        for proto in range(pickle.HIGHEST_PROTOCOL + 1):
            copiers.append(("pickle %d" % proto,
                            lambda r, p=proto: pickle.loads(pickle.dumps(r, p))))  # fmt: skip
        for label, data in wire_cases():
            run = ThreadRun.from_dict(data)
            for how, copier in copiers:
                with self.subTest(label, how=how):
                    again = copier(run)
                    self.assertIs(type(again), ThreadRun)
                    self.assertEqual(again, run)
                    self.assertEqual(again.to_dict(), data)
                    self.assertEqual(list(again.to_dict()), expected_keys(data))

    def test_construction_gives_every_key(self) -> None:
        run = ThreadRun.from_dict(minimal())
        built = ThreadRun(**kwargs_of(run))
        self.assertEqual(built, run)
        self.assertEqual(list(built.to_dict()), list(KNOWN))
        self.assertEqual(built.to_dict(), dict(expected_attributes(minimal())))

    def test_subclass_keeps_absence(self) -> None:
        for wrap in (dict, types.MappingProxyType):
            with self.subTest(wrap.__name__):
                run = Sub.from_dict(wrap(with_(minimal(), metadata=None)))
                self.assertIs(type(run), Sub)
                self.assertEqual(run.to_dict(), with_(minimal(), metadata=None))


# --------------------------------------------------------------------------------------------
# one schema, checked
# --------------------------------------------------------------------------------------------


def distinct_run() -> Dict[str, Any]:
    """Valid data in which every known key has a value no other key has, plus one unknown."""
    data: Dict[str, Any] = {}
    for number, key in enumerate(KNOWN):
        if key.endswith("_at"):
            data[key] = 1710351800 + number
        elif key in ANY_OPTIONAL:
            data[key] = {"from": key}
        else:
            data[key] = "%s-value" % key
    data.update(object="thread.run", tools=[{"type": "tools"}], metadata={"k": "metadata"})
    data["zz"] = "extra"
    return data


class TestPlainPaths(Base):
    """The plain ways PyPy takes where CPython takes a trick, run on every implementation."""

    def test_scan_document_gives_up_on_what_the_rules_refuse(self) -> None:
        scan = threadrun._scan_document
        body = json.dumps(with_(minimal(), x=[1.5, {"y": -2.0}]))
        self.assertEqual(scan(body, 0), (json.loads(body), len(body)))
        for label, text in (
            ("NaN", valid_json_with("NaN")),
            ("-Infinity", valid_json_with("[1, {\"a\": -Infinity}]")),
            ("1e400", valid_json_with("{\"a\": [1e400]}")),
            ("9" * 400 + ".0", valid_json_with("9" * 400 + ".0")),
            ("syntax", body[:-1]),
            ("not an object", "[1]"),
        ):
            with self.subTest(label), self.assertRaises(StopIteration):
                scan(text, 0)
        with self.assertRaises(RecursionError):  # _loads says: nested too deeply
            scan("[" * 100000 + "]" * 100000, 0)

    def test_from_dict_the_plain_way(self) -> None:
        saved = threadrun._SPLIT_BY_POPS, threadrun._check_strings, threadrun._absent_keys
        threadrun._SPLIT_BY_POPS = False
        threadrun._check_strings = threadrun._check_strings_each
        threadrun._absent_keys = threadrun._absent_each
        try:
            inputs = [d for _n, _r, d in CORPUS] + [d for _label, d in wire_cases()]
            inputs += [distinct_run(), with_(minimal(), x=None)]
            for data in inputs:
                with self.subTest(id=data.get("id"), keys=len(data)):
                    run = ThreadRun.from_dict(data)
                    self.assertEqual(run, ThreadRun.from_dict(types.MappingProxyType(data)))
                    self.assertEqual(run.to_dict(), data)
                    self.assertEqual(list(run.to_dict()), expected_keys(data))
            for label, data, field in bad_dict_cases():
                with self.subTest(label):
                    self.assertRunError(ThreadRun.from_dict, field, data)
            self.assertRunError(ThreadRun.from_dict, "status",
                                with_(minimal(), status=bytearray(b"queued")))  # fmt: skip
        finally:
            threadrun._SPLIT_BY_POPS, threadrun._check_strings, threadrun._absent_keys = saved

    def test_check_strings_each(self) -> None:
        check = threadrun._check_strings_each
        self.assertIsNone(check(["a", Str("b"), ""]))
        for bad in (["a", 1], [None], ["a", b"b"], ["a", bytearray(b"b")]):
            with self.subTest(bad=bad), self.assertRaises(TypeError):
                check(bad)


class TestOneSchema(Base):
    def test_tables_agree(self) -> None:
        self.assertEqual(threadrun._FIELDS, FIELDS)
        self.assertEqual(tuple(ThreadRun.__annotations__), FIELDS)
        self.assertEqual(tuple(f.name for f in dataclasses.fields(ThreadRun)), FIELDS)
        self.assertEqual(tuple(name for name, _check in threadrun._CHECKS), KNOWN)
        self.assertEqual(ThreadRun.__slots__, (*FIELDS, "_wire"))
        self.assertEqual(threadrun._RunBuilder.__bases__, (ThreadRun,))
        self.assertEqual(threadrun._RunBuilder.__slots__, ())  # ThreadRun's layout

    def test_unrolled_code_names_every_field_in_order(self) -> None:
        # from_dict and to_dict spell the 19 keys out for speed: each exactly once, in order
        code = list(dis.get_instructions(ThreadRun.from_dict.__func__))  # type: ignore[attr-defined]
        stored = [i.argval for i in code if i.opname == "STORE_ATTR"]
        self.assertEqual(stored, [*FIELDS, "_wire", "__class__"])
        read = [  # take(source, key); 3.13 loads take and source in one LOAD_FAST_LOAD_FAST
            next(j.argval for j in code[n + 1 :] if j.opname == "LOAD_CONST")
            for n, i in enumerate(code)
            if i.opname.startswith("LOAD_FAST") and i.argval in ("take", ("take", "source"))
        ]
        self.assertEqual(read, list(KNOWN))
        constants: List[Any] = []
        for i in dis.get_instructions(ThreadRun.to_dict):
            if i.opname == "LOAD_CONST":
                constants.extend(i.argval if isinstance(i.argval, tuple) else [i.argval])
        self.assertEqual([c for c in constants if isinstance(c, str)][:19], list(KNOWN))

    def test_absent_each_tests_every_optional_key_in_order(self) -> None:
        # _absent_each spells the 12 optional keys out (PyPy's speed): each once, in order
        code = dis.get_instructions(threadrun._absent_each)
        tested = [i.argval for i in code if i.opname == "LOAD_CONST" and isinstance(i.argval, str)]
        self.assertEqual(tested[::2], list(threadrun._OPTIONAL_NAMES))
        self.assertEqual(tested[1::2], list(threadrun._OPTIONAL_NAMES))
        for name in threadrun._OPTIONAL_NAMES:
            with self.subTest(name):
                lacking = {key: None for key in KNOWN if key != name}
                self.assertEqual(threadrun._absent_each(lacking), {name})

    def test_constants_written_out_in_from_dict(self) -> None:
        code = dis.get_instructions(ThreadRun.from_dict.__func__)  # type: ignore[attr-defined]
        # (LOAD_CONST; 3.14 loads a small int with LOAD_SMALL_INT)
        constants = [i.argval for i in code if i.opname in ("LOAD_CONST", "LOAD_SMALL_INT")]
        for name, value in (("_KNOWN_COUNT", 19), ("_TIMESTAMP_MAX", 253402300799),
                            ("_RUN_OBJECT", "thread.run")):  # fmt: skip
            with self.subTest(name):
                self.assertEqual(getattr(threadrun, name), value)
                self.assertIn(value, constants)

    def test_distinct_values_land_in_their_fields(self) -> None:
        data = distinct_run()
        for wrap in (dict, types.MappingProxyType):
            with self.subTest(wrap.__name__):
                run = ThreadRun.from_dict(wrap(data))
                for key in KNOWN:
                    self.assertIs(getattr(run, key), data[key], key)
                self.assertEqual(run.extra, {"zz": "extra"})
                self.assertEqual(list(run.to_dict().items()), list(data.items()))
                self.assertEqual(ThreadRun(**kwargs_of(run)).to_dict(), data)


# --------------------------------------------------------------------------------------------
# dataclass behaviour
# --------------------------------------------------------------------------------------------


class TestDataclass(Base):
    def setUp(self) -> None:
        self.run = ThreadRun.from_dict(by_name("06-requires_action.json"))
        self.run17 = ThreadRun.from_dict(by_name("17-completed.json"))

    def test_fields_exact(self) -> None:
        self.assertTrue(dataclasses.is_dataclass(ThreadRun))
        self.assertEqual(tuple(f.name for f in dataclasses.fields(ThreadRun)), FIELDS)

    def test_frozen(self) -> None:
        for name in (*FIELDS, "foo", "__weird__"):
            with self.subTest(name):
                with self.assertRaises(dataclasses.FrozenInstanceError):
                    setattr(self.run, name, "x")
                with self.assertRaises((dataclasses.FrozenInstanceError, AttributeError)):
                    delattr(self.run, name)
        self.assertEqual(self.run.id, "run_123")

    def test_slots(self) -> None:
        self.assertIn("__slots__", ThreadRun.__dict__)
        self.assertFalse(hasattr(self.run, "__dict__"))

    def test_eq_ne(self) -> None:
        again = ThreadRun.from_dict(by_name("06-requires_action.json"))
        self.assertEqual(self.run, again)
        self.assertFalse(self.run != again)
        self.assertNotEqual(self.run, self.run17)
        other = ThreadRun.from_dict(with_(by_name("06-requires_action.json"), zz=1))
        self.assertNotEqual(self.run, other)
        self.assertNotEqual(self.run, self.run.to_dict())

    def test_hash(self) -> None:
        again = ThreadRun.from_dict(by_name("06-requires_action.json"))
        self.assertEqual(hash(self.run), hash(again))
        s = {self.run, again, self.run17, copy.deepcopy(self.run17)}
        self.assertEqual(len(s), 2)
        self.assertIn(again, s)
        for _n, _r, d in CORPUS:
            hash(ThreadRun.from_dict(d))

    def test_repr(self) -> None:
        r = repr(self.run)
        self.assertIn("run_123", r)
        self.assertIn("ThreadRun", r)

    def test_pickle_all_protocols(self) -> None:
        for proto in range(pickle.HIGHEST_PROTOCOL + 1):
            for run in (self.run, self.run17, ThreadRun.from_dict(minimal())):
                with self.subTest(proto=proto, id=run.id):
                    back = pickle.loads(pickle.dumps(run, proto))
                    self.assertIs(type(back), ThreadRun)
                    self.assertEqual(back, run)
                    self.assertEqual(hash(back), hash(run))
                    self.assertEqual(back.to_dict(), run.to_dict())
                    with self.assertRaises(dataclasses.FrozenInstanceError):
                        back.id = "x"  # type: ignore[misc]

    def test_copy_deepcopy(self) -> None:
        for fn in (copy.copy, copy.deepcopy):
            with self.subTest(fn.__name__):
                c = fn(self.run)
                self.assertIs(type(c), ThreadRun)
                self.assertEqual(c, self.run)
                self.assertEqual(c.to_dict(), self.run.to_dict())
        deep = copy.deepcopy(self.run)
        self.assertIsNot(deep.tools, self.run.tools)

    def test_replace(self) -> None:
        r = dataclasses.replace(self.run, status="completed", completed_at=1710351900)
        self.assertEqual(r.status, "completed")
        self.assertTrue(r.is_terminal)
        self.assertEqual(r.id, self.run.id)
        self.assertEqual(self.run.status, "requires_action")
        rows = [
            ("created_at", {"created_at": "x"}),
            ("created_at", {"created_at": -1}),
            ("expires_at", {"expires_at": True}),
            ("status", {"status": None}),
            ("id", {"id": 5}),
            ("instructions", {"instructions": 5}),
            ("tools", {"tools": "x"}),
            ("metadata", {"metadata": []}),
            ("metadata['k']", {"metadata": {"k": 1}}),
            ("extra['id']", {"extra": {"id": "x"}}),
            ("extra['status']", {"extra": {"a": 1, "status": "done"}}),
        ]
        for field, kw in rows:
            with self.subTest(field=field, kw=kw):
                self.assertRunError(lambda kw=kw: dataclasses.replace(self.run, **kw), field)

    def test_asdict(self) -> None:
        d = dataclasses.asdict(self.run17)
        self.assertEqual(list(d), list(FIELDS))
        self.assertEqual(d["extra"], self.run17.extra)
        want = expected_attributes(by_name("17-completed.json"))
        self.assertEqual({k: v for k, v in d.items() if k != "extra"}, want)

    def test_direct_construction(self) -> None:
        kw = kwargs_of(self.run17)
        self.assertEqual(ThreadRun(**kw), self.run17)
        self.assertEqual(ThreadRun(*[kw[f] for f in FIELDS]), self.run17)
        rows = [
            ("created_at", dict(kw, created_at="1")),
            ("created_at", dict(kw, created_at=2**64)),
            ("completed_at", dict(kw, completed_at=1.0)),
            ("model", dict(kw, model=None)),
            ("metadata['user_id']", dict(kw, metadata={"user_id": 3})),
            ("extra['id']", dict(kw, extra={"id": "other"})),
            ("extra['metadata']", dict(kw, extra={"metadata": {}})),
            ("extra['usage']", dict(kw, extra={"usage": None})),
        ]
        for field, args in rows:
            with self.subTest(field):
                self.assertRunError(lambda args=args: ThreadRun(**args), field)
        for bad_extra in ({1: "x"}, [], "x", None):
            with self.subTest(extra=bad_extra):
                self.assertRunError(
                    lambda e=bad_extra: ThreadRun(**dict(kw, extra=e)),
                    lambda f: f is not None and f.startswith("extra"),
                )

    def test_extra_never_overwrites_known(self) -> None:
        data = with_(minimal(), zzz=1)
        run = ThreadRun.from_dict(data)
        d = run.to_dict()
        self.assertEqual(list(d), [*REQUIRED, "zzz"])
        for k in REQUIRED:
            self.assertEqual(d[k], getattr(run, k))
        # A known name put into extra after construction never stands for the field, given
        # (its value wins) or absent (it stays absent).
        for data in (
            with_(minimal(), zzz=1, tools=None),
            with_(by_name("22-completed.json"), zzz=1),
        ):
            run = ThreadRun.from_dict(data)
            with self.subTest(keys=len(data)):
                run.extra.update(id="other", usage=5, tools=[1], zzz=2)
                self.assertEqual(run.to_dict(), dict(data, zzz=2))
                self.assertEqual(list(run.to_dict()), expected_keys(data))


# --------------------------------------------------------------------------------------------
# status, tool calls, to_json
# --------------------------------------------------------------------------------------------


class TestStatus(Base):
    def test_constants(self) -> None:
        want = {
            "QUEUED": "queued", "IN_PROGRESS": "in_progress",
            "REQUIRES_ACTION": "requires_action", "CANCELLING": "cancelling",
            "CANCELLED": "cancelled", "FAILED": "failed", "COMPLETED": "completed",
            "INCOMPLETE": "incomplete", "EXPIRED": "expired",
        }  # fmt: skip
        for attr, value in want.items():
            self.assertEqual(getattr(RunStatus, attr), value)
            self.assertIsInstance(getattr(RunStatus, attr), str)
        self.assertIsInstance(RunStatus.ALL, frozenset)
        self.assertEqual(RunStatus.ALL, frozenset(want.values()))
        self.assertIsInstance(RunStatus.TERMINAL, frozenset)
        self.assertEqual(RunStatus.TERMINAL, frozenset(TERMINAL))

    def test_is_terminal(self) -> None:
        for status in TERMINAL:
            with self.subTest(status):
                run = ThreadRun.from_dict(with_(minimal(), status=status))
                self.assertIs(run.is_terminal, True)
        for status in (*NON_TERMINAL, "", "COMPLETED", "unknown"):
            with self.subTest(status):
                run = ThreadRun.from_dict(with_(minimal(), status=status))
                self.assertIs(run.is_terminal, False)
        for name, _raw, data in CORPUS:
            with self.subTest(name):
                run = ThreadRun.from_dict(data)
                self.assertEqual(run.is_terminal, data["status"] in TERMINAL)


def _ra(calls: Any) -> Dict[str, Any]:
    return {"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": calls}}


def _call(i: str = "call_1", name: str = "f", args: str = "{}") -> Dict[str, Any]:
    return {"id": i, "type": "function", "function": {"name": name, "arguments": args}}


class TestToolCalls(Base):
    def test_corpus_06(self) -> None:
        run = ThreadRun.from_dict(by_name("06-requires_action.json"))
        calls = run.tool_calls
        self.assertIsInstance(calls, tuple)
        self.assertEqual(len(calls), 1)
        c = calls[0]
        self.assertIsInstance(c, ToolCall)
        self.assertEqual(c.id, CALL_ID)
        self.assertEqual(c.name, "get_current_weather")
        self.assertEqual(c.arguments, '{"location":"San Francisco, CA","unit":"fahrenheit"}')
        self.assertIsInstance(c.arguments, str)
        self.assertEqual(c, ToolCall(id=CALL_ID, name="get_current_weather", arguments=c.arguments))
        self.assertEqual(hash(c), hash(ToolCall(CALL_ID, "get_current_weather", c.arguments)))
        self.assertEqual(ToolCall._fields, ("id", "name", "arguments"))
        self.assertEqual(tuple(c), (CALL_ID, "get_current_weather", c.arguments))
        with self.assertRaises(AttributeError):
            c.name = "x"  # type: ignore[misc]

    def test_empty_for_others(self) -> None:
        for name, _raw, data in CORPUS:
            if name == "06-requires_action.json":
                continue
            with self.subTest(name):
                self.assertEqual(ThreadRun.from_dict(data).tool_calls, ())
        self.assertEqual(ThreadRun.from_dict(minimal()).tool_calls, ())

    def test_several_calls_in_order(self) -> None:
        ra = _ra([_call("c1", "a", '{"x":1}'), _call("c2", "b", "")])
        run = ThreadRun.from_dict(with_(minimal(), status="requires_action", required_action=ra))
        self.assertEqual(run.tool_calls, (ToolCall("c1", "a", '{"x":1}'), ToolCall("c2", "b", "")))

    def test_malformed(self) -> None:
        # a submit_tool_outputs action is checked by from_dict (and by the
        # constructor), the path of what is wrong named; tool_calls then never raises
        c = _call()
        rows = [
            ("required_action['submit_tool_outputs']",
             {"type": "submit_tool_outputs", "submit_tool_outputs": "x"}),
            ("required_action['submit_tool_outputs']",
             {"type": "submit_tool_outputs", "submit_tool_outputs": [1]}),
            ("required_action['submit_tool_outputs']", {"type": "submit_tool_outputs"}),
            (P, _ra("x")),
            (P, _ra({"0": c})),
            (P, _ra(5)),
            (P + "[0]", _ra(["x"])),
            (P + "[1]", _ra([c, None])),
            (P + "[0]['id']", _ra([{"type": "function", "function": c["function"]}])),
            (P + "[0]['id']", _ra([dict(c, id=5)])),
            (P + "[0]['id']", _ra([dict(c, id=None)])),
            (P + "[0]['function']", _ra([{"id": "c", "type": "function"}])),
            (P + "[0]['function']", _ra([dict(c, function="f")])),
            (P + "[0]['function']", _ra([dict(c, function=None)])),
            (P + "[0]['function']['name']", _ra([dict(c, function={"arguments": "{}"})])),
            (P + "[0]['function']['name']",
             _ra([dict(c, function={"name": 1, "arguments": "{}"})])),
            (P + "[0]['function']['arguments']", _ra([dict(c, function={"name": "f"})])),
            (P + "[0]['function']['arguments']",
             _ra([dict(c, function={"name": "f", "arguments": {"a": 1}})])),
            (P + "[2]['function']['arguments']",
             _ra([c, c, dict(c, function={"name": "f", "arguments": None})])),
        ]  # fmt: skip
        for field, ra in rows:
            data = with_(minimal(), status="requires_action", required_action=ra)
            before = copy.deepcopy(data)
            for label, parse in (
                ("from_dict", ThreadRun.from_dict),
                ("Mapping", lambda d: ThreadRun.from_dict(types.MappingProxyType(d))),
                ("from_json", lambda d: ThreadRun.from_json(json.dumps(d))),
                ("constructor", lambda d: ThreadRun(**expected_attributes(d), extra={})),
            ):
                with self.subTest(field=field, ra=ra, path=label):
                    self.assertRunError(parse, field, data)
                    self.assertEqual(data, before)

    def test_other_layouts_read_but_hold_no_tool_calls(self) -> None:
        # null and layouts other than submit_tool_outputs parse (a server's own layout, an
        # action of the future); tool_calls says why there are no calls to read in them
        rows = [
            ("required_action", "oops", "expected an object, got string 'oops'"),
            ("required_action", ["x"], "expected an object, got array"),
            ("required_action", 5, "expected an object, got integer 5"),
            ("required_action['type']", {}, "is missing, not 'submit_tool_outputs'"),
            ("required_action['type']", {"type": "other"},
             "is string 'other', not 'submit_tool_outputs': no tool calls to read"),
            ("required_action['type']", {"type": "code_interpreter", "x": 1},
             "is string 'code_interpreter', not 'submit_tool_outputs'"),
            ("required_action['type']", {"submit_tool_outputs": {"tool_calls": []}},
             "is missing, not 'submit_tool_outputs'"),
        ]  # fmt: skip
        for field, ra, message in rows:
            with self.subTest(ra=ra):
                data = with_(minimal(), status="requires_action", required_action=ra)
                run = ThreadRun.from_dict(data)
                self.assertEqual(run.to_dict(), data)
                err = self.assertRunError(lambda run=run: run.tool_calls, field)
                self.assertIn(message, str(err))
        self.assertEqual(ThreadRun.from_dict(with_(minimal(), required_action=None)).tool_calls,
                         ())  # fmt: skip
        run = ThreadRun.from_dict(with_(minimal(), required_action=_ra([dict(_call(), type="x")])))
        self.assertEqual(run.tool_calls, ())  # calls of other types than function are skipped


class TestToJson(Base):
    def test_non_json_values_rejected(self) -> None:
        for v in (float("nan"), float("inf"), float("-inf"), [1.0, float("nan")],
                  {"a": float("inf")}, object(), {1, 2}, b"bytes"):  # fmt: skip
            with self.subTest(v=v):
                run = ThreadRun.from_dict(with_(minimal(), x=v))
                self.assertIs(run.extra["x"], v)
                self.assertRunError(run.to_json, None)
        run = ThreadRun.from_dict(with_(minimal(), usage={"t": float("nan")}))
        self.assertRunError(run.to_json, None)

    def test_deep_nesting_to_json(self) -> None:
        deep: Any = []
        for _ in range(100000):
            deep = [deep]
        run = ThreadRun.from_dict(with_(minimal(), x=deep))
        self.assertIs(run.extra["x"], deep)
        self.assertRunError(run.to_json, None)

    def test_to_json_keys_order(self) -> None:
        run = ThreadRun.from_dict(with_(minimal(), zzz=1, aaa=2))
        self.assertEqual(list(json.loads(run.to_json())), [*REQUIRED, "zzz", "aaa"])
        data = by_name("22-completed.json")
        self.assertEqual(list(json.loads(ThreadRun.from_dict(data).to_json())),
                         expected_keys(data))  # fmt: skip


if __name__ == "__main__":
    unittest.main()
