"""The ``streamtape`` command line: record, inspect, replay, cat, verify, convert, scan, bench.

Exit status: 0 ok, 1 when a check finds problems or a command fails, 2 for bad usage. Errors are
one line on stderr; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any, BinaryIO, Literal, TypeVar, get_args

import click
import httpx

from streamtape._cli_diff import diff
from streamtape._cli_errors import handled as _handled
from streamtape._cli_mutate import fault_option, faulted, mutate, parse_faults
from streamtape._cli_output import echo, style, write
from streamtape._cli_report import report
from streamtape._cli_serve import pacing, proxy, serve
from streamtape._units import format_ms, format_ns
from streamtape._vocabulary import EndState
from streamtape.accumulate import StreamResult
from streamtape.cassette import Cassette, CassetteWriter, Interaction
from streamtape.convert import convert_yaml, export, export_sse
from streamtape.decode import EventDecoder
from streamtape.errors import StreamtapeError
from streamtape.reading import read_exchange, read_exchanges
from streamtape.render import TextFollower, render_cat, summarize, timed_events, timeline
from streamtape.scan import secrets_in
from streamtape.transport import RecordingTransport

__all__ = ["cli", "main"]

F = TypeVar("F", bound=Callable[..., Any])
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="streamtape", prog_name="streamtape")
def cli(debug: bool) -> None:
    """Record, inspect and replay the SSE streams of Responses-API LLM endpoints.

    \b
    Example:
      streamtape record https://openrouter.ai/api/v1/responses -o chat.ndjson.zst \\
          --data '{"model": "openai/gpt-4o", "input": "hi", "stream": true}' \\
          --auth-env OPENROUTER_API_KEY
    """


# -- record -------------------------------------------------------------------------------------


def _parse_header(value: str) -> tuple[str, str]:
    name, sep, rest = value.partition(":")
    if not sep or not name.strip():
        raise click.BadParameter(f"expected 'Name: value', got {value!r}", param_hint="-H")
    return name.strip(), rest.strip()


class _Progress:
    """Live counters on stderr: events, bytes, time to first event, events per second."""

    def __init__(self, quiet: bool) -> None:
        self.live = not quiet and sys.stderr.isatty()
        self.quiet = quiet
        self.start = time.perf_counter()
        self.events = 0
        self.bytes = 0
        self.first: float | None = None
        self._shown = 0.0

    def update(self, data: bytes, events: int) -> None:
        now = time.perf_counter()
        self.bytes += len(data)
        self.events += events
        if events and self.first is None:
            self.first = now - self.start
        if self.live and now - self._shown > 0.1:
            self._shown = now
            echo("\r" + self.line(), nl=False, err=True)

    def line(self) -> str:
        elapsed = time.perf_counter() - self.start
        first = "-" if self.first is None else f"{self.first * 1000:.0f} ms"
        rate = self.events / elapsed if elapsed > 0 else 0.0
        return (
            f"{self.events} events, {self.bytes} bytes, first event {first}, "
            f"{rate:.1f} events/s, {elapsed:.1f} s"
        )

    def done(self, summary: str) -> None:
        if not self.quiet:
            echo(("\r" if self.live else "") + f"{self.line()}: {summary}", err=True)


@cli.command()
@click.argument("url")
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Cassette file to write.",
)
@click.option("--data", "-d", help="Request body (JSON) or @file; sends a POST.")
@click.option("-H", "--header", "headers", multiple=True, help="Extra header 'Name: value'.")
@click.option(
    "--auth-env",
    metavar="NAME",
    help="Send 'Authorization: Bearer $NAME' (redacted in the cassette).",
)
@click.option(
    "--timeout", type=float, default=600.0, show_default=True, help="Read timeout in seconds."
)
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
@_handled
def record(
    url: str,
    output: str,
    data: str | None,
    headers: tuple[str, ...],
    auth_env: str | None,
    timeout: float,
    quiet: bool,
) -> None:
    """Send one request and record the streamed response into a cassette.

    Ctrl-C stops the stream and still leaves a valid cassette whose last interaction is marked
    interrupted. A request that gets no response at all (connection refused, no such host)
    writes no file.

    \b
    Example:
      streamtape record http://localhost:8000/v1/responses -o hi.ndjson.zst \\
          --data @request.json -H 'X-Trace: 1' --auth-env OPENAI_API_KEY
    """
    pairs = [_parse_header(h) for h in headers]
    body: bytes | None = None
    if data is not None:
        body = Path(data[1:]).read_bytes() if data.startswith("@") else data.encode()
        if not any(n.lower() == "content-type" for n, _ in pairs):
            pairs.append(("Content-Type", "application/json"))
    if auth_env is not None:
        secret = os.environ.get(auth_env)
        if not secret:
            raise click.UsageError(f"--auth-env: environment variable {auth_env} is not set")
        pairs.append(("Authorization", f"Bearer {secret}"))
    writer = CassetteWriter(output, atomic=False)  # in place: readable while it records
    progress = _Progress(quiet)
    outcome: EndState = "complete"
    status = 0
    try:
        transport = RecordingTransport(httpx.HTTPTransport(), writer)
        with httpx.Client(transport=transport, timeout=httpx.Timeout(30.0, read=timeout)) as client:
            request = client.build_request(
                "POST" if body is not None else "GET", url, headers=pairs, content=body
            )
            try:
                response = client.send(request, stream=True)
            except httpx.TransportError as exc:  # no response at all: nothing worth a file
                writer.discard()
                Path(output).unlink(missing_ok=True)
                raise click.ClickException(
                    f"{url}: {str(exc) or type(exc).__name__}; no cassette written"
                ) from None
            try:
                status = response.status_code
                decoder = EventDecoder(strict=False)
                for chunk in response.iter_bytes():  # content-decoded; the cassette keeps raw
                    progress.update(chunk, len(decoder.feed(chunk)))
            except KeyboardInterrupt:
                outcome = "interrupted"
                writer.close()  # ends the open interaction as interrupted, not closed
            finally:
                response.close()
    except KeyboardInterrupt:
        outcome = "interrupted"
    finally:
        if not writer.closed:
            writer.close()
    progress.done(f"{outcome}, HTTP {status}, written to {output}")
    if outcome == "interrupted":
        sys.exit(130)
    if status >= 400:
        sys.exit(1)


# -- inspect ------------------------------------------------------------------------------------


def _load(path: str, strict: bool = True) -> Cassette:
    return Cassette.load(path, strict=strict)


def _print_summary(inter: Interaction, show_events: bool, show_timeline: bool) -> None:
    reading = read_exchange(inter)
    s = summarize(inter, reading)
    ok = s.outcome == "complete" and (s.status or 0) < 400 and not s.problems
    head = f"#{s.id} {s.method} {s.url}"
    echo(style(head, bold=True))
    outcome = s.outcome + (f" ({s.error})" if s.error else "")
    echo(f"  model      {s.model or '-'}")
    echo(
        f"  status     {s.status if s.status is not None else '-'}, "
        + style(outcome, fg="green" if ok else "red")
    )
    if s.note is not None:
        echo("  stream     " + style(s.note, fg="yellow"))
    if s.response_status is not None:
        failed = s.response_error is not None or s.response_status != "completed"
        detail = f" ({s.response_error})" if s.response_error else ""
        if s.http is not None:
            code = s.http.get("code") or s.http.get("type") or "error"
            detail = f" (HTTP {s.http['status']} {code}: {s.http.get('message', '')}"
            retry = s.http.get("retry_after")
            detail += f"; retry after {retry})" if retry else ")"
        resumed = ", resumed mid-response" if s.resumed else ""
        echo(
            "  response   "
            + style(s.response_status + detail + resumed, fg="red" if failed else "green")
        )
    if s.stopped is not None:
        echo(
            f"  stopped    the client stopped reading ({s.stopped['reason']}) at "
            f"{format_ns(s.stopped['offset_ns'])}, after {s.stopped['bytes']} bytes and "
            f"{s.stopped['events']} events; "
            + (
                "the stream's own end was not recorded"
                if s.response_status == "stopped"
                else f"the server's stream went on to {s.response_status}"
            )
        )
    echo(f"  chunks     {s.chunks} ({s.bytes} bytes), {s.events} events")
    echo(
        f"  timing     first byte {format_ms(s.ttfb_ms)}, first text {format_ms(s.first_text_ms)}, "
        f"duration {format_ms(s.duration_ms)}"
    )
    if s.client_chunks is not None:
        if s.client_chunks < s.chunks:
            where = f"stopped after chunk {s.client_chunks} of {s.chunks}"
        else:
            where = "took every chunk, finished"
        echo(f"  client     {where} at {format_ms(s.client_end_ms)} (wire times above)")
    if s.backpressure_ms:
        echo(f"  recorder   held back {format_ms(s.backpressure_ms)} by a client that lagged")
    if s.usage:
        cost = s.usage.get("cost")
        echo(
            f"  usage      {s.usage.get('input_tokens', 0)} in, "
            f"{s.usage.get('output_tokens', 0)} out, {s.usage.get('total_tokens', 0)} total"
            + (f", cost {cost}" if cost is not None else "")
        )
    if s.event_counts:
        echo("  events     " + ", ".join(f"{k} {v}" for k, v in s.event_counts.items()))
    for p in s.problems:
        echo(
            style(
                f"  problem    {p['kind']} at event {p['event']} "
                f"({format_ms(p['offset_ms'])}): "
                f"{p['message']}",
                fg="yellow",
            )
        )
    text_lines = s.output_text.splitlines()
    if text_lines:
        echo("  text       " + "\n             ".join(text_lines[:5]))
        if len(text_lines) > 5:
            echo(f"             ... ({len(text_lines) - 5} more lines)")
    # one write per block, not per event: the output path stays lean in long in-process loops
    if show_events:
        rows = [f"    {offset / 1e6:10.1f} ms  {event.type}\n" for offset, event in reading.timed]
        write("".join(rows))
    if show_timeline:
        width = min(shutil.get_terminal_size((80, 24)).columns - 4, 100)
        write("".join(f"  {line}\n" for line in timeline(inter, width=width)))


@cli.command()
@click.argument("path", metavar="CASSETTE", type=click.Path(exists=True, dir_okay=False))
@click.option("--events", "show_events", is_flag=True, help="List every event with its offset.")
@click.option("--timeline", "show_timeline", is_flag=True, help="Draw bytes per time bucket.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_handled
def inspect(path: str, show_events: bool, show_timeline: bool, as_json: bool) -> None:
    """Summarize each interaction: model, status, outcome, timing, events, usage, problems.

    \b
    Example:
      streamtape inspect cassettes/reasoning.ndjson.zst --timeline
    """
    cassette = _load(path, strict=False)
    if as_json:
        doc: dict[str, Any] = {
            "path": path,
            "truncated": cassette.truncated,
            "error": str(cassette.error) if cassette.error else None,
            "derived_from": [
                {"source": d.source, "sha256": d.sha256, "faults": d.faults}
                for d in (cassette.header.derived_from or [] if cassette.header else [])
            ],
            "interactions": [asdict(summarize(i)) for i in cassette],
            "joined": [
                {
                    "response_id": r.response.id if r.response else None,
                    "outcome": r.outcome,
                    "streams": r.streams,
                    "output_text": r.output_text,
                }
                for r in _joined(cassette)
            ],
        }
        if show_events:
            for entry, inter in zip(doc["interactions"], cassette, strict=True):
                entry["event_list"] = [
                    {"offset_ms": at / 1e6, "type": e.type} for at, e in timed_events(inter)
                ]
        echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    if cassette.header is not None:
        echo(
            f"{path}: recorded {cassette.header.recorded_at} with streamtape "
            f"{cassette.header.streamtape}, {len(cassette)} interaction(s)"
        )
        for step in cassette.header.derived_from or []:
            echo(
                f"  derived from {step.source} (sha256 {step.sha256[:16]}) with faults "
                + " ".join(step.faults)
            )
    for inter in cassette:
        _print_summary(inter, show_events, show_timeline)
    for r in _joined(cassette):
        first = (r.output_text.splitlines() or [""])[0]
        echo(
            f"joined: response {r.response.id if r.response else '-'} streamed over "
            f"{r.streams} interactions: {r.outcome}, {len(r.output_text)} chars of text"
            + (f": {first[:60]}" if first else "")
        )
    if cassette.truncated:
        echo(style(f"truncated: {cassette.error}", fg="red"), err=True)


def _joined(cassette: Cassette) -> list[StreamResult]:
    """The responses a resumed stream continued across interactions (`Tape.results()`)."""
    if len(cassette) < 2:
        return []
    return [r for r in read_exchanges(cassette) if r.streams > 1]


# -- replay -------------------------------------------------------------------------------------

ReplayOutput = Literal["raw", "events", "text"]
"""What ``streamtape replay`` writes: the raw body, each event's payload, or the output text."""


def _paced(inter: Interaction, speed: float | None) -> Iterator[tuple[int, bytes]]:
    """Yield (offset, decoded bytes), sleeping so chunks come at their offsets / speed."""
    start = time.perf_counter()
    for offset, data in inter.body_chunks():
        if speed is not None:
            delay = offset / 1e9 / speed - (time.perf_counter() - start)
            if delay > 0:
                time.sleep(delay)
        yield offset, data


@cli.command()
@click.argument("path", metavar="CASSETTE", type=click.Path(exists=True, dir_okay=False))
@pacing
@click.option("--raw", "mode", flag_value="raw", default=True, help="Raw SSE bytes (default).")
@click.option(
    "--events", "mode", flag_value="events", help="Each event's payload as sent, one per line."
)
@click.option("--text", "mode", flag_value="text", help="Only the output text.")
@fault_option
@_handled
def replay(
    path: str, speed: float, instant: bool, mode: ReplayOutput, fault_specs: tuple[str, ...]
) -> None:
    """Re-emit the recorded streams to stdout with their original timing (with faults: as a
    client would meet them; what comes before a stream and how it broke go to stderr).

    --text prints the text `inspect` shows: live as it streams, except that text a resumed
    stream lacks the beginning of is printed once the stream has given it whole.

    \b
    Example:
      streamtape replay cassettes/text-answer.ndjson.zst --speed 4 --text
      streamtape replay cassettes/text-answer.ndjson.zst --fault disconnect:after_events=5
    """
    cassette = _load(path)
    out: BinaryIO = sys.stdout.buffer
    for inter, before in faulted(cassette.interactions, parse_faults(fault_specs)):
        if before:  # an answer to an earlier attempt (http_status)
            head = inter.response
            assert head is not None
            echo(f"HTTP {head.status} {head.reason}: {inter.body.decode()}", err=True)
            continue
        decoder = EventDecoder(strict=False)
        follower = TextFollower()
        for _, data in _paced(inter, None if instant else speed):
            if mode == "raw":
                out.write(data)
            elif mode == "events":
                out.writelines(payload + b"\n" for _, payload in decoder.feed_raw(data))
            else:
                out.writelines(follower.feed(e).encode() for e in decoder.feed(data))
            out.flush()
        if mode == "events":
            out.writelines(payload + b"\n" for _, payload in decoder.close_raw())
        if mode == "text":
            out.writelines(follower.feed(e).encode() for e in decoder.close())
            final = "".join(r.output_text for r in read_exchange(inter).results)
            rest = follower.rest(final)
            if rest is None:
                echo(
                    f"\ninteraction {inter.id}: the streamed text differs from the final text; "
                    "`streamtape inspect` shows the final text and the problem",
                    err=True,
                )
            else:
                out.write(rest.encode())
            out.write(b"\n")
        out.flush()
        if fault_specs and inter.end is not None and inter.end.error is not None:
            error = inter.end.error
            echo(f"stream broke: {error.type}: {error.message}", err=True)


# -- cat ----------------------------------------------------------------------------------------


@cli.command()
@click.argument("cassette", type=click.Path(exists=True, dir_okay=False))
@_handled
def cat(cassette: str) -> None:
    """Print a cassette as deterministic text (for git diffs).

    \b
    Example (git textconv):
      git config diff.streamtape.textconv "streamtape cat"
      echo '*.ndjson.zst diff=streamtape' >> .gitattributes
    """
    write(render_cat(_load(cassette, strict=False)))


# -- verify -------------------------------------------------------------------------------------


@cli.command()
@click.argument("cassettes", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_handled
def verify(cassettes: tuple[str, ...], as_json: bool) -> None:
    """Check cassettes: integrity (not truncated or corrupt) and protocol problems in streams.

    Interrupted or failed streams are reported but are not problems. Exits 1 when any problem
    is found, naming the file, interaction and offset.

    \b
    Example:
      streamtape verify cassettes/*.ndjson.zst
    """
    problems: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    for path in cassettes:
        try:
            cassette = Cassette.load(path)
        except StreamtapeError as exc:
            problems.append(
                {
                    "file": path,
                    "interaction": None,
                    "offset_ms": None,
                    "kind": "damaged",
                    "message": str(exc),
                }
            )
            continue
        for inter in cassette:
            s = summarize(inter)
            if s.outcome != "complete":
                notes.append(
                    {"file": path, "interaction": s.id, "outcome": s.outcome, "error": s.error}
                )
            if s.note is not None:  # another SSE dialect: not ours to judge
                notes.append({"file": path, "interaction": s.id, "outcome": s.note, "error": None})
            elif s.response_status in ("http_error", "stopped"):
                notes.append(
                    {
                        "file": path,
                        "interaction": s.id,
                        "outcome": s.response_status,
                        "error": s.response_error,
                    }
                )
            for p in s.problems:
                problems.append(
                    {
                        "file": path,
                        "interaction": s.id,
                        "offset_ms": p["offset_ms"],
                        "kind": p["kind"],
                        "message": p["message"],
                    }
                )
    if as_json:
        echo(json.dumps({"ok": not problems, "problems": problems, "notes": notes}, indent=2))
    else:
        for n in notes:
            echo(
                f"{n['file']}: interaction {n['interaction']}: {n['outcome']}"
                + (f" ({n['error']})" if n["error"] else "")
            )
        for p in problems:
            parts = [p["file"]]
            if p["interaction"] is not None:
                parts.append(f"interaction {p['interaction']}")
            if p["offset_ms"] is not None:
                parts.append(f"at {p['offset_ms']:.1f} ms")
            echo(f"{': '.join(parts)}: {p['kind']}: {p['message']}", err=True)
        if not problems:
            echo(style(f"{len(cassettes)} cassette(s) ok", fg="green"))
    if problems:
        sys.exit(1)


# -- convert ------------------------------------------------------------------------------------

ConvertTarget = Literal["cassette", "sse", "ndjson"]
"""What ``streamtape convert --to`` writes."""


def _is_cassette(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            return file.read(4) == _ZSTD_MAGIC
    except OSError:
        return False


@cli.command()
@click.argument("src", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="File to write."
)
@click.option(
    "--to",
    "to",
    type=click.Choice(get_args(ConvertTarget)),
    default=None,
    help="Output format (default: cassette from YAML).",
)
@click.option(
    "--interaction",
    type=click.IntRange(min=1),
    default=None,
    help="With --to sse: only this interaction's body, written to OUTPUT.",
)
@_handled
def convert(src: str, output: str, to: ConvertTarget | None, interaction: int | None) -> None:
    """Import a vcrpy / go-vcr YAML cassette, or export a cassette's SSE bodies or payloads.

    --to sse writes each SSE body to a file of its own (OUTPUT itself when there is one, else
    OUTPUT with the interaction id before its suffix: out.1.sse, out.3.sse) and says which
    interactions it skipped (JSON answers, audio). --to ndjson writes every event's payload as
    sent, one per line.

    \b
    Examples:
      streamtape convert tests/cassettes/test_chat.yaml -o test_chat.ndjson.zst
      streamtape convert chat.ndjson.zst --to ndjson -o events.jsonl
      streamtape convert chat.ndjson.zst --to sse --interaction 2 -o stream.sse
    """
    source = Path(src)
    if interaction is not None and to != "sse":
        raise click.UsageError("--interaction goes with --to sse")
    if _is_cassette(source):
        if to == "sse":
            for done in export_sse(source, output, interaction):
                if done.path is None:
                    echo(
                        f"skipped interaction {done.id}: {done.skipped}, {done.bytes} bytes",
                        err=True,
                    )
                else:
                    echo(
                        f"wrote interaction {done.id} ({done.bytes} bytes) to {done.path}",
                        err=True,
                    )
            return
        if to != "ndjson":
            raise click.UsageError("SRC is a cassette already: use --to sse or --to ndjson")
        count = export(source, output, "ndjson")
        echo(f"wrote {count} event(s) to {output}", err=True)
        return
    if to not in (None, "cassette"):
        raise click.UsageError("--to sse/ndjson needs a cassette as SRC")
    count = convert_yaml(source, output)
    echo(f"converted {count} interaction(s) to {output}", err=True)


# -- scan ---------------------------------------------------------------------------------------


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_handled
def scan(paths: tuple[str, ...], as_json: bool) -> None:
    """Look for API keys and unredacted credential headers in cassettes under PATHs (exit 1 if
    any is found).

    \b
    Example:
      streamtape scan tests/cassettes
    """
    files: list[Path] = []
    for given in paths:
        root = Path(given)
        candidates = sorted(root.rglob("*")) if root.is_dir() else [root]
        files += [p for p in candidates if p.is_file() and _is_cassette(p)]
    findings: list[dict[str, Any]] = []
    unreadable: list[dict[str, str]] = []
    for file in files:
        try:
            for number, what in secrets_in(file):
                findings.append({"file": str(file), "record": number, "finding": what})
        except StreamtapeError as exc:
            unreadable.append({"file": str(file), "error": str(exc)})
    if as_json:
        echo(
            json.dumps(
                {"scanned": len(files), "findings": findings, "unreadable": unreadable}, indent=2
            )
        )
    else:
        for f in findings:
            echo(f"{f['file']}: record {f['record']}: {f['finding']}")
        for u in unreadable:
            echo(f"{u['file']}: unreadable: {u['error']}", err=True)
        echo(f"scanned {len(files)} cassette(s), {len(findings)} finding(s)", err=True)
    if findings:
        sys.exit(1)


# -- bench --------------------------------------------------------------------------------------


@cli.command()
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Timed runs per decoder and input.",
)
@click.option(
    "--against",
    multiple=True,
    help="Compare with these decoders, comma-separated or repeated (default: all of them; "
    "an unknown name lists the known ones).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_handled
def bench(files: tuple[Path, ...], repeat: int, against: tuple[str, ...], as_json: bool) -> None:
    """Time streamtape's decoder against other SSE decoders on cassettes or SSE files.

    With no FILES: the cassettes in ./cassettes (the examples, in a clone of the repository)
    and a generated stream.

    \b
    Example:
      streamtape bench cassettes/*.ndjson.zst --against openai --repeat 3
    """
    from streamtape import bench as bench_mod  # the harness loads only for this command

    if files:
        inputs = [bench_mod.load_input(f) for f in files]
    else:
        inputs = bench_mod.default_inputs(sorted(Path("cassettes").glob("*.ndjson.zst")))
    progress = bench_mod.stderr_progress() if sys.stderr.isatty() else None
    names = [name.strip() for value in against for name in value.split(",") if name.strip()]
    report = bench_mod.run_bench(inputs, repeat=repeat, against=names or None, progress=progress)
    echo(bench_mod.render_json(report) if as_json else bench_mod.render_table(report))
    if report.failures:
        sys.exit(1)


cli.add_command(serve)
cli.add_command(proxy)
cli.add_command(mutate)
cli.add_command(report)
cli.add_command(diff)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="streamtape")
