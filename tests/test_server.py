"""The replay server and the recording proxy, over real sockets, with clients no one here wrote.

Recordings are made for real: the `openai` SDK against the local streaming server
(tests/sse_server.py), through ``use_cassette`` or through the proxy. Replays go to httpx, the
`openai` SDK, curl and the Node `openai` package, over uvicorn on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import select
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import openai
import pytest
import zstandard
from sse_server import FIXTURES, Route, SSEServer, sse_chunks

import streamtape
from streamtape._uvicorn import bind, is_loopback, serve_in_thread
from streamtape.cassette import DICTIONARIES, DICTIONARY_ID, Cassette, CassetteWriter
from streamtape.errors import StreamtapeError
from streamtape.server import ProxyApp, ReplayApp, base_path

TEXT_SSE = FIXTURES / "fantasy/TestOpenAIResponsesCommon/openai-gpt-4o/simple_streaming.sse"
BODY = {"model": "gpt-4o", "input": "Say hi in Portuguese", "stream": True}
KEY = "sk-proj-" + "Q" * 40  # a planted credential: must never reach a cassette
NODE_OPENAI = "openai@6"  # 7.x needs Node 22; the machines have Node 20


def payloads(body: bytes) -> list[object]:
    """The JSON payload of every event frame of an SSE ``body``, parsed."""
    return [json.loads(line[6:]) for line in body.split(b"\n") if line.startswith(b"data: {")]


def recorded_payloads(path: Path) -> list[object]:
    [inter] = Cassette.load(path).interactions
    return payloads(b"".join(c.data for c in inter.chunks))


def file_text(path: Path) -> str:
    """A cassette's records as a reader of the file sees them: every zstd frame decompressed."""
    shipped = Path(streamtape.__file__).parent / "dictionaries" / DICTIONARIES[DICTIONARY_ID]
    dictionary = zstandard.ZstdCompressionDict(shipped.read_bytes())
    data, out = path.read_bytes(), []
    while data:
        uses = zstandard.get_frame_parameters(data).dict_id
        obj = zstandard.ZstdDecompressor(dict_data=dictionary if uses else None).decompressobj()
        out.append(obj.decompress(data))
        data = obj.unused_data
    return b"".join(out).decode()


def record_with_sdk(server: SSEServer, path: Path, *, delays: float = 0.0) -> str:
    """Record one real streamed Responses call of the openai SDK into ``path``; its base URL."""
    url = server.add(Route("/v1/responses", sse_chunks(TEXT_SSE), delays=delays))
    base = url.removesuffix("/responses")
    with streamtape.use_cassette(path, record_mode="all"):
        sdk_stream(base)
    return base


def sdk_stream(base_url: str) -> list[object]:
    """Stream BODY with the Python `openai` SDK from ``base_url``: each event as JSON."""
    with (
        openai.OpenAI(base_url=base_url, api_key=KEY, max_retries=0) as client,
        client.responses.create(**BODY) as stream,  # type: ignore[call-overload]
    ):
        return [e.to_dict(mode="json") for e in stream]


@pytest.fixture
def recorded(sse_server: SSEServer, tmp_path: Path) -> Path:
    path = tmp_path / "text.ndjson.zst"
    record_with_sdk(sse_server, path)
    return path


def paced_cassette(path: Path, gaps_ms: list[int], *, end: str = "complete") -> list[bytes]:
    """A cassette of one SSE stream whose chunk i comes ``gaps_ms[i]`` after chunk i-1."""
    chunks = sse_chunks(TEXT_SSE)[: len(gaps_ms)]
    with CassetteWriter(path) as writer:
        rec = writer.begin(
            "POST", "https://api.openai.com/v1/responses", [], json.dumps(BODY).encode(), start_ns=0
        )
        rec.response(
            200,
            [("Content-Type", "text/event-stream"), ("Transfer-Encoding", "chunked")],
            offset_ns=1_000_000,
        )
        at = 1_000_000
        for gap, chunk in zip(gaps_ms, chunks, strict=True):
            at += gap * 1_000_000
            rec.chunk(chunk, offset_ns=at)
        if end == "complete":
            rec.end("complete", offset_ns=at + 1_000_000)
        else:
            rec.end(
                "error",
                error=httpx.RemoteProtocolError("peer closed connection"),
                offset_ns=at + 1_000_000,
            )
    return chunks


# -- the ASGI app -------------------------------------------------------------------------------


def test_the_app_runs_in_process_under_httpx_asgi_transport(recorded: Path) -> None:
    app = ReplayApp([recorded], speed=streamtape.INSTANT)
    [inter] = app.interactions

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/v1/responses", json=BODY)

    response = asyncio.run(call())
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.content == b"".join(c.data for c in inter.chunks)
    assert (len(app.played), len(app.unplayed), app.missed) == (1, 0, [])


def test_each_recorded_chunk_is_sent_on_its_own_at_its_offset(tmp_path: Path) -> None:
    path = tmp_path / "paced.ndjson.zst"
    gaps = [0, 120, 60, 150, 90]
    chunks = paced_cassette(path, gaps)
    app = ReplayApp([path])
    with serve_in_thread(app) as url, httpx.Client() as client:
        got: list[tuple[float, bytes]] = []
        start = time.perf_counter()
        with client.stream("POST", url + "/v1/responses", json=BODY) as response:
            assert response.headers["transfer-encoding"] == "chunked"
            for data in response.iter_raw():
                got.append((time.perf_counter() - start, data))
    assert [d for _, d in got] == chunks  # same bytes, same boundaries
    assert_paced([t for t, _ in got], gaps, late=0.5)


def assert_paced(arrivals: list[float], gaps_ms: list[int], late: float) -> None:
    """Each chunk came no sooner than its recorded offset (the head is due 1 ms in, then the
    gaps add up), and at most ``late`` seconds after it (a loaded machine wakes late)."""
    due = 0.001
    for i, (arrival, gap) in enumerate(zip(arrivals, gaps_ms, strict=True)):
        due += gap / 1000
        assert due - 0.001 <= arrival < due + late, (i, arrivals)


def test_a_stream_that_broke_while_recording_breaks_the_connection_there(tmp_path: Path) -> None:
    path = tmp_path / "broken.ndjson.zst"
    chunks = paced_cassette(path, [0, 10, 10], end="error")
    app = ReplayApp([path], speed=streamtape.INSTANT)
    received = b""
    headers: dict[str, str] = {}

    def read(url: str) -> None:
        nonlocal received
        with httpx.stream("POST", url + "/v1/responses", json=BODY) as response:
            headers.update(response.headers)
            for data in response.iter_raw():
                received += data

    with serve_in_thread(app) as url, pytest.raises(httpx.RemoteProtocolError):
        read(url)
    assert received == b"".join(chunks)
    assert "content-length" not in headers


def test_a_miss_answers_404_with_the_diff_and_is_logged(
    recorded: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = ReplayApp([recorded], speed=streamtape.INSTANT)
    with serve_in_thread(app) as url, caplog.at_level(logging.WARNING, "streamtape.server"):
        response = httpx.post(url + "/v1/responses", json={**BODY, "input": "Say bye"})
    assert response.status_code == 404
    message = response.json()["error"]["message"]
    assert "No recorded request" in message
    assert 'body input: recorded "Say hi in Portuguese" / sent "Say bye"' in message
    assert app.missed == [f"POST {Cassette.load(recorded)[0].request.url}"]
    assert "Say bye" in caplog.text
    assert app.unplayed  # the recording was not used up by the miss


def test_the_openai_sdk_raises_its_own_not_found_error_with_the_diff(recorded: Path) -> None:
    app = ReplayApp([recorded], speed=streamtape.INSTANT)
    with (
        serve_in_thread(app) as url,
        openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0) as client,
        pytest.raises(openai.NotFoundError, match="Say bye"),
    ):
        client.responses.create(**{**BODY, "input": "Say bye"})  # type: ignore[call-overload]


def test_any_tail_of_the_recorded_path_matches(recorded: Path) -> None:
    app = ReplayApp([recorded, recorded], speed=streamtape.INSTANT)
    with serve_in_thread(app) as url:
        assert httpx.post(url + "/v1/responses", json=BODY).status_code == 200
        assert httpx.post(url + "/responses", json=BODY).status_code == 200
        assert httpx.post(url + "/v2/responses", json=BODY).status_code == 404
    assert base_path(app.interactions) == "/v1"


def test_equal_requests_replay_in_recorded_order_once_each(tmp_path: Path) -> None:
    first, second = tmp_path / "a.ndjson.zst", tmp_path / "b.ndjson.zst"
    a = paced_cassette(first, [0, 0])
    b = paced_cassette(second, [0, 0, 0])
    app = ReplayApp([tmp_path], speed=streamtape.INSTANT)  # a folder
    with serve_in_thread(app) as url:
        bodies = [httpx.post(url + "/v1/responses", json=BODY).content for _ in range(3)]
    assert bodies[:2] == [b"".join(a), b"".join(b)]
    assert "No recorded request" in bodies[2].decode()


def test_hop_by_hop_headers_are_the_servers_own(tmp_path: Path) -> None:
    path = tmp_path / "json.ndjson.zst"
    payload = b'{"id": "resp_1", "object": "response"}'
    with CassetteWriter(path) as writer:
        rec = writer.begin("GET", "https://api.openai.com/v1/responses/resp_1", [], b"")
        rec.response(
            200,
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(payload))),
                ("Connection", "close"),
                ("Keep-Alive", "timeout=5"),
                ("X-Request-Id", "req_1"),
            ],
        )
        rec.chunk(payload)
        rec.end("complete")
    with serve_in_thread(ReplayApp([path], speed=streamtape.INSTANT)) as url:
        response = httpx.get(url + "/v1/responses/resp_1")
    assert response.content == payload
    assert response.headers["content-length"] == str(len(payload))
    assert response.headers["x-request-id"] == "req_1"
    assert "keep-alive" not in response.headers
    assert response.headers.get("connection") != "close"


def test_no_listening_beyond_loopback_unless_allowed() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.8.0.1", "::1", "localhost"]))
    assert not is_loopback("0.0.0.0")
    with pytest.raises(StreamtapeError, match="--allow-remote"):
        bind("0.0.0.0", 0)


# -- streamtape serve, as a process, with curl and Node ------------------------------------------


class Served:
    """A ``streamtape serve`` (or ``proxy``) subprocess, and the URL it printed."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamtape", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.lines: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line.rstrip("\n"))
            if line.startswith("OPENAI_BASE_URL="):
                break
        url = next((x for x in self.lines if x.startswith("listening on ")), None)
        if url is None:
            self.proc.kill()
            raise AssertionError(f"no URL printed: {self.lines} {self.proc.stderr.read()}")  # type: ignore[union-attr]
        self.url = url.removeprefix("listening on ")
        self.base_url = next(x for x in self.lines if x.startswith("OPENAI_BASE_URL=")).partition(
            "="
        )[2]

    def wait(self) -> tuple[int, str]:
        _, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, err


def test_serve_prints_the_base_url_exits_after_n_and_sums_up(recorded: Path) -> None:
    served = Served("serve", str(recorded), "--instant", "--exit-after", "2")
    assert served.base_url == served.url + "/v1"
    assert httpx.post(served.base_url + "/responses", json=BODY).status_code == 200
    assert httpx.post(served.base_url + "/responses", json=BODY).status_code == 404
    code, err = served.wait()
    assert code == 1  # a request matched nothing
    assert "played 1, unplayed 0, missed 1" in err


def test_curl_receives_each_chunk_at_its_recorded_time(tmp_path: Path) -> None:
    curl = shutil.which("curl")
    assert curl, "curl is not installed: .ci/run installs it"
    path = tmp_path / "paced.ndjson.zst"
    gaps = [0, 200, 100, 250]
    chunks = paced_cassette(path, gaps)
    served = Served("serve", str(path), "--exit-after", "1")
    start = time.perf_counter()
    proc = subprocess.Popen(
        [
            curl,
            "-sN",
            "-X",
            "POST",
            served.base_url + "/responses",
            "--data-binary",
            json.dumps(BODY),
        ],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    arrivals: list[tuple[float, bytes]] = []
    fd = proc.stdout.fileno()
    while True:
        select.select([fd], [], [], 10)
        data = os.read(fd, 65536)
        if not data:
            break
        arrivals.append((time.perf_counter() - start, data))
    proc.stdout.close()
    assert proc.wait(10) == 0
    assert b"".join(d for _, d in arrivals) == b"".join(chunks)
    assert [d for _, d in arrivals] == chunks  # each chunk came out of curl on its own
    assert_paced([t for t, _ in arrivals], gaps, late=3.0)  # curl's own start included
    assert served.wait()[0] == 0


@pytest.fixture(scope="session")
def node_openai(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the official Node `openai` package installed from the npm registry."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        pytest.fail("node and npm are needed for the Node client tests: .ci/run installs them")
    folder = tmp_path_factory.mktemp("node")
    done = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--silent", NODE_OPENAI],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"npm install {NODE_OPENAI} failed: {done.stderr}"
    (folder / "stream.mjs").write_text(
        """
import OpenAI from "openai";
const { BASE_URL, KEY } = process.env;
const client = new OpenAI({ baseURL: BASE_URL, apiKey: KEY, maxRetries: 0 });
const body = JSON.parse(process.env.BODY);
const stream = await client.responses.create(body);
for await (const event of stream) process.stdout.write(JSON.stringify(event) + "\\n");
"""
    )
    return folder


def run_node(folder: Path, base_url: str) -> list[object]:
    done = subprocess.run(
        ["node", "stream.mjs"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "BASE_URL": base_url, "KEY": KEY, "BODY": json.dumps(BODY)},
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_the_node_openai_package_streams_the_recorded_events(
    recorded: Path, node_openai: Path
) -> None:
    served = Served("serve", str(recorded), "--exit-after", "1")
    events = run_node(node_openai, served.base_url)
    assert events == recorded_payloads(recorded)
    assert events[-1]["type"] == "response.completed"  # type: ignore[index]
    assert served.wait()[0] == 0


# -- the proxy ----------------------------------------------------------------------------------


def test_the_proxy_passes_each_chunk_through_before_the_next_is_sent(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    gate = threading.Event()
    chunks = sse_chunks(TEXT_SSE)
    upstream = sse_server.add(Route("/v1/responses", chunks, gates={2: gate}))
    out = tmp_path / "proxied.ndjson.zst"
    app = ProxyApp(upstream.removesuffix("/responses"), out, mode="all")
    headers = {"Authorization": f"Bearer {KEY}"}
    with (
        app,
        serve_in_thread(app) as url,
        httpx.stream("POST", url + "/responses", json=BODY, headers=headers) as response,
    ):
        got = b""
        stream = response.iter_raw()
        while len(got) < len(chunks[0]) + len(chunks[1]):
            got += next(stream)  # chunk 2 is held upstream: these came through alone
        assert got == chunks[0] + chunks[1]
        assert len(sse_server.sent_on("/v1/responses")) == 2
        gate.set()
        got += b"".join(stream)
    assert got == b"".join(chunks)
    [request] = sse_server.requests
    sent = [(k.lower(), v) for k, v in request.headers]
    assert ("authorization", f"Bearer {KEY}") in sent  # credentials went upstream
    raw = file_text(out)
    assert KEY[-20:] not in raw  # and never into the cassette, not even a piece
    [inter] = Cassette.load(out).interactions
    assert inter.request.url == upstream
    assert b"".join(c.data for c in inter.chunks) == b"".join(chunks)


def test_record_through_the_proxy_from_python_and_node_then_replay_everywhere_alike(
    sse_server: SSEServer, tmp_path: Path, node_openai: Path
) -> None:
    upstream = sse_server.add(Route("/v1/responses", sse_chunks(TEXT_SSE), delays=0.005))
    live = payloads(b"".join(sse_chunks(TEXT_SSE)))

    from_python = tmp_path / "python.ndjson.zst"
    proxied = Served(
        "proxy",
        "--upstream",
        upstream.removesuffix("/responses"),
        "-o",
        str(from_python),
        "--exit-after",
        "1",
    )
    through_proxy = sdk_stream(proxied.base_url)
    code, err = proxied.wait()
    assert code == 0, err
    assert "recorded 1" in err

    from_node = tmp_path / "node.ndjson.zst"
    proxied = Served(
        "proxy",
        "--upstream",
        upstream.removesuffix("/responses"),
        "-o",
        str(from_node),
        "--exit-after",
        "1",
    )
    node_live = run_node(node_openai, proxied.base_url)
    assert proxied.wait()[0] == 0

    assert recorded_payloads(from_python) == recorded_payloads(from_node) == live
    assert through_proxy == live
    assert node_live == live

    # replay: through serve to Node and to the Python SDK, and in-process through use_cassette
    served = Served("serve", str(from_python), str(from_node), "--instant", "--exit-after", "2")
    assert run_node(node_openai, served.base_url) == live
    assert sdk_stream(served.base_url) == live
    assert served.wait()[0] == 0
    with streamtape.use_cassette(from_node, record_mode="none", speed=streamtape.INSTANT):
        assert sdk_stream(upstream.removesuffix("/responses")) == live


def test_proxy_once_replays_an_existing_cassette_without_the_upstream(recorded: Path) -> None:
    app = ProxyApp("http://127.0.0.1:9", recorded, mode="once")  # nothing listens upstream
    with app, serve_in_thread(app) as url:
        assert httpx.post(url + "/v1/responses", json=BODY).status_code == 200
        assert httpx.post(url + "/v1/responses", json=BODY).status_code == 404
    assert (app.recorded, len(app.played), len(app.missed)) == (0, 1, 1)


def test_proxy_new_episodes_appends_what_it_had_not_recorded(
    sse_server: SSEServer, recorded: Path
) -> None:
    upstream = sse_server.add(Route("/v1/other", [b'data: {"type":"response.keep_alive"}\n\n']))
    app = ProxyApp(upstream.removesuffix("/other"), recorded, mode="new_episodes")
    with app, serve_in_thread(app) as url:
        assert httpx.post(url + "/v1/responses", json=BODY).status_code == 200  # replayed
        assert httpx.post(url + "/other", json={}).status_code == 200  # recorded
    urls = [i.request.url for i in Cassette.load(recorded).interactions]
    assert urls[1:] == [upstream]
    assert (app.recorded, len(app.played)) == (1, 1)


def test_an_unreachable_upstream_answers_502_and_is_recorded(tmp_path: Path) -> None:
    out = tmp_path / "down.ndjson.zst"
    with ProxyApp("http://127.0.0.1:9", out, mode="all") as app, serve_in_thread(app) as url:
        response = httpx.post(url + "/v1/responses", json=BODY)
    assert response.status_code == 502
    assert "upstream" in response.json()["error"]["message"]


# -- the pytest fixture -------------------------------------------------------------------------

pytest_plugins = ["pytester"]

SUBPROCESS_CLIENT_TEST = """
import json
import subprocess
import sys

import pytest

BODY = {"model": "gpt-4o", "input": "Say hi in Portuguese", "stream": True}
CLIENT = (
    "import httpx, json, sys; "
    "r = httpx.post(sys.argv[1] + '/responses', json=json.loads(sys.argv[2])); "
    "print(r.status_code); print(r.text)"
)


@pytest.mark.streamtape(speed=float("inf"))
def test_other_process(tape_server):
    assert tape_server.startswith("http://127.0.0.1:") and tape_server.endswith("/v1")
    out = subprocess.run(
        [sys.executable, "-c", CLIENT, tape_server, json.dumps(BODY)],
        capture_output=True, text=True, check=True,
    ).stdout
    status, _, body = out.partition("\\n")
    assert status == "200"
    assert "response.completed" in body


def test_left_unplayed(tape_server):
    pass
"""


def test_tape_server_serves_the_tests_cassette_to_another_process(
    pytester: pytest.Pytester, recorded: Path
) -> None:
    pytester.makepyfile(test_user=SUBPROCESS_CLIENT_TEST)
    folder = pytester.path / "cassettes" / "test_user"
    folder.mkdir(parents=True)
    for name in ("test_other_process", "test_left_unplayed"):
        shutil.copy(recorded, folder / f"{name}.ndjson.zst")
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=2, errors=1)  # the unplayed one fails at teardown
    result.stdout.fnmatch_lines(["*tape_server left 1 recorded interaction(s)*unplayed*"])


def test_faults_apply_over_http_the_sdk_retries_then_meets_a_cut_stream(recorded: Path) -> None:
    from streamtape import faults

    app = ReplayApp(
        [recorded],
        speed=streamtape.INSTANT,
        faults=[faults.http_status(429, retry_after=0.01), faults.disconnect(after_events=3)],
    )
    statuses: list[int] = []
    with (
        serve_in_thread(app) as url,
        openai.OpenAI(
            base_url=url + "/v1",
            api_key=KEY,
            max_retries=1,
            http_client=openai.DefaultHttpxClient(
                event_hooks={"response": [lambda r: statuses.append(r.status_code)]}
            ),
        ) as client,
        client.responses.create(**BODY) as stream,  # type: ignore[call-overload]
    ):
        seen: list[str] = []
        with pytest.raises(openai.APIConnectionError):
            seen.extend(event.type for event in stream)
    assert statuses == [429, 200]  # the retry met the recorded stream
    assert seen == [e["type"] for e in recorded_payloads(recorded)[:3]]  # type: ignore[index]
