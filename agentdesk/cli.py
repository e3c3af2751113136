"""The command line: parses, calls the modules that do the work, prints with Rich.

Exit codes (documented in the README):

    0  every run completed
    1  at least one run failed or was stopped (the summary says why)
    2  bad input: workspace files with problems, unknown names, bad options or input files
  130  interrupted (Ctrl-C)
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click
from rich.console import Console
from rich.text import Text

from agentdesk import __version__
from agentdesk.engine.events import AnyEvent, encode
from agentdesk.errors import AgentdeskError, Problem, RunError, SpecError
from agentdesk.projections.summary import RunSummary
from agentdesk.reports import run_summary

EXIT_OK, EXIT_RUN_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

stdout = Console()
stderr = Console(stderr=True)

workspace_option = click.option(
    "-w",
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Workspace folder (default: the current folder if it has agentdesk.yaml, "
    "else the bundled demo).",
)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="agentdesk")
@workspace_option
@click.pass_context
def main(ctx: click.Context, workspace: Path | None) -> None:
    """agentdesk — see and fix what the orchestration layer of an LLM pipeline does."""
    warnings.showwarning = _show_warning
    if ctx.invoked_subcommand is None:
        # Until the TUI lands, the main job is the demo run: long enough in simulated time for
        # the payments storm to trip the breaker, keep it open, and let it close again.
        ctx.invoke(
            run,
            pipeline="support-triage",
            workspace=workspace,
            scenario="payments-503-storm",
            sessions=20,
            runs=600,
        )


@main.command()
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
    with _errors_reported():
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
            with _progress(total, enabled=not as_json and total > 1) as advance:
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


@main.command()
@workspace_option
@click.argument("pipelines", nargs=-1)
def check(workspace: Path | None, pipelines: tuple[str, ...]) -> None:
    """Check the workspace's files (all pipelines and scenarios, or the ones named)."""
    with _errors_reported():
        from agentdesk.simulation import find_workspace
        from agentdesk.spec.loader import check_workspace

        root = find_workspace(workspace)
        checked = check_workspace(root, list(pipelines) or None)
        stdout.print(f"[green]ok[/green] {root}: {checked} file(s) checked, no problems")


@main.group()
def sims() -> None:
    """Simulated services."""


@sims.command("serve")
@workspace_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(0, 65535), default=8787, show_default=True)
@click.option("-s", "--scenario", help="Scenario to serve (default: the workspace's).")
@click.option("--seed", type=int, help="Seed (default: the workspace's).")
def serve(
    workspace: Path | None, host: str, port: int, scenario: str | None, seed: int | None
) -> None:
    """Serve every sim over HTTP on HOST:PORT until Ctrl-C."""
    with _errors_reported():
        import asyncio

        from agentdesk.simulation import find_workspace
        from agentdesk.spec.loader import load_scenario, load_workspace
        from sims.serve import serve as serve_sims
        from sims.world import SimWorld

        ws = load_workspace(find_workspace(workspace))
        name, raw = load_scenario(ws, scenario or ws.spec.scenario)
        world = SimWorld(ws.spec.seed if seed is None else seed, raw, ws.sims)

        def ready(urls: dict[str, str]) -> None:
            stdout.print(f"Serving sims (scenario [bold]{name}[/bold]); Ctrl-C stops.")
            for sim_name, url in urls.items():
                stdout.print(f"  {sim_name:<10} {url}")

        try:
            asyncio.run(serve_sims(world, host=host, port=port, ready=ready))
        except KeyboardInterrupt:
            stderr.print("stopped")


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


@contextmanager
def _progress(total: int, enabled: bool) -> Iterator[Any]:
    if not enabled:
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    ) as progress:
        task = progress.add_task("running", total=total)
        yield lambda: progress.advance(task)


@contextmanager
def _errors_reported() -> Iterator[None]:
    try:
        yield
    except SpecError as exc:
        _print_problems(exc.problems)
        sys.exit(exc.exit_code)
    except AgentdeskError as exc:
        stderr.print(Text.assemble(("error: ", "bold red"), str(exc)), soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        stderr.print("interrupted")
        sys.exit(EXIT_INTERRUPTED)


def _show_warning(message: Warning | str, *_: Any, **__: Any) -> None:
    stderr.print(Text.assemble(("warning: ", "bold yellow"), str(message)))


def _print_problems(problems: list[Problem]) -> None:
    count = len(problems)
    stderr.print(
        f"[bold red]{count} problem{'s' if count != 1 else ''}[/bold red] found; nothing ran:"
    )
    for problem in problems:
        # One problem, one line, whatever the terminal's width: editors and CI parse these.
        click.echo(str(problem), err=True)
