"""Two processes recording one cassette take turns: none reports success while its interactions
are dropped. Each recorder is a real process of its own, streaming from the loopback server."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sse_server import FIXTURES, Route, SSEServer, sse_chunks

from streamtape.cassette import Cassette, CassetteWriter
from streamtape.cassette.lock import CassetteLock
from streamtape.errors import CassetteError

FIXTURE = FIXTURES / "pydantic-ai" / "test_openai_responses_stream.1.sse"

# A recorder process: opens a block on the cassette, posts {"who": WHO}, and, when told, holds
# the block open until the file GO exists. Its lock loop's sleep is watched so the test knows
# for certain when it waits for the other's lock (WAITING is made on the first wait).
CHILD = """
import sys, time, types
from pathlib import Path
import httpx
import streamtape, streamtape.cassette.lock as lock

path, mode, url, who, go, waiting, recorded = sys.argv[1:8]

def sleep(seconds):
    Path(waiting).touch()
    time.sleep(seconds)

lock.time = types.SimpleNamespace(sleep=sleep, monotonic=time.monotonic)
try:
    with streamtape.use_cassette(path, record_mode=mode, lock_timeout=30):
        httpx.post(url, json={"who": who}).read()
        Path(recorded).touch()
        deadline = time.monotonic() + 30
        while go != "-" and not Path(go).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
except streamtape.StreamtapeError as exc:
    print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
    sys.exit(3)
"""


def start(
    tmp_path: Path, path: Path, mode: str, url: str, who: str, go: str
) -> subprocess.Popen[str]:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    flags = [str(tmp_path / f"{who}.{name}") for name in ("waiting", "recorded")]
    return subprocess.Popen(
        [sys.executable, str(script), str(path), mode, url, who, go, *flags],
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(flag: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not flag.exists():
        if process.poll() is not None:
            pytest.fail(f"the recorder ended early: {process.communicate()[1]}")
        assert time.monotonic() < deadline, f"{flag.name} never came"
        time.sleep(0.01)


def race(tmp_path: Path, sse_server: SSEServer, mode: str) -> tuple[Path, int, str]:
    """A records and holds the cassette; B starts recording it and waits; then A finishes.
    Returns the cassette, B's exit code and B's error output."""
    url = sse_server.add(Route("/v1/responses", sse_chunks(FIXTURE)))
    path = tmp_path / "shared.ndjson.zst"
    go = tmp_path / "go"
    a = start(tmp_path, path, mode, url, "A", str(go))
    wait_for(tmp_path / "A.recorded", a)
    b = start(tmp_path, path, mode, url, "B", "-")
    wait_for(tmp_path / "B.waiting", b)  # B is in the lock's wait loop: A still holds it
    go.touch()
    _, a_err = a.communicate(timeout=60)
    assert a.returncode == 0, a_err
    _, b_err = b.communicate(timeout=60)
    return path, b.returncode, b_err


def whos(path: Path) -> list[str]:
    return [i.request.body.decode() for i in Cassette.load(path)]


def test_new_episodes_in_two_processes_keeps_both_recordings(
    tmp_path: Path, sse_server: SSEServer
) -> None:
    path, code, err = race(tmp_path, sse_server, "new_episodes")
    assert code == 0, err
    assert whos(path) == ['{"who":"A"}', '{"who":"B"}']
    assert not list(tmp_path.glob("*.partial"))
    assert not list(tmp_path.glob("*.lock"))


@pytest.mark.parametrize("mode", ["once", "all"])
def test_a_second_process_recording_afresh_fails_instead_of_dropping_the_first(
    tmp_path: Path, sse_server: SSEServer, mode: str
) -> None:
    path, code, err = race(tmp_path, sse_server, mode)
    assert code == 3
    assert f"CassetteError: {path} was written by another process while this block" in err
    assert whos(path) == ['{"who":"A"}']  # A's recording is whole
    assert not list(tmp_path.glob("*.partial"))
    assert not list(tmp_path.glob("*.lock"))


def test_a_writer_waits_no_longer_than_its_lock_timeout(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    with CassetteWriter(path):
        started = time.monotonic()
        with pytest.raises(CassetteError, match=r"being recorded by another writer \(process"):
            CassetteWriter(path, lock_timeout=0.2)
        assert time.monotonic() - started >= 0.2
    with CassetteWriter(path, append=True, lock_timeout=0):  # free again
        pass


def test_the_lock_file_goes_with_its_holder(tmp_path: Path) -> None:
    lock = CassetteLock(tmp_path / "c.ndjson.zst", timeout=0)
    lock.acquire()
    assert lock.lock_path.exists()
    with pytest.raises(CassetteError):
        CassetteLock(tmp_path / "c.ndjson.zst", timeout=0).acquire()
    lock.release()
    assert not lock.lock_path.exists()
    again = CassetteLock(tmp_path / "c.ndjson.zst", timeout=0)
    again.acquire()
    again.release()
