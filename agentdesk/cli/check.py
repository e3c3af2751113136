"""``agentdesk check``: every problem in the workspace's files, at once."""

from __future__ import annotations

from pathlib import Path

import click

from agentdesk.cli.console import errors_reported, stdout, workspace_option


@click.command()
@workspace_option
@click.argument("pipelines", nargs=-1)
def check(workspace: Path | None, pipelines: tuple[str, ...]) -> None:
    """Check the workspace's files (all pipelines and scenarios, or the ones named)."""
    with errors_reported():
        from agentdesk.simulation import find_workspace
        from agentdesk.spec.loader import check_workspace

        root = find_workspace(workspace)
        checked = check_workspace(root, list(pipelines) or None)
        stdout.print(f"[green]ok[/green] {root}: {checked} file(s) checked, no problems")
