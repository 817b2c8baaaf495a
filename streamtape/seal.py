"""The seal: while a replay-only block is open, network connections streamtape does not serve are
refused before anything leaves the machine; while a recording block is open, they are noted.

The seal works at the socket level, below every HTTP client: ``socket.socket.connect`` /
``connect_ex`` (asyncio's ``sock_connect`` calls ``sock.connect``), and name resolution
(``socket.getaddrinfo``, ``gethostbyname``, ``gethostbyname_ex`` and asyncio's
``loop.getaddrinfo``, which aiohttp's default resolver uses), so no DNS query for a refused host
leaves either. Only internet sockets (IPv4, IPv6) are looked at; Unix sockets, socket pairs and
pipes always pass. Loopback addresses, unspecified addresses, ``localhost`` (and ``*.localhost``),
this machine's host name and the block's ``allow_hosts`` always pass; ``"*"`` allows every host.
Connections that streamtape itself makes to record a request (inside :func:`serve`) pass too.
Code that connects from C (uvloop's own sockets, grpc's core, c-ares, the connects of asyncio's
proactor loop on Windows) is out of its reach.

Each block opens a :class:`Guard`. The patches are installed while at least one guard is open (a
refcount under a lock) and find the guard in force in a ContextVar, as ``tape.py`` finds its
Tape: nested blocks, threads and asyncio tasks each see their own. A thread that runs outside
every block (a thread pool's worker, a background thread) while guards are open follows the same
rule as requests there: when the open blocks are nested in one another, the innermost one's rule
applies, so work a sealed block hands to a thread pool is sealed too; when separate blocks are
open (one per thread, say), a host passes only if every sealed one of them lets it pass. Loopback
and Unix sockets pass in every case, so a test process's own local servers, pipes and workers
keep working; a background thread that reaches a remote host while a sealed block is open is
refused, with a message saying so. Datagrams sent with ``sendto`` on an unconnected socket are
not looked at.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import ipaddress
import socket
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlsplit

from streamtape.errors import NetworkBlockedError

__all__ = ["Connect", "Guard", "aserve", "describe_stack", "serve", "serving"]

_T = TypeVar("_T")

_CURRENT: contextvars.ContextVar[Guard | None] = contextvars.ContextVar(
    "streamtape_seal_guard", default=None
)
_SERVING: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "streamtape_seal_serving", default=False
)
# The last name this context looked up and the addresses it got: names the connect that follows.
# Stamped with the seal's installation, so a later block does not name its connects after a
# lookup made while an earlier one was open.
_LOOKED_UP: contextvars.ContextVar[tuple[int, str, frozenset[str]] | None] = contextvars.ContextVar(
    "streamtape_seal_looked_up", default=None
)

_INET = (socket.AF_INET, socket.AF_INET6)
_MAX_NAMES = 4096  # addresses remembered with the host name they were resolved from
_MAX_CONNECTS = 256  # distinct (host, port, stack) a guard keeps
_PREVIOUS = "_streamtape_seal_previous"  # on each patch: what the owner's __dict__ held before
_MISSING = object()

# Client libraries recognised on the call stack, by module (the module or a submodule of it).
_STACKS: tuple[tuple[str, str], ...] = (
    ("openai", "openai"),
    ("openrouter", "openrouter"),
    ("anthropic", "anthropic"),
    ("litellm", "litellm"),
    ("google.genai", "google-genai"),
    ("aiohttp", "aiohttp"),
    ("httpx_aiohttp", "httpx-aiohttp"),
    ("requests", "requests"),
    ("urllib3", "urllib3"),
    ("httpx", "httpx"),
    ("httpx2", "httpx2"),
    ("httpcore", "httpcore"),
    ("http.client", "http.client"),
    ("urllib.request", "urllib.request"),
    ("grpc", "grpc"),
    ("websockets", "websockets"),
    ("websocket", "websocket-client"),
    ("tornado", "tornado"),
    ("asyncio", "asyncio"),
)
_NOT_HTTP = frozenset({"asyncio"})
_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}  # recognised, but not an HTTP client


class Connect(NamedTuple):
    """A connection (or a name lookup) a guard saw: where to, through which client stack."""

    host: str
    """The host name asked for (by the lookup that gave the address), else the address."""
    address: str | None
    """The address connected to (None for a name that was refused before any lookup)."""
    port: int | None
    stack: str | None
    """The client libraries on the call stack, outermost first ("requests via urllib3, ..."),
    or None when there was none (a raw socket)."""
    served: bool
    """Made by streamtape itself, to record a request (see :func:`serve`)."""
    local: bool
    """To this machine (loopback, unspecified, ``localhost``, its host name): always passes."""
    allowed: bool
    """To a host the block's ``allow_hosts`` names."""
    refused: bool

    @property
    def http(self) -> bool:
        """True when an HTTP client library made it (not a raw socket or asyncio stream)."""
        return self.stack is not None and self.stack.split(" ", 1)[0] not in _NOT_HTTP

    def where(self) -> str:
        address = f" ({self.address})" if self.address not in (None, self.host) else ""
        return _where(self.host, self.port) + address

    def describe(self) -> str:
        return f"{self.where()} by {self.stack or 'a raw socket (no known client on the stack)'}"


def describe_stack() -> str | None:
    """The client libraries on the calling thread's stack, outermost first, or None.

    asyncio is named only when no other library is there (it runs every async client)."""
    found: list[str] = []
    frame: Any = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        name = _stack_of(module) if isinstance(module, str) else None
        if name is not None:
            found.append(name)
        frame = frame.f_back
    ordered = list(dict.fromkeys(reversed(found)))  # by outermost appearance
    if len(ordered) > 1 and "asyncio" in ordered:
        ordered.remove("asyncio")
    if not ordered:
        return None
    return ordered[0] + (f" via {', '.join(ordered[1:])}" if len(ordered) > 1 else "")


@functools.lru_cache(maxsize=4096)
def _stack_of(module: str) -> str | None:
    """The client library a module belongs to, if it is one of those named on stacks."""
    for prefix, name in _STACKS:
        if module == prefix or module.startswith(prefix + "."):
            return name
    return None


def _name(host: object) -> str | None:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    return host.strip().lower().rstrip(".") if isinstance(host, str) else None


@functools.lru_cache(maxsize=4096)
def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


@functools.lru_cache(maxsize=1)
def _own_names() -> frozenset[str]:
    names = {"localhost"}
    with contextlib.suppress(OSError):  # no host name at all
        names.add(socket.gethostname().lower())
    return frozenset(names)


def _is_local(host: str) -> bool:
    ip = _address(host)
    if ip is not None:
        return ip.is_loopback or ip.is_unspecified
    return host in _own_names() or host.endswith(".localhost")


class Guard:
    """One block's rule for the network: ``sealed`` refuses what is not allowed, otherwise the
    guard only notes connections (:attr:`connects`) for the block to compare with what it recorded.

    ``allow_hosts`` holds host names (matched exactly, case-insensitively; ``"*.example.com"``
    also matches its subdomains), IP addresses and networks (``"10.0.0.0/8"``); ``"*"`` allows
    every host. ``label`` names the block in messages
    and ``advice(host)`` says how to allow a host where the block was opened.
    """

    def __init__(
        self,
        *,
        sealed: bool,
        allow_hosts: Iterable[str] = (),
        label: str = "this block",
        advice: Callable[[str], str] | None = None,
    ) -> None:
        self.sealed = sealed
        self.label = label
        self.advice = advice or (lambda host: f"pass allow_hosts=[{host!r}] to use_cassette")
        self._any = False
        self._names: set[str] = set()
        self._domains: set[str] = set()  # from "*.example.com": example.com and its subdomains
        self._networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in allow_hosts:
            text = str(entry).strip()
            if text == "*":
                self._any = True
                continue
            try:
                self._networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                name = _name(text)
                if name and name.startswith("*.") and len(name) > 2:
                    self._domains.add(name[2:])
                    continue
                if not name or "*" in name:
                    raise ValueError(f"allow_hosts: not a host or address: {entry!r}") from None
                self._names.add(name)
        self._lock = threading.Lock()
        self._connects: dict[tuple[str, int | None, str | None, bool], Connect] = {}
        self._parent: Guard | None = None
        self._token: contextvars.Token[Guard | None] | None = None

    def __repr__(self) -> str:
        return f"<Guard {self.label} sealed={self.sealed}>"

    @property
    def is_open(self) -> bool:
        return self._token is not None

    @property
    def connects(self) -> list[Connect]:
        """The distinct connections seen while the guard was open, in the order first seen."""
        with self._lock:
            return list(self._connects.values())

    def allows(self, host: str) -> bool:
        """True when ``allow_hosts`` names ``host`` (a name, or an address in a network)."""
        if self._any:
            return True
        name = _name(host) or ""
        ip = _address(name)
        if ip is None:
            return self._named(name)
        known = _NAMES.get(str(ip))
        return (known is not None and self._named(known)) or any(
            ip in network for network in self._networks
        )

    def _named(self, name: str) -> bool:
        if name in self._names:
            return True
        return any(name == d or name.endswith("." + d) for d in self._domains)

    def open(self) -> None:
        """Put the guard in force in the current context (and install the patches)."""
        if self._token is not None:
            raise RuntimeError(f"{self!r} is already open")
        self._parent = _CURRENT.get()
        _INSTALLER.acquire(self)
        self._token = _CURRENT.set(self)

    def close(self) -> None:
        """Take the guard out of force (removing the patches after the last one)."""
        token, self._token = self._token, None
        if token is None:
            return
        try:
            _CURRENT.reset(token)
        except ValueError:  # closed in another context: restore what it saw
            old = token.old_value
            _CURRENT.set(None if old is contextvars.Token.MISSING else old)
        finally:
            _INSTALLER.release(self)

    def note(self, connect: Connect) -> None:
        with self._lock:
            key = (connect.host, connect.port, connect.stack, connect.served)
            if key not in self._connects and len(self._connects) < _MAX_CONNECTS:
                self._connects[key] = connect

    def unrecorded(self, recorded: Iterable[tuple[str, int | None]]) -> list[Connect]:
        """The connections a recording block should warn about: not made by streamtape, to a
        host neither allowed nor among the ``recorded`` (host, port) pairs, and either remote or
        made by an HTTP client (a local database is no concern of a cassette)."""
        done = {(_name(host), port) for host, port in recorded}
        return [
            c
            for c in self.connects
            if not (c.served or c.allowed or c.refused)
            and (not c.local or c.http)
            and (c.host, c.port) not in done
        ]

    def report(self, label: str, recorded: Iterable[str], *, nothing: bool) -> str | None:
        """What a recording block says at its end (None: nothing to say): that it recorded
        ``nothing`` and wrote no file, and the connections it could not record, given the URLs
        of the interactions it holds."""
        pairs: list[tuple[str, int | None]] = []
        for url in recorded:
            parts = urlsplit(url)
            pairs.append((parts.hostname or "", parts.port or _PORTS.get(parts.scheme)))
        missed = self.unrecorded(pairs)
        lines = []
        if nothing:
            lines.append(f"{label}: the block recorded nothing, so no cassette was written")
        if missed:
            listed = "; ".join(c.describe() for c in missed)
            lines.append(
                f"{label}: {len(missed)} connection(s) went out through a client streamtape "
                "does not record, so they are not on the cassette and a replay will not serve "
                f"them: {listed}. Send them through an HTTP stack streamtape intercepts, or "
                "allow their hosts (allow_hosts=[...]) if they are meant to be reached directly"
            )
        return "\n".join(lines) or None


class _Combined:
    """The rule for a thread outside every block while separate blocks are open."""

    def __init__(self, guards: list[Guard]) -> None:
        self.sealing = [g for g in guards if g.sealed]
        self.sealed = bool(self.sealing)
        self.label = " and ".join(g.label for g in self.sealing)

    def allows(self, host: str) -> bool:
        return all(g.allows(host) for g in self.sealing)

    def advice(self, host: str) -> str:
        return self.sealing[0].advice(host) if self.sealing else ""


# -- the patches -------------------------------------------------------------------------------


class _Names:
    """Addresses resolved while a guard was open, with the name they came from (bounded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._map: dict[str, str] = {}

    def get(self, address: str) -> str | None:
        return self._map.get(address)

    def clear(self) -> None:
        with self._lock:
            self._map.clear()

    def add(self, name: str, addresses: Iterable[str]) -> None:
        with self._lock:
            for address in addresses:
                self._map.pop(address, None)
                self._map[address] = name
            while len(self._map) > _MAX_NAMES:
                del self._map[next(iter(self._map))]


_NAMES = _Names()


class _Installer:
    """Installs the patches while at least one guard is open, and finds the guard in force."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: list[Guard] = []
        self._saved: list[tuple[Any, str, Any, Any]] = []  # (owner, name, previous, ours)
        self.installation = 0  # counts installs: what was learnt under one is not used after it

    def acquire(self, guard: Guard) -> None:
        with self._lock:
            self._open.append(guard)
            if len(self._open) == 1:
                self._install()

    def release(self, guard: Guard) -> None:
        with self._lock:
            if guard in self._open:
                self._open.remove(guard)
            if not self._open:
                self._uninstall()

    def in_force(self) -> Guard | _Combined | None:
        """The guard of this context; for a context outside every block, the rule above."""
        guard = _CURRENT.get()
        if guard is not None and guard.is_open:
            return guard
        with self._lock:
            open_ = list(self._open)
        if not open_:
            return None
        parents = {id(g._parent) for g in open_}
        leaves = [g for g in open_ if id(g) not in parents]
        return leaves[0] if len(leaves) == 1 else _Combined(leaves)

    def _set(self, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        """Lay ``make(current)`` over ``owner.name``. A patch of ours that an outsider's patch
        kept in place at an earlier uninstall (see there) is seen through, so it heals here."""
        previous = owner.__dict__.get(name, _MISSING)
        while hasattr(previous, _PREVIOUS):
            previous = getattr(previous, _PREVIOUS)
        current = getattr(owner, name)
        while hasattr(current, _PREVIOUS):
            current = current.__wrapped__
        ours = make(current)
        setattr(ours, _PREVIOUS, previous)
        self._saved.append((owner, name, previous, ours))
        setattr(owner, name, ours)

    def _install(self) -> None:
        self.installation += 1
        self._set(socket.socket, "connect", _sealed_connect)
        self._set(socket.socket, "connect_ex", _sealed_connect_ex)
        for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex"):
            self._set(socket, name, _sealed_lookup)
        if "asyncio" in sys.modules:  # not imported: no event loop can be running
            from asyncio import base_events

            self._set(base_events.BaseEventLoop, "getaddrinfo", _sealed_loop_getaddrinfo)

    def _uninstall(self) -> None:
        for owner, name, previous, ours in reversed(self._saved):
            if owner.__dict__.get(name) is not ours:
                # Patched again over ours by someone else (a monkeypatch, say): theirs stays, and
                # so may ours beneath it, passing everything while no block is open.
                continue
            if previous is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, previous)
        self._saved.clear()
        _NAMES.clear()  # names resolved while blocks were open name nothing for later ones


_INSTALLER = _Installer()


def _check(host: object, port: object, *, connecting: bool) -> None:
    """Refuse (NetworkBlockedError) or note a connection to, or a lookup of, ``host``."""
    name = _name(host)
    if not name:
        return  # a passive lookup (bind to every interface)
    guard = _INSTALLER.in_force()
    if guard is None:
        return
    ip = _address(name)
    if not connecting and (ip is not None or not guard.sealed):
        return  # an address asks no one; lookups while recording are noted by their connects
    address = None if ip is None else str(ip)
    asked = _asked_for(address)
    known = None if address is None else _NAMES.get(address)
    shown = asked or name
    served = _SERVING.get()
    local = any(n is not None and _is_local(n) for n in (name, asked, known))
    allowed = guard.allows(name) or (asked is not None and guard.allows(asked))
    refused = guard.sealed and not (served or local or allowed)
    if not refused and (guard.sealed or not connecting):
        return  # passed: only a recording block keeps what passed, to report at its end
    stack = describe_stack()
    number = port if isinstance(port, int) else None
    if isinstance(guard, Guard):
        guard.note(Connect(shown, address, number, stack, served, local, allowed, refused))
    if refused:
        raise NetworkBlockedError(
            _message(guard, shown, port, stack, connecting),
            host=shown,
            port=number if number is not None else (str(port) if port else None),
            stack=stack,
        )


def _where(host: str, port: object) -> str:
    if port in (None, "", 0):
        return host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _message(
    guard: Guard | _Combined, host: str, port: object, stack: str | None, connecting: bool
) -> str:
    where = _where(host, port)
    how = "connect to" if connecting else "look up"
    who = stack or "a raw socket (no known client library on the call stack)"
    outside = (
        "" if _CURRENT.get() is not None else (" from a thread outside every use_cassette block")
    )
    return (
        f"streamtape refused to {how} {where} ({who}){outside}: {guard.label} replays only, and "
        "nothing it does not serve may reach the network (streamtape answers requests only "
        f"through the HTTP stacks it intercepts).\nTo allow this host: {guard.advice(host)}"
    )


def _asked_for(address: str | None) -> str | None:
    looked_up = _LOOKED_UP.get()
    if address is None or looked_up is None:
        return None
    installation, name, addresses = looked_up
    if installation != _INSTALLER.installation or address not in addresses:
        return None
    return name


def _remember(name: str, addresses: Iterable[str]) -> None:
    """Note that ``name`` resolved to ``addresses``, here and for every guard's allow check."""
    found = frozenset(str(_address(a) or a) for a in addresses)
    _LOOKED_UP.set((_INSTALLER.installation, name, found))
    if _address(name) is None:
        _NAMES.add(name, found)


def _infos(result: object) -> list[str]:
    """The addresses in a ``getaddrinfo`` / ``gethostbyname(_ex)`` result."""
    if isinstance(result, str):
        return [result]
    if isinstance(result, tuple) and len(result) == 3 and isinstance(result[2], list):
        return [str(a) for a in result[2]]
    found = []
    if isinstance(result, list):
        for info in result:
            with contextlib.suppress(IndexError, TypeError):
                found.append(str(info[4][0]))
    return found


def _check_connect(sock: socket.socket, address: Any) -> None:
    if sock.family in _INET and isinstance(address, tuple) and len(address) >= 2:
        try:
            _check(address[0], address[1], connecting=True)
        except NetworkBlockedError:
            # Clients close a socket whose connect failed only for an OSError; this socket is of
            # no further use, and left open it would only warn (ResourceWarning) when collected.
            sock.close()
            raise


def _sealed_connect(connect: Callable[[socket.socket, Any], None]) -> Callable[..., None]:
    @functools.wraps(connect)
    def sealed_connect(sock: socket.socket, address: Any) -> None:
        _check_connect(sock, address)
        connect(sock, address)

    return sealed_connect


def _sealed_connect_ex(connect_ex: Callable[[socket.socket, Any], int]) -> Callable[..., int]:
    @functools.wraps(connect_ex)
    def sealed_connect_ex(sock: socket.socket, address: Any) -> int:
        _check_connect(sock, address)
        return connect_ex(sock, address)

    return sealed_connect_ex


def _sealed_lookup(original: Callable[..., _T]) -> Callable[..., _T]:
    @functools.wraps(original)
    def lookup(host: Any, *args: Any, **kwargs: Any) -> _T:
        port = args[0] if args else kwargs.get("port")
        _check(host, port, connecting=False)
        result = original(host, *args, **kwargs)
        name = _name(host)
        if name:
            _remember(name, _infos(result))
        return result

    return lookup


def _sealed_loop_getaddrinfo(original: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """asyncio's ``loop.getaddrinfo``, checked in the caller's context (where the block and the
    client's frames are) and resolving in a thread that runs in a copy of that context."""

    @functools.wraps(original)
    async def getaddrinfo(
        loop: Any,
        host: Any,
        port: Any,
        *,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> Any:
        _check(host, port, connecting=False)
        context = contextvars.copy_context()
        result = await loop.run_in_executor(
            None, context.run, socket.getaddrinfo, host, port, family, type, proto, flags
        )
        name = _name(host)
        if name:
            _remember(name, _infos(result))  # in this task's context, for its connect
        return result

    return getaddrinfo


# -- streamtape's own connections ---------------------------------------------------------------


@contextmanager
def serving() -> Iterator[None]:
    """Mark the connections made inside as streamtape's own (recording a request): they pass."""
    token = _SERVING.set(True)
    try:
        yield
    finally:
        _SERVING.reset(token)


def serve(send: Callable[[Any], _T]) -> Callable[[Any], _T]:
    """``send`` (a stack's real send) running inside :func:`serving`."""

    @functools.wraps(send)
    def sending(request: Any) -> _T:
        with serving():
            return send(request)

    return sending


def aserve(send: Callable[[Any], Awaitable[_T]]) -> Callable[[Any], Awaitable[_T]]:
    """The async twin of :func:`serve`."""

    @functools.wraps(send)
    async def sending(request: Any) -> _T:
        with serving():
            return await send(request)

    return sending
