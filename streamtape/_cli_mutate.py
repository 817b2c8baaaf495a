"""``streamtape mutate``: write a cassette derived from another with faults applied, its lineage
in the header; and the ``--fault`` option ``streamtape replay`` shares."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import click

from streamtape import faults as _faults
from streamtape._cli_errors import handled
from streamtape._cli_output import echo
from streamtape._fault_body import pauses_as_gaps
from streamtape._vocabulary import EndState
from streamtape.cassette import Cassette, CassetteWriter, Derivation, Interaction

__all__ = ["fault_option", "faulted", "mutate", "mutate_cassette", "parse_faults"]


def parse_faults(specs: Sequence[str]) -> list[_faults.Fault]:
    """The faults of ``--fault`` options (click.BadParameter naming the bad one)."""
    try:
        return [_faults.parse(spec) for spec in specs]
    except _faults.FaultError as exc:
        raise click.BadParameter(str(exc), param_hint="--fault") from None


def faulted(
    interactions: Sequence[Interaction], faults: Sequence[_faults.Fault]
) -> Iterator[tuple[Interaction, bool]]:
    """Each interaction as a client meets it with ``faults``: the answers before it (flagged
    True), then the interaction itself, its pauses turned into recorded gaps."""
    for interaction in interactions:
        for answer in _faults.preludes(interaction, faults):
            yield answer, True
        yield pauses_as_gaps(_faults.apply(interaction, faults)), False


def _with_originals(
    interactions: Sequence[Interaction], faults: Sequence[_faults.Fault]
) -> Iterator[tuple[Interaction, tuple[Interaction, bool]]]:
    """What `faulted` yields, each with the recorded interaction it came from."""
    for interaction in interactions:
        for item in faulted([interaction], faults):
            yield interaction, item


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 16):
            digest.update(block)
    return digest.hexdigest()


def mutate_cassette(
    src: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    faults: Sequence[_faults.Fault],
) -> int:
    """Write the interactions of ``src`` with ``faults`` applied to a new cassette ``dest``;
    return how many it holds. An ``http_status`` answer becomes an interaction of its own before
    the one it precedes (replay plays matching interactions in recorded order, so a retry meets
    the stream), and a stall a recorded gap. The header keeps ``src``'s and adds a lineage step
    (``derived_from``: the file's name, SHA-256 and the faults' specs). Nothing is redacted
    again: the source was redacted when recorded. Raises FaultError when a fault does not fit.
    """
    source = Path(src)
    cassette = Cassette.load(source)
    header = cassette.header
    lineage = list(header.derived_from or []) if header is not None else []
    lineage.append(Derivation(source.name, _sha256(source), [f.spec for f in faults]))
    writer = CassetteWriter(
        dest,
        redactor=None,
        flush_interval=None,
        clock=lambda: 0,
        recorded_at=header.recorded_at if header is not None else None,
        source=header.source if header is not None else None,
        derived_from=lineage,
    )
    count = 0
    try:
        for original, (inter, _) in _with_originals(cassette.interactions, faults):
            request = inter.request
            rec = writer.begin(request.method, request.url, request.headers, request.body)
            head = inter.response
            if head is not None:
                rec.response(
                    head.status,
                    head.headers,
                    http_version=head.http_version,
                    reason=head.reason,
                    offset_ns=head.offset_ns,
                )
            for chunk in inter.chunks:
                rec.chunk(chunk.data, offset_ns=chunk.offset_ns)
            if inter.end is not None:
                end = inter.end
                # Copied as read, a state only a newer 2.x knows included. Where the recording
                # client stopped holds only for a body the faults left as it was; how long the
                # recorder held off reading is a fact of the recording, kept whatever the faults.
                rec.end(
                    cast(EndState, end.outcome),
                    error=end.error,
                    offset_ns=end.offset_ns,
                    client=end.client if inter is original else None,
                    backpressure_ns=end.backpressure_ns,
                )
            count += 1
    except BaseException:
        writer.discard()
        raise
    writer.close()
    return count


def fault_option(func: Any) -> Any:
    """The repeatable ``--fault SPEC`` option."""
    return click.option(
        "--fault",
        "fault_specs",
        multiple=True,
        metavar="SPEC",
        help="A fault to apply, e.g. disconnect:after_events=5 or rechunk:size=1 (repeatable; "
        "applied in order; see docs/faults.md).",
    )(func)


@click.command()
@click.argument("src", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="Cassette to write."
)
@fault_option
@handled
def mutate(src: str, output: str, fault_specs: tuple[str, ...]) -> None:
    """Write a cassette derived from SRC with faults applied (SRC is left as it is).

    The new header names SRC, its SHA-256 and the faults (`streamtape inspect` shows it).

    \b
    Example:
      streamtape mutate chat.ndjson.zst -o chat-cut.ndjson.zst \\
          --fault disconnect:after_events=5 --fault rechunk:size=1
    """
    if not fault_specs:
        raise click.UsageError("give at least one --fault")
    faults = parse_faults(fault_specs)
    if Path(output).resolve() == Path(src).resolve():
        raise click.UsageError("OUTPUT must not be SRC: a derived cassette is a new file")
    count = mutate_cassette(src, output, faults)
    echo(
        f"wrote {count} interaction(s) to {output}: {src} with "
        + ", ".join(repr(f) for f in faults),
        err=True,
    )
