"""The HTTP stacks the tests drive, each behind one face, so that what every stack must do is
said once (tests/test_stacks.py, tests/test_stacks_errors.py) and run for each: a request
whose body is read as that stack's caller reads a stream (chunk by chunk, as the chunks came),
and the exception classes the stack raises where a stream breaks or a connection is refused.
Also the openai SDK as the tests drive it, over whichever HTTP client it is given."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import aiohttp
import httpx
import httpx2
import openai
import requests

from streamtape.cassette import Cassette


def _nothing() -> None:
    pass


class Request(NamedTuple):
    """A POST to ``url``: ``json`` as its body (None: the bytes ``x``), ``headers`` added; the
    caller stops after ``stop_after`` chunks (None: reads to the end), leaving the response's
    block, which closes it before its end."""

    url: str
    json: dict[str, str] | None = None
    headers: dict[str, str] | None = None
    after_first: Callable[[], object] = _nothing
    stop_after: int | None = None

    def took(self, got: list[bytes], chunk: bytes) -> bool:
        """Note ``chunk`` as read into ``got``; whether the caller stops reading now."""
        got.append(chunk)
        if len(got) == 1:
            self.after_first()
        return len(got) == self.stop_after

    @property
    def data(self) -> bytes | None:
        return b"x" if self.json is None else None


class Client:
    """One stack's face: :meth:`read` is the stack's own code, the rest is said once here."""

    name: ClassVar[str]
    broken: ClassVar[type[BaseException]]  # what reading a stream that broke raises
    refused: ClassVar[type[BaseException]]  # what a refused connection raises

    def read(self, request: Request, got: list[bytes]) -> None:
        """Send ``request``, expect status 200, and pass each body chunk to ``request.took``
        as the caller reads it (decoded where the response says it is compressed), until it
        says to stop."""
        raise NotImplementedError

    def post(
        self, url: str, body: str = "hi", headers: dict[str, str] | None = None
    ) -> list[bytes]:
        """POST ``{"input": body}``: the body chunks as the caller read them."""
        got: list[bytes] = []
        self.read(Request(url, {"input": body}, headers), got)
        return got

    def first_then(self, url: str, between: Callable[[], object]) -> list[bytes]:
        """Read the first chunk, call ``between()``, then read the rest."""
        got: list[bytes] = []
        self.read(Request(url, after_first=between), got)
        return got

    def first(self, url: str, n: int, after_first: Callable[[], object] = _nothing) -> list[bytes]:
        """Read ``n`` chunks (calling ``after_first()`` once the first is in), then close the
        response before its end, as the stack's caller does by leaving its block."""
        got: list[bytes] = []
        self.read(Request(url, after_first=after_first, stop_after=n), got)
        return got

    def read_broken(self, url: str) -> tuple[list[bytes], BaseException]:
        """The chunks read before the stream broke, and what reading it raised."""
        got: list[bytes] = []
        try:
            self.read(Request(url), got)
        except Exception as exc:  # which class: the tests check it
            return got, exc
        raise AssertionError("the stream did not break")

    def fake_sleep(self, waits: list[float]) -> dict[str, Any]:
        """``use_cassette`` options that note each replay wait in ``waits`` instead of sleeping."""
        return {"sleep": waits.append}

    def __repr__(self) -> str:
        return self.name


class Aiohttp(Client):
    name = "aiohttp"
    broken = aiohttp.ClientPayloadError
    refused = aiohttp.ClientConnectionError

    def read(self, request: Request, got: list[bytes]) -> None:
        async def read() -> None:
            async with (
                aiohttp.ClientSession() as session,
                session.post(
                    request.url, json=request.json, data=request.data, headers=request.headers
                ) as response,
            ):
                assert response.status == 200
                async for chunk in response.content.iter_any():
                    if request.took(got, chunk):
                        break

        asyncio.run(read())

    def fake_sleep(self, waits: list[float]) -> dict[str, Any]:
        async def sleep(seconds: float) -> None:
            waits.append(seconds)

        return {"async_sleep": sleep}


class Requests(Client):
    name = "requests"
    broken = requests.exceptions.ChunkedEncodingError
    refused = requests.ConnectionError

    def read(self, request: Request, got: list[bytes]) -> None:
        with requests.post(
            request.url,
            json=request.json,
            data=request.data,
            headers=request.headers,
            stream=True,
        ) as response:
            assert response.status_code == 200
            for chunk in response.iter_content(None):
                if request.took(got, chunk):
                    break


class Httpx(Client):
    name = "httpx"
    broken = httpx.TransportError
    refused = httpx.ConnectError

    def read(self, request: Request, got: list[bytes]) -> None:
        with (
            httpx.Client() as client,
            client.stream(
                "POST",
                request.url,
                json=request.json,
                content=request.data,
                headers=request.headers,
            ) as response,
        ):
            assert response.status_code == 200
            for chunk in response.iter_bytes():
                if request.took(got, chunk):
                    break


CLIENTS: dict[str, Client] = {c.name: c for c in (Aiohttp(), Requests(), Httpx())}
"""Every stack by name."""


def recorded(path: Path, i: int = 0) -> list[bytes]:
    """The body chunks of interaction ``i`` as the cassette holds them (what the wire gave: a
    caller that lags behind may have read two of them in one go)."""
    return [c.data for c in Cassette.load(path).interactions[i].chunks]


# -- the openai SDK ----------------------------------------------------------------------------


def openai_sync(base: str, key: str) -> tuple[list[str], str]:
    """The openai SDK against ``base``: a streamed response, then a managed stream; the event
    types it gave, and the managed stream's final text."""
    client = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)
    with client:
        stream = client.responses.create(model="gpt-4o", input="capital?", stream=True)
        types: list[str] = [event.type for event in stream]
        with client.responses.stream(model="gpt-4o", input="capital?") as managed:
            types += [event.type for event in managed]
            final = managed.get_final_response()
    return types, final.output_text


async def openai_async(
    base: str, key: str, http_client: httpx2.AsyncClient | None = None
) -> tuple[list[str], str]:
    """The async twin of :func:`openai_sync`; ``http_client`` (the SDK is built on httpx2): the
    SDK's own by default."""
    async with openai.AsyncOpenAI(
        base_url=base + "/v1", api_key=key, max_retries=0, http_client=http_client
    ) as client:
        stream = await client.responses.create(model="gpt-4o", input="capital?", stream=True)
        types: list[str] = [event.type async for event in stream]
        async with client.responses.stream(model="gpt-4o", input="capital?") as managed:
            types += [event.type async for event in managed]
            final = await managed.get_final_response()
    return types, final.output_text
