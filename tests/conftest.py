"""Shared fixtures. ``sse_server``: the local streaming server (see tests/sse_server.py)."""

from __future__ import annotations

from collections.abc import Iterator

import httpcore  # noqa: F401
import pytest
from sse_server import SSEServer

# httpx imports httpcore only when a transport is built, and maps httpcore's errors to its own
# through a table it fills once. Imported here, httpcore belongs to the test process itself:
# a pytester run in this process that imported it first would drop it again on leaving (it
# restores sys.modules), and httpx would then map the errors of a forgotten module, letting a
# raw httpcore.ConnectError through in whatever test came next.


@pytest.fixture(scope="session")
def _sse_server_session() -> Iterator[SSEServer]:
    with SSEServer() as server:
        yield server


@pytest.fixture
def sse_server(_sse_server_session: SSEServer) -> Iterator[SSEServer]:
    """The running local server, with no routes; routes and logs are cleared after the test."""
    yield _sse_server_session
    _sse_server_session.reset()
