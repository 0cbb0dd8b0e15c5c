"""Seeded mutation fuzzer for ThreadRun.from_dict / from_json over the corpus.

Every case starts from a corpus file and applies a few random mutations, either to the decoded
dict (type swaps of random nested values, key deletions, odd keys, deep nesting, huge ints,
NaN/inf) or to the raw bytes (bit flips, truncation, bad UTF-8, odd tokens).  The only allowed
outcomes are

* ThreadRunError (with a str-or-None .field and a bounded message), or
* a ThreadRun that round-trips: from_dict(run.to_dict()) == run, to_dict() equals the input
  exactly (an absent key stays absent, null stays null, also after copy.copy and
  dataclasses.replace), construction through __init__ accepts it, and the input was not
  mutated. The fast path (a dict) and the reference path (a Mapping) must agree on the run
  and on its to_dict(), absent keys included.  from_json results must also
  be writable by to_json and read back equal, and must equal from_dict(json.loads(text)).

Any other exception (or a broken property) fails the test with the seed and the case number.
The seed is fixed; override it with THREADRUN_FUZZ_SEED.  Each case has its own RNG,
random.Random(seed * 1000003 + case), so one case can be replayed alone:
THREADRUN_FUZZ_SEED=<seed> THREADRUN_FUZZ_ONLY=<case> python -m unittest tests.test_fuzz
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import random
import traceback
import types
import unittest
from typing import Any, Callable, Dict, List, Optional, Tuple

from tests import corpus, threadrun
from tests.test_model import expected_keys

ThreadRun = threadrun.ThreadRun
ThreadRunError = threadrun.ThreadRunError
ToolCall = threadrun.ToolCall

SEED = int(os.environ.get("THREADRUN_FUZZ_SEED", "1710351818"))
_ONLY = os.environ.get("THREADRUN_FUZZ_ONLY")
ONLY: Optional[int] = int(_ONLY) if _ONLY else None
DICT_CASES = 13000
BYTES_CASES = 9000
MAX_REPORTED = 10

KNOWN = (
    "id", "object", "created_at", "thread_id", "assistant_id", "status", "required_action",
    "last_error", "expires_at", "started_at", "cancelled_at", "failed_at", "completed_at",
    "incomplete_details", "model", "instructions", "tools", "metadata", "usage",
)  # fmt: skip
FIELDS = (*KNOWN, "extra")

CORPUS = corpus()
RAWS: List[bytes] = []
for _name, _raw, _data in CORPUS:
    RAWS.append(_raw)
    RAWS.append(json.dumps(_data, separators=(",", ":")).encode())


class _Odd:
    """A value no JSON parser makes."""

    def __repr__(self) -> str:
        return "<odd>"


HUGE_STR = "S" * 100000
ODD_VALUES: List[Any] = [
    None, True, False, 0, 1, -1, 2**63, 2**64 - 1, 2**64, -(2**64), 10**4000, 10**5000,
    -(10**5000), 0.0, -0.0, 1.0, 1.5, 1e308, float("nan"), float("inf"), float("-inf"), "",
    "x", "queued", "completed", "\x00", "\ud800", "\U0001f600", HUGE_STR, b"bytes", bytearray(b"b"),
    [], [1, "a"], [None], {}, {"a": 1}, {"k": "v"}, {1: "v"}, (1, 2), frozenset(), _Odd(),
    {"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": [{}]}},
]  # fmt: skip
ODD_KEYS: List[Any] = [
    1, 0, -1, None, True, False, 1.5, float("nan"), (1, 2), b"id", frozenset(), _Odd(),
    "ID", "Id", "STATUS", "Status", "Created_At", " id", "id ", "id\x00", "status\u200b",
    "\u0131d", "metadata ", "Tools", "extra", "__class__", "__slots__", "self", "cls", "",
    HUGE_STR, "k" * 5000,
]  # fmt: skip
ODD_TOKENS = [
    b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400", b"9" * 5000, b"-" + b"9" * 5000,
    b"9" * 4000, b"18446744073709551616", b"18446744073709551615", b"-1", b"-0", b"1.0",
    b"true", b"null", b'""', b"[]", b"{}", b'"\\ud800"', b'"\\u0000"', b"0x10", b"01",
    b"'x'", b'"\xff"', b"1e5",
]  # fmt: skip
BAD_UTF8 = [b"\xff", b"\xfe", b"\x80", b"\xc0\xaf", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80\x80",
            b"\xf4\x90\x80\x80", b"\xe2\x82"]  # fmt: skip
PUNCT = b'{}[],:"\\ \n\x00'


def nest(rng: random.Random, depth: int) -> Any:
    v: Any = rng.choice([1, "x", None, []])
    if rng.random() < 0.5:
        for _ in range(depth):
            v = [v]
    else:
        for _ in range(depth):
            v = {"a": v}
    return v


def nest_depth(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.01:
        return 100000
    if r < 0.1:
        return rng.randint(1000, 20000)
    return rng.randint(2, 200)


def odd_value(rng: random.Random) -> Any:
    if rng.random() < 0.08:
        return nest(rng, nest_depth(rng))
    return rng.choice(ODD_VALUES)


def pick_slot(rng: random.Random, data: Any) -> Optional[Tuple[Any, Any]]:
    """A random (container, key) slot in data, top level half of the time."""
    parent: Any = None
    key: Any = None
    node = data
    while True:
        if isinstance(node, dict) and node:
            k: Any = rng.choice(list(node))
        elif isinstance(node, list) and node:
            k = rng.randrange(len(node))
        else:
            break
        parent, key = node, k
        node = node[k]
        if rng.random() < 0.5:
            break
    return None if parent is None else (parent, key)


# ---- dict-level mutations: each returns (new data, description) --------------------------


def m_swap(rng: random.Random, data: Any) -> Tuple[Any, str]:
    if isinstance(data, dict) and rng.random() < 0.5:
        slot: Optional[Tuple[Any, Any]] = (data, rng.choice(KNOWN))
    else:
        slot = pick_slot(rng, data)
    if slot is None:
        return odd_value(rng), "replace root"
    parent, key = slot
    v = odd_value(rng)
    parent[key] = v
    return data, "swap %.40r=%s" % (key, type(v).__name__)


def m_delete(rng: random.Random, data: Any) -> Tuple[Any, str]:
    if isinstance(data, dict) and data and rng.random() < 0.5:
        key = rng.choice(list(data))
        del data[key]
        return data, "del %.40r" % (key,)
    slot = pick_slot(rng, data)
    if slot is None:
        return data, "del nothing"
    parent, key = slot
    del parent[key]
    return data, "del nested %.40r" % (key,)


def m_insert(rng: random.Random, data: Any) -> Tuple[Any, str]:
    target = data
    if rng.random() < 0.3:
        slot = pick_slot(rng, data)
        if slot is not None and isinstance(slot[0][slot[1]], dict):
            target = slot[0][slot[1]]
    if not isinstance(target, dict):
        return data, "insert nothing"
    key = rng.choice(ODD_KEYS)
    if isinstance(key, str) and key not in ("", HUGE_STR) and rng.random() < 0.2:
        key = key + str(rng.randrange(10))
    target[key] = odd_value(rng) if rng.random() < 0.5 else "v"
    return data, "insert key %.40r" % (key,)


def m_metadata(rng: random.Random, data: Any) -> Tuple[Any, str]:
    if not isinstance(data, dict):
        return data, "metadata nothing"
    md: Dict[Any, Any] = {}
    for _ in range(rng.randrange(4)):
        md[rng.choice(["k", "user", "", HUGE_STR, 1])] = rng.choice(["v", "", 1, None, HUGE_STR])
    data["metadata"] = md
    return data, "metadata %d" % len(md)


def m_tool_calls(rng: random.Random, data: Any) -> Tuple[Any, str]:
    if not isinstance(data, dict):
        return data, "tool_calls nothing"
    call: Dict[str, Any] = {
        "id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}
    }  # fmt: skip
    calls: List[Any] = [dict(call, function=dict(call["function"])) for _ in range(3)]
    ra: Dict[str, Any] = {
        "type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": calls}
    }  # fmt: skip
    data["required_action"] = ra
    data["status"] = "requires_action"
    for _ in range(rng.randrange(3)):
        slot = pick_slot(rng, ra)
        if slot is not None:
            slot[0][slot[1]] = odd_value(rng)
    return data, "tool_calls"


def m_nest(rng: random.Random, data: Any) -> Tuple[Any, str]:
    slot = pick_slot(rng, data)
    depth = nest_depth(rng)
    if slot is None:
        return data, "nest nothing"
    slot[0][slot[1]] = nest(rng, depth)
    return data, "nest %.40r depth %d" % (slot[1], depth)


def m_number(rng: random.Random, data: Any) -> Tuple[Any, str]:
    if not isinstance(data, dict):
        return data, "number nothing"
    key = rng.choice(("created_at", "expires_at", "completed_at", "temperature", "usage"))
    v = rng.choice([2**64, 2**64 - 1, 10**5000, -(10**5000), float("nan"), float("inf"),
                    -1, 0, 1.0, True])  # fmt: skip
    data[key] = v
    return data, "number %s=%s" % (key, type(v).__name__)


def m_nonstr_wrapper(rng: random.Random, data: Any) -> Tuple[Any, str]:
    r = rng.random()
    if r < 0.3:
        return [data], "wrap list"
    if r < 0.5:
        return list(data.items()) if isinstance(data, dict) else data, "items list"
    return rng.choice([None, "{}", b"{}", 1, 1.5, ()]), "non-dict"


DICT_MUTATIONS: List[Tuple[float, Callable[[random.Random, Any], Tuple[Any, str]]]] = [
    (30, m_swap), (14, m_delete), (16, m_insert), (6, m_metadata), (8, m_tool_calls),
    (6, m_nest), (8, m_number), (1, m_nonstr_wrapper),
]  # fmt: skip


def mutate_dict(rng: random.Random, data: Any) -> Tuple[Any, List[str]]:
    fns = [f for _w, f in DICT_MUTATIONS]
    weights = [w for w, _f in DICT_MUTATIONS]
    desc = []
    for fn in rng.choices(fns, weights, k=rng.choice((1, 1, 1, 2, 2, 3))):
        data, d = fn(rng, data)
        desc.append(d)
    return data, desc


# ---- bytes-level mutations --------------------------------------------------------------


def mutate_bytes(rng: random.Random, raw: bytes) -> Tuple[bytes, List[str]]:
    b = bytearray(raw)
    desc = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        r = rng.random()
        n = len(b)
        pos = rng.randrange(n + 1)
        if r < 0.2 and n:
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(n)
                b[i] ^= 1 << rng.randrange(8)
            desc.append("flip")
        elif r < 0.3:
            del b[pos:]
            desc.append("truncate %d" % pos)
        elif r < 0.4:
            b[pos:pos] = rng.choice(BAD_UTF8)
            desc.append("bad utf8 @%d" % pos)
        elif r < 0.6:
            # replace a value after some ':' with an odd token
            starts = [i for i in range(n) if b[i] == 0x3A]  # ':'
            if starts:
                i = rng.choice(starts) + 1
                j = i
                while j < n and b[j] not in b",}":
                    j += 1
                tok = rng.choice(ODD_TOKENS)
                b[i:j] = tok
                desc.append("token %.20r" % bytes(tok))
        elif r < 0.65:
            depth = nest_depth(rng)
            starts = [i for i in range(n) if b[i] == 0x3A]
            if starts:
                i = rng.choice(starts) + 1
                b[i:i] = b"[" * depth + b"1" + b"]" * depth + b","
                desc.append("nest %d" % depth)
        elif r < 0.75 and n:
            j = min(n, pos + rng.randint(1, 40))
            del b[pos:j]
            desc.append("cut %d:%d" % (pos, j))
        elif r < 0.85:
            b[pos:pos] = bytes(rng.choice(PUNCT) for _ in range(rng.randint(1, 3)))
            desc.append("punct @%d" % pos)
        elif r < 0.95:
            key = rng.choice([b'"id"', b'"ID"', b'"created_at"', b'"x"', b'"metadata"',
                              b'"tools"', b'"extra"'])  # fmt: skip
            body = bytes(b).rstrip()
            if body.endswith(b"}"):
                val = rng.choice([*ODD_TOKENS[:20], b'"run_x"', b"1710000000", b'{"k":"v"}'])
                b = bytearray(body[:-1] + b"," + key + b":" + val + b"}")
                desc.append("dup key %r" % key)
        else:
            b = bytearray(bytes(rng.randrange(256) for _ in range(rng.randint(0, 20))))
            desc.append("random bytes")
    return bytes(b), desc


# ---- oracles ----------------------------------------------------------------------------


class Broken(AssertionError):
    pass


def check_error(err: ThreadRunError) -> None:
    if err.field is not None and not isinstance(err.field, str):
        raise Broken("ThreadRunError.field is %r" % (type(err.field),))
    msg = str(err)
    if len(msg) > 1000:
        raise Broken("ThreadRunError message of %d chars: %.200r" % (len(msg), msg))


def check_run(run: Any, data: Any, rng: random.Random) -> None:
    """Every property a successfully built run must have."""
    if type(run) is not ThreadRun:
        raise Broken("from_dict returned %r" % type(run))
    d = run.to_dict()
    if type(d) is not dict:
        raise Broken("to_dict returned %r" % type(d))
    if isinstance(data, dict):
        if d != data:
            raise Broken("to_dict() != input")
        if list(d) != expected_keys(data):
            raise Broken("to_dict keys: %.300r" % (list(d)[:25],))
    again = ThreadRun.from_dict(d)
    if again != run or not (again == run):
        raise Broken("from_dict(run.to_dict()) != run")
    if again.to_dict() != d:
        raise Broken("from_dict(run.to_dict()).to_dict() != run.to_dict()")
    # (copy.copy takes the same __reduce__ as pickle and deepcopy, which are tested in
    # test_model: fuzzed values may be nested too deeply for them.)
    r = rng.random()
    if r < 0.2:
        if copy.copy(run).to_dict() != d:
            raise Broken("a copy of the run lost how its keys were given")
    elif r < 0.4:
        replaced = run.replace(status="x")
        if replaced.to_dict() != dict(d, status="x"):
            raise Broken("run.replace lost how the other keys were given")
        if dataclasses.replace(run, status="x") != replaced:
            raise Broken("dataclasses.replace(run) != run.replace")
    if hash(again) != hash(run):
        raise Broken("equal runs hash differently")
    if rng.random() < 0.5:
        built = ThreadRun(**{f: getattr(run, f) for f in FIELDS})  # __post_init__ validation
        if built != run:
            raise Broken("ThreadRun(**fields) != run")
    if not isinstance(run.is_terminal, bool):
        raise Broken("is_terminal not bool")
    try:
        calls = run.tool_calls
    except ThreadRunError as err:
        check_error(err)
        action = run.required_action
        if isinstance(action, dict) and action.get("type") == "submit_tool_outputs":
            raise Broken("from_dict let through tool calls that tool_calls refuses") from err
    else:
        if type(calls) is not tuple or not all(type(c) is ToolCall for c in calls):
            raise Broken("tool_calls: %.200r" % (calls,))
        if run.required_action is None and calls:
            raise Broken("tool_calls without required_action")


class _Case:
    def __init__(self, kind: str, case: int, desc: List[str]) -> None:
        self.kind, self.case, self.desc = kind, case, desc


class FuzzTest(unittest.TestCase):
    maxDiff = None

    def _report(self, failures: Dict[Any, List[Any]], total: int) -> None:
        """failures: signature -> [count, first report]; one report per distinct failure."""
        if failures:
            n = sum(c for c, _r in failures.values())
            shown = ["(%d cases like this) %s" % (c, r) for c, r in failures.values()]
            self.fail(
                "%d of %d fuzz cases failed, %d distinct (seed %d; replay one case with "
                "THREADRUN_FUZZ_SEED=%d THREADRUN_FUZZ_ONLY=<case>):\n\n%s"
                % (n, total, len(failures), SEED, SEED, "\n\n".join(shown[:MAX_REPORTED]))
            )

    @staticmethod
    def _record(failures: Dict[Any, List[Any]], exc: BaseException, where: str) -> None:
        """Count a failure under its signature; keep the full report of the first one."""
        if isinstance(exc, Broken):
            sig: Any = ("Broken", str(exc)[:40])
        else:
            sig = (type(exc).__name__, tuple(traceback.extract_tb(exc.__traceback__)[-1])[:3])
        if sig in failures:
            failures[sig][0] += 1
        else:
            report = "%s: %s: %.300s\n%s" % (where, type(exc).__name__, exc, _tb(exc))
            failures[sig] = [1, report]

    @staticmethod
    def _cases(n: int, offset: int) -> List[int]:
        if ONLY is not None:
            return [ONLY] if offset <= ONLY < offset + n else []
        return list(range(offset, offset + n))

    def test_from_dict_mutations(self) -> None:
        failures: Dict[Any, List[Any]] = {}
        cases = self._cases(DICT_CASES, 0)
        for case in cases:
            rng = random.Random(SEED * 1000003 + case)
            base = CORPUS[rng.randrange(len(CORPUS))][1]
            data, desc = mutate_dict(rng, json.loads(base.decode("utf-8")))
            try:
                self._one_dict(rng, data)
            except Exception as exc:
                self._record(failures, exc, "case %d [from_dict] mutations=%s" % (case, desc))
        self._report(failures, len(cases))

    def _one_dict(self, rng: random.Random, data: Any) -> None:
        top = list(data.items()) if isinstance(data, dict) else None
        tools = data.get("tools") if isinstance(data, dict) else None
        tools_snap = list(tools) if type(tools) is list else None
        md = data.get("metadata") if isinstance(data, dict) else None
        md_snap = list(md.items()) if type(md) is dict else None

        outcomes = []
        inputs = [data]
        if isinstance(data, dict) and rng.random() < 0.5:
            inputs.append(types.MappingProxyType(data))  # the non-dict (slow) path
        for inp in inputs:
            try:
                run = ThreadRun.from_dict(inp)
            except ThreadRunError as err:
                check_error(err)
                outcomes.append(("error", err.field))
            else:
                check_run(run, data, rng)
                outcomes.append(("run", run))
        if len(outcomes) == 2:
            (k1, v1), (k2, v2) = outcomes
            if (
                k1 != k2
                or (k1 == "error" and v1 != v2)
                or (k1 == "run" and (v1 != v2 or v1.to_dict() != v2.to_dict()))
            ):
                raise Broken("dict and Mapping inputs disagree: %.200r vs %.200r" % (v1, v2))
        if outcomes[0][0] == "run" and rng.random() < 0.2:
            r = outcomes[0][1]
            try:
                text = r.to_json()
            except ThreadRunError as err:
                check_error(err)
            else:
                if not isinstance(text, str):
                    raise Broken("to_json returned %r" % type(text))

        if top is not None:
            after = list(data.items())
            if len(after) != len(top) or any(
                a[0] is not b[0] or a[1] is not b[1] for a, b in zip(after, top)
            ):
                raise Broken("input dict was mutated")
            if tools_snap is not None and (
                len(tools) != len(tools_snap) or any(a is not b for a, b in zip(tools, tools_snap))
            ):
                raise Broken("input tools were mutated")
            if md_snap is not None and list(md.items()) != md_snap:
                raise Broken("input metadata was mutated")

    def test_from_json_mutations(self) -> None:
        failures: Dict[Any, List[Any]] = {}
        cases = self._cases(BYTES_CASES, DICT_CASES)
        for case in cases:
            rng = random.Random(SEED * 1000003 + case)
            if rng.random() < 0.15:
                # structural mutation, serialised: JSON-able dict mutations through from_json
                data, desc = mutate_dict(rng, json.loads(rng.choice(RAWS).decode("utf-8")))
                try:
                    raw = json.dumps(data).encode("utf-8", "surrogatepass")
                except (TypeError, ValueError, RecursionError):
                    raw = b"{}"
                desc.insert(0, "dumped")
            else:
                raw, desc = mutate_bytes(rng, rng.choice(RAWS))
            r = rng.random()
            payload: Any = raw
            if r < 0.3:
                try:
                    payload = raw.decode("utf-8")
                except UnicodeDecodeError:
                    payload = raw
            elif r < 0.4:
                payload = bytearray(raw)
            try:
                self._one_json(rng, payload)
            except Exception as exc:
                where = "case %d [from_json %s] mutations=%s payload=%.300r" % (
                    case, type(payload).__name__, desc, payload
                )  # fmt: skip
                self._record(failures, exc, where)
        self._report(failures, len(cases))

    def _one_json(self, rng: random.Random, payload: Any) -> None:
        snapshot = bytes(payload) if isinstance(payload, bytearray) else None
        rejected: Optional[ThreadRunError] = None
        try:
            run = ThreadRun.from_json(payload)
        except ThreadRunError as err:
            rejected = err
        if rejected is not None:
            # Checked outside the except clause: PyPy's pure-Python json (the reference
            # parser's, with parse_float and the like) recursing too deep while an exception
            # is handled fails to record that exception as the context and raises
            # "TypeError: couldn't record exception context", not RecursionError.
            err = rejected
            check_error(err)
            ref = _reference_parse(payload)
            if ref is not None:
                try:
                    ThreadRun.from_dict(ref)
                except ThreadRunError:
                    pass
                else:
                    raise Broken(
                        "from_json rejected a valid document (%s) that from_dict(json.loads()) "
                        "accepts" % err
                    ) from None
        else:
            ref = json.loads(payload)
            check_run(run, ref, rng)
            if ThreadRun.from_dict(ref) != run:
                raise Broken("from_json(text) != from_dict(json.loads(text))")
            try:
                text = run.to_json()
            except ThreadRunError as err:
                raise Broken("a run read from JSON cannot be written back: %s" % err) from None
            if ThreadRun.from_json(text) != run:
                raise Broken("from_json(run.to_json()) != run")
        if snapshot is not None and bytes(payload) != snapshot:
            raise Broken("bytearray input was mutated")


def _reference_parse(payload: Any) -> Any:
    """json.loads under the strict rules (UTF-8, no NaN/Infinity, no float overflow, at most
    4300-digit ints, not too deep); None where those rules reject the document."""
    try:
        if isinstance(payload, (bytes, bytearray)):
            text = bytes(payload).decode("utf-8")
            if text.startswith("\ufeff"):
                return None  # a BOM: leave it to the implementation
        else:
            text = payload

        def bad(_: str) -> Any:
            raise ValueError("constant")

        def parse_float(s: str) -> float:
            f = float(s)
            if math.isinf(f):
                raise ValueError("overflow")
            return f

        def parse_int(s: str) -> int:
            if len(s.lstrip("-")) > 4300:
                raise ValueError("digits")
            return int(s)

        data = json.loads(text, parse_constant=bad, parse_float=parse_float, parse_int=parse_int)
    except (ValueError, RecursionError):
        return None
    return data if type(data) is dict else None


def _tb(exc: BaseException) -> str:
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    text = "".join(lines)
    return text[-1500:]


if __name__ == "__main__":
    unittest.main()
