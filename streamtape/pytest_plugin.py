"""pytest plugin: each test marked ``@pytest.mark.streamtape`` (or asking for ``tape``) runs inside
``use_cassette`` with its own cassette, and the session ends with a summary of the cassettes used.

Cassettes default to ``cassettes/<test module>/<test name>.ndjson.zst`` beside the test file, and
the mode defaults to ``none`` so a test run never reaches the network unless asked to record
(``--tape-mode=once``); while a cassette replays, connections streamtape does not serve are
refused (the seal) unless ``--tape-allow-host`` / ``tape_allow_hosts`` / the marker's
``allow_hosts`` name the host. Settings, weakest first: ini keys, the ``streamtape_config`` fixture,
markers (module, class, function), command-line options. Names stay clear of pytest-recording's
(``--record-mode``, ``vcr``). Per-test counts travel in ``user_properties``, so the summary also
adds up under pytest-xdist.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import math
import re
import shlex
import sys
import warnings
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

import pytest

from streamtape._vocabulary import INSTANT, RECORD_MODES, VERDICTS, RecordMode, one_of
from streamtape.errors import NetworkBlockedError, NoMatchError, StreamtapeError

if TYPE_CHECKING:
    from streamtape import faults as _faults
    from streamtape.tape import Tape

# Every pytest run in an environment with streamtape installed loads this module, so it imports
# only what option parsing needs (the leaf modules above); the recording machinery loads when a
# test first uses the marker or a fixture.

__all__ = [
    "MODES",
    "SUFFIX",
    "UNUSED_POLICIES",
    "UnusedInteractionsWarning",
    "UnusedPolicy",
    "cassette_path",
    "parse_speed",
    "streamtape_config",
    "tape",
    "tape_fault",
    "tape_server",
]

MODES = RECORD_MODES
"""The record modes ``--tape-mode`` and the ``tape_mode`` ini key accept (use_cassette's)."""
UnusedPolicy = Literal["fail", "warn", "ignore"]
"""What the ``tape_unused`` ini key may say about recorded interactions a test never played."""
UNUSED_POLICIES: tuple[UnusedPolicy, ...] = get_args(UnusedPolicy)
SUFFIX = ".ndjson.zst"
"""The suffix of cassette files the plugin names."""

_MARKER = "streamtape"
_PROPERTY = "streamtape"  # user_properties key: per-test stats travel in reports (also via xdist)
_MAX_NAME = 150  # bytes of a test's name kept in its cassette's file name
_UNSAFE = re.compile(r'[\x00-\x1f<>:"/\\|?*]')  # characters some file systems refuse
_MAX_LISTED = 10  # unused interactions listed in a failure message

MARKER_HELP = (
    "streamtape(cassette=None, **use_cassette_keywords): run the test inside "
    "streamtape.use_cassette; cassette names the file (default: cassettes/<module>/<test>"
    f"{SUFFIX} beside the test file), other keywords (record_mode, match_on, speed, max_gap, "
    "redact, faults, ...) go to use_cassette over the streamtape_config fixture."
)


FAULTS_MARKER_HELP = (
    "streamtape_faults(*faults): run the test once per fault (a fault, or a tuple of faults "
    "applied together; none given: streamtape.faults.matrix()), replaying its cassette with it; "
    "ids such as test_x[disconnect-after-5]; the tape_fault fixture gives the fault."
)
_FAULTS_MARKER = "streamtape_faults"
_FAULT_PARAM = "tape_fault"


class UnusedInteractionsWarning(UserWarning):
    """A test left recorded interactions unplayed and ``tape_unused = warn``."""


def parse_speed(text: str) -> float:
    """``--tape-speed`` / ``tape_speed``: a positive factor on replay speed, or ``instant``."""
    if text.strip().lower() in ("instant", "inf"):
        return INSTANT
    try:
        speed = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive number or 'instant', got {text!r}"
        ) from None
    if not speed > 0 or math.isnan(speed):
        raise argparse.ArgumentTypeError(f"speed must be positive, got {text!r}")
    return speed


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("streamtape", "streamtape: record and replay streamed LLM responses")
    group.addoption(
        "--tape-mode",
        choices=MODES,
        default=None,
        dest="tape_mode",
        help="record mode for streamtape cassettes: none (replay only, default), once (record "
        "missing cassettes, replay existing ones), new_episodes (also record requests no "
        "interaction matches, appending them), all and rewrite (record every request into a "
        "fresh cassette), drift (send every request, compare the live stream with the "
        "recording, fail on a 'different' verdict; the cassette is left as it was). Overrides "
        "the tape_mode ini key and the marker's record_mode.",
    )
    group.addoption(
        "--tape-report",
        default=None,
        dest="tape_report",
        metavar="DIR",
        help="write the HTML report (streamtape report) of each failing streamtape test's "
        "interactions to DIR/<test>.html",
    )
    group.addoption(
        "--tape-speed",
        type=parse_speed,
        default=None,
        dest="tape_speed",
        metavar="FLOAT|instant",
        help="replay speed factor for streamtape cassettes (2 = twice as fast; 'instant' = no "
        "waiting; default: the recorded timing). Overrides the tape_speed ini key and markers.",
    )
    group.addoption(
        "--tape-allow-host",
        action="append",
        default=[],
        dest="tape_allow_hosts",
        metavar="HOST",
        help="a host (name, address or network; '*': any) that tests may reach directly while "
        "their cassette replays; repeatable. Others are refused (the seal); loopback always "
        "passes. Adds to the tape_allow_hosts ini key and the marker's allow_hosts.",
    )
    parser.addini(
        "tape_mode", "streamtape record mode: none (default), once, new_episodes, all, rewrite"
    )
    parser.addini(
        "tape_allow_hosts",
        "hosts tests may reach directly while their cassette replays (loopback always may)",
        type="args",
    )
    parser.addini("tape_speed", "default streamtape replay speed (FLOAT|instant, default 1)")
    parser.addini(
        "tape_dir",
        "directory of streamtape cassettes, relative to each test file (default: cassettes)",
    )
    parser.addini(
        "tape_unused",
        "when a test leaves recorded interactions unplayed: fail (default), warn, ignore",
    )


@dataclass
class _Totals:
    """Per-session counts behind the summary line (filled from reports, so xdist works too)."""

    seen: set[str] = field(default_factory=set)
    cassettes: int = 0
    cassettes_recorded: int = 0
    recorded: int = 0
    replayed: int = 0
    unused: int = 0
    drift: dict[str, int] = field(default_factory=dict)

    def add(self, nodeid: str, stats: Mapping[str, Any]) -> None:
        if nodeid in self.seen:
            return
        self.seen.add(nodeid)
        self.cassettes += 1
        self.recorded += int(stats.get("recorded", 0))
        self.replayed += int(stats.get("replayed", 0))
        self.unused += int(stats.get("unused", 0))
        if stats.get("recorded", 0):
            self.cassettes_recorded += 1
        for verdict in stats.get("drift", ()):
            self.drift[verdict] = self.drift.get(verdict, 0) + 1


@dataclass(frozen=True)
class _Settings:
    """Everything the plugin decided for one test."""

    path: Path
    mode: RecordMode
    kwargs: dict[str, Any]
    unused: UnusedPolicy
    nodeid: str

    def record_command(self, mode: RecordMode) -> str:
        return f"pytest --tape-mode={mode} {shlex.quote(self.nodeid)}"

    def record_hint(self) -> str:
        """What a replay miss advises: re-record the test; new_episodes only for a new request."""
        return (
            f"re-record this test with\n    {self.record_command('rewrite')}\n"
            "(when the request is new and every recorded one is still made, "
            f"{self.record_command('new_episodes')} adds it instead; after a changed request "
            "it would keep the old interaction, which then fails the test as never played)"
        )

    def allow_hint(self, host: str) -> str:
        """How a refused host is allowed under pytest."""
        return (
            f"pytest --tape-allow-host={shlex.quote(host)} ..., or tape_allow_hosts = {host} "
            f"in the ini file, or @pytest.mark.streamtape(allow_hosts=[{host!r}])"
        )


@dataclass
class _Active:
    tape: Tape
    settings: _Settings


_ACTIVE = pytest.StashKey[_Active]()


def _ini(config: pytest.Config, name: str, default: str) -> str:
    value = config.getini(name)
    text = value.strip() if isinstance(value, str) else ""
    return text or default


def _unused_policy(config: pytest.Config) -> UnusedPolicy:
    unused = _ini(config, "tape_unused", "fail")
    if not one_of(unused, UNUSED_POLICIES):
        raise pytest.UsageError(
            f"tape_unused: expected one of {', '.join(UNUSED_POLICIES)}, got {unused!r}"
        )
    return unused


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    config.addinivalue_line("markers", FAULTS_MARKER_HELP)
    config.pluginmanager.register(_Summary(config), "streamtape-summary")
    mode = _ini(config, "tape_mode", "none")
    if mode not in MODES:
        raise pytest.UsageError(f"tape_mode: expected one of {', '.join(MODES)}, got {mode!r}")
    _unused_policy(config)
    try:
        parse_speed(_ini(config, "tape_speed", "1"))
    except argparse.ArgumentTypeError as exc:
        raise pytest.UsageError(f"tape_speed: {exc}") from None


def cassette_path(item: pytest.Item, cassette: str | None = None) -> Path:
    """Where ``item`` keeps its cassette.

    Default: ``<tape_dir>/<module>/<test name>.ndjson.zst`` beside the test file, the class and
    parameters kept in the name. A ``cassette`` name without a suffix gets ``.ndjson.zst``; a
    relative one lives in ``<tape_dir>/<module>/``, an absolute one is used as it is.
    """
    test_file = item.path
    tape_dir = Path(_ini(item.config, "tape_dir", "cassettes"))
    folder = (tape_dir if tape_dir.is_absolute() else test_file.parent / tape_dir) / test_file.stem
    if cassette is None:
        name = item.nodeid.split("::", 1)[1] if "::" in item.nodeid else item.name
        name = _without_fault_id(item, name)
        return folder / (_safe_name(name.replace("::", ".")) + SUFFIX)
    path = Path(cassette)
    if not path.suffix:
        path = path.with_name(path.name + SUFFIX)
    return path if path.is_absolute() else folder / path


def _safe_name(name: str) -> str:
    """``name`` as a file name: characters some file systems refuse become ``_``. When that
    changed anything (so ``a/b`` and ``a:b`` would both be ``a_b``) or the name is long, a short
    hash of the original name follows, so distinct tests never share a file and no name
    exceeds the file system's limit."""
    safe = _UNSAFE.sub("_", name)
    if safe == name and len(safe.encode()) <= _MAX_NAME:
        return safe
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    head = safe.encode()[:_MAX_NAME].decode("utf-8", "ignore")
    return f"{head}-{digest}"


def _fault_of(item: pytest.Item) -> tuple[_faults.Fault, ...]:
    """The faults ``@pytest.mark.streamtape_faults`` gave this test run (none: empty)."""
    callspec = getattr(item, "callspec", None)
    value = callspec.params.get(_FAULT_PARAM) if callspec is not None else None
    if value is None:
        return ()
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _fault_id(faults: Sequence[_faults.Fault]) -> str:
    return "+".join(f.id for f in faults)


def _without_fault_id(item: pytest.Item, name: str) -> str:
    """``name`` without the fault's part of the test id: every fault run shares one cassette."""
    faults = _fault_of(item)
    if not faults or not name.endswith("]"):
        return name
    base, _, params = name[:-1].rpartition("[")
    fid = _fault_id(faults)
    if params == fid:
        return base
    for rest in (params.removesuffix("-" + fid), params.removeprefix(fid + "-")):
        if rest != params:
            return f"{base}[{rest}]"
    return name


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize tests marked ``streamtape_faults`` over their faults."""
    markers = list(metafunc.definition.iter_markers(_FAULTS_MARKER))
    if not markers:
        return
    from streamtape import faults as _faults

    given = [f for marker in markers for f in marker.args]
    values = given or _faults.matrix()
    for value in values:
        parts = value if isinstance(value, (tuple, list)) else (value,)
        if not parts or not all(isinstance(f, _faults.Fault) for f in parts):
            raise pytest.UsageError(
                f"{metafunc.definition.nodeid}: streamtape_faults takes faults (or tuples of "
                f"faults) from streamtape.faults, got {value!r}"
            )
    metafunc.parametrize(
        _FAULT_PARAM,
        values,
        ids=[_fault_id(v if isinstance(v, (tuple, list)) else (v,)) for v in values],
    )


def _use_cassette_keywords() -> frozenset[str]:
    from streamtape.tape import use_cassette

    parameters = inspect.signature(use_cassette).parameters.values()
    return frozenset(p.name for p in parameters if p.kind is p.KEYWORD_ONLY or p.default != p.empty)


def _marker_kwargs(item: pytest.Item) -> tuple[str | None, dict[str, Any]]:
    """The marker keywords, nearer markers (function over class over module) winning."""
    merged: dict[str, Any] = {}
    cassette: str | None = None
    for marker in reversed(list(item.iter_markers(_MARKER))):
        if len(marker.args) > 1:
            pytest.fail(
                "@pytest.mark.streamtape takes at most one positional argument (the cassette)",
                pytrace=False,
            )
        if marker.args:
            cassette = str(marker.args[0])
        merged.update(marker.kwargs)
    if "cassette" in merged:
        cassette = merged.pop("cassette")
        cassette = None if cassette is None else str(cassette)
    return cassette, merged


def _settings(item: pytest.Item, config_kwargs: Mapping[str, Any]) -> _Settings:
    config = item.config
    cassette, marker_kwargs = _marker_kwargs(item)
    kwargs: dict[str, Any] = {"speed": parse_speed(_ini(config, "tape_speed", "1"))}
    kwargs["record_mode"] = _ini(config, "tape_mode", "none")
    kwargs.update(config_kwargs)
    kwargs.update(marker_kwargs)
    if "cassette" in kwargs:  # from streamtape_config
        base = kwargs.pop("cassette")
        cassette = cassette if cassette is not None else base
    hosts = [
        *config.getini("tape_allow_hosts"),
        *_hosts(config_kwargs.get("allow_hosts")),
        *_hosts(marker_kwargs.get("allow_hosts")),
        *config.getoption("tape_allow_hosts"),
    ]
    if hosts:
        kwargs["allow_hosts"] = tuple(dict.fromkeys(hosts))
    cli_mode: str | None = config.getoption("tape_mode")
    if cli_mode is not None:
        kwargs["record_mode"] = cli_mode
    cli_speed: float | None = config.getoption("tape_speed")
    if cli_speed is not None:
        kwargs["speed"] = cli_speed
    allowed = _use_cassette_keywords()
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        pytest.fail(
            f"unknown streamtape keyword(s) {', '.join(unknown)}; use_cassette accepts "
            f"{', '.join(sorted(allowed))} (and the plugin: cassette)",
            pytrace=False,
        )
    fault_run = _fault_of(item)
    if fault_run:
        kwargs["faults"] = (*kwargs.get("faults", ()), *fault_run)
    path = cassette_path(item, cassette)
    mode = kwargs["record_mode"]
    if not one_of(mode, MODES):
        pytest.fail(f"record_mode must be one of {', '.join(MODES)}, got {mode!r}", pytrace=False)
    return _Settings(
        path=path,
        mode=mode,
        kwargs=kwargs,
        # a fault may end a run before every interaction played: that is not staleness
        unused="ignore" if kwargs.get("faults") else _unused_policy(config),
        nodeid=item.nodeid,
    )


def _hosts(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(host) for host in cast(Iterable[object], value)]


@pytest.fixture
def streamtape_config() -> dict[str, Any]:
    """Project-wide ``use_cassette`` keywords (e.g. ``redact``, ``match_on``): override this
    fixture in conftest.py; marker keywords and command-line options win over it."""
    return {}


@pytest.fixture
def tape(request: pytest.FixtureRequest, streamtape_config: Mapping[str, Any]) -> Iterator[Tape]:
    """The test's active :class:`~streamtape.tape.Tape`: requests made through httpx or httpx2
    during the test are recorded to or replayed from the test's cassette."""
    item = request.node
    assert isinstance(item, pytest.Item)
    settings = _settings(item, streamtape_config)
    if settings.mode == "none" and not settings.path.exists():
        pytest.fail(
            f"streamtape: cassette {settings.path} does not exist and the record mode is "
            f"'none' (replay only). Record it with:\n    {settings.record_command('once')}",
            pytrace=False,
        )
    from streamtape.tape import use_cassette

    if item.get_closest_marker("vcr") is not None:
        pytest.fail(
            f"streamtape: {item.nodeid} is marked both @pytest.mark.vcr (pytest-recording) and "
            "for streamtape: vcrpy answers or records the test's HTTP requests before streamtape "
            "sees them, so one of the two cassettes would stay empty. Use one of them per test.",
            pytrace=False,
        )
    cassette = use_cassette(settings.path, **settings.kwargs)
    cassette.record_hint = settings.record_hint()
    cassette.allow_hint = settings.allow_hint
    with cassette as active:
        item.stash[_ACTIVE] = _Active(active, settings)
        yield active
    item.user_properties.append((_PROPERTY, _stats(active, settings)))


@pytest.fixture
def tape_server(
    request: pytest.FixtureRequest, streamtape_config: Mapping[str, Any]
) -> Iterator[str]:
    """The test's cassette served over HTTP on a free loopback port: yields the base URL.

    For tests that drive a subprocess or another language's client (point its base URL here).
    The cassette, ``speed``, ``max_gap``, ``match_on``, ``redact`` and ``faults`` are found as
    for ``tape``;
    interactions left unplayed fail the test as ``tape_unused`` says. Needs uvicorn
    (``streamtape[serve]``)."""
    from streamtape._uvicorn import serve_in_thread
    from streamtape.server import ReplayApp, base_path

    item = request.node
    assert isinstance(item, pytest.Item)
    settings = _settings(item, streamtape_config)
    if not settings.path.exists():
        pytest.fail(
            f"streamtape: tape_server has no cassette {settings.path} to serve; record it "
            "through `streamtape proxy` or a recording test first",
            pytrace=False,
        )
    served = ("speed", "max_gap", "match_on", "redact", "faults")
    app = ReplayApp([settings.path], **{k: v for k, v in settings.kwargs.items() if k in served})
    with serve_in_thread(app) as url:
        yield url + base_path(app.interactions)
    unplayed = app.unplayed
    if unplayed and settings.unused != "ignore":
        message = (
            f"streamtape: tape_server left {len(unplayed)} recorded interaction(s) of "
            f"{settings.path} unplayed:\n{_describe(unplayed)}"
        )
        if settings.unused == "fail":
            pytest.fail(message, pytrace=False)
        warnings.warn(UnusedInteractionsWarning(message), stacklevel=1)


@pytest.fixture
def tape_fault() -> _faults.Fault | tuple[_faults.Fault, ...] | None:
    """The fault this run of a ``@pytest.mark.streamtape_faults`` test replays with (None in
    other tests); ``preserves_events`` and ``expected_outcome`` say what to expect."""
    return None


@pytest.fixture(autouse=True)
def _streamtape_marked(request: pytest.FixtureRequest, tape_fault: object) -> None:
    """Enter the cassette for marked tests that do not ask for ``tape`` themselves."""
    marked = request.node.get_closest_marker(_MARKER) is not None or tape_fault is not None
    if marked and "tape_server" not in request.fixturenames:  # that one serves it itself
        request.getfixturevalue("tape")


def _stats(active: Tape, settings: _Settings) -> dict[str, Any]:
    drift = settings.mode == "drift"  # nothing recorded to the cassette, nothing replayed
    played = 0 if drift else len(active.played)
    recorded = 0 if drift else len(active.recorded)
    return {
        "cassette": str(settings.path),
        "mode": settings.mode,
        "recorded": recorded,
        "replayed": played,
        "unused": len(active.unplayed),
        "drift": [d.verdict for d in active.drift_results],
    }


def _describe(interactions: Sequence[Any]) -> str:
    lines = [f"  {i!r}" for i in interactions[:_MAX_LISTED]]
    if len(interactions) > _MAX_LISTED:
        lines.append(f"  ... and {len(interactions) - _MAX_LISTED} more")
    return "\n".join(lines)


def _cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """``exc`` or the error of type ``kind`` that caused it (SDKs wrap transport errors)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _add_note(exc: BaseException, note: str) -> None:
    if sys.version_info >= (3, 11):
        exc.add_note(note)
    else:  # pytest shows __notes__ on 3.10 too
        exc.__notes__ = [*getattr(exc, "__notes__", ()), note]  # type: ignore[attr-defined]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """After the test body: add the record commands to a replay miss; check that every
    recorded interaction was played."""
    active = item.stash.get(_ACTIVE, None)
    try:
        result = yield
    except Exception as exc:
        # an SDK that wraps the error shows its own message first: say what lies beneath
        if active is not None and not isinstance(exc, StreamtapeError):
            if _cause(exc, NoMatchError) is not None:
                hint = active.settings.record_hint()
                _add_note(exc, f"streamtape: a request matched no recording (above); {hint}")
            elif (blocked := _cause(exc, NetworkBlockedError)) is not None:
                _add_note(exc, str(blocked))
        raise
    if active is not None and active.settings.mode == "drift":
        from streamtape.diff import DriftError

        try:
            active.tape.check_drift()
        except DriftError as exc:
            pytest.fail(str(exc), pytrace=False)
    if active is None or active.settings.unused == "ignore":
        return result
    unplayed = active.tape.unplayed
    if unplayed:
        message = (
            f"streamtape: {len(unplayed)} recorded interaction(s) in {active.settings.path} "
            f"never played:\n{_describe(unplayed)}"
        )
        if active.settings.unused == "fail":
            pytest.fail(f"{message}\n(tape_unused = warn or ignore allows this)", pytrace=False)
        item.warn(UnusedInteractionsWarning(message))
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """With ``--tape-report DIR``: a failing test's interactions as an HTML report."""
    report = yield
    directory = item.config.getoption("tape_report")
    active = item.stash.get(_ACTIVE, None)
    if directory and active is not None and report.failed and report.when == "call":
        name = _UNSAFE.sub("_", item.nodeid.replace("::", ".").replace("/", "."))
        out = Path(directory) / f"{name}.html"
        out.parent.mkdir(parents=True, exist_ok=True)
        from streamtape.report import render_report

        title = f"streamtape report: {item.nodeid}"
        page = render_report([(str(active.settings.path), active.tape.interactions)], title)
        out.write_text(page, encoding="utf-8")
        report.sections.append(("streamtape", f"report: {out}"))
    return report


class _Summary:
    """Gathers per-test stats from teardown reports (on the xdist controller too) and prints
    the session's summary line."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.totals = _Totals()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "teardown":
            return
        for name, value in report.user_properties:
            if name == _PROPERTY and isinstance(value, Mapping):
                self.totals.add(report.nodeid, value)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        totals = self.totals
        if not totals.cassettes or hasattr(self.config, "workerinput"):
            return
        terminalreporter.write_line(
            f"streamtape: {totals.cassettes} cassette(s) used "
            f"({totals.cassettes_recorded} recorded to), interactions: "
            f"{totals.recorded} recorded, {totals.replayed} replayed, {totals.unused} unused"
        )
        if totals.drift:
            counts = ", ".join(f"{totals.drift.get(v, 0)} {v}" for v in VERDICTS)
            terminalreporter.write_line(
                f"streamtape drift: {sum(totals.drift.values())} live interaction(s) compared "
                f"with their recordings: {counts}"
            )
