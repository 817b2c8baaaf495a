"""Helpers for the stack tests: a server of one's own that a test can stop, and a socket-level
guard proving a replay opened no connection."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sse_server import SSEServer


class ConnectionAttempted(ConnectionRefusedError):
    """A socket tried to connect while the test said none may (an OSError, so that the stacks
    close the socket as they would on a refused connection; ``attempts`` is the proof)."""


@contextmanager
def no_connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Inside the block every ``socket.connect`` / ``connect_ex`` fails the test; yields the
    addresses that were tried (empty when nothing tried to connect)."""
    attempts: list[Any] = []

    def refuse(sock: socket.socket, address: Any) -> Any:
        attempts.append(address)
        raise ConnectionAttempted(f"a connection to {address!r} was attempted during replay")

    with monkeypatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket.socket, "connect_ex", refuse)
        yield attempts


@pytest.fixture
def own_server() -> Iterator[SSEServer]:
    """A server of this test's own, so the test can stop it before replaying."""
    server = SSEServer().start()
    try:
        yield server
    finally:
        server.stop()
