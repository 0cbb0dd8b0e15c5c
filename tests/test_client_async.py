"""Specification: AsyncClient keeps every rule Client keeps (the behaviour table).

Each test class of the client's endpoint and fault modules runs here again with
``shell = "async"``: the same tests, assertions unchanged, against threadrun.aio's
AsyncClient (driven through tests/shells.py). A rule cannot hold in one shell and not the
other. The classes left out test what only a blocking client has (threads sharing it, a
forked child, a signal in the middle of a blocking read), listed with the reason.
"""

from __future__ import annotations

import importlib
import unittest

from tests import SINGLE_FILE
from tests.support import EnvTest

MODULES = (
    "tests.test_client_endpoints",
    "tests.test_client_errors",
    "tests.test_client_faults",
    "tests.test_client_messages",
    "tests.test_client_redirects_and_proxies",
    "tests.test_client_retries",
    "tests.test_client_steps",
    "tests.test_client_stream",
    "tests.test_client_validation",
)

# What only a blocking client has: why a class or a test has no async variant.
SYNC_ONLY = {
    "ForkTest": "a forked child: an event loop is not carried across fork",
    "ForkMidRequestTest": "a forked child: an event loop is not carried across fork",
    "InterruptedExchangeTest": "a signal in a blocking read: a task is cancelled instead "
    "(CancellationTest)",
    "ConnectionTest.test_a_forked_child_never_reads_the_parents_stream": "a forked child",
    "ConnectionTest.test_close_from_another_thread_ends_a_blocked_read": "another thread: "
    "an AsyncClient belongs to its event loop",
    "ConnectionTest.test_ctrl_c_mid_stream_discards_the_connection": "a signal in a blocking "
    "read: a task is cancelled instead (CancellationTest)",
}


def _async_variants() -> dict:  # type: ignore[type-arg]
    variants = {}
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name, value in sorted(vars(module).items()):
            if (
                isinstance(value, type)
                and issubclass(value, EnvTest)
                and value.__module__ == module_name
                and name not in SYNC_ONLY
            ):
                attributes: dict = {"shell": "async", "__module__": __name__}  # type: ignore[type-arg]
                for key, reason in SYNC_ONLY.items():
                    owner, _, method = key.partition(".")
                    if owner == name and method:
                        attributes[method] = unittest.skip(reason)(getattr(value, method))
                variant = type("Async" + name, (value,), attributes)
                variants[variant.__name__] = variant
    return variants


if not SINGLE_FILE:  # threadrun.aio is a second file: tests/test_copyin.py copies it in
    globals().update(_async_variants())

if __name__ == "__main__":
    unittest.main()
