"""``agentdesk incidents``: recorded runs out as OTLP JSON, production traces in.

``export`` reads a recorded run back from the store (``runs show`` names runs the same way)
and writes it as an OTLP JSON trace for any collector or backend; ``import`` reads an OTLP
JSON file (one request, or the collector's JSON Lines), checks all of it and prints what it
holds. Keeping incidents in the store comes with the bundle format; until then ``import``
stores nothing. Everything read from a trace is printed as plain text, never as markup.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich import box
from rich.table import Table
from rich.text import Text

from agentdesk.cli.console import errors_reported, stdout, workspace_option
from agentdesk.cli.runs import db_option

if TYPE_CHECKING:
    from collections.abc import Iterator

    from agentdesk.incidents.trace import ImportedTrace, TraceSpan
    from agentdesk.store.queries import RecordedRun
    from agentdesk.store.redaction import Redactor


@click.group()
def incidents() -> None:
    """Export recorded runs as OTLP JSON traces, and import traces from production."""


@incidents.command("export")
@click.argument("run_id", metavar="RUN")
@click.option(
    "--otlp",
    "target",
    required=True,
    metavar="FILE",
    help="Write the run as an OTLP JSON trace to FILE (- for stdout).",
)
@click.option(
    "--no-content",
    is_flag=True,
    help="Leave out inputs, outputs and model answers (ids, timings, tokens and errors stay).",
)
@workspace_option
@db_option
def export(
    run_id: str, target: str, no_content: bool, workspace: Path | None, db: str | None
) -> None:
    """Write a recorded run as OTLP JSON: RUN is a run id, BATCH/RUN, or a prefix."""
    with errors_reported():
        from agentdesk.incidents.otlp import export_otlp, write_otlp
        from agentdesk.simulation import find_workspace
        from agentdesk.store import locate, open_engine
        from agentdesk.store.queries import find_run, run_events

        root = find_workspace(workspace)
        engine = open_engine(locate(root, db))
        try:
            run = find_run(engine, run_id)
            events, _ = run_events(engine, run)
        finally:
            engine.dispose()
        request = export_otlp(
            events, redactor=_redactor(root), content=not no_content, **_clock(run)
        )
        if target == "-":
            write_otlp(request, sys.stdout.buffer)
            return
        write_otlp(request, Path(target))
        spans = sum(len(s["spans"]) for r in request["resourceSpans"] for s in r["scopeSpans"])
        stdout.print(Text(f"exported run {run.ref} ({spans} spans) to {target} as OTLP JSON"))


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
@click.option("--json", "as_json", is_flag=True, help="Print what the file holds as JSON.")
def import_(file: str, as_json: bool) -> None:
    """Read an OTLP JSON trace file (- for stdin), check all of it, and say what it holds."""
    with errors_reported():
        from agentdesk.incidents.otlp import import_otlp

        if file == "-":
            trace = import_otlp(sys.stdin.buffer, name="<stdin>")
        else:
            trace = import_otlp(Path(file))
        if as_json:
            click.echo(json.dumps(_as_json(trace), indent=2, ensure_ascii=False))
        else:
            stdout.print(_summary(trace))
            stdout.print(_runs_table(trace))


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
    text.append("\nchecked; nothing stored (incident bundles come later)", style="dim")
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
