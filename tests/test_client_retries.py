"""Client retries: which failures are retried, how long it waits, idempotency keys.

Part of the client's specification, tests/test_client_*.py (their rules: tests/support.py).
"""

from __future__ import annotations

import email.utils
import time
import unittest
from typing import Any

from tests import threadrun
from tests.support import IDEMPOTENCY_KEY, THREAD, ServerTest, backoff_range


class RetryTest(ServerTest):
    def setUp(self) -> None:
        super().setUp()
        self.run_id = self.add_run()["id"]

    def retrieve(self, **kwargs: Any) -> Any:
        return self.client(**kwargs).retrieve(THREAD, self.run_id)

    def test_503_then_success(self) -> None:
        self.server.fail_next(503)
        self.assertEqual(self.retrieve().id, self.run_id)
        self.assertEqual(self.sent(), 2)
        self.assertEqual(len(self.clock.sleeps), 1)

    def test_max_retries_is_respected(self) -> None:
        for retries in (0, 1, 3):
            with self.subTest(max_retries=retries):
                self.server.clear()
                self.clock.sleeps.clear()
                run_id = self.add_run()["id"]
                self.server.fail_next(503, count=10)
                with self.raises(threadrun.InternalServerError):
                    self.client(max_retries=retries).retrieve(THREAD, run_id)
                self.assertEqual(self.sent(), retries + 1)
                self.assertEqual(len(self.clock.sleeps), retries)

    def test_default_max_retries_is_two(self) -> None:
        self.server.fail_next(500, count=10)
        with self.raises(threadrun.InternalServerError):
            self.retrieve()
        self.assertEqual(self.sent(), 3)

    def test_retried_statuses(self) -> None:
        client = self.client(max_retries=1)
        for status in (408, 409, 429, 500, 502, 503, 504, 529):
            with self.subTest(status=status):
                before = self.sent()
                self.server.fail_next(status)
                self.assertEqual(client.retrieve(THREAD, self.run_id).id, self.run_id)
                self.assertEqual(self.sent() - before, 2)

    def test_not_retried_statuses(self) -> None:
        client = self.client(max_retries=3)
        for status in (400, 401, 403, 404, 422):
            with self.subTest(status=status):
                before = self.sent()
                self.server.fail_next(status)
                with self.raises(threadrun.APIStatusError):
                    client.retrieve(THREAD, self.run_id)
                self.assertEqual(self.sent() - before, 1)
        self.assertEqual(self.clock.sleeps, [])

    def test_retry_after_seconds_is_honoured_exactly(self) -> None:
        self.server.fail_next(429, headers={"Retry-After": "3"})
        self.retrieve()
        self.assertEqual(self.clock.sleeps, [3.0])

    def test_retry_after_ms_is_honoured(self) -> None:
        self.server.fail_next(503, headers={"retry-after-ms": "250"})
        self.retrieve()
        self.assertEqual(self.clock.sleeps, [0.25])

    def test_retry_after_ms_wins_over_retry_after(self) -> None:
        self.server.fail_next(503, headers={"retry-after-ms": "1500", "Retry-After": "7"})
        self.retrieve()
        self.assertEqual(self.clock.sleeps, [1.5])

    def test_retry_after_http_date(self) -> None:
        when = email.utils.formatdate(time.time() + 5, usegmt=True)
        self.server.fail_next(503, headers={"Retry-After": when})
        self.retrieve()
        (delay,) = self.clock.sleeps
        self.assertGreaterEqual(delay, 3.0)
        self.assertLessEqual(delay, 5.0)

    def test_meaningless_retry_after_falls_back_to_backoff(self) -> None:
        # ("3600" was in this list: a wait over the cap is now never answered sooner, see
        # test_client_faults.RetryAfterTest.)
        shortest, longest = backoff_range(0)
        for value in ("-1", "soon", "nan", ""):
            with self.subTest(retry_after=value):
                self.clock.sleeps.clear()
                self.server.fail_next(503, headers={"Retry-After": value})
                self.retrieve()
                (delay,) = self.clock.sleeps
                self.assertGreaterEqual(delay, shortest)
                self.assertLessEqual(delay, longest)

    def test_x_should_retry_true_retries_a_400(self) -> None:
        self.server.fail_next(400, headers={"x-should-retry": "true"})
        self.assertEqual(self.retrieve().id, self.run_id)
        self.assertEqual(self.sent(), 2)
        self.assertEqual(len(self.clock.sleeps), 1)

    def test_x_should_retry_false_stops_a_503(self) -> None:
        self.server.fail_next(503, headers={"x-should-retry": "false"})
        with self.raises(threadrun.InternalServerError):
            self.retrieve()
        self.assertEqual(self.sent(), 1)
        self.assertEqual(self.clock.sleeps, [])

    def test_backoff_delays_with_jitter(self) -> None:
        client = self.client(max_retries=2)
        firsts, seconds = [], []
        for _ in range(20):
            self.clock.sleeps.clear()
            self.server.fail_next(503, count=2)
            client.retrieve(THREAD, self.run_id)
            first, second = self.clock.sleeps
            self.assertGreaterEqual(first, backoff_range(0)[0])
            self.assertLessEqual(first, backoff_range(0)[1])
            self.assertGreaterEqual(second, backoff_range(1)[0])
            self.assertLessEqual(second, backoff_range(1)[1])
            firsts.append(first)
            seconds.append(second)
        self.assertGreater(len(set(firsts)), 1, "no jitter")
        self.assertGreater(len(set(seconds)), 1, "no jitter")

    def test_backoff_is_capped(self) -> None:
        self.server.fail_next(503, count=9)
        with self.raises(threadrun.InternalServerError):
            self.retrieve(max_retries=8)
        self.assertEqual(len(self.clock.sleeps), 8)
        cap = threadrun._MAX_RETRY_DELAY
        self.assertTrue(all(0 < d <= cap for d in self.clock.sleeps), self.clock.sleeps)
        self.assertEqual(backoff_range(7), (cap * (1 - threadrun._RETRY_JITTER), cap))
        self.assertGreaterEqual(self.clock.sleeps[-1], backoff_range(7)[0])

    def test_idempotency_key_on_post_identical_across_retries(self) -> None:
        client = self.client()
        self.server.fail_next(503, count=2)
        client.create(THREAD, "asst_1", metadata={"n": "1"})
        client.create(THREAD, "asst_1", metadata={"n": "2"})
        posts = [r for r in self.server.requests if r.method == "POST"]
        self.assertEqual(len(posts), 4)
        keys = [r.headers["Idempotency-Key"] for r in posts]
        for key in keys:
            self.assertRegex(key, IDEMPOTENCY_KEY)
        self.assertEqual(keys[0], keys[1])
        self.assertEqual(keys[1], keys[2])
        self.assertNotEqual(keys[2], keys[3])  # a new request, a new key
        self.assertEqual(posts[0].body, posts[2].body)
        self.assertEqual(len(self.clock.sleeps), 2)

    def test_idempotency_key_on_every_post_method(self) -> None:
        client = self.client()
        run = self.add_run(statuses=("queued", "requires_action"))
        client.update(THREAD, run["id"], {"a": "b"})
        client.cancel(THREAD, run["id"])
        other = self.add_run(statuses=("requires_action",))
        call = client.retrieve(THREAD, other["id"]).tool_calls[0]
        client.submit_tool_outputs(THREAD, other["id"], [{"tool_call_id": call.id, "output": ""}])
        for request in self.server.requests:
            with self.subTest(method=request.method, path=request.path):
                if request.method == "POST":
                    self.assertRegex(request.headers["Idempotency-Key"], IDEMPOTENCY_KEY)
                else:
                    self.assertIsNone(request.headers["Idempotency-Key"])

    def test_no_idempotency_key_on_get(self) -> None:
        self.server.fail_next(503)
        self.retrieve()
        list(self.client().list(THREAD))
        for request in self.server.requests:
            self.assertEqual(request.method, "GET")
            self.assertIsNone(request.headers["Idempotency-Key"])

    def test_dropped_connection_is_retried(self) -> None:
        self.server.drop_next()
        self.assertEqual(self.retrieve(max_retries=1).id, self.run_id)
        self.assertEqual(self.sent(), 2)

    def test_dropped_connections_give_up_after_max_retries(self) -> None:
        self.server.drop_next(count=10)
        with self.raises(threadrun.APIConnectionError):
            self.retrieve(max_retries=2)
        self.assertEqual(len(self.clock.sleeps), 2)
        self.assertLessEqual(self.sent(), 4)  # at most one extra, "stale connection" resend

    def test_dropped_post_is_retried_with_the_same_key(self) -> None:
        self.server.drop_next(method="POST")
        run = self.client().create(THREAD, "asst_1")
        posts = [r for r in self.server.requests if r.method == "POST"]
        self.assertEqual(len(posts), 2)
        self.assertEqual(posts[0].headers["Idempotency-Key"], posts[1].headers["Idempotency-Key"])
        self.assertEqual(run.assistant_id, "asst_1")


if __name__ == "__main__":
    unittest.main()


class RetryPolicyTest(unittest.TestCase):
    """The retry rules alone, without a socket (also in single-file mode)."""

    def test_decisions(self) -> None:
        policy = threadrun._RetryPolicy(max_retries=2)
        cap = threadrun._MAX_RETRY_AFTER
        cases = [
            # (retries so far, status, headers, expected delay; "backoff" = a backoff delay)
            (0, 503, {}, "backoff"),
            (1, 429, {}, "backoff"),
            (2, 503, {}, None),  # out of retries
            (0, 400, {}, None),
            (0, 400, {"x-should-retry": "true"}, "backoff"),
            (0, 503, {"x-should-retry": "false"}, None),
            (0, 429, {"retry-after": "3"}, 3.0),
            (0, 429, {"retry-after-ms": "250", "retry-after": "9"}, 0.25),
            (0, 429, {"retry-after": str(cap)}, cap),
            (0, 429, {"retry-after": str(cap + 1)}, None),  # never sooner than asked
            (0, 429, {"retry-after": "soon"}, "backoff"),
        ]
        for retries, status, headers, expected in cases:
            with self.subTest(retries=retries, status=status, headers=headers):
                delay = policy.after_status(retries, status, headers)
                if expected == "backoff":
                    shortest, longest = backoff_range(retries)
                    self.assertTrue(shortest <= delay <= longest, delay)
                else:
                    self.assertEqual(delay, expected)
