"""Shared test infrastructure: one place for what several test modules (and .ci/run and the
benchmarks) need.

- Interpreters: which Pythons this machine has, found by one rule everywhere.
- Loopback networking: ports, request-id shapes and other helpers of the HTTP tests.
"""

from __future__ import annotations

import re
import socket

# --------------------------------------------------------------------------------------------
# Interpreters
# --------------------------------------------------------------------------------------------

# --------------------------------------------------------------------------------------------
# Loopback networking
# --------------------------------------------------------------------------------------------

# What threadrun.testing.FakeRunsServer sends as x-request-id.
REQUEST_ID = re.compile(r"^req_[0-9a-f]{32}$")


def closed_port() -> int:
    """A loopback port with nothing listening on it (bound, then closed: connection refused)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
    finally:
        sock.close()
