"""Broken streams across stacks: a stream that broke while recording through one stack breaks
at the same chunk when replayed into another, with the replaying stack's own exception."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import aiohttp
import httpx
import pytest
import requests
from offline import no_connections
from sse_server import Route, SSEServer

from streamtape.cassette import Cassette, CassetteWriter, ErrorInfo
from streamtape.tape import use_cassette
from streamtape.transport import INSTANT

CHUNKS = [b'data: {"n": %d}\n\n' % i for i in range(5)]
URL = "http://127.0.0.1:9/stream"  # the discard port: nothing may connect to it anyway


def aiohttp_read(url: str) -> tuple[list[bytes], BaseException]:
    async def read() -> tuple[list[bytes], BaseException]:
        got: list[bytes] = []
        async with aiohttp.ClientSession() as session, session.post(url, data=b"x") as r:
            try:
                async for chunk in r.content.iter_any():
                    got.append(chunk)
            except Exception as exc:  # which class: the tests check it
                return got, exc
        raise AssertionError("the stream did not break")

    return asyncio.run(read())


def requests_read(url: str) -> tuple[list[bytes], BaseException]:
    got: list[bytes] = []
    with requests.post(url, data=b"x", stream=True) as response:
        try:
            for chunk in response.iter_content(None):
                got.append(chunk)
        except Exception as exc:  # which class: the tests check it
            return got, exc
    raise AssertionError("the stream did not break")


def httpx_read(url: str) -> tuple[list[bytes], BaseException]:
    got: list[bytes] = []
    with httpx.Client() as client, client.stream("POST", url, content=b"x") as response:
        try:
            for chunk in response.iter_raw():
                got.append(chunk)
        except Exception as exc:  # which class: the tests check it
            return got, exc
    raise AssertionError("the stream did not break")


READERS: dict[str, Callable[[str], tuple[list[bytes], BaseException]]] = {
    "aiohttp": aiohttp_read,
    "requests": requests_read,
    "httpx": httpx_read,
}
RAISES: dict[str, type[BaseException]] = {
    "aiohttp": aiohttp.ClientPayloadError,
    "requests": requests.exceptions.ChunkedEncodingError,
    "httpx": httpx.TransportError,
}


@pytest.mark.parametrize("into", sorted(READERS))
@pytest.mark.parametrize("made_by", sorted(READERS))
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
        live, _ = READERS[made_by](url)
    assert b"".join(live) == b"".join(CHUNKS[:2])
    [inter] = Cassette.load(path)
    assert [c.data for c in inter.chunks] == CHUNKS[:2]
    with no_connections(monkeypatch) as attempts, use_cassette(path, "none", speed=INSTANT):
        replayed, error = READERS[into](url)
    assert attempts == []
    assert replayed == CHUNKS[:2]
    assert isinstance(error, RAISES[into])


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
        replayed, error = READERS[into](URL)
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


def test_a_refused_connection_recorded_through_requests_is_refused_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "refused.ndjson.zst"
    url = closed_port()
    with use_cassette(path, record_mode="rewrite"), pytest.raises(requests.ConnectionError):
        requests.get(url)
    [inter] = Cassette.load(path)
    assert inter.response is None
    assert inter.end is not None
    assert inter.end.error is not None
    assert inter.end.error.type == "NewConnectionError"
    with (
        no_connections(monkeypatch) as attempts,
        use_cassette(path, "none", speed=INSTANT),
        pytest.raises(requests.ConnectionError, match="NewConnectionError"),
    ):
        requests.get(url)
    assert attempts == []


def test_a_refused_connection_recorded_through_aiohttp_is_refused_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "refused.ndjson.zst"
    url = closed_port()

    async def get() -> None:
        async with aiohttp.ClientSession() as session, session.get(url):
            pass

    with use_cassette(path, record_mode="rewrite"), pytest.raises(aiohttp.ClientConnectionError):
        asyncio.run(get())
    [inter] = Cassette.load(path)
    assert inter.response is None
    assert inter.end is not None
    assert inter.end.error is not None
    assert inter.end.error.type == "ClientConnectorError"
    with (
        no_connections(monkeypatch) as attempts,
        use_cassette(path, "none", speed=INSTANT),
        pytest.raises(aiohttp.ClientConnectionError, match="ClientConnectorError"),
    ):
        asyncio.run(get())
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
