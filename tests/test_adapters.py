"""Run adapters: threadrun.iso_timestamps, and Client(run_adapter=...)
applied to every run a server returns.

The client tests go to servers on 127.0.0.1 only (threadrun.testing's FakeRunsServer);
nothing is ever sent beyond loopback.
"""

from __future__ import annotations

import calendar
import copy
import datetime
import json
import unittest
from typing import Any, Dict

from tests import corpus, threadrun
from tests.support import KEY, THREAD, ServerTest, run_json

TIMESTAMP_FIELDS = (
    "created_at", "expires_at", "started_at", "cancelled_at", "failed_at", "completed_at",
)  # fmt: skip


def utc(*parts: int) -> int:
    return calendar.timegm(datetime.datetime(*parts).timetuple())


def iso(seconds: int) -> str:
    """How a FastAPI server writes a timestamp: RFC 3339 with microseconds and Z."""
    moment = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.549940Z")


def iso_run(run: Dict[str, Any]) -> Dict[str, Any]:
    out = dict(run)
    for field in TIMESTAMP_FIELDS:
        if isinstance(out.get(field), int):
            out[field] = iso(out[field])
    return out


class IsoTimestampsTest(unittest.TestCase):
    def test_accepted_forms(self) -> None:
        noon = utc(2026, 11, 29, 16, 30, 14)
        cases = [
            ("2026-11-29T16:30:14.549940Z", noon),
            ("2026-11-29T16:30:14Z", noon),
            ("2026-11-29t16:30:14z", noon),
            ("2026-11-29 16:30:14", noon),  # a space for the T; no offset: UTC
            ("2026-11-29T16:30:14.9", noon),  # fractions truncated, never rounded up
            # Any fraction width (3.7's datetime.fromisoformat takes 3 or 6 digits only).
            ("2026-11-29T16:30:14.999999999999", noon),
            ("2026-11-29T16:30:14,5Z", noon),  # ISO-8601's decimal comma
            ("2026-11-29T18:30:14+02:00", noon),
            ("2026-11-29T11:00:14-05:30", noon),
            ("2026-11-29T11:00:14-0530", noon),
            ("2026-11-30T00:30:14+08:00", noon),  # the next day where it was written
            ("2026-11-29T16:30:14+00:00", noon),
            ("1970-01-01T00:00:00Z", 0),
            ("1970-01-01T01:00:00+01:00", 0),
            ("2016-12-31T23:59:60Z", utc(2017, 1, 1)),  # a leap second: the second after :59
            ("2024-02-29T00:00:00Z", utc(2024, 2, 29)),
            ("9999-12-31T23:59:59Z", utc(9999, 12, 31, 23, 59, 59)),
        ]
        for text, expected in cases:
            with self.subTest(text=text):
                self.assertEqual(threadrun.iso_timestamps({"created_at": text}),
                                 {"created_at": expected})  # fmt: skip

    def test_refused_forms_name_the_field(self) -> None:
        cases = [
            "yesterday", "", "2026-11-29", "2026-11-29T16:30Z", "2026-11-29T16:30:14+02",
            "2026-11-29T16:30:14 Z", " 2026-11-29T16:30:14Z", "2026-11-29T16:30:14Z\n",
            "2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-29T24:00:00Z",
            "2026-11-29T16:60:00Z", "2026-11-29T16:30:61Z", "2026-11-29T16:30:14+24:00",
            "2026-11-29T16:30:14+02:60", "0000-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",  # before Unix time 0: no u64 timestamp holds it
            "1970-01-01T00:30:00+01:00",
            "\uff12\uff10\uff12\uff16-11-29T16:30:14Z",  # fullwidth digits: \d without re.ASCII
            "1795969814",
        ]
        for field in ("created_at", "completed_at"):
            for text in cases:
                with self.subTest(field=field, text=text):
                    with self.assertRaises(threadrun.ThreadRunError) as cm:
                        threadrun.iso_timestamps({field: text})
                    self.assertEqual(cm.exception.field, field)
                    self.assertTrue(str(cm.exception).startswith(field + ": "))

    def test_other_values_are_refused_naming_the_field(self) -> None:
        for value in (1.5, True, [], {}, 1e20):
            with self.subTest(value=value):
                with self.assertRaises(threadrun.ThreadRunError) as cm:
                    threadrun.iso_timestamps({"started_at": value})
                self.assertEqual(cm.exception.field, "started_at")
                self.assertIn("ISO-8601", str(cm.exception))

    def test_integers_null_missing_and_other_keys_left_alone(self) -> None:
        data = {"created_at": 5, "expires_at": None, "id": "2026-11-29T16:30:14Z", "x": 1.5,
                "metadata": {"when": "2026-11-29T16:30:14Z"}, "started_at": -3}  # fmt: skip
        self.assertEqual(threadrun.iso_timestamps(data), data)
        self.assertNotIn("completed_at", threadrun.iso_timestamps(data))

    def test_returns_a_new_dict_and_never_modifies_its_argument(self) -> None:
        data = {"created_at": "2026-11-29T16:30:14Z", "id": "r"}
        before = copy.deepcopy(data)
        adapted = threadrun.iso_timestamps(data)
        self.assertEqual(data, before)
        self.assertIsNot(adapted, data)
        self.assertIs(type(adapted), dict)

    def test_not_a_mapping(self) -> None:
        for value in ([], None, "run", 3):
            with self.subTest(value=value):
                with self.assertRaises(threadrun.ThreadRunError) as cm:
                    threadrun.iso_timestamps(value)  # type: ignore[arg-type]
                self.assertIsNone(cm.exception.field)

    def test_every_corpus_run_written_in_iso_reads_back_as_the_original(self) -> None:
        for name, _raw, data in corpus():
            with self.subTest(name=name):
                written = iso_run(data)
                self.assertNotEqual(written, data)
                with self.assertRaises(threadrun.ThreadRunError):
                    threadrun.ThreadRun.from_dict(written)
                run = threadrun.ThreadRun.from_dict(threadrun.iso_timestamps(written))
                self.assertEqual(run, threadrun.ThreadRun.from_dict(data))
                # to_dict gives the adapted values: lossless relative to what was parsed.
                written_back = run.to_dict()
                self.assertEqual({key: written_back[key] for key in data}, data)

    def test_listed_in_all(self) -> None:
        self.assertIn("iso_timestamps", threadrun.__all__)
        self.assertIn("APIResponseValidationError", threadrun.__all__)


class RunAdapterTest(ServerTest):
    def iso_answer(self, run_id: str = "run_iso", **fields: Any) -> bytes:
        data = json.loads(run_json(run_id, created_at=utc(2026, 11, 29, 16, 30, 14), **fields))
        return json.dumps(iso_run(data)).encode()

    def test_without_an_adapter_an_iso_run_is_refused_and_kept(self) -> None:
        body = self.iso_answer()
        self.server.invalid_next(body, headers={"x-request-id": "req_iso"})
        with self.raises(threadrun.APIResponseValidationError) as cm:
            self.client().retrieve(THREAD, "run_iso")
        self.assertEqual(cm.exception.field, "created_at")
        self.assertEqual(cm.exception.body, json.loads(body))
        self.assertIn("run 'run_iso'", str(cm.exception))

    def test_every_endpoint_that_returns_a_run_applies_it(self) -> None:
        client = self.client(run_adapter=threadrun.iso_timestamps)
        calls = {
            "retrieve": lambda: client.retrieve(THREAD, "run_iso"),
            "cancel": lambda: client.cancel(THREAD, "run_iso"),
            "update": lambda: client.update(THREAD, "run_iso", {"k": "v"}),
            "submit_tool_outputs": lambda: client.submit_tool_outputs(THREAD, "run_iso", []),
            "poll": lambda: client.poll(THREAD, "run_iso"),
        }
        for name, call in calls.items():
            with self.subTest(endpoint=name):
                self.server.invalid_next(self.iso_answer())
                run = call()
                self.assertEqual(run.created_at, utc(2026, 11, 29, 16, 30, 14))
                self.assertEqual(run.id, "run_iso")

    def test_create_applies_it(self) -> None:
        self.server.add_thread(THREAD)
        client = self.client(run_adapter=threadrun.iso_timestamps)
        self.server.invalid_next(self.iso_answer("run_new", status="queued"))
        run = client.create(THREAD, "asst_1")
        self.assertEqual((run.id, run.created_at), ("run_new", utc(2026, 11, 29, 16, 30, 14)))

    def test_every_run_of_every_list_page(self) -> None:
        runs = [json.loads(self.iso_answer("run_%d" % i)) for i in range(3)]
        pages = [{"object": "list", "data": runs[:2], "has_more": True, "last_id": "run_1"},
                 {"object": "list", "data": runs[2:], "has_more": False}]  # fmt: skip
        for page in pages:
            self.server.invalid_next(json.dumps(page).encode())
        got = list(self.client(run_adapter=threadrun.iso_timestamps).list(THREAD))
        self.assertEqual([run.id for run in got], ["run_0", "run_1", "run_2"])
        self.assertEqual({run.created_at for run in got}, {utc(2026, 11, 29, 16, 30, 14)})

    def test_the_adapter_sees_what_the_server_sent_and_its_result_is_parsed(self) -> None:
        seen = []

        def adapter(data: Any) -> Dict[str, Any]:
            seen.append(copy.deepcopy(data))
            return dict(data, status="renamed", extra_key=1)

        run = self.add_run()
        got = self.client(run_adapter=adapter).retrieve(THREAD, run["id"])
        self.assertEqual(seen, [self.server.get_run(run["id"])])
        self.assertEqual(got.status, "renamed")
        self.assertEqual(got.extra["extra_key"], 1)
        self.assertEqual(got.to_dict()["status"], "renamed")  # the adapted values

    def test_an_adapter_that_fails_loses_no_run(self) -> None:
        def broken(data: Any) -> Dict[str, Any]:
            raise KeyError("no such thing")

        def refuses(data: Any) -> Dict[str, Any]:
            raise threadrun.ThreadRunError("not today", "status")

        run = self.add_run()
        for adapter, reason in ((broken, "run_adapter raised KeyError: 'no such thing'"),
                                (refuses, "status: not today")):  # fmt: skip
            with self.subTest(adapter=adapter.__name__):
                with self.raises(threadrun.APIResponseValidationError) as cm:
                    self.client(run_adapter=adapter).retrieve(THREAD, run["id"])
                self.assertEqual(cm.exception.body, self.server.get_run(run["id"]))
                self.assertTrue(str(cm.exception).endswith(reason), str(cm.exception))
                self.assertIn("run %r" % run["id"], str(cm.exception))

    def test_an_adapter_returning_no_mapping(self) -> None:
        run = self.add_run()
        with self.raises(threadrun.APIResponseValidationError) as cm:
            self.client(run_adapter=lambda data: None).retrieve(THREAD, run["id"])
        self.assertIn("expected a JSON object", str(cm.exception))

    def test_an_adapter_error_quoting_the_key_is_scrubbed(self) -> None:
        def echo(data: Any) -> Dict[str, Any]:
            raise ValueError("cannot use %s" % data["created_at"])

        self.server.invalid_next(run_json("run_raw", created_at="Bearer " + KEY))
        with self.raises(threadrun.APIResponseValidationError) as cm:
            self.client(run_adapter=echo).retrieve(THREAD, "run_raw")
        self.assertIn("[redacted]", str(cm.exception))

    def test_not_callable(self) -> None:
        for value in ("iso", 3):
            with self.subTest(value=value), self.assertRaisesRegex(
                TypeError, "^run_adapter must be callable, got (str|int)$"
            ):
                threadrun.Client(api_key=KEY, base_url=self.server.base_url, run_adapter=value)


if __name__ == "__main__":
    unittest.main()
