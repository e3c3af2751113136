"""``agentdesk incidents``: recorded runs kept as incidents, bundles out and in, OTLP JSON.

``save`` turns recorded runs (named as ``runs show`` names them) into an incident bundle kept
in the store; ``list`` and ``show`` read them back; ``export ID FILE`` writes a bundle file
(``--otlp`` writes a run or an incident as an OTLP JSON trace instead); ``import FILE`` takes
a bundle (checked whole, then stored) or an OTLP JSON trace (made into an incident by
``incidents.from_trace``, then stored; ``--dry-run`` only checks and summarises). The
format: ``docs/incidents.md``. Everything read from a file is printed as plain text, never
as markup.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich import box
from rich.table import Table
from rich.text import Text

from agentdesk.cli.console import errors_reported, stdout, workspace_option
from agentdesk.cli.runs import db_option
from agentdesk.errors import AgentdeskError


class IncidentsError(AgentdeskError):
    """A file the command cannot write (exit code 2)."""

    exit_code = 2


if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy import Engine

    from agentdesk.incidents.bundle import Bundle
    from agentdesk.incidents.trace import ImportedTrace, TraceSpan
    from agentdesk.store.queries import RecordedRun
    from agentdesk.store.redaction import Redactor


@click.group()
def incidents() -> None:
    """Keep recorded runs as incidents; export and import bundles and OTLP JSON traces."""


@incidents.command("save")
@click.argument("runs", metavar="[RUN…]", nargs=-1)
@click.option(
    "--failed",
    "batch",
    metavar="BATCH",
    help="Every run of this recording that did not complete (e.g. a load test's failures).",
)
@click.option(
    "--first",
    type=click.IntRange(1),
    help="With --failed: only the first N failures to finish (a smaller incident).",
)
@click.option("--title", help="What the incident is called (default: made from its runs).")
@click.option("--json", "as_json", is_flag=True, help="Print the saved incident as JSON.")
@workspace_option
@db_option
def save(
    runs: tuple[str, ...],
    batch: str | None,
    first: int | None,
    title: str | None,
    as_json: bool,
    workspace: Path | None,
    db: str | None,
) -> None:
    """Save recorded runs (ids, BATCH/RUN or prefixes; one recording) as an incident."""
    with errors_reported():
        from agentdesk.store.incidents import failed_runs, save_incident

        if not runs and batch is None:
            raise click.UsageError("name the runs to save, or --failed BATCH")
        if first is not None and batch is None:
            raise click.UsageError("--first goes with --failed BATCH")
        with _store(workspace, db) as engine:
            refs = list(runs) + ([] if batch is None else failed_runs(engine, batch, first))
            bundle = save_incident(engine, refs, title or "")
        if as_json:
            click.echo(json.dumps(_bundle_json(bundle), indent=2, ensure_ascii=False))
            return
        text = Text(f"saved incident {bundle.id}: ", style="bold")
        text.append(bundle.title, style="")
        text.append(
            f"\n{len(bundle.focus)} run(s) ({len(bundle.runs) - len(bundle.focus)} more as "
            f"context), {len(bundle.events)} events, {len(bundle.tape)} calls on the tape",
            style="dim",
        )
        text.append(f"\nreplay it: agentdesk replay {bundle.id}", style="dim")
        stdout.print(text)


@incidents.command("list")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@workspace_option
@db_option
def list_(limit: int, as_json: bool, workspace: Path | None, db: str | None) -> None:
    """Saved and imported incidents, newest first."""
    with errors_reported():
        from agentdesk.store.incidents import list_incidents

        with _store(workspace, db) as engine:
            found = list_incidents(engine, limit)
        if as_json:
            click.echo(json.dumps([i.to_json() for i in found], indent=2, ensure_ascii=False))
            return
        if not found:
            stdout.print(Text("no incidents yet: agentdesk incidents save RUN…", style="dim"))
            return
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        for column in ("id", "saved", "title", "runs", "failed", "events", "calls"):
            table.add_column(
                column,
                justify="right" if column in ("runs", "failed", "events", "calls") else "left",
            )
        for info in found:
            table.add_row(
                info.id,
                info.created.strftime("%Y-%m-%d %H:%M"),
                Text(info.title),
                str(info.runs),
                Text(str(info.failed), style="red" if info.failed else ""),
                str(info.events),
                str(info.tape),
            )
        stdout.print(table)


@incidents.command("show")
@click.argument("incident", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the incident as JSON.")
@workspace_option
@db_option
def show(incident: str, as_json: bool, workspace: Path | None, db: str | None) -> None:
    """One incident: its runs, files, tape, and what happened (as `run` prints it)."""
    with errors_reported():
        from agentdesk.incidents.replay import recorded_summary
        from agentdesk.reports import run_summary
        from agentdesk.store.incidents import load_incident

        with _store(workspace, db) as engine:
            bundle = load_incident(engine, incident)
        if as_json:
            click.echo(json.dumps(_bundle_json(bundle), indent=2, ensure_ascii=False))
            return
        stdout.print(_bundle_header(bundle))
        stdout.print(_runs_of(bundle))
        focus = {r.run_id for r in bundle.focus}
        title = f"{bundle.pipeline} · scenario {bundle.scenario} · seed {bundle.seed}"
        stdout.print(
            run_summary(recorded_summary(bundle, focus), title, real_clock=bundle.real_clock)
        )


@incidents.command("export")
@click.argument("ref", metavar="ID")
@click.argument("file", metavar="FILE", required=False)
@click.option(
    "--otlp",
    "target",
    metavar="FILE",
    help="Write an OTLP JSON trace to FILE (- for stdout) instead of a bundle; ID may then "
    "also be a recorded run (RUN, BATCH/RUN or a prefix).",
)
@click.option(
    "--no-content",
    is_flag=True,
    help="OTLP: leave out inputs, outputs and model answers (ids, timings, tokens and errors "
    "stay).",
)
@workspace_option
@db_option
def export(
    ref: str,
    file: str | None,
    target: str | None,
    no_content: bool,
    workspace: Path | None,
    db: str | None,
) -> None:
    """Write incident ID as a bundle FILE (- for stdout), or with --otlp as OTLP JSON."""
    with errors_reported():
        if target is None:
            if file is None:
                raise click.UsageError("give a FILE for the bundle, or --otlp FILE")
            _export_bundle(ref, file, workspace, db)
            return
        from agentdesk.incidents.otlp import export_otlp, write_otlp
        from agentdesk.simulation import find_workspace

        root = find_workspace(workspace)
        events, clock, name = _events_of(ref, root, db)
        request = export_otlp(events, redactor=_redactor(root), content=not no_content, **clock)
        if target == "-":
            write_otlp(request, sys.stdout.buffer)
            return
        write_otlp(request, Path(target))
        spans = sum(len(s["spans"]) for r in request["resourceSpans"] for s in r["scopeSpans"])
        stdout.print(Text(f"exported {name} ({spans} spans) to {target} as OTLP JSON"))


@contextmanager
def _store(workspace: Path | None, db: str | None) -> Iterator[Engine]:
    """The workspace's store (or ``--db``), disposed of when the block ends."""
    from agentdesk.simulation import find_workspace
    from agentdesk.store import locate, open_engine

    engine = open_engine(locate(find_workspace(workspace), db))
    try:
        yield engine
    finally:
        engine.dispose()


def _export_bundle(ref: str, file: str, workspace: Path | None, db: str | None) -> None:
    from agentdesk.store.incidents import incident_bytes

    with _store(workspace, db) as engine:
        info, data = incident_bytes(engine, ref)
    if file == "-":
        sys.stdout.buffer.write(data)
        return
    try:
        Path(file).write_bytes(data)
    except OSError as exc:
        raise IncidentsError(f"{file}: cannot write: {exc.strerror}") from exc
    stdout.print(Text(f"exported incident {info.id} to {file} ({len(data):,} bytes)"))


def _events_of(ref: str, root: Path, db: str | None) -> tuple[list[Any], dict[str, Any], str]:
    """An incident's events (ID) or a recorded run's, with its clock for OTLP times."""
    from datetime import datetime

    from agentdesk.store.incidents import UnknownIncident, load_incident
    from agentdesk.store.queries import find_run, run_events

    with _store(root, db) as engine:
        if ref.startswith("inc-"):
            try:
                bundle = load_incident(engine, ref)
            except UnknownIncident:
                pass
            else:
                start = datetime.fromisoformat(bundle.recorded) if bundle.recorded else None
                epoch = round(start.timestamp() * 1e9) if start else 0
                clock = {"epoch_ns": epoch, "origin": 0.0}
                return bundle.decoded_events(), clock, f"incident {bundle.id}"
        run = find_run(engine, ref)
        events, _ = run_events(engine, run)
        return events, _clock(run), f"run {run.ref}"


def _clock(run: RecordedRun) -> dict[str, Any]:
    """Loop time → wall time: a virtual clock starts at 0 when the batch is created; a real
    clock's zero means nothing, so the run's first event is put at the batch's creation."""
    epoch_ns = round(run.recorded.timestamp() * 1e9)
    return {"epoch_ns": epoch_ns} if run.real_clock else {"epoch_ns": epoch_ns, "origin": 0.0}


def _redactor(root: Path) -> Redactor:
    """The workspace's redaction (what the recording used, plus today's API keys)."""
    from agentdesk.spec.loader import load_workspace
    from agentdesk.store import redactor_for

    return redactor_for(load_workspace(root, strict=False).spec, os.environ)


@incidents.command("import")
@click.argument("file", metavar="FILE")
@click.option("--json", "as_json", is_flag=True, help="Print what was imported as JSON.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="OTLP: check and summarise the trace; store nothing.",
)
@click.option("--title", help="OTLP: what the incident is called (default: from its roots).")
@workspace_option
@db_option
def import_(
    file: str,
    as_json: bool,
    dry_run: bool,
    title: str | None,
    workspace: Path | None,
    db: str | None,
) -> None:
    """Import an incident bundle (checked whole, then stored) or an OTLP JSON trace (made into
    a replayable incident, then stored); - reads stdin. Which one is told from the file's
    first line."""
    with errors_reported():
        from agentdesk.incidents.bundle import is_bundle, read_bundle

        data = sys.stdin.buffer.read() if file == "-" else None
        name = "<stdin>" if file == "-" else file
        head = data[:512] if data is not None else _head(Path(file))
        if is_bundle(head):
            bundle = read_bundle(data if data is not None else Path(file), name=name)
            if not dry_run:
                _store_imported(bundle, name, as_json, workspace, db)
            elif as_json:
                click.echo(json.dumps(_bundle_json(bundle), indent=2, ensure_ascii=False))
            else:
                stdout.print(_bundle_header(bundle))
            return
        trace = _read_trace(data, name)
        if dry_run:
            _show_trace(trace, as_json)
            return
        _store_trace(trace, title or "", as_json, workspace, db)


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(512)
    except OSError:
        return b""  # the trace reader reports what is wrong with the file


def _store_imported(
    bundle: Bundle, name: str, as_json: bool, workspace: Path | None, db: str | None
) -> None:
    from agentdesk.store.incidents import store_bundle

    with _store(workspace, db) as engine:
        new = store_bundle(engine, bundle)
    if as_json:
        click.echo(json.dumps({**_bundle_json(bundle), "new": new}, indent=2, ensure_ascii=False))
        return
    verb = "imported" if new else "already had"
    text = Text(f"{verb} incident {bundle.id} from {name}: ", style="bold")
    text.append(bundle.title, style="")
    if bundle.source == "otlp":
        text.append(
            f"\n{len(bundle.runs)} run(s), {len(bundle.events)} events, {len(bundle.tape)} "
            "calls on the tape (made from the trace's spans)",
            style="dim",
        )
        for note in bundle.notes:
            text.append(f"\n  {note}", style="dim")
    text.append(f"\nreplay it: agentdesk replay {bundle.id}", style="dim")
    stdout.print(text)


def _read_trace(data: bytes | None, name: str) -> ImportedTrace:
    import io

    from agentdesk.incidents.otlp import import_otlp

    if data is not None:
        return import_otlp(io.BytesIO(data), name=name)
    return import_otlp(Path(name))


def _store_trace(
    trace: ImportedTrace, title: str, as_json: bool, workspace: Path | None, db: str | None
) -> None:
    """The trace made into an incident (workspace, pipeline and tape from its spans, one run
    on that tape for the recorded events), redacted by the workspace's rules, stored."""
    from agentdesk.incidents.from_trace import incident_from_trace
    from agentdesk.simulation import find_workspace
    from agentdesk.spec.loader import load_workspace
    from agentdesk.store import redactor_for

    spec = load_workspace(find_workspace(workspace), strict=False).spec
    redactor = redactor_for(spec, os.environ)
    store = spec.store.model_dump(mode="json")
    bundle = incident_from_trace(trace, redactor=redactor, title=title, store=store)
    _store_imported(bundle, trace.source, as_json, workspace, db)


def _show_trace(trace: ImportedTrace, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(_as_json(trace), indent=2, ensure_ascii=False))
    else:
        stdout.print(_summary(trace))
        stdout.print(_runs_table(trace))


def _bundle_json(bundle: Bundle) -> dict[str, Any]:
    return {
        "id": bundle.id,
        "title": bundle.title,
        "source": bundle.source,
        "recorded": bundle.recorded,
        "pipeline": bundle.pipeline,
        "scenario": bundle.scenario,
        "seed": bundle.seed,
        "concurrency": bundle.concurrency,
        "release": bundle.release,
        "files": sorted(bundle.files),
        "runs": [
            {
                "run_id": r.run_id,
                "session": r.session,
                "focus": r.focus,
                "status": r.status,
                "stop_reason": r.stop_reason,
            }
            for r in bundle.runs
        ],
        "events": len(bundle.events),
        "tape": len(bundle.tape),
        "notes": list(bundle.notes),
    }


def _bundle_header(bundle: Bundle) -> Text:
    text = Text(f"incident {bundle.id}: ", style="bold")
    text.append(bundle.title, style="")
    text.append(
        f"\n{bundle.pipeline} · scenario {bundle.scenario} · seed {bundle.seed} · "
        f"concurrency {bundle.concurrency} · release {bundle.release[:12]}",
        style="dim",
    )
    text.append(
        f"\n{len(bundle.files)} files · {len(bundle.events)} events · "
        f"{len(bundle.tape)} calls on the tape · recorded {bundle.recorded or '-'}",
        style="dim",
    )
    if bundle.source != "recorded":
        text.append(f"\nsource {bundle.source}", style="dim")
    for note in bundle.notes:
        text.append(f"\n  {note}", style="dim")
    return text


def _runs_of(bundle: Bundle) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for column in ("session", "run", "status", "stop reason", ""):
        table.add_column(column)
    for run in bundle.runs:
        style = "green" if run.status == "ok" else "red"
        table.add_row(
            str(run.session),
            run.run_id,
            Text(run.status, style=style),
            Text(run.stop_reason),
            "" if run.focus else Text("context", style="dim"),
        )
    return table


def _as_json(trace: ImportedTrace) -> dict[str, Any]:
    runs = [
        {
            "trace_id": root.trace_id,
            "span_id": root.span_id,
            "name": root.name,
            "status": root.status,
            "duration": root.duration,
        }
        for root in trace.roots()
    ]
    return {"file": trace.source, **trace.totals().to_json(), "roots": runs}


def _summary(trace: ImportedTrace) -> Text:
    totals = trace.totals()
    text = Text(f"{trace.source}: ", style="bold")
    text.append(f"{totals.traces} trace(s), {totals.spans} spans, {totals.runs} root(s)")
    text.append(f"\nmodel calls {totals.llm_calls} · tool calls {totals.tool_calls}")
    text.append(f" · failed calls {totals.failed_calls}")
    text.append(f"\ntokens {totals.input_tokens:,} in / {totals.output_tokens:,} out")
    if totals.cost_usd:
        text.append(f" · ${totals.cost_usd:.4f}")
    if totals.models:
        text.append("\nmodels " + ", ".join(f"{m} ×{n}" for m, n in totals.models.items()))
    text.append(
        "\nchecked; nothing stored (--dry-run): without it the trace becomes an incident",
        style="dim",
    )
    return text


def _runs_table(trace: ImportedTrace) -> Table:
    from agentdesk.reports import ms

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for column in ("trace", "root span", "status", "spans", "took"):
        table.add_column(column, justify="right" if column in ("spans", "took") else "left")
    for root in trace.roots():
        spans = sum(1 for _ in _subtree(trace, root))
        style = {"error": "red", "ok": "green"}.get(root.status, "")
        table.add_row(
            root.trace_id[:12],
            Text(root.name),
            Text(root.status, style=style),
            str(spans),
            ms(root.duration),
        )
    return table


def _subtree(trace: ImportedTrace, root: TraceSpan) -> Iterator[TraceSpan]:
    stack = [root]
    while stack:
        span = stack.pop()
        yield span
        stack.extend(trace.children(span))
