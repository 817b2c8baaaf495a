"""``use_cassette``: record or replay every HTTP request made inside a block.

Inside the block, clients the code creates itself are intercepted by patching exactly
``HTTPTransport.handle_request`` and ``AsyncHTTPTransport.handle_async_request`` of httpx and
(when installed) httpx2, and the seams of the other stacks when they are installed (aiohttp,
urllib3 and so requests: one adapter module each, handing requests to :meth:`Tape._dispatch`).
The patches are installed once while any block is active (a refcount) and
the patched methods find the active :class:`Tape` in a ContextVar, so nested blocks, threads and
asyncio tasks each see their own cassette; outside every block the originals run. A thread
started inside a block does not inherit the ContextVar: its requests go to the innermost open
block when the open blocks are nested in one another, and are refused (never sent to the
network) when they are not. Code that injects its own transport uses :meth:`Tape.transport` /
:meth:`Tape.async_transport`.

The seal (``seal.py``): while a block replays, connections streamtape does not serve are
refused, and while it records, those it could not record are reported when it ends.

Record modes use vcrpy's words: ``none`` replays only, ``once`` records a missing file and
replays an existing one, ``new_episodes`` replays matches and appends misses, ``all`` and
``rewrite`` record everything into a fresh file. Files are written atomically. ``drift`` sends
every request for real, hands the live stream to the client, compares it with the recording it
matches (`streamtape.diff`) and leaves the cassette as it was: the block fails with DriftError
when a stream's verdict is ``drift_fail`` or graver.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import os
import tempfile
import threading
import warnings
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, TypeVar, cast

import httpx

from streamtape._httpx_compat import module_of
from streamtape._patching import Patcher
from streamtape._stacks import Route, WireRequest
from streamtape._vocabulary import RECORD_MODES, RecordMode, Verdict
from streamtape.accumulate import StreamResult
from streamtape.cassette import (
    DEFAULT_LOCK_TIMEOUT,
    Cassette,
    CassetteWriter,
    Interaction,
    Timing,
)
from streamtape.diff import (
    VERDICTS,
    InteractionDiff,
    diff_interactions,
    drift_failures,
    unmatched,
)
from streamtape.errors import CassetteError, StreamtapeError, StreamtapeWarning
from streamtape.faults import Fault
from streamtape.matching import DEFAULT_MATCH_ON, Matcher, MatchOn
from streamtape.reading import read_exchanges
from streamtape.redact import DEFAULT_REDACTOR, Redactor
from streamtape.seal import Guard, aserve, serve
from streamtape.transport import (
    DRAIN_TIMEOUT,
    READ_AHEAD_LIMIT,
    RecordingTransport,
    ReplayTransport,
)

__all__ = ["RECORD_MODES", "RecordMode", "Tape", "TapeStats", "use_cassette"]


_F = TypeVar("_F", bound=Callable[..., Any])

_ACTIVE: contextvars.ContextVar[Tape | None] = contextvars.ContextVar(
    "streamtape_active_tape", default=None
)


class TapeStats(NamedTuple):
    """What a block did, and how long its streams took when recorded (seconds, wire time)."""

    recorded: int
    replayed: int
    unplayed: int
    chunks: int
    first_chunk_max: float | None
    """The longest wait from request to first body chunk among the block's interactions."""
    stream_seconds: float
    """The recorded durations (request to end) of the block's interactions, summed."""


def _stats(used: Sequence[Interaction], unplayed: int, recorded: int) -> TapeStats:
    firsts = [i.chunks[0].offset_ns / 1e9 for i in used if i.chunks]
    ends = [(i.end.offset_ns if i.end else i.chunks[-1].offset_ns if i.chunks else 0) for i in used]
    return TapeStats(
        recorded=recorded,
        replayed=len(used) - recorded,
        unplayed=unplayed,
        chunks=sum(len(i.chunks) for i in used),
        first_chunk_max=max(firsts) if firsts else None,
        stream_seconds=sum(ends) / 1e9,
    )


_PATCHER = Patcher(_ACTIVE)


# -- explicit transports ------------------------------------------------------------------------


class _TapeSyncTransport(httpx.BaseTransport):
    """A transport that sends through the tape; real sends go through an unpatched transport."""

    def __init__(self, tape: Tape, transport_options: dict[str, Any]) -> None:
        self._tape = tape
        self._options = transport_options
        self._inner: dict[str, Any] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        lib = module_of(request)
        inner = self._inner.get(lib.__name__)
        if inner is None:
            inner = self._inner[lib.__name__] = lib.HTTPTransport(**self._options)
        send = functools.partial(_PATCHER.original(lib, asynchronous=False), inner)
        response: httpx.Response = self._tape._handle(request, send)
        return response

    def close(self) -> None:
        for inner in self._inner.values():
            inner.close()


class _TapeAsyncTransport(httpx.AsyncBaseTransport):
    """The async twin of `_TapeSyncTransport`."""

    def __init__(self, tape: Tape, transport_options: dict[str, Any]) -> None:
        self._tape = tape
        self._options = transport_options
        self._inner: dict[str, Any] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        lib = module_of(request)
        inner = self._inner.get(lib.__name__)
        if inner is None:
            inner = self._inner[lib.__name__] = lib.AsyncHTTPTransport(**self._options)
        send = functools.partial(_PATCHER.original(lib, asynchronous=True), inner)
        response: httpx.Response = await self._tape._ahandle(request, send)
        return response

    async def aclose(self) -> None:
        for inner in self._inner.values():
            await inner.aclose()


# -- the tape -----------------------------------------------------------------------------------


class Tape:
    """One cassette in use: the block's record mode, matching, replay speed, redaction and faults.

    Got from :func:`use_cassette`; a sync and async context manager and a decorator (each
    decorated call runs with a fresh Tape of the same settings). After the block,
    :attr:`interactions` holds the cassette as written, :attr:`recorded` the interactions this
    block recorded, :attr:`played` / :attr:`unplayed` what replay used and left. In drift mode
    :attr:`interactions` are the live ones, :attr:`played` the recordings they were compared
    with, and :attr:`drift_results` the verdicts.

    Record or replay the HTTP requests made in a block, by ``record_mode``.

    Use as ``with`` / ``async with`` (giving the :class:`Tape`) or as a decorator of sync and
    async functions. ``match_on`` names the request fields compared (or is a Matcher);
    ``speed`` divides the recorded gaps (``INSTANT``: none), each wait capped at ``max_gap``
    seconds; ``redact`` cleans requests before they are written or matched (None keeps all).
    While the block replays (``none``, and ``once`` / ``new_episodes`` with an existing file)
    it is sealed: any other connection is refused with NetworkBlockedError before anything
    leaves, except to loopback and to ``allow_hosts`` (names, addresses, networks; ``"*"``: all);
    a recording block warns (StreamtapeWarning) about connections it could not record, and one
    that recorded nothing writes no file and warns.
    Recording holds the cassette's lock: a block recording a cassette that another process
    records waits up to ``lock_timeout`` seconds for it, then raises CassetteError; in modes
    other than ``new_episodes`` it also raises, writing nothing, when that process wrote the file
    meanwhile (``new_episodes`` adds to what it wrote).
    ``faults`` (:mod:`streamtape.faults`) change each interaction as it replays (the file stays
    as it is); a tape with faults that would record raises StreamtapeError on entry.
    ``drain_timeout``: while recording, how long to keep reading a stream the client closed
    early, so the cassette holds the server's whole answer (0: stop at once). An aiohttp
    response drains on its event loop after ``release()`` returned: closing its session waits
    for that, and so does leaving the block entered with ``async with``; leaving it entered
    with ``with`` ends the drain there (``interrupted``). ``read_ahead_limit``: bytes read
    ahead of a client that lags behind at most (then reading waits for it), and read at most
    after it closed early (then the recording ends ``interrupted``).
    ``drift_fail`` is the verdict from which drift mode fails (``changed`` is stricter).
    Raises ValueError for an unknown mode; entering raises CassetteError for a missing file in
    mode ``none``; a request with no recorded match raises NoMatchError in ``none`` and in
    ``once`` with an existing file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        record_mode: RecordMode = "once",
        *,
        match_on: Sequence[MatchOn] | Matcher = DEFAULT_MATCH_ON,
        speed: float = 1.0,
        max_gap: float | None = None,
        redact: Redactor | None = DEFAULT_REDACTOR,
        sleep: Callable[[float], object] | None = None,
        async_sleep: Callable[[float], Awaitable[object]] | None = None,
        allow_hosts: Sequence[str] = (),
        lock_timeout: float | None = DEFAULT_LOCK_TIMEOUT,
        faults: Sequence[Fault] = (),
        drain_timeout: float = DRAIN_TIMEOUT,
        read_ahead_limit: int = READ_AHEAD_LIMIT,
        drift_fail: Verdict = "different",
    ) -> None:
        # The one list of options: what this call was given, for copies (the decorator).
        self._options: dict[str, Any] = {
            name: value for name, value in locals().items() if name not in ("self", "path")
        }
        if record_mode not in RECORD_MODES:
            raise ValueError(
                f"record_mode must be one of {', '.join(RECORD_MODES)}; got {record_mode!r}"
            )
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")
        if not drain_timeout >= 0:
            raise ValueError(f"drain_timeout must not be negative, got {drain_timeout}")
        if not read_ahead_limit > 0:
            raise ValueError(f"read_ahead_limit must be positive, got {read_ahead_limit}")
        if drift_fail not in VERDICTS:
            raise ValueError(f"drift_fail must be one of {', '.join(VERDICTS)}; got {drift_fail!r}")
        self.path = Path(path)
        self.mode = record_mode
        self.matcher = match_on if isinstance(match_on, Matcher) else Matcher(match_on)
        self.speed = speed
        self.max_gap = max_gap
        self.redactor = redact
        self.lock_timeout = lock_timeout
        self._seen: tuple[int, int, int] | None = None  # the file as this block found it
        self.drain_timeout = drain_timeout
        self.read_ahead_limit = read_ahead_limit
        self._sleep = sleep
        self._async_sleep = async_sleep
        self.allow_hosts = (allow_hosts,) if isinstance(allow_hosts, str) else tuple(allow_hosts)
        Guard(sealed=False, allow_hosts=self.allow_hosts)  # refuses a bad entry now
        self.record_hint: str | None = None
        """What a replay miss advises (None: the use_cassette advice); the pytest plugin sets it."""
        self.allow_hint: Callable[[str], str] | None = None
        """How a refused host is allowed, given the host (None: the use_cassette advice)."""
        self._guard: Guard | None = None
        self.faults: tuple[Fault, ...] = tuple(faults)
        self._fault_played: list[Interaction] = []  # played in replay_with blocks
        self._lock = threading.Lock()
        self._token: contextvars.Token[Tape | None] | None = None
        self._parent: Tape | None = None  # the block in force where this one was opened
        self._player: ReplayTransport | None = None
        self._writer: CassetteWriter | None = None
        self._recorder: RecordingTransport | None = None
        self._records = False
        self._old_ids: set[int] = set()
        self._interactions: list[Interaction] = []
        self.drift_fail = drift_fail
        self.drift_results: list[InteractionDiff] = []
        """The verdicts of the last `check_drift`, one per live interaction (drift mode)."""
        self._drift_pairs: list[Interaction | None] = []
        self._drift_dir: tempfile.TemporaryDirectory[str] | None = None
        self._drift_checked = False

    def __repr__(self) -> str:
        return f"<Tape {str(self.path)!r} mode={self.mode!r}>"

    @property
    def interactions(self) -> list[Interaction]:
        """The cassette's interactions; while recording, those written so far included."""
        with self._lock:
            writer = self._writer
        if writer is None:
            return self._interactions
        writer.flush(end_frame=False)  # complete blocks: the lenient read below takes them
        return list(Cassette.load(writer.temp_path or writer.path, strict=False).interactions)

    @property
    def recorded(self) -> list[Interaction]:
        """The interactions this block recorded (so far, while it runs)."""
        return [i for i in self.interactions if i.id not in self._old_ids]

    # -- what happened --

    @property
    def active(self) -> bool:
        """True inside the block."""
        return self._token is not None

    @property
    def played(self) -> list[Interaction]:
        """Interactions replayed from the cassette, in the order they were played."""
        return [*self._fault_played, *([] if self._player is None else self._player.played)]

    @property
    def unplayed(self) -> list[Interaction]:
        """Interactions of the cassette loaded at entry that were not replayed."""
        played = {i.id for i in self._fault_played}
        left = [] if self._player is None else self._player.unplayed
        return [i for i in left if i.id not in played]

    @property
    def stats(self) -> TapeStats:
        """Counts and recorded timing of the interactions this block replayed or recorded."""
        used = [*self.played, *self.recorded]
        return _stats(used, len(self.unplayed), len(self.recorded))

    def check_drift(self) -> list[InteractionDiff]:
        """Drift mode: compare each live interaction so far with the recording it matched
        (one that matched none is ``different``), keep the verdicts in `drift_results`, and
        raise DriftError showing the diffs whose verdict is ``drift_fail`` or graver."""
        self._drift_checked = True
        pairs = list(self._drift_pairs)
        results = []
        for i, live in enumerate(self.recorded):
            recorded = pairs[i] if i < len(pairs) else None
            if recorded is None:
                results.append(unmatched(live))
            else:
                labels = (f"recorded#{recorded.id}", f"live#{live.id}")
                results.append(diff_interactions(recorded, live, labels=labels))
        self.drift_results = results
        drift_failures(results, self.drift_fail, str(self.path))
        return self.drift_results

    def result(self, i: int = 0) -> StreamResult:
        """The accumulated stream of interaction ``i``: ``interactions[i].result()``."""
        return self.interactions[i].result()

    def results(self) -> list[StreamResult]:
        """One result per response across the cassette's interactions, a resumed stream joined
        to the response it continues (``streamtape.reading.read_exchanges``)."""
        return read_exchanges(self.interactions)

    def timing(self, i: int = 0) -> Timing:
        """When interaction ``i`` streamed (first chunk, first event, largest gap, duration)."""
        return self.interactions[i].timing()

    # -- entering and leaving --

    def _settings(self) -> dict[str, Any]:
        """The options this tape was made with, to make another like it."""
        return dict(self._options)

    def _hint(self) -> str:
        if self.record_hint is not None:
            return self.record_hint
        return (
            f"record it with use_cassette({str(self.path)!r}, record_mode='new_episodes') to "
            f"append the missing interaction, or record_mode='rewrite' to record afresh "
            f"(this block uses record_mode={self.mode!r})"
        )

    def _start(self) -> None:
        if self._token is not None:
            raise RuntimeError(f"{self!r} is already active; a Tape is entered once at a time")
        self._seen = _identity(self.path)
        exists = self._seen is not None
        if self.mode == "drift" and not exists:
            raise CassetteError(
                f"cassette {self.path} does not exist, and drift mode compares live streams "
                "with a recording; record it first with record_mode='once'",
                path=str(self.path),
            )
        if self.mode == "none" and not exists:
            raise CassetteError(
                f"cassette {self.path} does not exist and record_mode is 'none' (replay only); "
                "record it with record_mode='once'",
                path=str(self.path),
            )
        replay = exists and self.mode in ("none", "once", "new_episodes", "drift")
        if self.faults and (not replay or self.mode in ("new_episodes", "drift")):
            why = "does not exist" if not exists else f"is recorded to in mode {self.mode!r}"
            raise StreamtapeError(
                f"faults apply to replay only, and cassette {self.path} {why}: record it "
                f"without faults first, then replay it with them (record_mode 'none' or 'once')"
            )
        self._records = not replay or self.mode in ("new_episodes", "drift")
        self._fault_played = []
        self._drift_pairs, self.drift_results, self._drift_checked = [], [], False
        self._player = None
        self._writer = self._recorder = None
        self._interactions = []
        self._old_ids = set()
        if replay:
            self._player = self._replayer(Cassette.load(self.path), self.faults)
            self._interactions = list(self._player.cassette.interactions)
            if self.mode != "drift":  # drift records into a scratch file of its own ids
                self._old_ids = {i.id for i in self._interactions}
        elif self._records:
            self._recording()  # all / rewrite / once without a file: start from empty now
        self._parent = _ACTIVE.get()
        self._guard = Guard(
            sealed=replay,  # replay only, or (new_episodes) only what streamtape itself records
            allow_hosts=self.allow_hosts,
            label=f"{self.path} (record_mode={self.mode!r})",
            advice=self.allow_hint or self._allow_advice,
        )
        self._guard.open()
        _PATCHER.acquire(self)
        self._token = _ACTIVE.set(self)

    def _allow_advice(self, host: str) -> str:
        return f"use_cassette({str(self.path)!r}, ..., allow_hosts=[{host!r}])"

    def _stop(self, failed: bool = False) -> None:
        token, self._token = self._token, None
        if token is None:
            return
        warning: str | None = None
        try:
            _ACTIVE.reset(token)
        except ValueError:  # left in another context (e.g. a generator): restore what it saw
            old = token.old_value
            _ACTIVE.set(None if old is contextvars.Token.MISSING else old)
        finally:
            _PATCHER.release(self)
            guard, self._guard = self._guard, None
            if guard is not None:
                guard.close()
            with self._lock:
                recorder = self._recorder
            if recorder is not None:
                recorder.finish()  # streams the block leaves open end here, not as "interrupted"
            recorded_any = self._writer is not None and bool(self.recorded)
            with self._lock:
                writer, self._writer = self._writer, None
                self._recorder = None
            nothing = writer is not None and not recorded_any
            if writer is not None and nothing:
                writer.discard()  # a recording block that recorded nothing writes no file
                self._interactions = []
            elif writer is not None:
                writer.close()
                loaded = Cassette.load(writer.path, strict=False).interactions
                self._interactions = list(loaded)
            if self._drift_dir is not None:
                self._drift_dir.cleanup()
                self._drift_dir = None
            if guard is not None and self._records and not failed:
                urls = [i.request.url for i in self._interactions]
                warning = guard.report(str(self.path), urls, nothing=nothing)
        if warning is not None:  # last: under `-W error` it raises
            warnings.warn(StreamtapeWarning(warning), stacklevel=3)

    def __enter__(self) -> Tape:
        self._start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop(failed=exc_type is not None)
        if self.mode == "drift" and exc_type is None and not self._drift_checked:
            self.check_drift()

    async def __aenter__(self) -> Tape:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._lock:
            recorder = self._recorder
        if recorder is not None and (exc_type is None or issubclass(exc_type, Exception)):
            await recorder.drained()  # streams the caller let go early end before the block
        self.__exit__(exc_type, exc, tb)

    def __call__(self, func: _F) -> _F:
        """Decorate ``func`` (sync or async): each call runs inside a fresh Tape like this one."""
        settings = self._settings()
        path = self.path
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                async with Tape(path, **settings):
                    return await func(*args, **kwargs)

            return cast(_F, async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with Tape(path, **settings):
                return func(*args, **kwargs)

        return cast(_F, wrapper)

    @contextlib.contextmanager
    def replay_with(self, *faults: Fault) -> Iterator[Tape]:
        """For the block, replay the cassette afresh (every interaction unplayed again) with
        ``faults`` instead of the tape's own, e.g. once per fault of ``faults.matrix()``.
        Interactions played in the block count as played. Raises StreamtapeError outside the
        block or when the tape records."""
        self._check_active()
        outer = self._player
        if outer is None or self._records:
            raise StreamtapeError(
                f"{self!r}: replay_with needs a tape that replays (the cassette exists and "
                f"record_mode is 'none' or 'once'); faults apply to replay only"
            )
        self._player = self._replayer(outer.cassette, faults)
        try:
            yield self
        finally:
            self._fault_played += self._player.played
            self._player = outer

    # -- transports --

    def transport(self, **transport_options: Any) -> httpx.BaseTransport:
        """A sync transport for clients built with ``transport=``; works while the tape is active.

        ``transport_options`` go to the real ``HTTPTransport`` used when recording.
        """
        return _TapeSyncTransport(self, transport_options)

    def async_transport(self, **transport_options: Any) -> httpx.AsyncBaseTransport:
        """The async twin of :meth:`transport`."""
        return _TapeAsyncTransport(self, transport_options)

    # -- handling requests --

    def _recording(self) -> RecordingTransport:
        with self._lock:
            if self._recorder is None:
                append = self.mode == "new_episodes"  # under the writer's lock: merges
                path = self.path
                if self.mode == "drift":  # the live streams go to a scratch file
                    self._drift_dir = tempfile.TemporaryDirectory(prefix="streamtape-drift-")
                    path = Path(self._drift_dir.name) / self.path.name
                writer = CassetteWriter(
                    path,
                    redactor=self.redactor,
                    append=append,
                    lock_timeout=self.lock_timeout,
                )
                if not append and path == self.path and _identity(self.path) != self._seen:
                    writer.discard()
                    raise CassetteError(
                        f"{self.path} was written by another process while this block waited "
                        f"to record it (record_mode={self.mode!r}); it was left as that process "
                        "wrote it: run again to use it, or use record_mode='new_episodes' to add "
                        "to it",
                        path=str(self.path),
                    )
                self._writer = writer
                self._recorder = RecordingTransport(
                    None,
                    self._writer,
                    drain_timeout=self.drain_timeout,
                    read_ahead_limit=self.read_ahead_limit,
                )
            return self._recorder

    def _replayer(self, cassette: Cassette, faults: Sequence[Fault]) -> ReplayTransport:
        """A player of ``cassette`` with ``faults``, timed, matched and redacted as this tape
        says (every interaction unplayed)."""
        return ReplayTransport(
            cassette,
            speed=self.speed,
            max_gap=self.max_gap,
            sleep=self._sleep,
            async_sleep=self._async_sleep,
            matcher=self.matcher,
            redactor=self.redactor,
            record_hint=self._hint(),
            faults=faults,
        )

    def _check_active(self) -> None:
        if self._token is None:
            raise RuntimeError(f"{self!r} is not active: send requests inside its block")

    def _dispatch(self, request: WireRequest) -> Route:
        """For another stack's adapter: the interaction to replay, or the recorder to use (the
        same choice as for httpx, drift mode included)."""
        return self._route(request, request.body)

    def _route(self, request: Any, body: bytes) -> Route:
        """For a request of any stack: the interaction to replay, or the recorder to record with.
        Drift mode records every request and keeps what it matched for :meth:`check_drift`.
        Raises NoMatchError where the block replays only and nothing recorded matches."""
        self._check_active()
        player = self._player
        if player is not None:
            interaction = player.take(request, body)
            if self.mode == "drift":
                self._drift_pairs.append(interaction)
            elif interaction is not None:
                return player, interaction
            elif not self._records:
                raise player._no_match(request, body)
        return self._recording()

    def _handle(self, request: Any, send: Callable[[Any], Any]) -> Any:
        route = self._route(request, request.read())
        if isinstance(route, RecordingTransport):
            return route.record(request, serve(send))
        player, interaction = route
        return player.respond(request, interaction)

    async def _ahandle(self, request: Any, send: Callable[[Any], Awaitable[Any]]) -> Any:
        route = self._route(request, await request.aread())
        if isinstance(route, RecordingTransport):
            return await route.arecord(request, aserve(send))
        player, interaction = route
        return await player.arespond(request, interaction)


def _identity(path: Path) -> tuple[int, int, int] | None:
    """What tells one version of a file from another (None: no file)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


use_cassette = Tape
"""``use_cassette(path, record_mode="once", **options)``: a :class:`Tape` for a block."""
