"""``threadrun check`` from the command line: files, standard input, exit statuses, and a few
checks of its input detection in process (``threadrun._cli_check.check_files``), which is
faster. The helpers are tests/test_cli.py's.
"""

from __future__ import annotations

import glob
import gzip
import io
import json
import os
import tempfile
import unittest
from typing import Any, Dict

from tests import DATA_DIR, test_cli
from tests.test_cli import CLITest, run_cli, run_line

check: Any = None  # threadrun._cli_check: check as the command line drives it


def setUpModule() -> None:
    global check
    test_cli.setUpModule()  # SkipTest in single-file mode: the CLI is package-only
    import threadrun._cli_check

    check = threadrun._cli_check


class CheckTest(CLITest):
    def test_corpus_files(self) -> None:
        files = sorted(glob.glob(os.path.join(DATA_DIR, "*.json")))
        proc = run_cli("check", "--json", *files)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr, "")
        summary = json.loads(proc.stdout)
        expected: Dict[str, int] = {}
        for path in files:
            with open(path, encoding="utf-8") as fh:
                status = json.load(fh)["status"]
            expected[status] = expected.get(status, 0) + 1
        self.assertEqual(summary["files"], len(files))
        self.assertEqual(
            (summary["runs"], summary["valid"], summary["invalid"]), (len(files), len(files), 0)
        )
        self.assertEqual(summary["by_status"], expected)
        proc = run_cli("check", *files)  # the human summary
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("%d runs in %d files: %d valid, 0 invalid" % ((len(files),) * 3), proc.stdout)

    def test_jsonl_with_invalid_lines(self) -> None:
        good = json.dumps(run_line())
        lines = [
            good,  # 1
            "",  # 2 blank: skipped
            '{"id": "run_2", "object": "thread.run"',  # 3 truncated
            json.dumps(run_line(created_at="yesterday")),  # 4
            "   ",  # 5 blank
            json.dumps(run_line(metadata={"n": 1})),  # 6
            "[1, 2]",  # 7
            good,  # 8
            json.dumps({k: v for k, v in run_line().items() if k != "model"}),  # 9
        ]
        path = self.write("some-invalid.jsonl", "\n".join(lines) + "\n")
        proc = run_cli("check", path)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertClean(proc)
        self.assertEqual(
            proc.stderr.splitlines(),
            [
                "%s:3: invalid JSON: Expecting ',' delimiter at column 39" % path,
                "%s:4: created_at: expected an integer timestamp, got string 'yesterday'" % path,
                "%s:6: metadata['n']: expected a string, got integer 1" % path,
                "%s:7: expected a JSON object at the top level, got array [1, 2]" % path,
                "%s:9: model: required key is missing" % path,
            ],
        )
        self.assertIn("7 runs in 1 file: 2 valid, 5 invalid", proc.stdout)

    def test_summary_numbers(self) -> None:
        def usage(prompt: int, completion: int) -> Dict[str, int]:
            return {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            }

        runs = [
            # durations 10, 1, 3, 2, 30 and 5 s; 7 runs with usage
            run_line(id="r1", started_at=100, completed_at=110, usage=usage(100, 10)),
            run_line(id="r2", started_at=100, completed_at=101, usage=usage(200, 20)),
            run_line(id="r3", started_at=100, completed_at=103, usage=usage(300, 30), model="o3"),
            run_line(id="r4", started_at=100, completed_at=102, usage=usage(400, 40)),
            run_line(id="r5", started_at=100, completed_at=130, usage=usage(500, 50),
                     assistant_id="asst_b"),
            run_line(id="r6", status="failed", started_at=100, failed_at=104, usage=usage(60, 6)),
            run_line(id="r7", status="queued"),
            run_line(id="r8", status="in_progress", started_at=100),
            run_line(id="r9", status="incomplete", started_at=200, completed_at=205,
                     usage={"prompt_tokens": 7, "completion_tokens": None}),
            run_line(id="r10", status="requires_action", completed_at=300),  # no started_at
        ]  # fmt: skip
        text = "\n".join(json.dumps(run) for run in runs) + "\n" + '{"id": 1}\n'
        path = self.write("summary.jsonl", text)
        proc = run_cli("check", "--json", path)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertEqual(proc.stderr, "%s:11: id: expected a string, got integer 1\n" % path)
        self.assertEqual(
            json.loads(proc.stdout),
            {
                "files": 1,
                "unreadable_files": 0,
                "runs": 11,
                "valid": 10,
                "invalid": 1,
                "by_status": {
                    "completed": 5,
                    "failed": 1,
                    "in_progress": 1,
                    "incomplete": 1,
                    "queued": 1,
                    "requires_action": 1,
                },
                "by_model": {"gpt-4o": 9, "o3": 1},
                "by_assistant": {"asst_a": 9, "asst_b": 1},
                "usage": {
                    "runs": 7,
                    "prompt_tokens": 100 + 200 + 300 + 400 + 500 + 60 + 7,
                    "completion_tokens": 10 + 20 + 30 + 40 + 50 + 6,
                    "total_tokens": 110 + 220 + 330 + 440 + 550 + 66,
                },
                # sorted: 1 2 3 5 10 30 (n=6); nearest rank: p50 = 3rd = 3, p95 = 6th = 30
                "duration_seconds": {
                    "runs": 6,
                    "p50": 3,
                    "p95": 30,
                    "max": 30,
                    "method": "nearest-rank",
                },
            },
        )
        proc = run_cli("check", path)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("11 runs in 1 file: 10 valid, 1 invalid", proc.stdout)
        self.assertRegex(proc.stdout, r"\n  p50 +3 s\n  p95 +30 s\n  max +30 s\n")
        self.assertRegex(proc.stdout, r"\n  prompt +1567\n  completion +156\n  total +1716\n")

    def test_mixed_files_and_stdin(self) -> None:
        jsonl = self.write(
            "a.jsonl", json.dumps(run_line(id="a1")) + "\n" + json.dumps(run_line(id="a2")) + "\n"
        )
        pretty = self.write("b.json", json.dumps(run_line(id="b1", status="failed"), indent=2))
        array = self.write(
            "c.json", json.dumps([run_line(id="c1"), {"id": "c2"}, run_line(id="c3")], indent=2)
        )
        with open(os.path.join(DATA_DIR, "06-requires_action.json"), encoding="utf-8") as fh:
            stdin = fh.read()
        proc = run_cli("check", "--json", jsonl, pretty, "-", array, input=stdin)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        # c2 is the second element of the array, whose "{" is on line 11 of c.json
        self.assertEqual(proc.stderr, "%s:11: object: required key is missing\n" % array)
        summary = json.loads(proc.stdout)
        self.assertEqual((summary["files"], summary["runs"], summary["valid"]), (4, 7, 6))
        self.assertEqual(summary["by_status"], {"completed": 4, "failed": 1, "requires_action": 1})
        # no file at all: stdin
        proc = run_cli("check", input=json.dumps(run_line()) + "\n")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("1 run in 1 file: 1 valid, 0 invalid", proc.stdout)

    def test_strange_names_in_the_summary(self) -> None:
        # A lone surrogate (from a "\\ud800" escape) and an escape sequence: the human summary
        # shows them escaped, never as raw bytes that would drive the terminal.
        line = json.dumps(run_line(status="\ud800", assistant_id="a\x1b[31mX", model="m\u00e9"))
        path = self.write("strange.jsonl", line + "\n")
        proc = run_cli("check", path)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("\\ud800", proc.stdout)
        self.assertIn("a\\x1b[31mX", proc.stdout)
        self.assertNotIn("\x1b", proc.stdout)
        self.assertIn("m\u00e9", proc.stdout)
        proc = run_cli("check", "--json", path)
        self.assertEqual(json.loads(proc.stdout)["by_status"], {"\ud800": 1})

    def test_unreadable_file(self) -> None:
        missing = os.path.join(self.tmp, "missing.jsonl")
        good = self.write("good.jsonl", json.dumps(run_line()) + "\n")
        proc = run_cli("check", missing, good)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)
        self.assertIn("threadrun: error: cannot read %r" % missing, proc.stderr)
        self.assertIn("1 run in 2 files: 1 valid", proc.stdout)
        proc = run_cli("check", self.tmp)  # a directory
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn(repr(self.tmp), proc.stderr)


class CheckInputTest(unittest.TestCase):
    """How check reads its input, in process (check_files) for speed."""

    def check(self, data: bytes) -> Any:
        out, err = io.StringIO(), io.StringIO()
        code = check.check_files(["-"], out=out, err=err, as_json=True, stdin=io.BytesIO(data))
        return code, json.loads(out.getvalue()), err.getvalue().splitlines()

    def test_blank_and_empty(self) -> None:
        for data in (b"", b"\n\n  \n", b"\r\n"):
            with self.subTest(data=data):
                code, summary, errors = self.check(data)
                self.assertEqual((code, summary["runs"], errors), (0, 0, []))

    def test_crlf_bom_and_no_final_newline(self) -> None:
        line = json.dumps(run_line()).encode()
        code, summary, errors = self.check(b"\xef\xbb\xbf" + line + b"\r\n\r\n" + line)
        self.assertEqual((code, summary["valid"], errors), (0, 2, []))

    def test_pretty_objects_one_after_another(self) -> None:
        # ``jq . runs.jsonl`` output: pretty-printed objects, one after the other
        text = "".join(json.dumps(run_line(id="r%d" % i), indent=2) + "\n" for i in range(3))
        code, summary, errors = self.check(text.encode())
        self.assertEqual((code, summary["valid"], errors), (0, 3, []))

    def test_pretty_object_with_an_error_names_its_line(self) -> None:
        text = "\n\n" + json.dumps(run_line(created_at=-1), indent=2)
        code, _, errors = self.check(text.encode())
        self.assertEqual(code, 1)
        self.assertEqual(len(errors), 1)
        self.assertTrue(errors[0].startswith("<stdin>:3: created_at: "), errors)

    def test_syntax_error_in_a_document(self) -> None:
        runs = ",\n".join(json.dumps(run_line(id="r%d" % i), indent=2) for i in range(3))
        text = "[\n" + runs.replace('"r1"', "oops") + "\n]\n"
        code, summary, errors = self.check(text.encode())
        self.assertEqual((code, summary["valid"], summary["invalid"]), (1, 1, 1))
        self.assertEqual(errors, ["<stdin>:12: invalid JSON: Expecting value at line 12 column 9"])
        # An array cut short on its first line is no unambiguous document: one bad line.
        code, summary, errors = self.check(b"[" + json.dumps(run_line()).encode() + b",\n")
        self.assertEqual((summary["valid"], summary["invalid"], len(errors)), (0, 1, 1))
        code, summary, errors = self.check(b"[\n" + json.dumps(run_line()).encode() + b",\n")
        self.assertEqual((summary["valid"], summary["invalid"], len(errors)), (1, 1, 1))

    def test_truncated_first_line_of_json_lines(self) -> None:
        # A first record cut short, then complete ones: still JSON Lines, not a document.
        line = json.dumps(run_line()).encode()
        code, summary, errors = self.check(line[:40] + b"\n" + line + b"\n" + line + b"\n")
        self.assertEqual((code, summary["valid"], summary["invalid"]), (1, 2, 1))
        self.assertTrue(errors[0].startswith("<stdin>:1: invalid JSON: "), errors)

    def test_nan_is_invalid(self) -> None:
        line = json.dumps(run_line(usage={"prompt_tokens": float("nan")}))
        for data in (line + "\n", "[" + line + "]"):
            with self.subTest(data=data[:1]):
                code, summary, errors = self.check(data.encode())
                self.assertEqual((code, summary["invalid"]), (1, 1), errors)

    def test_gzip(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "runs.jsonl.gz")
            with gzip.open(path, "wb") as fh:
                fh.write(json.dumps(run_line()).encode() + b"\n")
            out = io.StringIO()
            code = check.check_files([path], out=out, err=io.StringIO(), as_json=True)
        self.assertEqual((code, json.loads(out.getvalue())["valid"]), (0, 1))

    def test_corrupt_gzip_is_unreadable(self) -> None:
        data = gzip.compress(json.dumps(run_line()).encode() * 50)
        for name, content in (
            ("cut.gz", data[:-20]),
            ("bad.gz", data[:20] + b"x" * 40),
            ("not.gz", b"{}"),
        ):
            with self.subTest(name=name), tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, name)
                with open(path, "wb") as fh:
                    fh.write(content)
                err = io.StringIO()
                code = check.check_files([path], out=io.StringIO(), err=err)
                self.assertEqual(code, 2)
                self.assertIn("threadrun: error: cannot read %r: " % path, err.getvalue())


if __name__ == "__main__":
    unittest.main()
