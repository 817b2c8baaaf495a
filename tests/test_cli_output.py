"""The CLI's output: colour only on a terminal, and nothing kept by a command once it has run."""

from __future__ import annotations

import gc
import io
import sys
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner

from streamtape._cli_output import color, echo
from streamtape.cli import cli

EXAMPLES = Path(__file__).parent.parent / "cassettes"


class _Tty:
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert color(_Tty())
    assert not color(object())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not color(_Tty())
    result = CliRunner().invoke(cli, ["inspect", str(EXAMPLES / "text-answer.ndjson.zst")])
    assert result.exit_code == 0
    assert "\x1b[" not in result.output


def test_commands_run_again_and_again_in_one_process_keep_none_of_their_output() -> None:
    """click.echo kept a text wrapper of every sys.stdout a process swapped in (CliRunner does
    at each call), and with it the whole output of each command: about 2.6 KB a run of
    `inspect` here. The CLI's own echo keeps nothing."""
    runner = CliRunner()
    args = ["inspect", str(EXAMPLES / "failed-stream.ndjson.zst")]
    for _ in range(20):  # warm up: caches of first use
        assert runner.invoke(cli, args).exit_code == 0
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(200):
            runner.invoke(cli, args)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown / 200 < 256, f"{grown / 200:.0f} bytes kept per run"


def test_echo_replaces_what_the_stream_cannot_encode(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = io.BytesIO()
    ascii_out = io.TextIOWrapper(raw, encoding="ascii")
    monkeypatch.setattr(sys, "stdout", ascii_out)
    echo("caf\u00e9 \u2192 ok")
    echo("plain", nl=False)
    assert raw.getvalue() == b"caf? ? ok\nplain"
