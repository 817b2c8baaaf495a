"""``streamtape report``: write the HTML report of cassettes (see `streamtape.report`)."""

from __future__ import annotations

import webbrowser

import click

from streamtape._cli_errors import handled
from streamtape._cli_output import echo
from streamtape.report import write_report

__all__ = ["report"]


@click.command()
@click.argument("cassettes", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "-o",
    "--output",
    default="report.html",
    show_default=True,
    type=click.Path(dir_okay=False, writable=True),
    help="The HTML file to write.",
)
@click.option("--open", "open_", is_flag=True, help="Open the report in a web browser.")
@handled
def report(cassettes: tuple[str, ...], output: str, open_: bool) -> None:
    """Write one self-contained HTML page showing each recorded stream: request, outcome,
    problems, usage, a timeline of chunks and events, output rate, final text, function calls
    and the event table.

    \b
    Example:
      streamtape report cassettes/reasoning.ndjson.zst -o report.html --open
    """
    path = write_report(cassettes, output)
    echo(f"wrote {path}")
    if open_:
        webbrowser.open(path.resolve().as_uri())
