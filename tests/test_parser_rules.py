"""The parser checks what the documentation says it checks.

The documentation's list of parser rules (between ``<!-- parser rules -->`` and
``<!-- /parser rules -->``, in docs/model.md and in any other page of docs/ or README.md) is
read here: each rule is
``- **label**: text``, and RULES below has, for each label, inputs that break it and the field
the ThreadRunError must name (and that the rule's text names), or a check of what the rule
promises. A rule stated without a check here, or a check without its rule, fails the suite.

Then the same verdicts from the client and from ``threadrun check``: a run whose ``object`` is
not ``thread.run``, and timestamps in milliseconds.
"""

from __future__ import annotations

import copy
import glob
import io
import json
import os
import re
import shutil
import tempfile
import unittest
from typing import Any, Callable, Dict, Iterator, List, Tuple

from tests import SINGLE_FILE, threadrun
from tests.support import REPO, THREAD, ServerTest, run_json

ThreadRun = threadrun.ThreadRun
ThreadRunError = threadrun.ThreadRunError

RULE = re.compile(r"^- \*\*(?P<label>[^*]+)\*\*: (?P<text>.*)$")


def rule_lists() -> Iterator[Tuple[str, Dict[str, str]]]:
    """(file, {label: text}) for every list of parser rules in the documentation."""
    for path in [
        os.path.join(REPO, "README.md"),
        *sorted(glob.glob(os.path.join(REPO, "docs", "*.md"))),
    ]:
        with open(path, encoding="utf-8") as file:
            text = file.read()
        for block in re.findall(r"<!-- parser rules -->\n(.*?)<!-- /parser rules -->", text, re.S):
            rules: Dict[str, str] = {}
            for line in block.splitlines():
                match = RULE.match(line)
                if match:
                    rules[match.group("label")] = match.group("text")
                elif line.startswith("  ") and rules:
                    label = list(rules)[-1]
                    rules[label] += " " + line.strip()
                else:
                    raise AssertionError("%s: not a rule: %r" % (path, line))
            yield os.path.relpath(path, REPO), rules


def minimal(**fields: Any) -> Dict[str, Any]:
    data = {"id": "run_1", "object": "thread.run", "created_at": 1710351818,
            "thread_id": "thread_1", "assistant_id": "asst_1", "status": "queued",
            "model": "gpt-4o"}  # fmt: skip
    data.update(fields)
    return data


def without(key: str) -> Dict[str, Any]:
    data = minimal()
    del data[key]
    return data


def submit(calls: Any) -> Dict[str, Any]:
    return {"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": calls}}


CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
TIMESTAMPS = ("created_at", "expires_at", "started_at", "cancelled_at", "failed_at",
              "completed_at")  # fmt: skip
STRINGS = ("id", "object", "thread_id", "assistant_id", "status", "model")
TC = "required_action['submit_tool_outputs']['tool_calls']"

# label -> (data breaking the rule, the field named) rows; the rules that promise rather than
# refuse have a check instead (below).
BROKEN: Dict[str, List[Tuple[Any, str]]] = {
    "required": [(without(key), key) for key in
                 ("id", "object", "created_at", "thread_id", "assistant_id", "status", "model")],
    "object": [(minimal(object=value), "object") for value in
               ("thread.message", "thread.run.step", "list", "thread", "", "THREAD.RUN")],
    "strings": [(minimal(**{key: value}), key) for key in (*STRINGS, "instructions")
                for value in (1, ["x"], True, {"a": "b"})],
    "timestamps": [(minimal(**{key: value}), key) for key in TIMESTAMPS
                   for value in (True, 1.0, "1710351818", -1, 253402300800, 1796603835780)],
    "tools": [(minimal(tools=value), "tools") for value in ({}, "x", 1)],
    "metadata": [(minimal(metadata={"k": 1}), "metadata['k']"), (minimal(metadata=[]), "metadata"),
                 (minimal(metadata={"k": None}), "metadata['k']")],
    "extra": [({**minimal(), 1: "x"}, "extra"), ({**minimal(), None: "x"}, "extra")],
    "tool calls": [
        (minimal(required_action={"type": "submit_tool_outputs", "details": {}}),
         "required_action['submit_tool_outputs']"),
        (minimal(required_action=submit("x")), TC),
        (minimal(required_action=submit([dict(CALL, id=5)])), TC + "[0]['id']"),
        (minimal(required_action=submit([CALL, dict(CALL, function={"name": "f"})])),
         TC + "[1]['function']['arguments']"),
        (minimal(required_action=submit([dict(CALL, function={"name": 1, "arguments": ""})])),
         TC + "[0]['function']['name']"),
    ],
}  # fmt: skip


class Promises(unittest.TestCase):
    """The checks of the rules that promise rather than refuse, by label."""

    def rule_required(self) -> None:  # (also broken above) absent and null read as documented
        for data in (minimal(), minimal(tools=None, metadata=None, usage=None)):
            run = ThreadRun.from_dict(data)
            self.assertEqual((run.tools, run.metadata, run.usage), ([], {}, None))
            self.assertEqual(run.to_dict(), data)
            self.assertEqual(json.loads(run.to_json()), data)

    def rule_tool_calls(self) -> None:  # other layouts kept, tool_calls says why it is empty
        self.assertEqual(ThreadRun.from_dict(minimal(required_action=None)).tool_calls, ())
        for action in ({"type": "other"}, {"type": "code_interpreter", "x": 1}, {}):
            run = ThreadRun.from_dict(minimal(required_action=action))
            self.assertEqual(run.to_dict()["required_action"], action)
            with self.assertRaises(ThreadRunError) as caught:
                _ = run.tool_calls
            self.assertIn("no tool calls to read", str(caught.exception))
            self.assertEqual(caught.exception.field, "required_action['type']")

    def rule_status(self) -> None:
        run = ThreadRun.from_dict(minimal(status="paused_for_review"))
        self.assertEqual((run.status, run.is_terminal), ("paused_for_review", False))
        self.assertEqual(len(threadrun.RunStatus.ALL), 9)
        self.assertEqual(len(threadrun.RunStatus.TERMINAL), 5)

    def rule_input(self) -> None:
        data = minimal(tools=[{"type": "x"}], metadata={"a": "b"}, zz={"n": [1]})
        before = copy.deepcopy(data)
        run = ThreadRun.from_dict(data)
        self.assertEqual(data, before)
        self.assertIs(run.tools, data["tools"])
        self.assertIs(run.metadata, data["metadata"])
        self.assertIs(run.extra["zz"], data["zz"])

    def rule_errors(self) -> None:
        with self.assertRaises(ThreadRunError) as caught:
            ThreadRun.from_dict(minimal(metadata={"user": "x" * 100000}, created_at="S" * 100000))
        error = caught.exception
        self.assertIsInstance(error, ValueError)
        self.assertEqual(error.field, "created_at")
        self.assertTrue(str(error).startswith("created_at: expected "), str(error)[:80])
        self.assertLess(len(str(error)), 200)

    def rule_JSON(self) -> None:  # (named after the rule's label)
        body = json.dumps(minimal())
        for text, located in ((body[:-1], True), (body[:-1] + ', "x": NaN}', False),
                              (body[:-1] + ', "x": Infinity}', False),
                              (body[:-1] + ', "x": 1e400}', False),
                              (body[:-1] + ', "x": ' + "[" * 100000 + "]" * 100000 + "}", False),
                              (body.encode()[:-1] + b', "x": "\xff"}', False)):  # fmt: skip
            with self.assertRaises(ThreadRunError) as caught:
                ThreadRun.from_json(text)
            self.assertEqual(caught.exception.line is not None, located, text[:40])


class TestEveryStatedRuleIsKept(unittest.TestCase):
    def test_the_lists_are_found(self) -> None:
        found = list(rule_lists())
        self.assertGreaterEqual(len(found), 1)
        self.assertIn(os.path.join("docs", "model.md"), [path for path, _rules in found])

    def test_every_rule_has_its_check(self) -> None:
        promises = {name[len("rule_"):].replace("_", " ") for name in dir(Promises)
                    if name.startswith("rule_")}  # fmt: skip
        for path, rules in rule_lists():
            with self.subTest(path):
                self.assertEqual(set(rules), set(BROKEN) | promises)

    def test_each_rule_broken(self) -> None:
        for path, rules in rule_lists():
            for label, rows in BROKEN.items():
                for data, field in rows:
                    with self.subTest(path, rule=label, field=field):
                        # the rule names what it is about
                        self.assertIn(self.named(field), rules[label])
                        for parse in self.parsers(data):
                            with self.assertRaises(ThreadRunError) as caught:
                                parse(data)
                            self.assertEqual(caught.exception.field, field)

    def test_each_promise_kept(self) -> None:
        checks = Promises()
        for name in dir(Promises):
            if name.startswith("rule_"):
                with self.subTest(name):
                    getattr(checks, name)()

    @staticmethod
    def named(field: str) -> str:
        """How a rule names a field: "metadata['k']" as `metadata`, a path into
        required_action by its keys (`submit_tool_outputs.tool_calls`, `function.name`)."""
        keys = re.findall(r"\['(\w+)'\]", field)
        if not field.startswith("required_action"):
            return "`%s`" % field.split("[")[0]
        if keys[-1] in ("submit_tool_outputs", "tool_calls"):
            return "`%s`" % ".".join(keys)
        return "`%s`" % ".".join(keys[-2:] if keys[-2] == "function" else keys[-1:])

    @staticmethod
    def parsers(data: Any) -> List[Callable[[Any], Any]]:
        found: List[Callable[[Any], Any]] = [ThreadRun.from_dict]
        try:
            text = json.dumps(data)
        except (TypeError, ValueError):
            return found
        if json.loads(text) == data:  # (not for keys JSON would turn into strings)
            found.append(lambda _data: ThreadRun.from_json(text))
        return found


# --------------------------------------------------------------------------------------------
# The same verdicts from the client and from `threadrun check`
# --------------------------------------------------------------------------------------------

VERDICTS = [  # (fields of a run a server sends, the field named, words of the message)
    ({"object": "thread.message"}, "object", "expected 'thread.run', got string 'thread.message'"),
    ({"created_at": 1796603835780}, "created_at", "it looks like milliseconds"),
    ({"completed_at": 1796603835780}, "completed_at", "threadrun.lenient"),
]


class TestClientVerdicts(ServerTest):
    def test_the_client_refuses_them(self) -> None:
        for fields, field, words in VERDICTS:
            with self.subTest(field=field):
                body = run_json("run_bad", **fields)
                self.server.invalid_next(body)
                with self.assertRaises(threadrun.APIResponseValidationError) as caught:
                    self.client().retrieve(THREAD, "run_bad")
                self.assertEqual(caught.exception.field, field)
                self.assertIn(words, str(caught.exception))
                self.assertEqual(caught.exception.body, json.loads(body))


class TestCheckVerdicts(unittest.TestCase):
    def setUp(self) -> None:
        if SINGLE_FILE:
            self.skipTest("threadrun.archive is package-only (single-file mode)")
        self.tmp = tempfile.mkdtemp(prefix="threadrun-rules-test-")
        self.addCleanup(shutil.rmtree, self.tmp)

    def test_check_reports_them_invalid(self) -> None:
        from threadrun import _cli_check

        lines = [run_json("run_ok").decode()]
        lines += [run_json("run_%d" % index, **fields).decode()
                  for index, (fields, _field, _words) in enumerate(VERDICTS)]  # fmt: skip
        path = os.path.join(self.tmp, "runs.jsonl")
        with open(path, "w") as file:
            file.write("\n".join(lines) + "\n")
        out, err = io.StringIO(), io.StringIO()
        code = _cli_check.check_files([path], out=out, err=err, as_json=True)
        summary = json.loads(out.getvalue())
        self.assertEqual((code, summary["valid"], summary["invalid"]), (1, 1, len(VERDICTS)))
        reported = err.getvalue().splitlines()
        self.assertEqual(len(reported), len(VERDICTS), reported)
        for line, (_fields, field, words) in zip(reported, VERDICTS):
            self.assertIn("%s: " % field, line)
            self.assertIn(words, line)


if __name__ == "__main__":
    unittest.main()
