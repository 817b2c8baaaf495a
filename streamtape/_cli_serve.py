"""``streamtape serve`` and ``streamtape proxy``: the HTTP faces of replay and recording."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import suppress
from typing import Any, TypeVar

import click

from streamtape._cli_errors import handled
from streamtape._cli_mutate import fault_option, parse_faults
from streamtape._cli_output import echo
from streamtape._vocabulary import INSTANT
from streamtape.server import PROXY_MODES, ProxyApp, ProxyMode, ReplayApp, base_path

__all__ = ["pacing", "proxy", "serve"]

F = TypeVar("F", bound=Callable[..., Any])


def _listening(func: F) -> F:
    """The options both servers take: where to listen, and when to stop."""
    options = [
        click.option(
            "--host", default="127.0.0.1", show_default=True, help="Address to listen on."
        ),
        click.option(
            "--port",
            type=click.IntRange(0, 65535),
            default=0,
            show_default=True,
            help="Port to listen on (0: a free one, printed).",
        ),
        click.option(
            "--exit-after",
            type=click.IntRange(min=1),
            default=None,
            help="Stop after answering this many requests.",
        ),
        click.option(
            "--allow-remote",
            is_flag=True,
            help="Allow --host to be a non-loopback address (prints a warning).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def pacing(func: F) -> F:
    """The options of every command that plays recordings back in time: ``--speed`` and
    ``--instant``."""
    func = click.option("--instant", is_flag=True, help="No waiting between chunks.")(func)
    option = click.option(
        "--speed",
        type=click.FloatRange(min=0, min_open=True),
        default=1.0,
        show_default=True,
        help="Replay speed factor (2 = twice as fast).",
    )
    return option(func)


def _run(
    app: ReplayApp | ProxyApp,
    host: str,
    port: int,
    allow_remote: bool,
    exit_after: int | None,
    announce: Callable[[str], str],
) -> None:
    """Bind, print ``announce(url)``, serve until Ctrl-C or ``exit_after`` requests.

    The socket listens before the lines are printed, so a client may connect at once (the
    kernel queues it until uvicorn accepts)."""
    from streamtape._uvicorn import bind, serve_forever, url_of, uvicorn_server

    sock = bind(host, port, allow_remote=allow_remote)
    if allow_remote:
        echo(f"warning: listening on {host}: whoever reaches it reads the recordings", err=True)
    server = uvicorn_server(app)
    if exit_after is not None:
        limit = exit_after

        def count() -> None:
            if app.requests >= limit:
                server.should_exit = True

        app.on_request = count
    echo(announce(url_of(sock)), nl=False)
    sys.stdout.flush()
    try:
        serve_forever(server, sock)
    finally:
        sock.close()


@click.command()
@click.argument("cassettes", nargs=-1, required=True, type=click.Path(exists=True))
@pacing
@click.option(
    "--max-gap",
    type=click.FloatRange(min=0),
    default=None,
    help="Cap every wait at this many seconds.",
)
@_listening
@fault_option
@handled
def serve(
    cassettes: tuple[str, ...],
    host: str,
    port: int,
    speed: float,
    instant: bool,
    max_gap: float | None,
    exit_after: int | None,
    allow_remote: bool,
    fault_specs: tuple[str, ...],
) -> None:
    """Replay cassettes over HTTP, chunk by chunk at the recorded pace, to any client.

    CASSETTES are files or folders of *.ndjson.zst. Point a client's base URL at the printed
    one (any tail of a recorded path matches, so the API's own base path works too). Each
    recording answers once; a request that matches none gets a 404 JSON error with the
    closest recording. Ends on Ctrl-C or after --exit-after requests with a summary on
    stderr; exit code 1 if any request matched nothing.

    \b
    Examples:
      streamtape serve cassettes/ --instant
      streamtape serve chat.ndjson.zst --fault disconnect:after_events=5
      streamtape serve tests/cassettes/chat.ndjson.zst --port 8089 --exit-after 1 &
      OPENAI_BASE_URL=http://127.0.0.1:8089/v1 node agent.mjs
    """
    app = ReplayApp(
        list(cassettes),
        speed=INSTANT if instant else speed,
        max_gap=max_gap,
        faults=parse_faults(fault_specs),
    )
    base = base_path(app.interactions)

    def announce(url: str) -> str:
        return (
            f"streamtape serve: {len(app.interactions)} interaction(s) from "
            f"{len(app.cassettes)} cassette(s)\nlistening on {url}\n"
            f"base URL: {url}{base}\nOPENAI_BASE_URL={url}{base}\n"
        )

    with suppress(KeyboardInterrupt):
        _run(app, host, port, allow_remote, exit_after, announce)
    missed = app.missed
    echo(
        f"played {len(app.played)}, unplayed {len(app.unplayed)}, missed {len(missed)}",
        err=True,
    )
    for line in missed:
        echo(f"  missed: {line}", err=True)
    if missed:
        sys.exit(1)


@click.command()
@click.option(
    "--upstream", required=True, help="The API's base URL, e.g. https://openrouter.ai/api/v1."
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Cassette to record into.",
)
@click.option(
    "--mode",
    type=click.Choice(PROXY_MODES),
    default="once",
    show_default=True,
    help="once: record a missing cassette, replay an existing one; new_episodes: "
    "replay matches, record and append the rest; all: record everything afresh.",
)
@_listening
@handled
def proxy(
    upstream: str,
    output: str,
    mode: ProxyMode,
    host: str,
    port: int,
    exit_after: int | None,
    allow_remote: bool,
) -> None:
    """Record what clients stream from UPSTREAM, passing every chunk through as it arrives.

    Point a client's base URL at the printed one; its credentials go on to the upstream and
    are redacted in the cassette. Ends on Ctrl-C or after --exit-after requests, then writes
    the cassette and a summary on stderr.

    \b
    Examples:
      streamtape proxy --upstream https://openrouter.ai/api/v1 -o tape.ndjson.zst
      OPENAI_BASE_URL=http://127.0.0.1:PORT OPENAI_API_KEY=$OPENROUTER_API_KEY node agent.mjs
      streamtape serve tape.ndjson.zst    # later, offline
    """
    app = ProxyApp(upstream, output, mode=mode)
    app.keep_alive = True  # uvicorn's lifespan shutdown closes the upstream connections

    def announce(url: str) -> str:
        return (
            f"streamtape proxy: {upstream} -> {output} (mode {mode})\nlistening on {url}\n"
            f"base URL: {url}\nOPENAI_BASE_URL={url}\n"
        )

    try:
        with app:
            _run(app, host, port, allow_remote, exit_after, announce)
    except KeyboardInterrupt:
        pass
    echo(
        f"recorded {app.recorded}, replayed {len(app.played)}, missed {len(app.missed)}"
        + (f" -> {output}" if app.recorded else ""),
        err=True,
    )
    if app.missed:
        sys.exit(1)
