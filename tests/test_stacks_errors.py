"""Broken streams across stacks: a stream that broke while recording through one stack breaks
at the same chunk when replayed into another, with the replaying stack's own exception (into
the stack that recorded it: the very exception it raised live); a recorded timeout times out
and a refused connection is refused again, each stack in its own terms."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import httpx
import pytest
import requests
from clients import CLIENTS
from offline import no_connections
from sse_server import Route, SSEServer

from streamtape.cassette import Cassette, CassetteWriter, ErrorInfo
from streamtape.tape import use_cassette
from streamtape.transport import INSTANT

CHUNKS = [b'data: {"n": %d}\n\n' % i for i in range(5)]
URL = "http://127.0.0.1:9/stream"  # the discard port: nothing may connect to it anyway
CUT_AS = {  # what the recording says a stream cut short raised, as each stack read it
    "aiohttp": "ClientPayloadError",
    "requests": "IncompleteRead",  # as http.client read the cut stream
    "httpx": "RemoteProtocolError",
}


@pytest.mark.parametrize("into", sorted(CLIENTS))
@pytest.mark.parametrize("made_by", sorted(CLIENTS))
def test_a_broken_stream_breaks_at_the_same_chunk_in_every_stack(
    sse_server: SSEServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    made_by: str,
    into: str,
) -> None:
    path = tmp_path / "broken.ndjson.zst"
    url = sse_server.add(Route("/b", CHUNKS, delays=0.003, break_after=2))
    with use_cassette(path, record_mode="rewrite"):
        live, live_error = CLIENTS[made_by].read_broken(url)
    assert b"".join(live) == b"".join(CHUNKS[:2])
    [inter] = Cassette.load(path)
    assert [c.data for c in inter.chunks] == CHUNKS[:2]
    assert inter.end is not None
    assert inter.end.outcome == "error"
    assert inter.end.error is not None
    assert inter.end.error.type == CUT_AS[made_by]
    with no_connections(monkeypatch) as attempts, use_cassette(path, "none", speed=INSTANT):
        replayed, error = CLIENTS[into].read_broken(url)
    assert attempts == []
    assert replayed == CHUNKS[:2]
    assert isinstance(error, CLIENTS[into].broken)
    if into == made_by:  # replayed into the stack that recorded it: the very error it raised
        assert type(error) is type(live_error)
        assert str(error) == str(live_error)


def recorded_timeout(path: Path) -> None:
    """A cassette whose stream timed out after two chunks (as httpx names it)."""
    with CassetteWriter(path) as writer:
        rec = writer.begin("POST", URL, [("content-type", "text/plain")], b"x")
        rec.response(200, [("Content-Type", "text/event-stream"), ("Transfer-Encoding", "chunked")])
        for chunk in CHUNKS[:2]:
            rec.chunk(chunk)
        timeout = ErrorInfo(type="ReadTimeout", message="The read operation timed out")
        rec.end("error", error=timeout)


@pytest.mark.parametrize(
    ("into", "raises"),
    [
        ("aiohttp", aiohttp.SocketTimeoutError),
        ("requests", requests.exceptions.ConnectionError),  # requests' wrapping of a read timeout
        ("httpx", httpx.ReadTimeout),
    ],
)
def test_a_recorded_timeout_times_out_in_every_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, into: str, raises: type[BaseException]
) -> None:
    path = tmp_path / "timeout.ndjson.zst"
    recorded_timeout(path)

    with no_connections(monkeypatch) as attempts, use_cassette(path, "none", speed=INSTANT):
        replayed, error = CLIENTS[into].read_broken(URL)
    assert attempts == []
    assert replayed == CHUNKS[:2]
    assert isinstance(error, raises), repr(error)
    if into == "requests":
        assert "timed out" in str(error).lower()


# -- failures before a response head ---------------------------------------------------------


def closed_port() -> str:
    with SSEServer() as server:
        url = server.url
    return url + "/gone"  # the server is stopped: connecting is refused


@pytest.mark.parametrize(
    ("stack", "recorded_as"),
    [("aiohttp", "ClientConnectorError"), ("requests", "NewConnectionError")],
)
def test_a_refused_connection_is_refused_again_on_replay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stack: str, recorded_as: str
) -> None:
    path = tmp_path / "refused.ndjson.zst"
    url = closed_port()
    client = CLIENTS[stack]
    with use_cassette(path, record_mode="rewrite"), pytest.raises(client.refused):
        client.post(url)
    [inter] = Cassette.load(path)
    assert inter.response is None
    assert inter.end is not None
    assert inter.end.error is not None
    assert inter.end.error.type == recorded_as
    with (
        no_connections(monkeypatch) as attempts,
        use_cassette(path, "none", speed=INSTANT),
        pytest.raises(client.refused, match=recorded_as),
    ):
        client.post(url)
    assert attempts == []


@pytest.mark.parametrize(
    ("name", "raises"),
    [
        ("ServerDisconnectedError", aiohttp.ServerDisconnectedError),
        ("ClientPayloadError", aiohttp.ClientPayloadError),
        ("RemoteProtocolError", aiohttp.ClientPayloadError),
        ("ConnectError", aiohttp.ClientConnectionError),
        ("ReadTimeout", aiohttp.SocketTimeoutError),
    ],
)
def test_recorded_error_names_become_aiohttp_exceptions(
    name: str, raises: type[BaseException]
) -> None:
    from streamtape._aiohttp import _ERRORS

    error = _ERRORS.exception(ErrorInfo(type=name, message="boom"))
    assert type(error) is raises
    assert "boom" in str(error)


@pytest.mark.parametrize(
    ("name", "raises"),
    [
        ("ProtocolError", "ProtocolError"),
        ("NewConnectionError", "NewConnectionError"),
        ("ConnectTimeout", "ReadTimeoutError"),
        ("ClientPayloadError", "ProtocolError"),
        ("ConnectError", "NewConnectionError"),
    ],
)
def test_recorded_error_names_become_urllib3_exceptions(name: str, raises: str) -> None:
    from streamtape._urllib3 import _Errors

    error = _Errors(None, URL).exception(ErrorInfo(type=name, message="boom"))
    assert type(error).__name__ == raises
    assert "boom" in str(error)
