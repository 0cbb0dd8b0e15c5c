"""threadrun.lenient and its single-purpose parts: a table of run bodies as
self-hosted servers wrote them, the fake server's "loose" flavour through the client, and
``--lenient`` on every command that reads runs.

Servers run on 127.0.0.1 only (threadrun.testing's FakeRunsServer); nothing is ever sent
beyond loopback.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
import unittest
from typing import Any, Dict

from tests import load_testing, threadrun
from tests.test_cli import KEY, run_cli

NOW = 1796603835  # the fake's clock, in seconds
BASE: Dict[str, Any] = {
    "id": "run_1", "object": "thread.run", "created_at": NOW, "thread_id": "thread_1",
    "assistant_id": "asst_1", "status": "completed", "required_action": None,
    "last_error": None, "expires_at": None, "started_at": NOW + 1, "cancelled_at": None,
    "failed_at": None, "completed_at": NOW + 5, "incomplete_details": None, "model": "gpt-4o",
    "instructions": None, "tools": [], "metadata": {}, "usage": None,
}  # fmt: skip

# (what the server wrote, the fields it differs from BASE in, what lenient reads them as)
QUIRKS = [
    ("milliseconds in created_at only", {"created_at": NOW * 1000 + 780}, {"created_at": NOW}),
    ("milliseconds everywhere",
     {"created_at": NOW * 1000, "started_at": (NOW + 1) * 1000 + 999,
      "completed_at": (NOW + 5) * 1000},
     {"created_at": NOW, "started_at": NOW + 1, "completed_at": NOW + 5}),
    ("the last second in seconds", {"expires_at": 253402300799}, {"expires_at": 253402300799}),
    ("the first value read as milliseconds", {"expires_at": 253402300800},
     {"expires_at": 253402300}),
    ("ISO-8601", {"created_at": "2026-12-07T00:37:15.780Z",
                  "completed_at": "2026-12-07 01:37:20+01:00"},
     {"created_at": NOW, "completed_at": NOW + 5}),
    ("fractional seconds", {"started_at": NOW + 1.999}, {"started_at": NOW + 1}),
    ("fractional milliseconds", {"started_at": (NOW + 1) * 1000.0 + 0.5},
     {"started_at": NOW + 1}),
    ("model null", {"model": None}, {"model": ""}),
    ("instructions null: the type allows it", {"instructions": None}, {"instructions": None}),
    ("metadata of any JSON type",
     {"metadata": {"stream": True, "n": 2, "x": None, "o": {"a": [1, 2.5]}, "s": "k\u00e9"}},
     {"metadata": {"stream": "true", "n": "2", "x": "null", "o": '{"a":[1,2.5]}',
                   "s": "k\u00e9"}}),
    ("metadata null", {"metadata": None}, {"metadata": {}}),
    ("object other than thread.run", {"object": "run"}, {"object": "thread.run"}),
    ("object null", {"object": None}, {"object": "thread.run"}),
]  # fmt: skip

# (what the server wrote, the field named, words of the message)
REFUSED = [
    ({"created_at": "yesterday"}, "created_at", "ISO-8601"),
    ({"created_at": True}, "created_at", "got boolean true"),
    ({"completed_at": [NOW]}, "completed_at", "got array"),
    ({"started_at": float("nan")}, "started_at", "got number nan"),
    ({"started_at": -1.5}, "started_at", "got number -1.5"),
    ({"failed_at": 10**18}, "failed_at", "beyond the year 9999 even read as milliseconds"),
    ({"metadata": {"bad": float("inf")}}, "metadata['bad']", "a value JSON can write"),
    ({"metadata": {"bad": {1, 2}}}, "metadata['bad']", "a value JSON can write"),
    ({"object": 5}, "object", "expected a string, got integer 5"),
]


def written(fields: Dict[str, Any]) -> Dict[str, Any]:
    return dict(BASE, **fields)


class LenientAdapterTest(unittest.TestCase):
    def test_each_quirk_is_read(self) -> None:
        for name, fields, expected in QUIRKS:
            with self.subTest(name):
                data = written(fields)
                kept = copy.deepcopy(data)
                run = threadrun.ThreadRun.from_dict(threadrun.lenient(data))
                self.assertEqual(data, kept)  # not modified
                for field, value in expected.items():
                    self.assertEqual(getattr(run, field), value, field)
                    self.assertIs(type(getattr(run, field)), type(value), field)
                untouched = set(BASE) - set(fields)
                self.assertEqual({f: getattr(run, f) for f in untouched},
                                 {f: BASE[f] for f in untouched})  # fmt: skip

    def test_every_quirk_at_once_and_again(self) -> None:
        data = written({})
        for _, fields, _ in QUIRKS[:1] + QUIRKS[7:10] + QUIRKS[11:12]:
            data.update(fields)
        data["unknown"] = {"kept": True}
        once = threadrun.lenient(data)
        self.assertEqual(threadrun.lenient(once), once)  # what it wrote, it reads as it is
        run = threadrun.ThreadRun.from_dict(once)
        self.assertEqual((run.created_at, run.model, run.object), (NOW, "", "thread.run"))
        self.assertEqual(run.metadata["stream"], "true")
        self.assertEqual(run.extra, {"unknown": {"kept": True}})

    def test_a_reference_run_comes_out_equal(self) -> None:
        self.assertEqual(threadrun.lenient(BASE), BASE)
        self.assertIsNot(threadrun.lenient(BASE), BASE)

    def test_what_it_cannot_read_is_refused_naming_the_field(self) -> None:
        for fields, field, words in REFUSED:
            with self.subTest(fields=repr(fields)):
                with self.assertRaises(threadrun.ThreadRunError) as caught:
                    threadrun.lenient(written(fields))
                self.assertEqual(caught.exception.field, field)
                self.assertIn(words, str(caught.exception))
        for adapter in (threadrun.lenient, threadrun.millisecond_timestamps,
                        threadrun.metadata_as_text):  # fmt: skip
            with self.subTest(adapter=adapter.__name__), \
                    self.assertRaisesRegex(threadrun.ThreadRunError, "expected a JSON object"):
                adapter([BASE])  # type: ignore[arg-type]

    def test_the_strict_parser_refuses_what_lenient_reads(self) -> None:
        # The adapter is what reads these: strict parsing stays strict.
        for name, fields, _ in QUIRKS:
            if name in ("model null", "metadata of any JSON type", "ISO-8601"):
                with self.subTest(name), self.assertRaises(threadrun.ThreadRunError):
                    threadrun.ThreadRun.from_dict(written(fields))

    def test_single_purpose_adapters_compose_to_lenient(self) -> None:
        def composed(data: Any) -> Any:
            return threadrun.metadata_as_text(
                threadrun.iso_timestamps(threadrun.millisecond_timestamps(data))
            )

        for name, fields, _ in QUIRKS:
            if name.startswith(("model", "object", "fractional")):
                continue  # lenient's alone
            with self.subTest(name):
                data = written(fields)
                self.assertEqual(composed(data), threadrun.lenient(data))
        self.assertEqual(
            threadrun.millisecond_timestamps({"created_at": NOW * 1000, "model": None}),
            {"created_at": NOW, "model": None},  # only its own quirk
        )
        self.assertEqual(threadrun.metadata_as_text({"metadata": {"a": 1}, "created_at": "x"}),
                         {"metadata": {"a": "1"}, "created_at": "x"})  # fmt: skip

    def test_a_caller_adapter_after_it(self) -> None:
        def mine(data: Any) -> Any:
            return dict(data, status=data["status"].lower())

        run = threadrun.ThreadRun.from_dict(
            mine(threadrun.lenient(written({"status": "COMPLETED", "model": None})))
        )
        self.assertEqual((run.status, run.model), ("completed", ""))


class LooseServer(unittest.TestCase):
    """A fake of the "loose" flavour for the class, its clock at NOW."""

    server: Any

    @classmethod
    def setUpClass(cls) -> None:
        testing = load_testing()
        cls.server = testing.FakeRunsServer(
            flavour="loose", api_key=KEY, clock=lambda: float(NOW), poll_after_ms=0
        ).start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()


class LooseServerTest(LooseServer):
    """The fake's "loose" flavour writes the quirks; the client reads them with lenient."""

    def client(self, **options: Any) -> Any:
        return threadrun.Client(KEY, base_url=self.server.base_url, **options)

    def test_what_the_flavour_writes(self) -> None:
        with self.client(run_adapter=lambda data: data.setdefault("probe", dict(data))
                         and threadrun.lenient(data)) as client:  # fmt: skip
            run = client.create("thread_loose", "asst_1")
        raw = run.extra["probe"]
        self.assertEqual((raw["created_at"], raw["expires_at"]), (NOW * 1000 + 780, NOW + 600))
        self.assertEqual((raw["model"], raw["instructions"]), (None, None))
        self.assertEqual(raw["metadata"], {"stream": False})

    def test_strict_client_refuses_lenient_client_reads(self) -> None:
        with self.client() as strict, \
                self.assertRaises(threadrun.APIResponseValidationError) as caught:
            strict.create("thread_loose", "asst_1")
        # The first field strict parsing refuses: created_at, in milliseconds.
        self.assertEqual(caught.exception.field, "created_at")
        self.assertIn("looks like milliseconds", str(caught.exception))
        with self.client(run_adapter=threadrun.lenient) as client:
            created = client.create("thread_loose", "asst_1", metadata={"user": "u1"})
            self.assertEqual(created.metadata, {"user": "u1", "stream": "false"})
            self.assertEqual((created.created_at, created.model, created.instructions),
                             (NOW, "", None))  # fmt: skip
            done = client.poll("thread_loose", created.id, interval=0)
            self.assertEqual((done.status, done.created_at), ("completed", NOW))
            listed = list(client.list("thread_loose"))
            self.assertIn(created.id, [run.id for run in listed])
            self.assertTrue(all(run.created_at == NOW for run in listed))
            with client.stream("thread_loose", "asst_1", model="gpt-4o") as stream:
                streamed = stream.until_done()
            self.assertEqual((streamed.model, streamed.metadata), ("gpt-4o", {"stream": "true"}))


class LenientCLITest(LooseServer):

    def cli(self, *args: str) -> Any:
        return run_cli("--base-url", self.server.base_url, *args)

    def assertRead(self, printed: Dict[str, Any]) -> None:
        self.assertEqual(printed["created_at"], NOW)
        self.assertEqual(printed["model"], "")
        self.assertEqual(printed["metadata"], {"stream": "false"})

    def test_every_command_that_reads_runs(self) -> None:
        run = self.server.add_run("thread_cli", statuses=("queued", "in_progress", "completed"))
        moving = self.server.add_run("thread_cli", statuses=("in_progress",))
        for args in (["get", "thread_cli", run["id"]], ["wait", "thread_cli", run["id"]],
                     ["cancel", "thread_cli", moving["id"]], ["create", "thread_cli", "asst_1"]):
            with self.subTest(command=args[0]):
                proc = self.cli(*args, "--lenient")
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertRead(json.loads(proc.stdout))
                if args[0] == "cancel":  # a run not cancelled yet
                    args[2] = self.server.add_run("thread_cli", statuses=("in_progress",))["id"]
                refused = self.cli(*args)
                self.assertEqual(refused.returncode, 1)
                self.assertIn("created_at: expected Unix seconds", refused.stderr)
                self.assertIn("it looks like milliseconds, which run_adapter=threadrun.lenient "
                              "reads (a server with this quirk: add --lenient)",
                              refused.stderr)  # fmt: skip
        proc = self.cli("list", "thread_cli", "--lenient")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        for line in proc.stdout.splitlines():
            self.assertRead(json.loads(line))
        proc = self.cli("steps", "thread_cli", run["id"], "--lenient")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(proc.stdout)
        for line in proc.stdout.splitlines():
            self.assertEqual(json.loads(line)["created_at"], NOW)

    def test_check_with_and_without_jobs(self) -> None:
        tmp = tempfile.mkdtemp(prefix="threadrun-lenient-")
        self.addCleanup(shutil.rmtree, tmp)
        path = os.path.join(tmp, "runs.jsonl")
        bad = written({"created_at": "soon"})
        with open(path, "w", encoding="utf-8") as fh:
            for _, fields, _ in QUIRKS:
                fh.write(json.dumps(written(fields)) + "\n")
            fh.write(json.dumps(bad) + "\n")
        outputs = []
        for jobs in ("1", "2"):
            with self.subTest(jobs=jobs):
                proc = run_cli("check", "--json", "--lenient", "--jobs", jobs, path)
                self.assertEqual(proc.returncode, 1, proc.stderr)
                summary = json.loads(proc.stdout)
                self.assertEqual((summary["valid"], summary["invalid"]), (len(QUIRKS), 1))
                self.assertEqual(summary["duration_seconds"]["max"], 4)
                self.assertEqual(proc.stderr.splitlines(), [
                    "%s:%d: created_at: expected an integer timestamp or an ISO-8601 date and "
                    "time, got string 'soon'" % (path, len(QUIRKS) + 1)])  # fmt: skip
                outputs.append(proc.stdout)
        self.assertEqual(outputs[0], outputs[1])
        proc = run_cli("check", "--json", path)
        # Strictly: three in milliseconds, ISO, two fractions, model, metadata, two objects,
        # and the bad one.
        self.assertEqual(json.loads(proc.stdout)["invalid"], 11)

    def test_which_refusals_suggest_it(self) -> None:
        from threadrun.__main__ import _reading_hint

        lenient, iso = "add --lenient", "add --timestamps iso"
        cases = [
            ("model", "model: expected a string, got null", lenient),
            ("data[3]['model']", "model: expected a string, got null", lenient),
            ("model", "model: expected a string, got integer 5", ""),
            ("metadata['stream']", "metadata['stream']: expected a string, got boolean true",
             lenient),
            ("metadata", "metadata: expected an object, got array [1]", ""),
            ("object", "object: expected 'thread.run', got string 'run'", lenient),
            ("created_at", "created_at: expected an integer timestamp, got number 1.5", lenient),
            ("data[0]['started_at']", "started_at: expected an integer timestamp, got string "
             "'2026-11-29T16:30:14Z'", iso),
            ("created_at", "created_at: looks like milliseconds (threadrun.lenient reads it)",
             lenient),
            ("created_at", "created_at: is missing", ""),
            ("status", "status: expected a string, got null", ""),
            (None, "expected a JSON object at the top level, got array", ""),
        ]  # fmt: skip
        for field, reason, words in cases:
            with self.subTest(field=field, reason=reason):
                exc = threadrun.APIResponseValidationError(
                    "the server sent run 'run_1'; it was not returned because: " + reason,
                    body={}, request_id=None, field=field,
                )
                hint = _reading_hint(exc)
                if words:
                    self.assertIn(words, hint)
                else:
                    self.assertEqual(hint, "")

    def test_help_of_each_command(self) -> None:
        for command in ("get", "wait", "list", "cancel", "create", "steps", "check"):
            with self.subTest(command=command):
                self.assertIn("--lenient", run_cli(command, "--help").stdout)
        self.assertNotIn("--lenient", run_cli("demo", "--help").stdout)


if __name__ == "__main__":
    unittest.main()
