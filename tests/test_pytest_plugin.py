"""The pytest plugin as a user meets it: pytester runs of test files that stream from a real
local server, in every record mode, under xdist, beside pytest-recording, through the openai SDK."""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sse_server import FIXTURES, Route, SSEServer, sse_chunks

from streamtape.cassette import Cassette, CassetteWriter
from streamtape.pytest_plugin import SUFFIX, parse_speed
from streamtape.transport import INSTANT

pytest_plugins = ["pytester"]

# Block the entry-point name so the module loads exactly once, installed as a plugin or not.
PLUGIN = ("-p", "no:streamtape", "-p", "streamtape.pytest_plugin")
# This module imported the plugin already, so pytest cannot rewrite its asserts (it has none);
# hypothesis' plugin re-imports hypothesis in every in-process run (seconds each): not needed.
QUIET = ("-W", "ignore::pytest.PytestAssertRewriteWarning", "-p", "no:hypothesispytest")
FIXTURE = FIXTURES / "pydantic-ai" / "test_openai_responses_stream.1.sse"
ANSWER = "The capital of France is Paris."
PATH = "/v1/responses"

# The user's test file: asks one question per entry of $QUESTIONS (sync, or async with $ASYNC).
USER_TESTS = """
import asyncio
import os

import httpx
import pytest


def questions():
    return os.environ.get("QUESTIONS", "capital of France?").split(",")


def payload(question):
    return {"model": "gpt-4o", "input": question, "stream": True}


def ask_sync(url):
    with httpx.Client() as client:
        for question in questions():
            with client.stream("POST", url, json=payload(question)) as response:
                assert b"Paris" in response.read()


async def ask_async(url):
    async with httpx.AsyncClient() as client:
        for question in questions():
            async with client.stream("POST", url, json=payload(question)) as response:
                assert b"Paris" in await response.aread()


@pytest.mark.streamtape
def test_stream(tape):
    url = os.environ["STREAMTAPE_TEST_URL"]
    if os.environ.get("ASYNC"):
        asyncio.run(ask_async(url))
    else:
        ask_sync(url)
    if tape.played:  # when recording, Tape.interactions fills at the end of the block
        assert tape.interactions[0].result().output_text == "The capital of France is Paris."
"""


@pytest.fixture
def url(sse_server: SSEServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """The route's URL, also in $STREAMTAPE_TEST_URL for the pytester runs."""
    full = sse_server.add(Route(PATH, sse_chunks(FIXTURE)))
    monkeypatch.setenv("STREAMTAPE_TEST_URL", full)
    return full


@pytest.fixture
def user_tests(pytester: pytest.Pytester) -> Path:
    return pytester.makepyfile(test_user=USER_TESTS)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*PLUGIN, *QUIET, *args)


def run_subprocess(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """A pytest process of its own: the SDK's modules are imported afresh, as for a user."""
    return pytester.runpytest_subprocess(*PLUGIN, *QUIET, *args)


def cassette_of(
    pytester: pytest.Pytester, name: str = "test_stream", module: str = "test_user"
) -> Path:
    return pytester.path / "cassettes" / module / f"{name}{SUFFIX}"


def served(server: SSEServer) -> int:
    return sum(1 for r in server.requests if r.path == PATH)


def summary(result: pytest.RunResult) -> str:
    """The plugin's line at the end of the session."""
    lines = [
        line for line in result.outlines if line.startswith("streamtape: ") and " used" in line
    ]
    assert len(lines) == 1, result.outlines
    return lines[0]


# -- modes --------------------------------------------------------------------------------------


def test_missing_cassette_in_mode_none_fails_with_the_record_command(
    pytester: pytest.Pytester, url: str, user_tests: Path, sse_server: SSEServer
) -> None:
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*cassette*cassettes/test_user/test_stream.ndjson.zst does not exist*",
            "*pytest --tape-mode=once test_user.py::test_stream*",
        ]
    )
    assert served(sse_server) == 0
    assert not cassette_of(pytester).exists()


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_once_records_then_none_replays_offline(
    pytester: pytest.Pytester,
    url: str,
    user_tests: Path,
    sse_server: SSEServer,
    monkeypatch: pytest.MonkeyPatch,
    asynchronous: bool,
) -> None:
    if asynchronous:
        monkeypatch.setenv("ASYNC", "1")
    result = run(pytester, "--tape-mode=once")
    result.assert_outcomes(passed=1)
    assert served(sse_server) == 1
    assert "1 recorded, 0 replayed, 0 unused" in summary(result)
    recorded = Cassette.load(cassette_of(pytester))
    assert [i.result().output_text for i in recorded] == [ANSWER]

    for args in [(), ("--tape-mode=once",), ("--tape-speed=instant",)]:
        result = run(pytester, *args)
        result.assert_outcomes(passed=1)
        assert "0 recorded, 1 replayed, 0 unused" in summary(result)
    assert served(sse_server) == 1


def test_new_episodes_records_only_what_no_interaction_matches(
    pytester: pytest.Pytester,
    url: str,
    user_tests: Path,
    sse_server: SSEServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run(pytester, "--tape-mode=once").assert_outcomes(passed=1)
    monkeypatch.setenv("QUESTIONS", "capital of France?,capital of France again?")
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*pytest --tape-mode=new_episodes test_user.py::test_stream*"])
    assert served(sse_server) == 1

    result = run(pytester, "--tape-mode=new_episodes")
    result.assert_outcomes(passed=1)
    assert "1 recorded, 1 replayed, 0 unused" in summary(result)
    assert served(sse_server) == 2
    assert len(Cassette.load(cassette_of(pytester))) == 2
    run(pytester).assert_outcomes(passed=1)
    assert served(sse_server) == 2


@pytest.mark.parametrize("mode", ["all", "rewrite"])
def test_all_and_rewrite_reach_the_server_every_time(
    pytester: pytest.Pytester, url: str, user_tests: Path, sse_server: SSEServer, mode: str
) -> None:
    run(pytester, "--tape-mode=once").assert_outcomes(passed=1)
    result = run(pytester, f"--tape-mode={mode}")
    result.assert_outcomes(passed=1)
    assert "1 recorded, 0 replayed" in summary(result)
    assert served(sse_server) == 2
    assert len(Cassette.load(cassette_of(pytester))) == 1


# -- unused interactions ------------------------------------------------------------------------


@pytest.fixture
def two_recorded(
    pytester: pytest.Pytester,
    url: str,
    user_tests: Path,
    sse_server: SSEServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cassette of two interactions; the test then asks only the first question."""
    monkeypatch.setenv("QUESTIONS", "capital of France?,and of Spain?")
    run(pytester, "--tape-mode=once").assert_outcomes(passed=1)
    monkeypatch.setenv("QUESTIONS", "capital of France?")


@pytest.mark.usefixtures("two_recorded")
def test_unused_interactions_fail_the_test_and_are_listed(pytester: pytest.Pytester) -> None:
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*1 recorded interaction(s) in *test_stream.ndjson.zst never played:",
            "  <Interaction * POST http://127.0.0.1:*/v1/responses -> 200, 15 chunks, complete>",
            "(tape_unused = warn or ignore allows this)",
        ]
    )
    assert "0 recorded, 1 replayed, 1 unused" in summary(result)


@pytest.mark.usefixtures("two_recorded")
def test_unused_interactions_warn_when_configured(pytester: pytest.Pytester) -> None:
    warning = "streamtape.pytest_plugin.UnusedInteractionsWarning"
    result = run(pytester, "-o", "tape_unused=warn", "-W", f"default::{warning}")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*UnusedInteractionsWarning: streamtape: 1 recorded*"])


@pytest.mark.usefixtures("two_recorded")
def test_unused_interactions_ignored_when_configured(pytester: pytest.Pytester) -> None:
    result = run(pytester, "-o", "tape_unused=ignore")
    result.assert_outcomes(passed=1)
    assert "1 unused" in summary(result)


# -- cassette names, marker keywords, project defaults ------------------------------------------


def test_cassette_names_follow_module_class_and_parameters(
    pytester: pytest.Pytester, url: str, sse_server: SSEServer
) -> None:
    pytester.makepyfile(
        test_names="""
        import os
        import httpx
        import pytest

        def ask():
            httpx.post(os.environ["STREAMTAPE_TEST_URL"], json={"stream": True}).read()

        @pytest.mark.streamtape(cassette="shared")
        def test_named():
            ask()

        @pytest.mark.streamtape
        @pytest.mark.parametrize("n", ["a/b", "a_b", "a:b", "c", "x" * 300], ids=str)
        def test_param(n):
            ask()

        @pytest.mark.streamtape
        class TestGroup:
            def test_method(self):
                ask()

        def test_unmarked_does_not_record():
            ask()
        """
    )
    result = run(pytester, "--tape-mode=once")
    result.assert_outcomes(passed=8)
    folder = pytester.path / "cassettes" / "test_names"

    def hashed(name: str, safe: str) -> str:
        return f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:10]}"

    # ids that differ only in characters a file name cannot hold get a hash of the real id;
    # a long id is cut to 150 bytes, with its hash, so its file can be made at all
    long_id = f"test_param[{'x' * 300}]"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{name}{SUFFIX}"
        for name in [
            "shared",
            "test_param[a_b]",
            hashed("test_param[a/b]", "test_param[a_b]"),
            hashed("test_param[a:b]", "test_param[a_b]"),
            "test_param[c]",
            hashed(long_id, long_id[:150]),
            "TestGroup.test_method",
        ]
    )
    assert "7 cassette(s) used" in summary(result)
    assert served(sse_server) == 8
    run(pytester).assert_outcomes(passed=8)  # and each replays from its own file
    assert served(sse_server) == 9  # only the unmarked test went to the server again


def test_tape_dir_ini_key_moves_the_cassettes(
    pytester: pytest.Pytester, url: str, user_tests: Path
) -> None:
    pytester.makeini("[pytest]\ntape_dir = recorded/tapes\ntape_mode = once\n")
    run(pytester).assert_outcomes(passed=1)
    assert (pytester.path / "recorded" / "tapes" / "test_user" / f"test_stream{SUFFIX}").exists()
    assert not cassette_of(pytester).exists()


def test_streamtape_config_gives_project_defaults_and_markers_win(
    pytester: pytest.Pytester, url: str, sse_server: SSEServer
) -> None:
    pytester.makeconftest(
        """
        import pytest
        from streamtape.redact import Redactor

        @pytest.fixture
        def streamtape_config():
            return {"redact": Redactor(headers=["x-team-secret"]), "match_on": ["method"]}
        """
    )
    pytester.makepyfile(
        test_cfg="""
        import os
        import httpx
        import pytest

        def ask(question):
            headers = {"X-Team-Secret": "hunter2"}
            body = {"input": question, "stream": True}
            url = os.environ["STREAMTAPE_TEST_URL"]
            httpx.post(url, json=body, headers=headers).read()

        @pytest.mark.streamtape
        def test_any_body_matches(tape):
            ask(os.environ["QUESTION"])
            assert len(tape.played) + len(tape.recorded) == 1  # one way or the other

        @pytest.mark.streamtape(match_on=["method", "body"])
        def test_marker_wins(tape):
            ask(os.environ["QUESTION"])
        """
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUESTION", "first")
        run(pytester, "--tape-mode=once").assert_outcomes(passed=2)
        patch.setenv("QUESTION", "second")
        result = run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_marker_wins _*",
            "E *.NoMatchError: No recorded request in *test_marker_wins.ndjson.zst matches POST *",
            "E *To fix: re-record this test with",
            "E *    pytest --tape-mode=rewrite test_cfg.py::test_marker_wins",
            "E *pytest --tape-mode=new_episodes test_cfg.py::test_marker_wins adds it instead*",
        ]
    )
    assert "use_cassette(" not in result.stdout.str()  # the pytest advice only
    assert served(sse_server) == 2
    for path in (pytester.path / "cassettes" / "test_cfg").iterdir():
        (interaction,) = Cassette.load(path)
        assert "hunter2" not in repr(interaction.request.headers)


def test_unknown_marker_keyword_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.streamtape(speeed=2)
        def test_typo():
            pass
        """
    )
    result = run(pytester)
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*unknown streamtape keyword(s) speeed*"])


# -- options ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "speed"),
    [("1", 1.0), ("2.5", 2.5), ("0.1", 0.1), ("instant", INSTANT), ("INSTANT", INSTANT)],
)
def test_parse_speed(text: str, speed: float) -> None:
    assert parse_speed(text) == speed


@pytest.mark.parametrize("text", ["0", "-1", "fast", "nan", ""])
def test_parse_speed_rejects(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_speed(text)


def test_options_ini_keys_and_marker_are_registered_with_help(pytester: pytest.Pytester) -> None:
    result = run(pytester, "--help")
    assert result.ret == 0
    result.stdout.fnmatch_lines_random(
        [
            "*--tape-mode=*none*once*new_episodes*all*rewrite*",
            "*--tape-speed=FLOAT|instant*",
            "*tape_mode (string)*",
            "*tape_speed (string)*",
            "*tape_dir (string)*",
            "*tape_unused (string)*",
        ]
    )
    markers = run(pytester, "--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.streamtape(cassette=None, **use_cassette*"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--tape-mode=sometimes",), "*--tape-mode: invalid choice: 'sometimes'*"),
        (("--tape-speed=0",), "*--tape-speed: speed must be positive*"),
        (("-o", "tape_mode=sometimes"), "*tape_mode: expected one of none, once*"),
        (("-o", "tape_unused=shout"), "*tape_unused: expected one of fail, warn, ignore*"),
        (("-o", "tape_speed=fast"), "*tape_speed: expected a positive number or 'instant'*"),
    ],
)
def test_bad_option_values_are_usage_errors(
    pytester: pytest.Pytester, args: tuple[str, ...], message: str
) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


# -- xdist, pytest-recording --------------------------------------------------------------------


def test_xdist_workers_each_write_their_cassettes_and_the_controller_sums_up(
    pytester: pytest.Pytester, url: str, sse_server: SSEServer
) -> None:
    pytester.makepyfile(
        test_many="""
        import os
        import httpx
        import pytest

        @pytest.mark.streamtape
        @pytest.mark.parametrize("n", range(4))
        def test_one(n, tape):
            httpx.post(os.environ["STREAMTAPE_TEST_URL"], json={"n": n}).read()
            assert tape.mode == "none" or not tape.played
        """
    )
    result = run(pytester, "-p", "xdist", "-n", "2", "--tape-mode=once")
    result.assert_outcomes(passed=4)
    assert summary(result).startswith("streamtape: 4 cassette(s) used")
    assert "4 recorded, 0 replayed, 0 unused" in summary(result)
    assert len(list((pytester.path / "cassettes" / "test_many").iterdir())) == 4

    result = run(pytester, "-p", "xdist", "-n", "2")
    result.assert_outcomes(passed=4)
    assert "0 recorded, 4 replayed, 0 unused" in summary(result)
    assert served(sse_server) == 4


def test_loads_beside_pytest_recording(
    pytester: pytest.Pytester, url: str, user_tests: Path
) -> None:
    pytester.makepyfile(
        test_vcr="""
        import pytest

        @pytest.mark.vcr
        def test_vcr_marker_still_belongs_to_pytest_recording(vcr, record_mode):
            assert record_mode == "none"
        """
    )
    result = run(pytester, "-p", "recording", "--tape-mode=once", "--record-mode=none")
    result.assert_outcomes(passed=2)
    help_text = run(pytester, "-p", "recording", "--help")
    help_text.stdout.fnmatch_lines_random(["*--record-mode=*", "*--tape-mode=*"])


# -- the openai SDK, unmodified -----------------------------------------------------------------


def test_records_and_replays_the_openai_sdk_with_the_server_stopped(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        test_openai_user="""
        import os
        import openai
        import pytest

        @pytest.mark.streamtape
        def test_ask(tape):
            with openai.OpenAI(
                base_url=os.environ["STREAMTAPE_TEST_URL"],
                api_key="sk-test-0123456789abcdef",
                max_retries=0,
            ) as client:
                stream = client.responses.create(model="gpt-4o", input="capital?", stream=True)
                with stream:
                    deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
            text = "".join(deltas)
            assert text == "The capital of France is Paris."
            if tape.played:  # when recording, Tape.interactions fills at the end of the block
                assert tape.interactions[0].result().output_text == text
        """
    )
    with SSEServer([Route(PATH, sse_chunks(FIXTURE))]) as server:
        monkeypatch.setenv("STREAMTAPE_TEST_URL", server.url + "/v1")
        run_subprocess(pytester, "--tape-mode=once").assert_outcomes(passed=1)
        assert served(server) == 1
    cassette = cassette_of(pytester, "test_ask", "test_openai_user")
    (interaction,) = Cassette.load(cassette)
    assert "sk-test-0123456789abcdef" not in repr(interaction.request.headers)
    result = run_subprocess(pytester, "--tape-speed=instant")
    result.assert_outcomes(passed=1)
    assert "0 recorded, 1 replayed, 0 unused" in summary(result)


def test_settings_precedence_ini_config_marker_command_line(pytester: pytest.Pytester) -> None:
    # the tests record nothing, which the plugin warns about: not the point here
    pytester.makeini(
        "[pytest]\ntape_mode = once\ntape_speed = 3\n"
        "filterwarnings = ignore::streamtape.StreamtapeWarning\n"
    )
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def streamtape_config():
            return {"speed": 4.0, "max_gap": 0.5}
        """
    )
    pytester.makepyfile(
        test_prec="""
        import os
        import pytest

        pytestmark = pytest.mark.streamtape(speed=5.0, record_mode="rewrite")

        def expect(tape, mode, speed):
            assert (tape.mode, tape.speed, tape.max_gap) == (mode, float(speed), 0.5)

        def test_module_marker(tape):
            expect(tape, os.environ.get("MODE", "rewrite"), os.environ.get("SPEED", 5))

        @pytest.mark.streamtape("named", speed=6.0)
        def test_function_marker_wins(tape):
            assert tape.path.name == "named.ndjson.zst"
            expect(tape, os.environ.get("MODE", "rewrite"), os.environ.get("SPEED", 6))
        """
    )
    run(pytester).assert_outcomes(passed=2)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODE", "all")
        patch.setenv("SPEED", "inf")
        run(pytester, "--tape-mode=all", "--tape-speed=instant").assert_outcomes(passed=2)


def test_record_command_is_quoted_for_the_shell(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.streamtape
        @pytest.mark.parametrize("who", ["a b"])
        def test_param(who):
            pass
        """
    )
    result = run(pytester)
    result.assert_outcomes(errors=1)
    nodeid = "test_record_command_is_quoted_for_the_shell.py::test_param[a b]"
    assert f"    pytest --tape-mode=once '{nodeid}'" in result.outlines


def test_no_summary_line_without_cassettes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain(): pass")
    result = run(pytester)
    result.assert_outcomes(passed=1)
    assert not [line for line in result.outlines if line.startswith("streamtape")]


def test_loading_the_plugin_imports_none_of_the_recording_machinery() -> None:
    """Every pytest run in an environment with streamtape pays for the plugin's import: it
    loads only leaf modules until a test uses the marker or a fixture."""
    heavy = ("httpx", "msgspec", "zstandard", "streamtape.tape", "streamtape.cassette")
    code = (
        "import sys, streamtape.pytest_plugin; "
        f"print(sorted(m for m in sys.modules if m.startswith({heavy!r}) and "
        f"(m in {heavy!r} or m.startswith(tuple(h + '.' for h in {heavy!r})))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# -- the seal -----------------------------------------------------------------------------------

# Names the pytester runs may look up: one made-up name resolves to loopback; every other
# non-loopback name or address is refused here, below the seal, and never leaves the machine.
SEAL_CONFTEST = """
import socket

import pytest

FAKE = {"api.allowed.test": "127.0.0.1"}
LOOKED_UP = []


@pytest.fixture(autouse=True, scope="session")
def _no_real_lookups():  # session scope: in place before any cassette opens
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        LOOKED_UP.append(host)
        host = FAKE.get(host, host)
        if host not in ("127.0.0.1", "localhost"):
            raise socket.gaierror(socket.EAI_NONAME, f"not looked up in tests: {host}")
        return real(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        yield
    assert "example.invalid" not in LOOKED_UP
"""

SEALED_TESTS = """
import os

import urllib.request

import pytest


@pytest.mark.streamtape("replayed")
def test_direct(tape):
    url = os.environ["STREAMTAPE_TEST_URL"].replace("127.0.0.1", os.environ["HOST"])
    with urllib.request.urlopen(url, timeout=5) as response:  # a client streamtape does not answer
        assert b"Paris" in response.read()
"""


@pytest.fixture
def sealed_tests(pytester: pytest.Pytester, url: str) -> Path:
    """A test that replays a cassette (one unrelated interaction) and calls urllib directly."""
    pytester.makeconftest(SEAL_CONFTEST)
    path = cassette_of(pytester, "replayed", "test_sealed")
    with CassetteWriter(path) as writer:
        rec = writer.begin("GET", "http://127.0.0.1:9/unrelated")
        rec.response(204, [])
        rec.end()
    pytester.makeini("[pytest]\ntape_unused = ignore\n")
    return pytester.makepyfile(test_sealed=SEALED_TESTS)


def test_a_replaying_test_is_sealed_and_says_how_to_allow_the_host(
    pytester: pytest.Pytester, sealed_tests: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOST", "example.invalid")
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E *NetworkBlockedError: streamtape refused to look up example.invalid:* (urllib*",
            "E *To allow this host: pytest --tape-allow-host=example.invalid ..., or "
            "tape_allow_hosts = example.invalid in the ini file, or "
            "@pytest.mark.streamtape(allow_hosts=*'example.invalid'*)",
        ]
    )
    assert "use_cassette(" not in result.stdout.str()


def test_loopback_passes_and_a_host_is_allowed_by_option_ini_or_marker(
    pytester: pytest.Pytester,
    sealed_tests: Path,
    sse_server: SSEServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOST", "127.0.0.1")
    run(pytester).assert_outcomes(passed=1)  # loopback
    monkeypatch.setenv("HOST", "api.allowed.test")
    run(pytester).assert_outcomes(failed=1)
    assert served(sse_server) == 1
    run(pytester, "--tape-allow-host", "api.allowed.test").assert_outcomes(passed=1)
    pytester.makeini("[pytest]\ntape_unused = ignore\ntape_allow_hosts = other api.allowed.test\n")
    run(pytester).assert_outcomes(passed=1)
    pytester.makeini("[pytest]\ntape_unused = ignore\n")
    sealed_tests.write_text(
        SEALED_TESTS.replace('("replayed")', '("replayed", allow_hosts=["api.allowed.test"])')
    )
    run(pytester).assert_outcomes(passed=1)
    assert served(sse_server) == 4


def test_vcr_and_streamtape_on_one_test_is_an_error_not_an_empty_cassette(
    pytester: pytest.Pytester, url: str
) -> None:
    pytester.makepyfile(
        test_both="""
        import os
        import httpx
        import pytest

        @pytest.mark.vcr
        @pytest.mark.streamtape
        def test_both():
            httpx.post(os.environ["STREAMTAPE_TEST_URL"], json={"input": "hi"}).read()
        """
    )
    result = run(pytester, "-p", "recording", "--tape-mode=once", "--record-mode=once")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*test_both.py::test_both is marked both @pytest.mark.vcr (pytest-recording) and*"]
    )
    assert not (pytester.path / "cassettes" / "test_both").exists()


def test_a_recording_test_that_records_nothing_warns_and_writes_no_file(
    pytester: pytest.Pytester, sealed_tests: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOST", "127.0.0.1")
    result = run(pytester, "--tape-mode=rewrite", "-W", "default::UserWarning")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*StreamtapeWarning: *replayed.ndjson.zst: the block recorded nothing, so no "
            "cassette was written",
            "*127.0.0.1:* by urllib.request*",
        ]
    )
    assert len(Cassette.load(cassette_of(pytester, "replayed", "test_sealed"))) == 1  # untouched


def test_a_wrapped_miss_or_refusal_gets_a_note_saying_what_lies_beneath(
    pytester: pytest.Pytester, sealed_tests: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASSETTE", str(cassette_of(pytester, "replayed", "test_sealed")))
    pytester.makepyfile(
        test_wrapped="""
        import os

        import urllib.request

        import httpx
        import pytest

        def wrapped(call):
            try:
                call()
            except Exception as exc:  # as an app or an SDK may do
                raise RuntimeError("the app's own error") from exc

        @pytest.mark.streamtape(os.environ["CASSETTE"])
        def test_miss():
            wrapped(lambda: httpx.post("http://127.0.0.1:9/v1/responses", json={}))

        @pytest.mark.streamtape(os.environ["CASSETTE"])
        def test_refusal():
            wrapped(lambda: urllib.request.urlopen("http://example.invalid/", timeout=5))
        """
    )
    result = run(pytester, "test_wrapped.py")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ test_miss _*",
            "E *RuntimeError: the app's own error",
            "E *streamtape: a request matched no recording (above); re-record this test with",
            "E *    pytest --tape-mode=rewrite test_wrapped.py::test_miss",
            "*_ test_refusal _*",
            "E *RuntimeError: the app's own error",
            "E *streamtape refused to look up example.invalid:80 (urllib.request*",
            "E *To allow this host: pytest --tape-allow-host=example.invalid *",
        ]
    )


# -- draining early-closed streams --------------------------------------------------------------

EARLY_CLOSE_TESTS = """
import os

import httpx
import pytest


@pytest.mark.streamtape(drain_timeout=float(os.environ["DRAIN"]))
def test_reads_one_chunk(tape):
    with httpx.Client() as client:
        with client.stream("POST", os.environ["STREAMTAPE_TEST_URL"], json={}) as response:
            next(response.iter_raw())
    assert tape.drain_timeout == float(os.environ["DRAIN"])
"""


@pytest.mark.parametrize(("drain", "outcome"), [("5", "complete"), ("0", "closed")])
def test_the_marker_sets_drain_timeout(
    pytester: pytest.Pytester,
    url: str,
    sse_server: SSEServer,
    monkeypatch: pytest.MonkeyPatch,
    drain: str,
    outcome: str,
) -> None:
    monkeypatch.setenv("DRAIN", drain)
    gate = threading.Event()
    gates = {3: gate} if outcome == "closed" else {}  # still streaming at the close
    sse_server.add(Route(PATH, sse_chunks(FIXTURE), delays=0.01, gates=gates))
    pytester.makepyfile(test_early=EARLY_CLOSE_TESTS)
    try:
        run(pytester, "--tape-mode=once").assert_outcomes(passed=1)
    finally:
        gate.set()
    [inter] = Cassette.load(cassette_of(pytester, "test_reads_one_chunk", "test_early"))
    assert inter.end is not None
    assert inter.end.outcome == outcome
    assert inter.end.client is not None
    assert inter.end.client.chunks == 1
    if outcome == "complete":  # drained: the server's whole answer
        assert inter.wire_body == FIXTURE.read_bytes()
