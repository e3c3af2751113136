"""The command line: parses, calls the modules that do the work, prints with Rich.

One module per command (``run``, ``check``, ``sims``…); ``console`` holds what they share —
the consoles, the exit codes (documented in the README), common options and error reporting.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import click

from agentdesk import __version__
from agentdesk.cli.artifacts import artifacts
from agentdesk.cli.check import check
from agentdesk.cli.console import show_warning, workspace_option
from agentdesk.cli.demo import demo
from agentdesk.cli.eval import eval_command
from agentdesk.cli.incidents import incidents
from agentdesk.cli.load import load
from agentdesk.cli.replay import replay
from agentdesk.cli.run import run
from agentdesk.cli.runs import runs
from agentdesk.cli.sims import sims
from agentdesk.cli.tokens import tokens
from agentdesk.cli.tui import tui
from agentdesk.cli.watch import watch


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="agentdesk")
@workspace_option
@click.pass_context
def main(ctx: click.Context, workspace: Path | None) -> None:
    """agentdesk — see and fix what the orchestration layer of an LLM pipeline does."""
    warnings.showwarning = show_warning
    if ctx.invoked_subcommand is None:
        # The main job: the control panel on the workspace here, or on the bundled demo.
        ctx.invoke(tui, workspace=workspace)


for command in (
    run,
    check,
    sims,
    tui,
    demo,
    tokens,
    runs,
    artifacts,
    watch,
    eval_command,
    incidents,
    replay,
    load,
):
    main.add_command(command)
