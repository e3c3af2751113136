"""``agentdesk run``: run a pipeline against the sims and print what the orchestration did."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click

from agentdesk.cli.console import (
    EXIT_OK,
    EXIT_RUN_FAILED,
    errors_reported,
    progress,
    stdout,
    workspace_option,
)
from agentdesk.engine.events import AnyEvent, encode
from agentdesk.errors import RunError
from agentdesk.projections.summary import RunSummary
from agentdesk.reports import run_summary


@click.command()
@click.argument("pipeline")
@workspace_option
@click.option("-s", "--scenario", help="Scenario name (scenarios/NAME.yaml) or path.")
@click.option("--seed", type=int, help="Seed for every random draw (default: the workspace's).")
@click.option("--input", "input_json", metavar="JSON", help="One input, as JSON.")
@click.option(
    "--inputs",
    "inputs_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A JSON Lines file with one input per line.",
)
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
) -> None:
    """Run PIPELINE (a name from pipelines/ or a path) against the sims, and summarise it."""
    with errors_reported():
        from agentdesk.inputs import read_inputs
        from agentdesk.simulation import Simulation, find_workspace

        sim = Simulation.prepare(find_workspace(workspace), pipeline, scenario, seed)
        inputs = read_inputs(
            sim.default_input(), input_json, inputs_file, sim.pipeline.spec.input.schema_
        )
        total = runs or max(len(inputs), sessions)
        summary = RunSummary()
        with _event_log(events_file) as write:
            listeners = [summary.apply] + ([write] if write else [])
            with progress(total, enabled=not as_json and total > 1) as advance:
                sim.execute(
                    (inputs[i % len(inputs)] for i in range(total)),
                    sessions,
                    listeners,
                    on_result=lambda _: advance(),
                )
        title = (
            f"{sim.pipeline.spec.name} · scenario {sim.scenario_name} · seed {sim.seed}"
            f"{' · real clock' if sim.real_clock else ' · virtual clock'}"
        )
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "pipeline": sim.pipeline.spec.name,
                        "scenario": sim.scenario_name,
                        "seed": sim.seed,
                        **summary.to_json(),
                    },
                    indent=2,
                )
            )
        else:
            stdout.print(run_summary(summary, title, real_clock=sim.real_clock))
        sys.exit(EXIT_OK if summary.statuses.get("ok", 0) == summary.finished else EXIT_RUN_FAILED)


@contextmanager
def _event_log(path: Path | None) -> Iterator[Any]:
    if path is None:
        yield None
        return
    try:
        handle = path.open("wb")
    except OSError as exc:
        raise RunError(f"{path}: cannot write the event log: {exc.strerror}") from exc
    with handle:
        yield _writer(handle)


def _writer(handle: IO[bytes]) -> Any:
    def write(event: AnyEvent) -> None:
        handle.write(encode(event) + b"\n")

    return write
