"""What every command shares: the consoles, exit codes, common options and error reporting.

Exit codes (documented in the README):

    0  every run completed
    1  at least one run failed or was stopped (the summary says why)
    2  bad input: workspace files with problems, unknown names, bad options or input files
  3  agentdesk eval: a gate failed
  130  interrupted (Ctrl-C)
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from agentdesk.errors import AgentdeskError, Problem, SpecError

EXIT_OK, EXIT_RUN_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_GATE_FAILED = 3  # agentdesk eval: a gate failed (distinct from errors and failed runs)

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


scenario_option = click.option(
    "-s", "--scenario", help="Scenario name (scenarios/NAME.yaml) or path."
)
seed_option = click.option(
    "--seed", type=int, help="Seed for every random draw (default: the workspace's)."
)


def input_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--input JSON`` and ``--inputs FILE`` (read with ``agentdesk.inputs.read_inputs``)."""
    command = click.option(
        "--inputs",
        "inputs_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="A JSON Lines file with one input per line.",
    )(command)
    return click.option("--input", "input_json", metavar="JSON", help="One input, as JSON.")(
        command
    )


@contextmanager
def errors_reported() -> Iterator[None]:
    """Turns agentdesk's errors into one clear message and the documented exit code."""
    try:
        yield
    except SpecError as exc:
        print_problems(exc.problems)
        sys.exit(exc.exit_code)
    except AgentdeskError as exc:
        stderr.print(Text.assemble(("error: ", "bold red"), str(exc)), soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        stderr.print("interrupted")
        sys.exit(EXIT_INTERRUPTED)


@contextmanager
def progress(
    total: int, enabled: bool, description: str = "running"
) -> Iterator[Callable[[], Any]]:
    """A transient progress bar on stderr; yields the function that advances it by one."""
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
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda: bar.advance(task)


def show_warning(message: Warning | str, *_: Any, **__: Any) -> None:
    stderr.print(Text.assemble(("warning: ", "bold yellow"), str(message)))


def print_problems(problems: list[Problem]) -> None:
    count = len(problems)
    stderr.print(
        f"[bold red]{count} problem{'s' if count != 1 else ''}[/bold red] found; nothing ran:"
    )
    for problem in problems:
        # One problem, one line, whatever the terminal's width: editors and CI parse these.
        click.echo(str(problem), err=True)
