"""``agentdesk tui`` (and bare ``agentdesk``): the live control panel on a workspace."""

from __future__ import annotations

from pathlib import Path

import click

from agentdesk.cli.console import errors_reported, workspace_option

PACE_CHOICES = {"1": 1.0, "5": 5.0, "20": 20.0, "max": None}

pace_option = click.option(
    "--pace",
    type=click.Choice(list(PACE_CHOICES)),
    default="5",
    show_default=True,
    help="Simulated seconds per real second ('max': as fast as it goes).",
)


@click.command()
@click.argument("pipeline", required=False)
@workspace_option
@click.option("-s", "--scenario", help="Scenario to start with (default: the workspace's).")
@click.option("--seed", type=int, help="Seed (default: the workspace's).")
@click.option(
    "--sessions",
    type=click.IntRange(1, 1000),
    default=8,
    show_default=True,
    help="Sessions running at once (steady load).",
)
@pace_option
def tui(
    pipeline: str | None,
    workspace: Path | None,
    scenario: str | None,
    seed: int | None,
    sessions: int,
    pace: str,
) -> None:
    """Open the control panel: PIPELINE (default: support-triage, or the first) under load."""
    with errors_reported():
        from agentdesk.tui.app import make_app

        app = make_app(
            workspace, pipeline, scenario, seed=seed, sessions=sessions, pace=PACE_CHOICES[pace]
        )
    app.run()
