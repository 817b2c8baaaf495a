"""The seal: a replay-only block refuses every connection streamtape does not serve before a byte
(or a DNS query) leaves, whatever the client; loopback and allowed hosts pass; a recording block
reports the connections it could not record.

Nothing here may leave the machine. Two hooks below the seal prove that refused connections were
never attempted: ``below`` replaces ``socket.socket.connect`` and ``socket.getaddrinfo`` before
any block opens (the seal wraps what it finds), recording each call and refusing anything that
is not loopback without sending it (a few made-up names resolve to fixed addresses); an audit
hook records the interpreter's own ``socket.connect`` / ``socket.getaddrinfo`` events, which
fire in C at the real call (except under a thread tracer before Python 3.12: see the hook).
"""

from __future__ import annotations

import asyncio
import re
import socket
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx
import openai
import pytest
import requests
from sse_server import Route, SSEServer

from streamtape import NetworkBlockedError, StreamtapeWarning, use_cassette
from streamtape._vocabulary import RecordMode
from streamtape.cassette import Cassette, CassetteWriter
from streamtape.errors import NoMatchError
from streamtape.seal import Guard

BLOCKED_NAME = "example.invalid"  # RFC 6761: never a real host
BLOCKED_ADDRESS = "192.0.2.1"  # RFC 5737 documentation address: never routed
FAKE_NAMES = {"api.allowed.test": "127.0.0.1", "far.allowed.test": "192.0.2.7"}

# -- hooks below the seal -----------------------------------------------------------------------

_AUDITING = threading.Event()
_AUDITED: list[tuple[str, object]] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _AUDITING.is_set():
        if event == "socket.connect":
            _AUDITED.append((event, args[1][0] if isinstance(args[1], tuple) else args[1]))
        elif event == "socket.getaddrinfo":
            _AUDITED.append((event, args[0]))


# The audit hook runs Python code inside every sys.settrace call. Before Python 3.12, sys.settrace
# raises while any other thread is inside it (a process-wide flag: CPython gh-98257, fixed in 3.12),
# and a tracer that reaches threads through threading.settrace (coverage's C or Python core, not
# its sys.monitoring one) calls it in every new thread: a thread started while this hook runs dies
# before its target ("Cannot install a trace function while another trace function is being
# installed"). Under such a tracer the hook stays out; the functions replaced below still witness.
if sys.version_info >= (3, 12) or (sys.gettrace() is None and threading.gettrace() is None):
    sys.addaudithook(_audit)


def _loopback(host: object) -> bool:
    text = host.decode() if isinstance(host, bytes) else str(host)
    return text in ("127.0.0.1", "::1", "localhost", "0.0.0.0") or text.startswith("127.")


@dataclass
class Below:
    """What reached the functions under the seal (host or address, port)."""

    connects: list[tuple[str, int]] = field(default_factory=list)
    lookups: list[str] = field(default_factory=list)

    def saw(self, host: str) -> bool:
        """True when ``host`` was connected to, or (a name) looked up: looking up an address
        asks no one."""
        looked_up = not host.replace(".", "").isdigit() and host in self.lookups
        audited = {(event, str(h.decode() if isinstance(h, bytes) else h)) for event, h in _AUDITED}
        return (
            looked_up
            or ("socket.connect", host) in audited
            or (("socket.getaddrinfo", host) in audited and not host.replace(".", "").isdigit())
            or host in {h for h, _ in self.connects}
        )


@pytest.fixture
def below(monkeypatch: pytest.MonkeyPatch) -> Iterator[Below]:
    seen = Below()
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            seen.connects.append((str(address[0]), int(address[1])))
            if not _loopback(address[0]):
                raise ConnectionRefusedError(f"test hook: {address[0]} is not loopback, not sent")
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            seen.connects.append((str(address[0]), int(address[1])))
            if not _loopback(address[0]):
                return 111
        result: int = real_connect_ex(sock, address)
        return result

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None:
            seen.lookups.append(str(name))
        name = FAKE_NAMES.get(name, name)
        if name is not None and not _loopback(name) and not name.replace(".", "").isdigit():
            raise socket.gaierror(socket.EAI_NONAME, f"test hook: {name} not looked up")
        return real_getaddrinfo(name, port, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    _AUDITED.clear()
    _AUDITING.set()
    try:
        yield seen
    finally:
        _AUDITING.clear()


# -- a cassette to replay, and the clients --------------------------------------------------------


@pytest.fixture
def cassette(tmp_path: Path) -> Path:
    """A cassette with one recorded interaction, so a block in mode none can open."""
    path = tmp_path / "sealed.ndjson.zst"
    with CassetteWriter(path) as writer:
        rec = writer.begin("GET", "http://127.0.0.1:9/recorded")
        rec.response(200, [("content-type", "text/plain")])
        rec.chunk(b"recorded")
        rec.end()
    return path


def parts(url: str) -> tuple[str, int]:
    split = urlsplit(url)
    return split.hostname or "", split.port or 80


def use_requests(url: str) -> bytes:
    return requests.get(url, timeout=5).content


def use_urllib(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: bytes = response.read()
        return body


def use_aiohttp(url: str) -> bytes:
    async def run() -> bytes:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return await response.read()

    return asyncio.run(run())


def _request(url: str) -> bytes:
    host, port = parts(url)
    path = urlsplit(url).path or "/"
    return f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode()


def _body(raw: bytes) -> bytes:
    head, _, body = raw.partition(b"\r\n\r\n")
    if b"chunked" in head.lower():  # one chunk then the last one: enough for these routes
        size, _, rest = body.partition(b"\r\n")
        return rest[: int(size, 16)]
    return body


def use_asyncio(url: str) -> bytes:
    async def run() -> bytes:
        reader, writer = await asyncio.open_connection(*parts(url))
        writer.write(_request(url))
        raw = await reader.read()
        writer.close()
        await writer.wait_closed()
        return _body(raw)

    return asyncio.run(run())


def use_socket(url: str) -> bytes:
    with socket.create_connection(parts(url), timeout=5) as sock:
        sock.sendall(_request(url))
        raw = b""
        while data := sock.recv(65536):
            raw += data
    return _body(raw)


CLIENTS: dict[str, tuple[Callable[[str], bytes], str | None]] = {
    # name: (client, the stack the error names first); clients streamtape does not answer itself
    # (requests and aiohttp it records and replays: see the test after the next one)
    "urllib.request": (use_urllib, "urllib.request"),
    "asyncio": (use_asyncio, "asyncio"),
    "socket": (use_socket, None),
}


@pytest.fixture
def hello(sse_server: SSEServer) -> str:
    return sse_server.add(Route("/hello", [b"hello"], headers=(("Content-Type", "text/plain"),)))


# -- replay-only blocks refuse --------------------------------------------------------------------


@pytest.mark.parametrize("client", sorted(CLIENTS))
@pytest.mark.parametrize("target", [BLOCKED_NAME, BLOCKED_ADDRESS])
def test_every_client_is_refused_before_any_lookup_or_connect(
    client: str, target: str, cassette: Path, below: Below
) -> None:
    use, stack = CLIENTS[client]
    with (
        use_cassette(cassette, record_mode="none"),
        pytest.raises(NetworkBlockedError) as caught,
    ):
        use(f"http://{target}:8080/v1/responses")
    error = caught.value
    assert (error.host, error.port) == (target, 8080)
    if stack is None:
        assert error.stack is None
        assert "a raw socket" in str(error)
    else:
        assert error.stack is not None
        assert error.stack.split(" ")[0] == stack
    assert f"{target}:8080" in str(error)
    assert f"allow_hosts=[{target!r}]" in str(error)
    assert not below.saw(target)  # neither the name nor the address reached the functions below


@pytest.mark.parametrize("use", [use_requests, use_aiohttp], ids=["requests", "aiohttp"])
@pytest.mark.parametrize("target", [BLOCKED_NAME, BLOCKED_ADDRESS])
def test_requests_and_aiohttp_are_answered_from_the_cassette_never_the_network(
    use: Callable[[str], bytes], target: str, cassette: Path, below: Below
) -> None:
    with use_cassette(cassette, record_mode="none"), pytest.raises(NoMatchError):
        use(f"http://{target}:8080/v1/responses")
    assert not below.saw(target)
    assert below.connects == []


@pytest.mark.parametrize("target", [BLOCKED_NAME, BLOCKED_ADDRESS])
def test_the_openai_sdk_on_aiohttp_is_answered_from_the_cassette(
    target: str, cassette: Path, below: Below
) -> None:
    # `openai[aiohttp]`: the SDK's own aiohttp backend, which no httpx patch sees
    async def ask() -> None:
        async with openai.AsyncOpenAI(
            base_url=f"http://{target}:8080/v1",
            api_key="sk-test",
            max_retries=0,
            http_client=openai.DefaultAioHttpClient(),
        ) as client:
            await client.responses.create(model="gpt-4o", input="hi")

    with (
        use_cassette(cassette, record_mode="none"),
        pytest.raises((NoMatchError, openai.APIConnectionError)) as caught,
    ):
        asyncio.run(ask())
    chain: list[BaseException] = []
    error: BaseException | None = caught.value
    while error is not None:
        chain.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(e, NoMatchError) for e in chain), chain
    assert not below.saw(target)
    assert below.connects == []


@pytest.mark.parametrize("method", ["connect", "connect_ex"])
def test_a_raw_socket_connect_is_refused_and_the_original_never_runs(
    method: str, cassette: Path, below: Below
) -> None:
    with use_cassette(cassette, record_mode="none"), socket.socket() as sock:
        with pytest.raises(NetworkBlockedError, match=rf"connect to {BLOCKED_ADDRESS}:443"):
            getattr(sock, method)((BLOCKED_ADDRESS, 443))
        with pytest.raises(NetworkBlockedError, match=rf"{BLOCKED_NAME}:443"):
            getattr(sock, method)((BLOCKED_NAME, 443))  # a name resolved inside connect, in C
    assert below.connects == []
    assert not below.saw(BLOCKED_ADDRESS)
    assert not below.saw(BLOCKED_NAME)


@pytest.mark.parametrize("mode", ["once", "new_episodes"])
def test_replaying_sides_of_once_and_new_episodes_are_sealed(
    mode: RecordMode, cassette: Path, below: Below
) -> None:
    with use_cassette(cassette, record_mode=mode), pytest.raises(NetworkBlockedError):
        use_urllib(f"http://{BLOCKED_NAME}/")
    assert below.lookups == []


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_loopback_passes_for_every_client(
    client: str, cassette: Path, below: Below, hello: str
) -> None:
    use, _ = CLIENTS[client]
    with use_cassette(cassette, record_mode="none"):
        assert use(hello) == b"hello"
        assert use(hello.replace("127.0.0.1", "localhost")) == b"hello"
    assert ("127.0.0.1", parts(hello)[1]) in below.connects


def test_allowed_names_pass_and_others_are_refused(
    cassette: Path, below: Below, hello: str
) -> None:
    url = hello.replace("127.0.0.1", "api.allowed.test")  # resolves to loopback, below the seal
    with use_cassette(cassette, record_mode="none", allow_hosts=["API.Allowed.Test"]):
        assert use_urllib(url) == b"hello"
        assert use_asyncio(url) == b"hello"
    assert below.lookups.count("api.allowed.test") == 2
    below.lookups.clear()
    with use_cassette(cassette, record_mode="none"), pytest.raises(NetworkBlockedError):
        use_urllib(url)
    assert below.lookups == []


def test_an_allowed_name_may_reach_the_addresses_it_resolved_to(
    cassette: Path, below: Below
) -> None:
    with (
        use_cassette(cassette, record_mode="none", allow_hosts=["far.allowed.test"]),
        pytest.raises(urllib.error.URLError, match=r"test hook: 192\.0\.2\.7 is not loopback"),
    ):
        use_urllib("http://far.allowed.test:8080/")
    assert below.connects == [("192.0.2.7", 8080)]  # the seal let it through; the hook stopped it


def test_what_an_earlier_block_looked_up_names_nothing_in_a_later_one(
    cassette: Path, below: Below
) -> None:
    """A refusal names the host this block's client asked for, never one an earlier block
    resolved to the same address."""
    with (
        use_cassette(cassette, record_mode="none", allow_hosts=["far.allowed.test"]),
        pytest.raises(urllib.error.URLError, match="not loopback"),
    ):
        use_urllib("http://far.allowed.test:8080/")
    with (
        use_cassette(cassette, record_mode="none"),
        pytest.raises(NetworkBlockedError) as refused,
        socket.socket() as sock,
    ):
        sock.connect(("192.0.2.7", 8080))
    assert refused.value.host == "192.0.2.7"
    assert "far.allowed.test" not in str(refused.value)


def test_allow_hosts_takes_names_addresses_networks_and_a_star(cassette: Path) -> None:
    guard = Guard(
        sealed=True,
        allow_hosts=["api.example.com.", "10.0.0.0/8", "2001:db8::1", "*.Internal.test"],
    )
    assert guard.allows("API.example.com")
    assert guard.allows("internal.test")
    assert guard.allows("db.eu.internal.test")
    assert not guard.allows("notinternal.test")
    assert guard.allows("10.200.0.1")
    assert not guard.allows("11.0.0.1")
    assert guard.allows("2001:db8::1")
    assert not guard.allows("example.com")
    assert Guard(sealed=True, allow_hosts=["*"]).allows("anything.example")
    for bad in (" ", "a*.example.com"):
        with pytest.raises(ValueError, match=re.escape(f"not a host or address: {bad!r}")):
            use_cassette(cassette, allow_hosts=[bad])


def test_unix_sockets_and_socket_pairs_always_pass(cassette: Path, tmp_path: Path) -> None:
    with use_cassette(cassette, record_mode="none"):
        left, right = socket.socketpair()
        with left, right:
            left.sendall(b"x")
            assert right.recv(1) == b"x"
        with socket.socket(socket.AF_UNIX) as sock:
            assert sock.connect_ex(str(tmp_path / "nothing.sock")) != 0  # refused by the OS


# -- threads and nesting --------------------------------------------------------------------------


def in_thread(target: Callable[[], object]) -> object:
    """Run ``target`` in a plain new thread (outside every block); return or raise its result."""
    box: list[object] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            box.append(target())
        except BaseException as exc:
            failed.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    if failed:
        raise failed[0]
    return box[0]


def test_a_thread_outside_the_block_follows_the_sealed_block(
    cassette: Path, below: Below, hello: str
) -> None:
    with use_cassette(cassette, record_mode="none"):
        with pytest.raises(NetworkBlockedError, match="from a thread outside every use_cassette"):
            in_thread(lambda: use_urllib(f"http://{BLOCKED_ADDRESS}/"))
        assert in_thread(lambda: use_urllib(hello)) == b"hello"  # loopback still passes
    assert not below.saw(BLOCKED_ADDRESS)


def test_separate_blocks_a_thread_outside_them_passes_only_what_every_sealed_one_allows(
    cassette: Path, tmp_path: Path, below: Below
) -> None:
    opened, done = threading.Barrier(3), threading.Event()
    results: dict[str, BaseException | None] = {}

    def hold(name: str, mode: RecordMode) -> None:
        try:
            with use_cassette(cassette if mode == "none" else tmp_path / "rec.ndjson.zst", mode):
                opened.wait(5)
                try:  # the recording block may connect; the hook below refuses without sending
                    use_urllib(f"http://{BLOCKED_ADDRESS}/")
                except BaseException as exc:
                    results[name] = exc
                done.wait(5)
        except StreamtapeWarning as warning:  # raised, as `-W error` makes warnings
            results[f"{name} warned"] = warning

    holders = [
        threading.Thread(target=hold, args=("sealed", "none")),
        threading.Thread(target=hold, args=("recording", "all")),
    ]
    for holder in holders:
        holder.start()
    opened.wait(5)
    try:
        with pytest.raises(NetworkBlockedError, match="outside every use_cassette block"):
            use_urllib(f"http://{BLOCKED_ADDRESS}:81/")
    finally:
        done.set()
        for holder in holders:
            holder.join()
    assert isinstance(results["sealed"], NetworkBlockedError)
    assert isinstance(results["recording"], urllib.error.URLError)
    assert f"{BLOCKED_ADDRESS}:80 by urllib.request" in str(results["recording warned"])
    assert below.connects == [(BLOCKED_ADDRESS, 80)]  # the recording block's attempt only


def test_the_seal_is_installed_only_while_a_block_is_open(cassette: Path, tmp_path: Path) -> None:
    originals = (socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo)
    with use_cassette(cassette, record_mode="none"):
        assert socket.socket.connect is not originals[0]
        with pytest.warns(StreamtapeWarning), use_cassette(tmp_path / "in.ndjson.zst", "all"):
            pass
        assert socket.getaddrinfo is not originals[2]  # the outer block is still open
    assert (socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo) == originals


def test_a_nested_recording_block_is_not_sealed_by_its_outer_one(
    cassette: Path, tmp_path: Path, below: Below
) -> None:
    with use_cassette(cassette, record_mode="none"):
        with (
            pytest.warns(StreamtapeWarning, match=rf"{BLOCKED_ADDRESS}:80 by urllib\.request"),
            use_cassette(tmp_path / "inner.ndjson.zst", record_mode="all"),
            pytest.raises(urllib.error.URLError),
        ):
            use_urllib(f"http://{BLOCKED_ADDRESS}/")
        with pytest.raises(NetworkBlockedError):
            use_urllib(f"http://{BLOCKED_ADDRESS}/")
    assert below.connects == [(BLOCKED_ADDRESS, 80)]  # from the inner block only


# -- streamtape's own connections -----------------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True])
def test_new_episodes_records_a_miss_yet_refuses_other_clients(
    asynchronous: bool, cassette: Path, below: Below, hello: str
) -> None:
    url = hello.replace("127.0.0.1", "api.allowed.test")  # a name the seal does not allow

    async def with_async_httpx() -> bytes:
        async with httpx.AsyncClient() as client:
            return (await client.get(url)).content

    with use_cassette(cassette, record_mode="new_episodes") as tape:
        if asynchronous:
            assert asyncio.run(with_async_httpx()) == b"hello"
        else:
            assert httpx.get(url).content == b"hello"
        with pytest.raises(NetworkBlockedError, match=r"api\.allowed\.test"):
            use_urllib(url)
    assert [i.request.url for i in tape.recorded] == [url]
    assert len(Cassette.load(cassette)) == 2


# -- recording blocks report what they could not record ------------------------------------------


def recording(path: Path, *calls: Callable[[], object], **keywords: Any) -> None:
    """Run ``calls`` in a block that records into ``path`` (mode ``once`` unless told)."""
    keywords.setdefault("record_mode", "once")
    with use_cassette(path, **keywords):
        for call in calls:
            call()


def test_a_recording_block_warns_about_a_client_it_cannot_record(
    tmp_path: Path, below: Below, hello: str
) -> None:
    path = tmp_path / "rec.ndjson.zst"
    port = parts(hello)[1]
    with pytest.warns(StreamtapeWarning) as caught:
        recording(path, lambda: use_urllib(hello))
    message = str(caught[0].message)
    assert "recorded nothing, so no cassette was written" in message
    assert f"127.0.0.1:{port} by urllib.request" in message
    assert not path.exists()


def test_only_the_unrecorded_connections_are_named(
    tmp_path: Path, below: Below, sse_server: SSEServer, hello: str
) -> None:
    path = tmp_path / "rec.ndjson.zst"
    other = sse_server.add(Route("/other", [b"other"]))
    named = hello.replace("127.0.0.1", "api.allowed.test")
    with pytest.warns(StreamtapeWarning) as caught:
        recording(path, lambda: httpx.get(other), lambda: use_urllib(named))
    message = str(caught[0].message)
    assert "recorded nothing" not in message
    assert f"api.allowed.test:{parts(hello)[1]} (127.0.0.1) by urllib.request" in message
    assert [i.request.url for i in Cassette.load(path)] == [other]


def test_allowed_hosts_raw_sockets_to_loopback_and_failed_blocks_stay_quiet(
    tmp_path: Path, below: Below, sse_server: SSEServer, hello: str
) -> None:
    path = tmp_path / "rec.ndjson.zst"
    other = sse_server.add(Route("/other", [b"other"]))
    # allowed explicitly: meant to be reached directly
    recording(path, lambda: httpx.get(other), lambda: use_urllib(hello), allow_hosts=["127.0.0.1"])
    # no HTTP client: a local service (a database, say), no concern of the cassette
    recording(path, lambda: httpx.get(other), lambda: use_socket(hello), record_mode="all")

    def fail() -> None:
        raise KeyError("the block failed: that is what it reports")

    with pytest.raises(KeyError):
        recording(path, lambda: use_urllib(hello), fail, record_mode="rewrite")
    assert len(Cassette.load(path)) == 1  # the failed block recorded nothing: the file stays


def test_a_remote_connection_while_recording_is_named(tmp_path: Path, below: Below) -> None:
    path = tmp_path / "rec.ndjson.zst"
    with (
        pytest.warns(StreamtapeWarning, match=rf"{BLOCKED_ADDRESS}:443 by a raw socket"),
        use_cassette(path, record_mode="all"),
        socket.socket() as sock,
    ):
        assert sock.connect_ex((BLOCKED_ADDRESS, 443)) == 111  # the hook below refused it
    assert below.connects == [(BLOCKED_ADDRESS, 443)]


def test_older_lookups_and_mapped_addresses_are_sealed_too(cassette: Path, below: Below) -> None:
    with use_cassette(cassette, record_mode="none"):
        for lookup in (socket.gethostbyname, socket.gethostbyname_ex):
            with pytest.raises(NetworkBlockedError, match=rf"look up {BLOCKED_NAME} \("):
                lookup(BLOCKED_NAME)
        assert socket.gethostbyname("localhost").startswith("127.")
        with (
            socket.socket(socket.AF_INET6) as sock,
            pytest.raises(NetworkBlockedError, match=r"connect to \[::ffff:192\.0\.2\.1\]:80"),
        ):
            sock.connect(("::ffff:192.0.2.1", 80))  # an IPv4 address in IPv6 clothing
    assert not below.saw(BLOCKED_NAME)
    assert below.connects == []


def test_a_patch_laid_over_the_seal_inside_a_block_is_left_in_place(
    cassette: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def theirs(sock: socket.socket, address: Any) -> None:
        raise ConnectionRefusedError("someone else's patch")

    originals = (socket.getaddrinfo, socket.socket.connect_ex)
    with use_cassette(cassette, record_mode="none"):
        monkeypatch.setattr(socket.socket, "connect", theirs)
    assert socket.socket.connect is theirs  # not undone under its owner's feet
    assert (socket.getaddrinfo, socket.socket.connect_ex) == originals
    monkeypatch.undo()  # puts back what it found: the seal's patch, which passes all now
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(("127.0.0.1", 9))
    with (
        use_cassette(cassette, record_mode="none"),
        socket.socket() as sock,
        pytest.raises(NetworkBlockedError),
    ):
        sock.connect((BLOCKED_ADDRESS, 9))
    assert "connect" not in socket.socket.__dict__  # healed: the inherited C method again
