"""``agentdesk runs``: the recorded runs, and one of them printed as ``run`` printed it.

``runs show`` folds the stored events back through the same ``RunSummary`` and renders them
with the same ``reports.run_summary`` as ``run``, so a stored run and a live one cannot
disagree. ``Recording`` (used by ``run``) opens the store and starts the recorder; both
commands take the same ``--db`` option.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich import box
from rich.table import Table
from rich.text import Text

from agentdesk.cli.console import errors_reported, stdout, workspace_option
from agentdesk.reports import dollars

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from agentdesk.simulation import Simulation
    from agentdesk.store import Recorder, StoreLocation
    from agentdesk.store.incidents import TapeWriter
    from agentdesk.store.queries import RecordedRun, Totals

db_option = click.option(
    "--db",
    metavar="URL",
    help="The store: a SQLAlchemy URL (sqlite:///FILE, postgresql+psycopg://…) or a SQLite "
    "file (default: $AGENTDESK_DB, else WORKSPACE/.agentdesk/agentdesk.db).",
)


@dataclass
class Recording:
    """One command's recording (``run``, ``load --record``): where it goes, the recorder feeding
    it and the tape beside it."""

    location: StoreLocation
    engine: Engine
    recorder: Recorder
    tape: TapeWriter | None = None
    failure: str = ""

    @classmethod
    def start(cls, sim: Simulation, db: str | None) -> Recording:
        """Open the store (or fail with a clear error before anything runs) and start recording."""
        from agentdesk.store import Recorder, locate, new_batch, open_engine, redactor_for

        root = sim.workspace.root
        location = locate(root, db)
        engine = open_engine(location)
        batch = new_batch(root, sim.pipeline.spec.name, sim.scenario_name, sim.seed, sim.real_clock)
        redactor = redactor_for(sim.workspace.spec, os.environ)
        recorder = Recorder(engine, batch, redactor, pipeline=sim.pipeline, writer="auto")
        return cls(location, engine, recorder)

    def keep_tape(self, sim: Simulation, load: dict[str, Any] | None = None) -> TapeWriter:
        """Keep every downstream call beside the runs, so any run can be saved as an incident
        (``agentdesk incidents save``) and replayed; ``load``: the traffic that drove them."""
        from agentdesk.store import redactor_for
        from agentdesk.store.incidents import TapeWriter

        redactor = redactor_for(sim.workspace.spec, os.environ)
        self.tape = TapeWriter(self.engine, self.recorder.batch_id, sim, redactor, load)
        return self.tape

    def close(self, concurrency: int = 1) -> None:
        """Flush the tape and the runs, and stop; a store that failed mid-way is reported, the
        runs' summary still is."""
        from agentdesk.store import StoreError

        try:
            if self.tape is not None:
                self.tape.close(concurrency)
        except StoreError as exc:
            self.failure = str(exc)
        try:
            self.recorder.close()
        except StoreError as exc:
            self.failure = str(exc)
        finally:
            self.engine.dispose()

    def describe(self) -> Text:
        text = Text("recorded in ", style="dim")
        text.append(self.location.describe())
        text.append(f" · batch {self.recorder.batch_id} · ", style="dim")
        text.append(f"{self.recorder.acknowledged} run(s) acknowledged", style="dim")
        if self.location.note:
            text.append(f" ({self.location.note})", style="yellow")
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "store": self.location.describe(),
            "batch": self.recorder.batch_id,
            "acknowledged": self.recorder.acknowledged,
            "note": self.location.note,
        }


@click.group(invoke_without_command=True)
@workspace_option
@db_option
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True)
@click.option("--pipeline", help="Only runs of this pipeline.")
@click.option("--failed", is_flag=True, help="Only runs that did not complete.")
@click.option(
    "--by",
    type=click.Choice(["pipeline", "scenario", "release"]),
    help="Totals (runs, failures, tokens, cost, retries) per pipeline, scenario or release.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@click.pass_context
def runs(
    ctx: click.Context,
    workspace: Path | None,
    db: str | None,
    limit: int,
    pipeline: str | None,
    failed: bool,
    by: str | None,
    as_json: bool,
) -> None:
    """Recorded runs, newest first (`agentdesk runs show ID` prints one)."""
    if ctx.invoked_subcommand is not None:
        return
    with errors_reported():
        from agentdesk.store.queries import list_runs, totals_by

        engine = _open(workspace, db)
        try:
            if by is not None:
                totals = totals_by(engine, by, pipeline)
                if as_json:
                    click.echo(json.dumps([t.to_json() for t in totals], indent=2))
                else:
                    stdout.print(_totals_table(totals, by) if totals else "no recorded runs")
                return
            found = list_runs(engine, limit, pipeline, failed)
        finally:
            engine.dispose()
        if as_json:
            click.echo(json.dumps([r.to_json() for r in found], indent=2))
        elif not found:
            stdout.print("no recorded runs" + (" match" if pipeline or failed else ""))
        else:
            stdout.print(_runs_table(found))


@runs.command("show")
@click.argument("run_id", metavar="ID")
@workspace_option
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def show(run_id: str, workspace: Path | None, db: str | None, as_json: bool) -> None:
    """Print a recorded run: ID is a run id (its latest recording), BATCH/RUN, or a prefix."""
    with errors_reported():
        from agentdesk.projections.summary import RunSummary
        from agentdesk.reports import run_summary
        from agentdesk.store.queries import find_run, run_events

        engine = _open(workspace, db)
        try:
            run = find_run(engine, run_id)
            events, unknown = run_events(engine, run)
        finally:
            engine.dispose()
        summary = RunSummary()
        for event in events:
            summary.apply(event)
        if as_json:
            identity = {"ref": run.ref, "recorded": run.recorded.isoformat()}
            report = {**identity, "pipeline": run.pipeline, "scenario": run.scenario}
            click.echo(json.dumps({**report, "seed": run.seed, **summary.to_json()}, indent=2))
            return
        stdout.print(_show_header(run, unknown))
        stdout.print(run_summary(summary, _title(run), real_clock=run.real_clock))


def _open(workspace: Path | None, db: str | None) -> Engine:
    from agentdesk.simulation import find_workspace
    from agentdesk.store import locate, open_engine

    return open_engine(locate(find_workspace(workspace), db))


def _title(run: RecordedRun) -> str:
    """The title ``run`` printed for the batch this run belongs to."""
    clock = "real clock" if run.real_clock else "virtual clock"
    return f"{run.pipeline} · scenario {run.scenario} · seed {run.seed} · {clock}"


def _show_header(run: RecordedRun, unknown: int) -> Text:
    text = Text(f"run {run.ref} · session {run.session} · recorded {_when(run)}", style="dim")
    if run.status == "running":
        text.append("\nthe recording ended before this run finished", style="yellow")
    if unknown:
        text.append(
            f"\n{unknown} event(s) of types this agentdesk does not know were skipped",
            style="yellow",
        )
    return text


def _when(run: RecordedRun) -> str:
    return run.recorded.astimezone().strftime("%Y-%m-%d %H:%M:%S")


_OUTCOME_STYLE = {"ok": "green", "failed": "red", "stopped": "yellow", "running": "dim"}


def _runs_table(found: list[RecordedRun]) -> Table:
    """One run per two lines, so it fits 80 columns; long text folds, the id never does."""
    from agentdesk.reports import ms

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
    table.add_column("id", no_wrap=True, min_width=max(len(r.ref) for r in found))
    table.add_column("when", no_wrap=True)
    table.add_column("pipeline\nscenario", min_width=10, overflow="fold")
    table.add_column("outcome\nstop reason", min_width=10, overflow="fold")
    for column, width in (("cost", 7), ("tokens", 6), ("took", 6)):
        table.add_column(column, justify="right", no_wrap=True, min_width=width)
    today = datetime.now().astimezone().date()
    for run in found:
        outcome = "unfinished" if run.status == "running" else run.status
        mark = "~" if run.approximate else ""
        table.add_row(
            run.ref,
            _short_when(run.recorded, today),
            Text(f"{run.pipeline}\n{run.scenario}"),
            Text.assemble((outcome, _OUTCOME_STYLE.get(run.status, "")), f"\n{run.stop_reason}"),
            dollars(run.cost_usd),
            f"{mark}{run.prompt_tokens + run.completion_tokens:,}",
            "-" if run.duration is None else ms(run.duration),
        )
    return table


def _totals_table(totals: list[Totals], by: str) -> Table:
    from agentdesk.reports import dollars

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column(by, no_wrap=True)
    for column in ("runs", "failed", "tokens", "cost", "cost/run", "retries"):
        table.add_column(column, justify="right", no_wrap=True)
    for row in totals:
        key = row.key[:12] if by == "release" else row.key
        mark = "~" if row.approximate else ""
        table.add_row(
            key or Text("(none)", style="dim"),
            f"{row.runs:,}",
            Text(f"{row.failed:,}", style="red" if row.failed else "dim"),
            f"{mark}{row.prompt_tokens + row.completion_tokens:,}",
            dollars(row.cost_usd),
            dollars(row.cost_usd / row.runs if row.runs else 0.0),
            f"{row.retries:,}",
        )
    return table


def _short_when(recorded: datetime, today: date) -> str:
    """``14:05`` today, ``11-20`` before (``--json`` has the full time)."""
    local = recorded.astimezone()
    return local.strftime("%H:%M") if local.date() == today else local.strftime("%m-%d")
