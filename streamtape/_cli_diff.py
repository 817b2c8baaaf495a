"""``streamtape diff A B``: the semantic diff of two cassettes or two interactions
(see `streamtape.diff`); exit 0 identical or equivalent, 1 changed, 2 different, 3 on error."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from streamtape._cli_output import echo
from streamtape.cassette import Cassette, Interaction
from streamtape.diff import DEFAULT_VOLATILE, DiffOptions, diff_cassettes
from streamtape.errors import StreamtapeError
from streamtape.report import diff_page

__all__ = ["diff"]

EXIT = {"identical": 0, "equivalent": 0, "changed": 1, "different": 2}
_ERROR = 3


def _interactions(spec: str) -> tuple[str, list[Interaction]]:
    """``path`` (every interaction) or ``path#N`` (interaction N) -> (label, interactions)."""
    path, number = spec, None
    if not os.path.exists(spec) and "#" in spec:
        path, _, tail = spec.rpartition("#")
        if not tail.isdigit():
            raise click.UsageError(f"{spec}: expected PATH or PATH#N with N an interaction id")
        number = int(tail)
    cassette = Cassette.load(path)
    if number is None:
        return path, list(cassette.interactions)
    chosen = [i for i in cassette.interactions if i.id == number]
    if not chosen:
        ids = ", ".join(str(i.id) for i in cassette.interactions) or "none"
        raise StreamtapeError(f"{path} has no interaction {number} (its ids: {ids})")
    return path, chosen


@click.command()
@click.argument("a")
@click.argument("b")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--html",
    "html_out",
    type=click.Path(dir_okay=False, writable=True),
    help="Also write the two streams' reports side by side, with the diff, to this file.",
)
@click.option("--ignore", multiple=True, help="Another JSON key to ignore (repeatable).")
@click.option("--compare", multiple=True, help="A key ignored by default to compare after all.")
@click.option(
    "--timing-ratio",
    type=click.FloatRange(min=1.0, min_open=True),
    default=DiffOptions.timing_ratio,
    show_default=True,
    help="A time (TTFT, duration, largest gap) is changed when one side is this many times "
    "the other (and at least --timing-floor seconds apart).",
)
@click.option(
    "--timing-floor",
    type=click.FloatRange(min=0),
    default=DiffOptions.timing_floor,
    show_default=True,
    help="Seconds below which timing differences never count.",
)
def diff(
    a: str,
    b: str,
    as_json: bool,
    html_out: str | None,
    ignore: tuple[str, ...],
    compare: tuple[str, ...],
    timing_ratio: float,
    timing_floor: float,
) -> None:
    """Compare two recorded streams by meaning: A and B are cassettes (compared interaction by
    interaction) or single interactions, PATH#N. The first line is the verdict: identical,
    equivalent (only ids, timestamps, sequence numbers, obfuscation, encrypted content or
    timing within the thresholds differ), changed (text, usage, other fields or timing) or
    different (outcome, tool calls or event structure).

    \b
    Exit status: 0 identical or equivalent, 1 changed, 2 different, 3 error.
    Example:
      streamtape diff old.ndjson.zst new.ndjson.zst
      streamtape diff a.ndjson.zst#2 b.ndjson.zst#1 --html diff.html
    """
    try:
        label_a, inter_a = _interactions(a)
        label_b, inter_b = _interactions(b)
        volatile = (DEFAULT_VOLATILE | frozenset(ignore)) - frozenset(compare)
        options = DiffOptions(volatile, timing_ratio=timing_ratio, timing_floor=timing_floor)
        result = diff_cassettes(inter_a, inter_b, options, labels=(label_a, label_b))
        if html_out:
            Path(html_out).write_text(
                diff_page(result, (label_a, inter_a), (label_b, inter_b)), encoding="utf-8"
            )
    except (StreamtapeError, OSError) as exc:
        echo(f"Error: {str(exc).splitlines()[0]}", err=True)
        sys.exit(_ERROR)
    if as_json:
        echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        echo(result.text(), nl=False)
    sys.exit(EXIT[result.verdict])
