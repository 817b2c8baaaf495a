"""Drift mode: the test talks to the live server, the live stream is compared with the
recording (`streamtape.diff`), the cassette is left as it was, and the test fails when the
stream's meaning drifted. Driven through pytester against the loopback server, and directly
through ``use_cassette``."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from sse_server import Route, SSEServer, sse_chunks
from test_diff import BODY, GPT5_ANSWER, GPT5_CALL, new_ids, rewrite_events

from streamtape.diff import DriftError
from streamtape.errors import CassetteError
from streamtape.tape import Tape, use_cassette

pytest_plugins = ["pytester"]

PLUGIN = ("-p", "no:streamtape", "-p", "streamtape.pytest_plugin")
QUIET = ("-W", "ignore::pytest.PytestAssertRewriteWarning", "-p", "no:hypothesispytest")
PATH = "/v1/responses"

USER_TESTS = f"""
import os

import httpx
import pytest


@pytest.mark.streamtape
def test_weather(tape):
    with httpx.Client() as client:
        with client.stream("POST", os.environ["STREAMTAPE_TEST_URL"], json={BODY!r}) as response:
            body = response.read()
    assert b"response.completed" in body  # the test itself passes whatever the model says
"""


def serve(server: SSEServer, chunks: list[bytes], delay: float = 0.002) -> str:
    return server.add(Route(PATH, chunks, delays=delay))


@pytest.fixture
def recorded(
    pytester: pytest.Pytester, sse_server: SSEServer, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The user's test, its cassette recorded from the gpt-5 tool-call stream."""
    monkeypatch.setenv("STREAMTAPE_TEST_URL", serve(sse_server, sse_chunks(GPT5_CALL)))
    pytester.makepyfile(test_user=USER_TESTS)
    run(pytester, "--tape-mode=once").assert_outcomes(passed=1)
    cassette = pytester.path / "cassettes" / "test_user" / "test_weather.ndjson.zst"
    assert cassette.exists()
    return cassette


def record_call(server: SSEServer, tmp_path: Path) -> tuple[Path, str]:
    """A cassette recorded through ``use_cassette`` from the gpt-5 tool-call stream, and the
    URL it was recorded from (the server serves that stream until the test serves another)."""
    path = tmp_path / "c.ndjson.zst"
    url = serve(server, sse_chunks(GPT5_CALL))
    with use_cassette(path, record_mode="once"), httpx.Client() as client:
        client.post(url, json=BODY).raise_for_status()
    return path, url


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*PLUGIN, *QUIET, *args)


def drift_line(result: pytest.RunResult) -> str:
    lines = [
        line
        for line in result.outlines
        if line.startswith("streamtape drift: ") and "compared with their recordings" in line
    ]
    assert len(lines) == 1, result.outlines
    return lines[0]


def test_drift_passes_when_only_ids_and_timing_changed(
    pytester: pytest.Pytester, recorded: Path, sse_server: SSEServer
) -> None:
    """Slower, every id new: the meaning did not change, so the test passes."""
    before = recorded.read_bytes()
    sse_server.add(Route(PATH, rewrite_events(sse_chunks(GPT5_CALL), new_ids), delays=0.01))
    result = run(pytester, "--tape-mode=drift", f"--tape-report={pytester.path / 'reports'}")
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "reports").exists()  # reports are for failing tests only
    # five times slower is 'changed' timing, unless the recording itself was slowed by load
    assert re.fullmatch(
        r"streamtape drift: 1 live interaction\(s\) compared with their recordings: "
        r"0 identical, (0 equivalent, 1 changed|1 equivalent, 0 changed), 0 different",
        drift_line(result),
    )
    assert sum(r.path == PATH for r in sse_server.requests) == 2  # it went to the server
    assert (
        "streamtape: 1 cassette(s) used (0 recorded to), interactions: 0 recorded, 0 replayed, "
        "0 unused"
    ) in result.outlines
    assert recorded.read_bytes() == before


def test_drift_fails_when_the_stream_changed(
    pytester: pytest.Pytester, recorded: Path, sse_server: SSEServer
) -> None:
    before = recorded.read_bytes()
    sse_server.add(Route(PATH, sse_chunks(GPT5_ANSWER), delays=0.002))  # text, no tool call
    reports = pytester.path / "reports"
    result = run(pytester, "--tape-mode=drift", f"--tape-report={reports}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*streamtape drift: 1 of 1 live interaction(s) of *test_weather.ndjson.zst are "
            "different from the recording (failing at different):",
            "different: recorded#1 vs live#1",
            "! tool calls: different",
            '*- weather({"location": "Florence, Italy"})',
        ]
    )
    assert "0 identical, 0 equivalent, 0 changed, 1 different" in drift_line(result)
    assert recorded.read_bytes() == before
    page = (reports / "test_user.py.test_weather.html").read_text()
    assert "Florence" in page
    assert 'data-outcome="completed"' in page


def test_a_stricter_threshold_fails_on_changed_words(
    pytester: pytest.Pytester, recorded: Path, sse_server: SSEServer
) -> None:
    def reworded(value: Any) -> None:
        """The reasoning says 'guidelines' where it said 'instructions', in its deltas and in
        every text that repeats them."""
        if isinstance(value, dict):
            for key, item in value.items():
                if key in ("delta", "text") and isinstance(item, str):
                    value[key] = item.replace("instructions", "guidelines")
                else:
                    reworded(item)
        elif isinstance(value, list):
            for item in value:
                reworded(item)

    sse_server.add(Route(PATH, rewrite_events(sse_chunks(GPT5_CALL), reworded), delays=0.002))
    run(pytester, "--tape-mode=drift").assert_outcomes(passed=1)  # changed < different
    pytester.makeconftest(
        "import pytest\n\n@pytest.fixture\ndef streamtape_config():\n"
        "    return {'drift_fail': 'changed'}\n"
    )
    result = run(pytester, "--tape-mode=drift")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*are changed from the recording (failing at changed)*"])


def test_use_cassette_in_drift_mode_raises_at_the_end_of_the_block(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    path, url = record_call(sse_server, tmp_path)
    serve(sse_server, sse_chunks(GPT5_ANSWER))
    tape = use_cassette(path, record_mode="drift")
    with pytest.raises(DriftError, match=r"! tool calls: different"), tape:  # noqa: PT012
        with httpx.Client() as client:
            live = client.post(url, json=BODY)
        assert b"output_text.delta" in live.content  # the client got the live stream
    assert [d.verdict for d in tape.drift_results] == ["different"]
    assert len(tape.played) == 1  # compared with the recorded interaction


def test_only_timing_and_ids_changed_leaves_every_other_section_alike(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    path, url = record_call(sse_server, tmp_path)
    serve(sse_server, rewrite_events(sse_chunks(GPT5_CALL), new_ids), delay=0.01)
    with use_cassette(path, record_mode="drift") as tape, httpx.Client() as client:
        client.post(url, json=BODY).raise_for_status()
    (diff,) = tape.drift_results
    verdicts = {s.name: s.verdict for s in diff.sections}
    assert verdicts.pop("timing") in ("equivalent", "changed")
    assert set(verdicts.values()) == {"identical"}
    assert diff.verdict in ("equivalent", "changed")


def test_drift_needs_a_recording(tmp_path: Path) -> None:
    with pytest.raises(CassetteError, match="drift mode compares live streams with a recording"):
        use_cassette(tmp_path / "missing.ndjson.zst", record_mode="drift").__enter__()


def test_drift_fail_must_be_a_verdict(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="drift_fail must be one of identical, equivalent"):
        use_cassette(tmp_path / "c.ndjson.zst", record_mode="drift", drift_fail="bad")  # type: ignore[arg-type]


def test_a_request_no_recording_matches_is_different(sse_server: SSEServer, tmp_path: Path) -> None:
    path, url = record_call(sse_server, tmp_path)
    tape = use_cassette(path, record_mode="drift")
    with (
        pytest.raises(DriftError, match="no recorded interaction matches"),
        tape,
        httpx.Client() as client,
    ):
        client.post(url, json=BODY | {"input": "And in Rome?"}).raise_for_status()
    assert [d.verdict for d in tape.drift_results] == ["different"]


def test_drift_mode_works_for_async_clients(sse_server: SSEServer, tmp_path: Path) -> None:
    path, url = record_call(sse_server, tmp_path)
    serve(sse_server, rewrite_events(sse_chunks(GPT5_CALL), new_ids))

    async def ask() -> tuple[bytes, Tape]:
        async with use_cassette(path, record_mode="drift") as tape, httpx.AsyncClient() as client:
            response = await client.post(url, json=BODY)
        return response.content, tape

    body, tape = asyncio.run(ask())
    assert b"Florence" in body
    (result,) = tape.drift_results
    assert result.verdict in ("equivalent", "changed")  # new ids; timing may differ
    assert [s.verdict for s in result.sections if s.name == "tool calls"] == ["identical"]
    assert sum(r.path == PATH for r in sse_server.requests) == 2
