"""Shared fixtures. ``sse_server``: the local streaming server (see tests/sse_server.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sse_server import SSEServer


@pytest.fixture(scope="session")
def _sse_server_session() -> Iterator[SSEServer]:
    with SSEServer() as server:
        yield server


@pytest.fixture
def sse_server(_sse_server_session: SSEServer) -> Iterator[SSEServer]:
    """The running local server, with no routes; routes and logs are cleared after the test."""
    yield _sse_server_session
    _sse_server_session.reset()
