"""Closed sets of words are typed as such: a parameter or field that takes one of a few strings
says which, so that mypy refuses a typo (``record_mode="onse"``) before a test run does."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Sequence
from typing import Any, get_type_hints

import pytest

import streamtape
from streamtape import bench, faults
from streamtape._vocabulary import (
    END_STATES,
    RECORD_MODES,
    STOP_REASONS,
    EndState,
    RecordMode,
    StopReason,
    Verdict,
    one_of,
)
from streamtape.cassette import InteractionWriter
from streamtape.diff import drift_failures
from streamtape.matching import Matcher, MatchOn
from streamtape.reading import Dialect, Reading
from streamtape.render import InteractionSummary
from streamtape.report import Lane, lane_of
from streamtape.results import Outcome, Problem, ProblemKind, Stopped, StreamResult
from streamtape.server import ProxyApp, ProxyMode
from streamtape.tape import Tape

TYPED: list[tuple[Callable[..., Any] | type, str, object]] = [
    (Tape.__init__, "record_mode", RecordMode),
    (Tape.__init__, "drift_fail", Verdict),
    (Tape.__init__, "match_on", Sequence[MatchOn] | Matcher),
    (Matcher.__init__, "match_on", Sequence[MatchOn]),
    (ProxyApp.__init__, "mode", ProxyMode),
    (InteractionWriter.end, "outcome", EndState),
    (drift_failures, "fail_at", Verdict),
    (StreamResult, "outcome", Outcome),
    (Problem, "kind", ProblemKind),
    (Stopped, "reason", StopReason),
    (Reading, "dialect", Dialect),
    (InteractionSummary, "dialect", Dialect),
    (InteractionSummary, "response_status", Outcome | None),
    (lane_of, "return", Lane),
    (faults.disconnect, "how", faults.DisconnectHow),
    (bench.chunk, "shape", bench.Shape),
    (bench.Row, "kind", bench.AnchorKind),
]


@pytest.mark.parametrize(
    ("owner", "name", "expected"), TYPED, ids=[f"{o.__qualname__}.{n}" for o, n, _ in TYPED]
)
def test_a_closed_set_is_typed_as_its_literal(
    owner: Callable[..., Any] | type, name: str, expected: object
) -> None:
    assert get_type_hints(owner)[name] == expected


# Names that hold a closed set wherever they appear in the package, and where they do not.
WORDS = {"record_mode", "mode", "outcome", "drift_fail", "fail_at", "dialect", "verdict", "how"}
WORDS |= {"shape", "shapes", "kind", "lane", "match_on", "policy", "unused", "to"}
PLAIN = {"str", "str | None", "Sequence[str]", "Sequence[str] | None", "tuple[str, ...]"}
OPEN = {
    # a newer 2.x file may hold an end state this version does not know: read as written
    ("streamtape.cassette.records", "EndRecord", "outcome"),
    ("streamtape.cassette.interaction", "StreamEnd", "outcome"),
    ("streamtape.render", "InteractionSummary", "outcome"),  # an end state or "unfinished"
    ("streamtape.render", "InteractionSummary.__init__", "outcome"),
    ("streamtape.decode", "_malformed", "kind"),  # an event's type
    ("streamtape._urllib3", "_Socket.makefile", "mode"),  # socket.makefile's
}


def _annotations() -> list[tuple[str, str, str, object]]:
    """(module, owner, name, annotation) of every class field and function parameter defined
    in the package (wire structs of `streamtape.events` aside: the API's own strings)."""
    found: list[tuple[str, str, str, object]] = []
    for info in pkgutil.walk_packages(streamtape.__path__, "streamtape."):
        if info.name in ("streamtape.__main__", "streamtape.events"):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            owners: list[tuple[str, Any]] = []
            if inspect.isclass(obj):
                owners.append((name, obj))
                owners += [
                    (f"{name}.{m}", f) for m, f in vars(obj).items() if inspect.isfunction(f)
                ]
            elif inspect.isfunction(obj):
                owners.append((name, obj))
            for owner, target in owners:
                for field, annotation in getattr(target, "__annotations__", {}).items():
                    found.append((info.name, owner, field, annotation))
    return found


def test_no_parameter_or_field_named_for_a_closed_set_takes_any_string() -> None:
    plain = {
        (module, owner, field)
        for module, owner, field, annotation in _annotations()
        if field in WORDS and annotation in PLAIN
    }
    assert plain - OPEN == set()


def test_the_sets_of_words_are_their_literals() -> None:
    assert END_STATES == ("complete", "error", "closed", "interrupted")
    assert STOP_REASONS == ("closed", "interrupted")
    assert set(STOP_REASONS) < set(END_STATES)
    assert "once" in RECORD_MODES
    assert one_of("drift", RECORD_MODES)
    assert not one_of("onse", RECORD_MODES)
    assert not one_of(None, RECORD_MODES)


def test_a_word_outside_its_set_is_refused_by_mypy_and_at_run_time(tmp_path: Any) -> None:
    # the ignores below must stay needed: mypy --strict warns about unused ones
    with pytest.raises(ValueError, match="record_mode must be one of"):
        Tape(tmp_path / "c.ndjson.zst", record_mode="onse")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown match_on"):
        Matcher(["methd"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="mode must be once"):
        ProxyApp("http://127.0.0.1:9", tmp_path / "p.ndjson.zst", mode="none")  # type: ignore[arg-type]
    with pytest.raises(faults.FaultError, match="how must be eof or reset"):
        faults.disconnect(after_events=1, how="rst")  # type: ignore[arg-type]
