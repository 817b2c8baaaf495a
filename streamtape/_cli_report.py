"""``streamtape report``: write the HTML report of cassettes (see `streamtape.report`)."""

from __future__ import annotations

import webbrowser

import click

from streamtape.errors import StreamtapeError
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
def report(cassettes: tuple[str, ...], output: str, open_: bool) -> None:
    """Write one self-contained HTML page showing each recorded stream: request, outcome,
    problems, usage, a timeline of chunks and events, output rate, final text, function calls
    and the event table.

    \b
    Example:
      streamtape report cassettes/reasoning.ndjson.zst -o report.html --open
    """
    try:
        path = write_report(cassettes, output)
    except (StreamtapeError, OSError) as exc:
        raise click.ClickException(str(exc).splitlines()[0]) from None
    click.echo(f"wrote {path}")
    if open_:
        webbrowser.open(path.resolve().as_uri())
