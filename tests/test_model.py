"""Specification of the Run model: ThreadRun, ToolCall, RunStatus, ThreadRunError.

Data-driven: the corpus of OpenAPI examples in tests/data/ and tables of bad inputs, each row a
subTest.  Runs against the package or, with THREADRUN_TEST_MODULE_DIR, against the single file
(see tests/__init__.py).
"""

from __future__ import annotations

import collections.abc
import copy
import dataclasses
import json
import pickle
import types
import unittest
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

from tests import corpus, threadrun
from tests.support import requires_tracemalloc, tracemalloc

ThreadRun = threadrun.ThreadRun
ThreadRunError = threadrun.ThreadRunError
ToolCall = threadrun.ToolCall
RunStatus = threadrun.RunStatus

FIELDS = (
    "id", "object", "created_at", "thread_id", "assistant_id", "status", "required_action",
    "last_error", "expires_at", "started_at", "cancelled_at", "failed_at", "completed_at",
    "incomplete_details", "model", "instructions", "tools", "metadata", "usage", "extra",
)  # fmt: skip
KNOWN = FIELDS[:-1]  # the 19 keys of the wire format
REQUIRED = ("id", "object", "created_at", "thread_id", "assistant_id", "status", "model")
REQUIRED_STR = ("id", "object", "thread_id", "assistant_id", "status", "model")
OPTIONAL_TS = ("expires_at", "started_at", "cancelled_at", "failed_at", "completed_at")
ANY_OPTIONAL = ("required_action", "last_error", "incomplete_details", "usage")
OPTIONAL = ("instructions", *OPTIONAL_TS, *ANY_OPTIONAL)

TERMINAL = ("cancelled", "failed", "completed", "incomplete", "expired")
NON_TERMINAL = ("queued", "in_progress", "requires_action", "cancelling")

SECRET = "S" * 10000
CALL_ID = "call_XXNp8YGaFrjrSjgqxtC8JJ1B"

CORPUS = corpus()


def minimal() -> Dict[str, Any]:
    return {
        "id": "run_1",
        "object": "thread.run",
        "created_at": 1710351818,
        "thread_id": "thread_1",
        "assistant_id": "asst_1",
        "status": "queued",
        "model": "gpt-4o",
    }


def by_name(name: str) -> Dict[str, Any]:
    for n, _raw, d in CORPUS:
        if n == name:
            return copy.deepcopy(d)
    raise KeyError(name)


def expected_attributes(data: Dict[str, Any]) -> Dict[str, Any]:
    """The attributes of the run parsed from valid data: absent optionals read None,
    absent/null tools and metadata read [] and {}; everything else exactly as given."""
    exp = {k: data.get(k) for k in KNOWN}
    if exp["tools"] is None:
        exp["tools"] = []
    if exp["metadata"] is None:
        exp["metadata"] = {}
    return exp


def expected_keys(data: Dict[str, Any]) -> List[str]:
    """The keys of to_dict() for valid data, in order: the known keys the data has, in class
    order, then the others in the data's order."""
    return [k for k in KNOWN if k in data] + [k for k in data if k not in KNOWN]


def with_(base: Dict[str, Any], **kw: Any) -> Dict[str, Any]:
    d = dict(base)
    d.update(kw)
    return d


def without(base: Dict[str, Any], key: str) -> Dict[str, Any]:
    d = dict(base)
    del d[key]
    return d


def kwargs_of(run: Any) -> Dict[str, Any]:
    return {f: getattr(run, f) for f in FIELDS}


def valid_json_with(raw_value: str) -> str:
    """A valid run as JSON text with an unknown key "x" whose value is the given JSON text."""
    body = json.dumps(minimal())
    return body[:-1] + ', "x": ' + raw_value + "}"


FieldSpec = Union[str, Callable[[Optional[str]], bool]]


class Base(unittest.TestCase):
    maxDiff = 4000

    def assertRunError(
        self, fn: Callable[..., Any], field: Optional[FieldSpec], *args: Any
    ) -> Any:
        """fn(*args) raises ThreadRunError; if field is a str, .field is exactly it and the
        message names it (message form '<field>: expected ..., got ...'); if callable, it is a
        predicate on .field.  Returns the exception."""
        with self.assertRaises(ThreadRunError) as cm:
            fn(*args)
        err = cm.exception
        self.assertIsInstance(err, ValueError)
        msg = str(err)
        for attr in ("field", "line", "column", "request_id"):
            self.assertTrue(hasattr(err, attr), attr)
        if isinstance(field, str):
            self.assertEqual(err.field, field, msg)
            self.assertIn(field, msg)
            self.assertTrue(msg.startswith(field + ": "), "message form: %r" % msg[:300])
        elif field is not None:
            self.assertTrue(field(err.field), "unexpected .field %r (%s)" % (err.field, msg[:300]))
            self.assertIn(err.field, msg)
        self.assertLess(len(msg), 1000, "message too long: %r..." % msg[:300])
        return err


# --------------------------------------------------------------------------------------------
# corpus
# --------------------------------------------------------------------------------------------


class TestCorpus(Base):
    def test_corpus_present(self) -> None:
        self.assertEqual(len(CORPUS), 23)

    def test_repr_is_the_dataclass_repr(self) -> None:
        # ThreadRun writes its own __repr__ (dataclass would compile one at every import):
        # the form dataclass gives, every field by name, "..." where a run holds itself.
        for name, _raw, data in CORPUS:
            with self.subTest(name):
                for run in (ThreadRun.from_dict(data), Sub.from_dict(data)):
                    fields = ", ".join("%s=%r" % (field.name, getattr(run, field.name))
                                       for field in dataclasses.fields(run))  # fmt: skip
                    self.assertEqual(repr(run), "%s(%s)" % (type(run).__qualname__, fields))
        run = ThreadRun.from_dict(CORPUS[0][2])
        run.extra["itself"] = run
        self.assertTrue(repr(run).endswith("'itself': ...})"), repr(run)[-80:])

    def test_every_file_parses_losslessly(self) -> None:
        for name, _raw, data in CORPUS:
            with self.subTest(name):
                before = copy.deepcopy(data)
                run = ThreadRun.from_dict(data)
                self.assertEqual(data, before, "input mutated")
                self.assertIsInstance(run, ThreadRun)
                exp = expected_attributes(data)
                for k in KNOWN:
                    self.assertEqual(getattr(run, k), exp[k], k)
                unknown = {k: v for k, v in data.items() if k not in KNOWN}
                self.assertEqual(run.extra, unknown)
                self.assertEqual(list(run.extra), list(unknown), "extra keeps input order")
                d = run.to_dict()
                self.assertEqual(d, data, "lossless")
                self.assertEqual(list(d), expected_keys(data))
                self.assertEqual(ThreadRun.from_dict(d), run)
                self.assertEqual(ThreadRun.from_dict(run.to_dict()).to_dict(), d)

    def test_from_json_bytes_str_bytearray_agree(self) -> None:
        for name, raw, data in CORPUS:
            with self.subTest(name):
                want = ThreadRun.from_dict(data)
                self.assertEqual(ThreadRun.from_json(raw), want)
                self.assertEqual(ThreadRun.from_json(raw.decode("utf-8")), want)
                self.assertEqual(ThreadRun.from_json(bytearray(raw)), want)

    def test_from_json_bytes_beyond_ascii(self) -> None:
        # Bytes are UTF-8: a document with characters beyond ASCII reads as its text does,
        # and invalid UTF-8 is named by its byte, as bytes.decode names it.
        for value in ('"caf\u00e9"', '"\U0001f600 \u00e9"', '["\u4e2d", "\u00e9"]'):
            text = valid_json_with(value)
            raw = text.encode("utf-8")
            self.assertNotEqual(len(raw), len(text))
            for payload in (raw, bytearray(raw)):
                with self.subTest(value=value, kind=type(payload).__name__):
                    self.assertEqual(ThreadRun.from_json(payload), ThreadRun.from_json(text))
        for bad in (b"\xff", b"\xc3", b"\xed\xa0\x80", "\u00e9".encode("utf-8") + b"\xff"):
            raw = valid_json_with('"x"').encode("utf-8").replace(b'"x"}', b'"' + bad + b'"}')
            with self.assertRaises(UnicodeDecodeError) as cm:
                raw.decode("utf-8")
            expected = "invalid UTF-8: byte %d (%s)" % (cm.exception.start, cm.exception.reason)
            for payload in (raw, bytearray(raw)):
                with self.subTest(bad=bad, kind=type(payload).__name__):
                    error = self.assertRunError(ThreadRun.from_json, None, payload)
                    self.assertEqual(str(error), expected)

    def test_to_json_round_trip(self) -> None:
        for name, raw, _data in CORPUS:
            with self.subTest(name):
                run = ThreadRun.from_json(raw)
                text = run.to_json()
                self.assertIsInstance(text, str)
                self.assertEqual(json.loads(text), run.to_dict())
                self.assertEqual(ThreadRun.from_json(text), run)
                self.assertEqual(ThreadRun.from_json(text).to_json(), text)

    def test_to_json_is_compact(self) -> None:
        for name, raw, _data in CORPUS:
            with self.subTest(name):
                run = ThreadRun.from_json(raw)
                d = run.to_dict()
                compact = (
                    json.dumps(d, separators=(",", ":")),
                    json.dumps(d, separators=(",", ":"), ensure_ascii=False),
                )
                self.assertIn(run.to_json(), compact)
                self.assertNotIn("\n", run.to_json())

    def test_extra_holds_unknown_keys(self) -> None:
        run = ThreadRun.from_dict(by_name("01-queued.json"))
        self.assertEqual(run.extra["temperature"], 1.0)
        self.assertEqual(run.extra["truncation_strategy"], {"type": "auto", "last_messages": None})
        self.assertIs(run.extra["parallel_tool_calls"], True)
        for k in KNOWN:
            self.assertNotIn(k, run.extra)

    def test_corpus_fields(self) -> None:
        run = ThreadRun.from_dict(by_name("17-completed.json"))
        self.assertEqual(run.metadata, {"user_id": "user_abc123"})
        run = ThreadRun.from_dict(by_name("06-requires_action.json"))
        self.assertEqual(run.id, "run_123")
        self.assertEqual(run.status, "requires_action")
        self.assertEqual(run.created_at, 1710351818)
        self.assertEqual(run.usage, {"prompt_tokens": 345, "completion_tokens": 11,
                                     "total_tokens": 356})  # fmt: skip
        self.assertIsNone(run.failed_at)
        self.assertEqual(run.tools[0]["function"]["name"], "get_current_weather")


# --------------------------------------------------------------------------------------------
# bad input tables
# --------------------------------------------------------------------------------------------


def bad_dict_cases() -> Iterator[Tuple[str, Any, FieldSpec]]:
    """(label, data, expected field) rows; from_dict(data) must raise ThreadRunError."""
    base = minimal()
    for k in REQUIRED:
        yield "missing %s" % k, without(base, k), k
        yield "null %s" % k, with_(base, **{k: None}), k
    str_bad = [1, 0, 1.5, [], ["x"], {}, True, False, b"bytes"]
    for k in REQUIRED_STR:
        for v in str_bad:
            yield "%s=%r" % (k, v), with_(base, **{k: v}), k
    for v in str_bad:
        yield "instructions=%r" % (v,), with_(base, instructions=v), "instructions"
    ts_bad = ["1710351818", "", 1.0, 1.5, float("nan"), True, False, [], {}, [1], -1,
              -(2**63), 253402300800, 1796603835780, 2**63, 2**64 - 1, 2**64, 2**100,
              b"1"]  # fmt: skip
    for v in [*ts_bad, None]:
        yield "created_at=%r" % (v,), with_(base, created_at=v), "created_at"
    for k in OPTIONAL_TS:
        for v in ts_bad:
            yield "%s=%r" % (k, v), with_(base, **{k: v}), k
    for v in [{}, {"type": "code_interpreter"}, "x", "", 1, True, 1.5]:
        yield "tools=%r" % (v,), with_(base, tools=v), "tools"
    for v in [[], [["k", "v"]], "x", "", 1, True, 1.5]:
        yield "metadata=%r" % (v,), with_(base, metadata=v), "metadata"
    for v in [1, None, True, 1.5, [], ["v"], {}, b"v"]:
        yield "metadata['k']=%r" % (v,), with_(base, metadata={"a": "ok", "k": v}), "metadata['k']"
    for key in [1, None, b"k", (1, 2), True]:
        yield (
            "metadata key %r" % (key,),
            with_(base, metadata={key: "v"}),
            lambda f: f is not None and f.startswith("metadata"),
        )
    for key in [1, None, b"extra", (1, 2), 1.5, True]:
        d = dict(base)
        d[key] = "v"  # type: ignore[index]
        yield "extra key %r" % (key,), d, lambda f: f is not None and "extra" in f


class TestBadInput(Base):
    def test_bad_dicts(self) -> None:
        for label, data, field in bad_dict_cases():
            with self.subTest(label):
                before = copy.deepcopy(data)
                self.assertRunError(ThreadRun.from_dict, field, data)
                self.assertEqual(data, before, "input mutated")

    def test_bad_dicts_via_json(self) -> None:
        # every JSON-representable row must fail identically through from_json
        for label, data, field in bad_dict_cases():
            try:
                text = json.dumps(data, allow_nan=False)
            except (TypeError, ValueError):
                continue
            if json.loads(text) != data:
                continue  # e.g. non-str keys, which JSON turns into strings
            with self.subTest(label):
                self.assertRunError(ThreadRun.from_json, field, text)

    def test_timestamp_bounds_ok(self) -> None:
        for k in ("created_at", *OPTIONAL_TS):
            for v in (0, 1, 1796603835, 253402300799):  # up to the end of year 9999
                with self.subTest(k=k, v=v):
                    run = ThreadRun.from_dict(with_(minimal(), **{k: v}))
                    self.assertEqual(getattr(run, k), v)
                    self.assertIs(type(getattr(run, k)), int)
                    self.assertEqual(ThreadRun.from_json(run.to_json()), run)

    def test_milliseconds_refused_with_a_hint(self) -> None:
        # a server writing milliseconds is refused, not read as the year 58900
        for k in ("created_at", *OPTIONAL_TS):
            for value, hint in ((253402300800, True), (1796603835780, True),
                                (253402300799999, True), (253402300800000, False),
                                (2**64 - 1, False), (-1, False)):  # fmt: skip
                data = with_(minimal(), **{k: value})
                for parse in (
                    ThreadRun.from_dict,
                    lambda d: ThreadRun.from_json(json.dumps(d)),
                    lambda d: ThreadRun.from_dict(types.MappingProxyType(d)),
                ):
                    with self.subTest(k=k, value=value):
                        err = self.assertRunError(parse, k, data)
                        self.assertIn("expected Unix seconds from 0 to 253402300799 (year 9999)",
                                      str(err))  # fmt: skip
                        self.assertEqual("it looks like milliseconds, which run_adapter="
                                         "threadrun.lenient reads" in str(err), hint)  # fmt: skip

    def test_non_dict_data(self) -> None:
        for v in ([], [("id", "x")], "x", "", None, 0, 1, 1.5, True, b"{}", object()):
            with self.subTest(v=v):
                self.assertRunError(ThreadRun.from_dict, None, v)

    def test_error_attributes_default_none(self) -> None:
        err = self.assertRunError(ThreadRun.from_dict, "created_at",
                                  with_(minimal(), created_at="x"))  # fmt: skip
        self.assertIsNone(err.line)
        self.assertIsNone(err.column)
        self.assertIsNone(err.request_id)
        self.assertIsNone(self.assertRunError(ThreadRun.from_dict, None, []).field)

    def test_version(self) -> None:
        self.assertEqual(threadrun.__version__, "0.1.0")

    def test_threadrunerror_hierarchy(self) -> None:
        self.assertTrue(issubclass(ThreadRunError, ValueError))
        self.assertFalse(issubclass(ThreadRunError, threadrun.OpenAIError))

    def test_threadrunerror_pickles_with_its_class(self) -> None:
        for cls in (ThreadRunError, MyRunError):
            with self.subTest(cls.__name__):
                err = cls("expected a string, got integer 1", "id", 2, 3)
                err.request_id = "req_1"
                back = pickle.loads(pickle.dumps(err))
                self.assertIs(type(back), cls)
                self.assertEqual(str(back), "id: expected a string, got integer 1")
                self.assertEqual((back.field, back.line, back.column, back.request_id),
                                 ("id", 2, 3, "req_1"))  # fmt: skip

    def test_long_values_truncated_in_messages(self) -> None:
        base = minimal()
        rows = [
            ("created_at", with_(base, created_at=SECRET)),
            ("expires_at", with_(base, expires_at=SECRET)),
            ("status", with_(base, status=[SECRET])),
            ("id", with_(base, id={SECRET: SECRET})),
            ("tools", with_(base, tools=SECRET)),
            ("metadata", with_(base, metadata=SECRET)),
            ("metadata['k']", with_(base, metadata={"k": [SECRET]})),
            ("metadata['k']", with_(base, metadata={"k": SECRET.encode()})),
        ]
        for field, data in rows:
            with self.subTest(field=field, kind=type(data[field.split("[")[0]]).__name__):
                err = self.assertRunError(ThreadRun.from_dict, field, data)
                self.assertLess(len(str(err)), 200, str(err)[:300])
                self.assertNotIn("S" * 100, str(err))
                self.assertNotIn("S" * 100, repr(err))

    def test_long_key_not_echoed_in_full(self) -> None:
        # a long metadata key/extra key is input too: it must not be echoed in full either
        for data in (
            with_(minimal(), metadata={SECRET: 1}),
            with_(minimal(), metadata={"k" + SECRET: None}),
        ):
            with self.subTest():
                with self.assertRaises(ThreadRunError) as cm:
                    ThreadRun.from_dict(data)
                self.assertNotIn(SECRET, str(cm.exception))
                self.assertLess(len(str(cm.exception)), 400)

    def test_huge_int_in_error_message(self) -> None:
        # repr() of a > 4300-digit int raises ValueError on 3.11+: the error must still be a
        # ThreadRunError with a short message
        for k in ("created_at", "expires_at", "id", "status"):
            with self.subTest(k):
                err = self.assertRunError(ThreadRun.from_dict, k, with_(minimal(), **{k: 10**5000}))
                self.assertLess(len(str(err)), 200)
        err = self.assertRunError(
            ThreadRun.from_dict, "metadata['k']", with_(minimal(), metadata={"k": -(10**5000)})
        )
        self.assertLess(len(str(err)), 200)


    def test_deeply_nested_bad_value(self) -> None:
        # describing the bad value must not recurse without bound
        deep: Any = []
        for _ in range(100000):
            deep = [deep]
        for k in ("id", "created_at", "expires_at", "instructions", "status", "metadata"):
            with self.subTest(k):
                err = self.assertRunError(ThreadRun.from_dict, k, with_(minimal(), **{k: deep}))
                self.assertLess(len(str(err)), 200)
        self.assertRunError(
            ThreadRun.from_dict, "metadata['k']", with_(minimal(), metadata={"k": deep})
        )
        ra = {"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": [deep]}}
        self.assertRunError(ThreadRun.from_dict, P + "[0]", with_(minimal(), required_action=ra))


class TestBadJson(Base):
    def test_truncated_has_position(self) -> None:
        for name, raw, _d in CORPUS[:5]:
            for cut in (1, len(raw) // 3, len(raw) // 2, len(raw) - 2):
                for payload in (raw[:cut], raw[:cut].decode("utf-8")):
                    with self.subTest(name=name, cut=cut, kind=type(payload).__name__):
                        err = self.assertRunError(ThreadRun.from_json, None, payload)
                        self.assertIsInstance(err.line, int)
                        self.assertIsInstance(err.column, int)
                        self.assertGreaterEqual(err.line, 1)
                        self.assertGreaterEqual(err.column, 1)

    def test_nested_too_deeply_while_an_exception_is_handled(self) -> None:
        # THREADRUN_FUZZ_SEED=1710351818 on PyPy: a pure-Python json recursing too deep in an
        # except clause raises "TypeError: couldn't record exception context" (there it was
        # the fuzz test's reference parser); from_json says what is wrong, in a handler too.
        deep = "[" * 100000 + "1" + "]" * 100000
        text = '{"id":"run_abc123","object":' + deep + ',"thread.run","created_at":1}'
        for payload in (text, text.encode(), bytearray(text.encode()), valid_json_with(deep)):
            with self.subTest(kind=type(payload).__name__, length=len(payload)):
                try:
                    raise ValueError("being handled")
                except ValueError:
                    err = self.assertRunError(ThreadRun.from_json, None, payload)
                self.assertEqual(str(err), "invalid JSON: nested too deeply")

    def test_position_values(self) -> None:
        err = self.assertRunError(ThreadRun.from_json, None, '{\n  "id": "x",\n  "a": }')
        self.assertEqual(err.line, 3)
        self.assertEqual(err.column, 8)

    def test_bad_json_table(self) -> None:
        rows: List[Tuple[str, Any]] = [
            ("NaN", valid_json_with("NaN")),
            ("Infinity", valid_json_with("Infinity")),
            ("-Infinity", valid_json_with("-Infinity")),
            ("NaN in list", valid_json_with("[1, NaN]")),
            ("NaN created_at", valid_json_with("1").replace("1710351818", "NaN")),
            ("deep nesting", valid_json_with("[" * 100000 + "]" * 100000)),
            ("deep dict nesting", valid_json_with('{"a":' * 100000 + "1" + "}" * 100000)),
            ("5000-digit int", valid_json_with("9" * 5000)),
            ("5000-digit negative int", valid_json_with("-" + "9" * 5000)),
            ("5000-digit created_at", valid_json_with("1").replace("1710351818", "9" * 5000)),
            ("invalid utf-8 in value", valid_json_with('"\xff"').encode("latin-1")),
            ("invalid utf-8 continuation", valid_json_with('"a"').encode() + b"\x80"),
            ("invalid utf-8 overlong", b'{"id": "\xc0\xaf"}'),
            ("invalid utf-8 surrogate", valid_json_with('"\xed\xa0\x80"').encode("latin-1")),
            ("lone \\xff", b"\xff"),
            ("empty bytes", b""),
            ("empty str", ""),
            ("blank str", "   "),
            ("blank bytes", b" \n\t "),
            ("empty bytearray", bytearray()),
            ("top-level array", "[]"),
            ("top-level array of run", "[" + json.dumps(minimal()) + "]"),
            ("top-level string", '"run"'),
            ("top-level number", "1"),
            ("top-level null", "null"),
            ("trailing garbage", json.dumps(minimal()) + " x"),
            ("two documents", json.dumps(minimal()) * 2),
            ("int argument", 1),
            ("None argument", None),
            ("float argument", 1.5),
            ("list argument", [json.dumps(minimal())]),
        ]
        for label, payload in rows:
            with self.subTest(label):
                self.assertRunError(ThreadRun.from_json, None, payload)

    def test_text_around_the_value_as_json_loads(self) -> None:
        # JSON whitespace (space, tab, CR, LF) around the object is allowed; anything else,
        # Unicode whitespace included, is refused where json.loads refuses it, in the words
        # of json's JSONDecoder (PyPy's json.loads words its errors its own way)
        body = json.dumps(minimal())
        cases = [
            ("", "\n"), ("", "\r\n"), ("", " \t \n"), (" ", ""), ("\n\t ", "\n"), ("\r", "\r"),
            ("", " x"), ("", "\n{}"), ("", "\x1c"), ("", "\u3000"), ("", "\x0b"),
            ("", "\x00"), ("\u3000", ""), ("\x0c", ""),
        ]  # fmt: skip
        for before, after in cases:
            text = before + body + after
            with self.subTest(before=before, after=after):
                try:
                    json.JSONDecoder().decode(text)
                except json.JSONDecodeError as exc:
                    err = self.assertRunError(ThreadRun.from_json, None, text)
                    self.assertEqual((err.line, err.column), (exc.lineno, exc.colno))
                    self.assertIn(exc.msg, str(err))
                    self.assertRunError(ThreadRun.from_json, None, text.encode("utf-8"))
                else:
                    self.assertEqual(ThreadRun.from_json(text), ThreadRun.from_dict(minimal()))
                    self.assertEqual(
                        ThreadRun.from_json(text.encode("utf-8")), ThreadRun.from_dict(minimal())
                    )

    def test_float_overflow_rejected(self) -> None:
        # 1e400 parses to inf, which to_json can never write back: reject it like Infinity
        for lit in ("1e400", "-1e400", "[1e999]"):
            with self.subTest(lit):
                self.assertRunError(ThreadRun.from_json, None, valid_json_with(lit))

    def test_json_error_field_names(self) -> None:
        text = json.dumps(with_(minimal(), created_at="1"))
        self.assertRunError(ThreadRun.from_json, "created_at", text)
        text = json.dumps(with_(minimal(), metadata={"k": 1}))
        self.assertRunError(ThreadRun.from_json, "metadata['k']", text)

    def test_accepts_big_but_legal_values(self) -> None:
        run = ThreadRun.from_json(valid_json_with("9" * 4000))
        self.assertEqual(run.extra["x"], int("9" * 4000))
        run = ThreadRun.from_json(valid_json_with("[" * 200 + "]" * 200))
        self.assertEqual(ThreadRun.from_json(run.to_json()), run)
        run = ThreadRun.from_json(valid_json_with('"\\ud83d\\ude00 \u00e9"'))
        self.assertEqual(run.extra["x"], "\U0001f600 \u00e9")
        self.assertEqual(ThreadRun.from_json(run.to_json()), run)
        self.assertEqual(ThreadRun.from_json(run.to_json().encode("utf-8")), run)


# --------------------------------------------------------------------------------------------
# optional/null handling, input handling
# --------------------------------------------------------------------------------------------


class MyMapping(collections.abc.Mapping):  # type: ignore[type-arg]
    def __init__(self, d: Dict[str, Any]) -> None:
        self._d = d

    def __getitem__(self, k: str) -> Any:
        return self._d[k]

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)


class Str(str):
    pass


class TestDefaults(Base):
    def test_absent_optionals(self) -> None:
        run = ThreadRun.from_dict(minimal())
        for k in OPTIONAL:
            self.assertIsNone(getattr(run, k), k)
        self.assertEqual(run.tools, [])
        self.assertEqual(run.metadata, {})
        self.assertEqual(run.extra, {})
        self.assertEqual(run.to_dict(), minimal())
        self.assertEqual(list(run.to_dict()), list(REQUIRED))

    def test_null_optionals(self) -> None:
        data = minimal()
        for k in (*OPTIONAL, "tools", "metadata"):
            data[k] = None
        run = ThreadRun.from_dict(data)
        for k in OPTIONAL:
            self.assertIsNone(getattr(run, k), k)
        self.assertEqual(run.tools, [])
        self.assertIsInstance(run.tools, list)
        self.assertEqual(run.metadata, {})
        self.assertIsInstance(run.metadata, dict)
        self.assertEqual(run, ThreadRun.from_dict(minimal()))

    def test_any_optional_values_untouched(self) -> None:
        for k in ANY_OPTIONAL:
            for v in ({"a": [1, {"b": None}]}, "text", 3, [1, 2], True):
                with self.subTest(k=k, v=v):
                    run = ThreadRun.from_dict(with_(minimal(), **{k: v}))
                    self.assertEqual(getattr(run, k), v)

    def test_unknown_status_kept(self) -> None:
        run = ThreadRun.from_dict(with_(minimal(), status="some_future_status"))
        self.assertEqual(run.status, "some_future_status")
        self.assertFalse(run.is_terminal)
        self.assertEqual(run.to_dict()["status"], "some_future_status")

    def test_object_is_thread_run(self) -> None:
        # a message, a step or a list page carrying a run's keys is not a run
        for found, shown in (("thread.message", "string 'thread.message'"),
                             ("thread.run.v9", "string 'thread.run.v9'"), ("", "string ''"),
                             ("Thread.Run", "string 'Thread.Run'"), (5, "integer 5"),
                             (None, "null")):  # fmt: skip
            data = with_(minimal(), object=found)
            for label, parse in (("from_dict", ThreadRun.from_dict),
                                 ("from_dict of a Mapping",
                                  lambda d: ThreadRun.from_dict(types.MappingProxyType(d))),
                                 ("from_json", lambda d: ThreadRun.from_json(json.dumps(d))),
                                 ("constructor", lambda d: ThreadRun(**expected_attributes(d),
                                                                      extra={})),
                                 ):  # fmt: skip
                with self.subTest(found=found, path=label):
                    err = self.assertRunError(parse, "object", data)
                    self.assertIn("expected 'thread.run', got " + shown, str(err))
                    self.assertIn("threadrun.lenient", str(err))
        self.assertEqual(ThreadRun.from_dict(with_(minimal(), object=Str("thread.run"))).object,
                         "thread.run")  # fmt: skip

    def test_empty_strings_allowed(self) -> None:
        run = ThreadRun.from_dict(with_(minimal(), id="", model="", instructions=""))
        self.assertEqual((run.id, run.model, run.instructions), ("", "", ""))

    def test_input_never_mutated(self) -> None:
        inputs = [d for _n, _r, d in CORPUS] + [
            minimal(),
            with_(minimal(), tools=None, metadata=None, usage=None),
            with_(minimal(), created_at="bad", extra_key={"a": [1]}),
            with_(minimal(), metadata={"a": "b", "c": 1}),
        ]
        for data in inputs:
            with self.subTest(id=data.get("id")):
                before = copy.deepcopy(data)
                keys_before = list(data)
                try:
                    run = ThreadRun.from_dict(data)
                except ThreadRunError:
                    run = None
                self.assertEqual(data, before)
                self.assertEqual(list(data), keys_before)
                if run is not None:
                    run.to_dict()["id"] = "changed"
                    run.to_json()
                    _ = run.tool_calls
                    self.assertEqual(data, before)

    def test_sharing_contract(self) -> None:
        data = with_(minimal(), tools=[{"type": "x"}], metadata={"a": "b"}, zzz={"n": [1]})
        run = ThreadRun.from_dict(data)
        self.assertIs(run.tools, data["tools"])
        self.assertIs(run.metadata, data["metadata"])
        self.assertIs(run.extra["zzz"], data["zzz"])
        self.assertIsNot(run.extra, data)
        self.assertEqual(type(run.extra), dict)

    def test_nan_in_any_field_round_trips(self) -> None:
        # from_dict(run.to_dict()) == run must hold for every run from_dict accepts, on every
        # Python (3.13's dataclass __eq__ compares fields with ==, not as tuples)
        nan = float("nan")
        for k in (*ANY_OPTIONAL, "zzz"):
            with self.subTest(k):
                run = ThreadRun.from_dict(with_(minimal(), **{k: nan}))
                self.assertEqual(run, run)
                self.assertEqual(ThreadRun.from_dict(run.to_dict()), run)
                self.assertEqual(copy.copy(run), run)

    def test_to_dict_is_new(self) -> None:
        run = ThreadRun.from_dict(with_(minimal(), zzz=1))
        d1 = run.to_dict()
        d1["id"] = "other"
        d1["zzz"] = 2
        d1["new"] = 3
        d2 = run.to_dict()
        self.assertIsNot(d1, d2)
        self.assertEqual(d2["id"], "run_1")
        self.assertEqual(run.extra, {"zzz": 1})

    def test_mapping_accepted(self) -> None:
        for name, _raw, data in CORPUS[:6]:
            want = ThreadRun.from_dict(data)
            for wrap in (types.MappingProxyType, MyMapping):
                with self.subTest(name=name, wrap=wrap.__name__):
                    run = ThreadRun.from_dict(wrap(data))
                    self.assertEqual(run, want)
                    self.assertEqual(run.to_dict(), want.to_dict())
                    self.assertEqual(type(run.to_dict()), dict)
                    self.assertEqual(type(run.extra), dict)

    def test_str_subclass_ok(self) -> None:
        data = with_(minimal(), id=Str("run_s"), status=Str("queued"), instructions=Str("hi"),
                     metadata={Str("k"): Str("v")})  # fmt: skip
        run = ThreadRun.from_dict(data)
        self.assertEqual(run.id, "run_s")
        self.assertEqual(run.metadata, {"k": "v"})
        self.assertEqual(ThreadRun.from_dict(run.to_dict()), run)
        self.assertEqual(json.loads(run.to_json())["id"], "run_s")

    @requires_tracemalloc
    def test_long_values_are_not_copied(self) -> None:
        # parsing holds references: a long metadata value shared sixteen times over (or any
        # long value) costs no memory of its size while parsing, on either path
        long_value = "x" * (1 << 20)
        metadata = {"k%d" % i: long_value for i in range(16)}
        for data in (
            with_(minimal(), metadata=metadata, instructions=long_value, note=long_value),
            types.MappingProxyType(with_(minimal(), metadata=metadata)),
        ):
            with self.subTest(type(data).__name__):
                tracemalloc.start()
                try:
                    run = ThreadRun.from_dict(data)
                    peak = tracemalloc.get_traced_memory()[1]
                finally:
                    tracemalloc.stop()
                self.assertIs(run.metadata["k15"], long_value)
                self.assertLess(peak, 64 * 1024)

    def test_extra_key_case_variants_are_extra(self) -> None:
        odd = {"ID": "x", "Status": "y", " id": 1, "id ": 2, "created_at\x00": 3, "meta data": 4}
        data = dict(minimal(), **odd)
        run = ThreadRun.from_dict(data)
        self.assertEqual(run.extra, odd)
        d = run.to_dict()
        self.assertEqual(d["id"], "run_1")
        self.assertEqual(d["ID"], "x")
        self.assertEqual(list(d), list(REQUIRED) + list(odd))


# --------------------------------------------------------------------------------------------
# lossless: absent stays absent, null stays null, [] stays []
# --------------------------------------------------------------------------------------------


class Sub(ThreadRun):
    pass


class MyRunError(ThreadRunError):
    pass


# Where a run's tool calls are, as an error names them.
P = "required_action['submit_tool_outputs']['tool_calls']"


if __name__ == "__main__":
    unittest.main()
