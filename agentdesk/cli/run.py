"""``agentdesk run``: run a pipeline against the sims and print what the orchestration did."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click
from rich.text import Text

from agentdesk import heap
from agentdesk.cli.console import (
    EXIT_OK,
    EXIT_RUN_FAILED,
    errors_reported,
    input_options,
    progress,
    scenario_option,
    seed_option,
    stderr,
    stdout,
    workspace_option,
)
from agentdesk.cli.runs import Recording, db_option
from agentdesk.engine.bus import Listener
from agentdesk.engine.events import AnyEvent
from agentdesk.errors import RunError
from agentdesk.projections.summary import RunSummary
from agentdesk.reports import run_summary
from agentdesk.spec.models import BUDGET_KINDS, BudgetsSpec

if TYPE_CHECKING:
    from agentdesk.simulation import Simulation
    from agentdesk.store.incidents import TapeWriter
    from agentdesk.store.redaction import Redactor


@click.command()
@click.argument("pipeline")
@workspace_option
@scenario_option
@seed_option
@input_options
@click.option(
    "--sessions",
    type=click.IntRange(1, 100_000),
    default=1,
    show_default=True,
    help="How many sessions run concurrently.",
)
@click.option(
    "--runs",
    type=click.IntRange(1),
    help="How many runs in all (default: one per "
    "input, or one per session); inputs are reused in turn.",
)
@click.option(
    "--events",
    "events_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every event as JSON Lines to this file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--budget",
    "budget_options",
    multiple=True,
    metavar="[SCOPE.]KIND=LIMIT",
    callback=lambda _ctx, _param, values: parse_budgets(values),
    help="Override a budget: usd=0.01, tokens=5000, seconds=30, steps=20; "
    "session.usd=0.5 for the session scope. Repeatable.",
)
@db_option
@click.option("--no-record", is_flag=True, help="Do not record the runs in the store.")
def run(
    pipeline: str,
    workspace: Path | None,
    scenario: str | None = None,
    seed: int | None = None,
    input_json: str | None = None,
    inputs_file: Path | None = None,
    sessions: int = 1,
    runs: int | None = None,
    events_file: Path | None = None,
    as_json: bool = False,
    db: str | None = None,
    no_record: bool = False,
    budget_options: BudgetsSpec | None = None,
) -> None:
    """Run PIPELINE (a name from pipelines/ or a path) against the sims, and summarise it."""
    with errors_reported():
        from agentdesk.inputs import read_inputs
        from agentdesk.simulation import Simulation, find_workspace
        from agentdesk.store.redaction import Redactor, workspace_secrets

        sim = Simulation.prepare(find_workspace(workspace), pipeline, scenario, seed)
        sim.budgets = budget_options
        inputs = read_inputs(
            sim.default_input(), input_json, inputs_file, sim.pipeline.spec.input.schema_
        )
        total = runs or max(len(inputs), sessions)
        summary = RunSummary()
        secrets = Redactor(workspace_secrets(sim.workspace.spec.services, os.environ), ())
        recording = None if no_record else Recording.start(sim, db)
        tape = None if recording is None else recording.keep_tape(sim)
        try:
            with _event_log(events_file, secrets) as write:
                listeners = [summary.apply] + ([write] if write else [])
                if recording is not None:
                    listeners.append(recording.recorder.offer)
                with progress(total, enabled=not as_json and total > 1) as advance:
                    sim.load_model_tables()
                    heap.settle()  # everything is loaded: keep it out of the collector's way
                    _execute(sim, inputs, total, sessions, listeners, advance, tape)
        finally:  # however the runs end, or if they never start: flushed, and the writer stopped
            if recording is not None:
                recording.close(sessions)
        title = (
            f"{sim.pipeline.spec.name} · scenario {sim.scenario_name} · seed {sim.seed}"
            f"{' · real clock' if sim.real_clock else ' · virtual clock'}"
        )
        if as_json:
            report = {
                "pipeline": sim.pipeline.spec.name,
                "scenario": sim.scenario_name,
                "seed": sim.seed,
                **summary.to_json(),
                "recording": recording.to_json() if recording else None,
            }
            click.echo(json.dumps(secrets.value(report), indent=2))
        else:
            with stdout.capture() as captured:
                stdout.print(run_summary(summary, title, real_clock=sim.real_clock))
                if recording is not None:
                    stdout.print(recording.describe(), soft_wrap=True)  # one line: a path
            stdout.file.write(secrets.secrets_only(captured.get()))
        if recording is not None and recording.failure:
            stderr.print(Text.assemble(("error: ", "bold red"), recording.failure))
            sys.exit(EXIT_RUN_FAILED)
        sys.exit(EXIT_OK if summary.statuses.get("ok", 0) == summary.finished else EXIT_RUN_FAILED)


def parse_budgets(values: tuple[str, ...]) -> BudgetsSpec | None:
    """``--budget`` options as budgets; a bad one is a usage error naming it."""
    if not values:
        return None
    limits: dict[str, dict[str, float]] = {"run": {}, "session": {}}
    for value in values:
        key, sep, number = value.partition("=")
        scope, _, kind = key.rpartition(".")
        scope = scope or "run"
        if not sep or scope not in limits or kind not in BUDGET_KINDS:
            raise click.BadParameter(
                f"{value!r}: expected [run.|session.]KIND=LIMIT with KIND one of "
                f"{', '.join(BUDGET_KINDS)}",
                param_hint="--budget",
            )
        try:
            limits[scope][kind] = float(number)
        except ValueError:
            raise click.BadParameter(
                f"{value!r}: {number!r} is not a number", param_hint="--budget"
            ) from None
    try:
        return BudgetsSpec.model_validate({s: v for s, v in limits.items() if v})
    except ValueError as exc:
        raise click.BadParameter(
            f"{', '.join(values)}: {_first_error(exc)}", param_hint="--budget"
        ) from None


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
    return str(exc)


def _execute(
    sim: Simulation,
    inputs: list[Any],
    total: int,
    sessions: int,
    listeners: list[Listener],
    advance: Callable[[], Any],
    tape: TapeWriter | None = None,
) -> None:
    """Run every session."""
    sim.execute(
        (inputs[i % len(inputs)] for i in range(total)),
        sessions,
        listeners,
        on_result=lambda _: advance(),
        wrap=None if tape is None else tape.wrap,
    )


@contextmanager
def _event_log(path: Path | None, secrets: Redactor) -> Iterator[Any]:
    if path is None:
        yield None
        return
    try:
        handle = path.open("wb")
    except OSError as exc:
        raise RunError(f"{path}: cannot write the event log: {exc.strerror}") from exc
    with handle:
        yield _writer(handle, secrets)


def _writer(handle: IO[bytes], secrets: Redactor) -> Listener:
    """Every event as one JSON line, API keys removed (the same bytes as ``events.encode``)."""

    def write(event: AnyEvent) -> None:
        handle.write(secrets.event_json(event) + b"\n")

    return write
