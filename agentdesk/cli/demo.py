"""``agentdesk demo``: the scripted, narrated show for design reviews."""

from __future__ import annotations

import click

from agentdesk.cli.console import errors_reported


@click.command()
@click.option("--seed", type=int, help="Seed (default: the demo workspace's).")
def demo(seed: int | None) -> None:
    """The support-triage agent under steady load, then a payments 503 storm that trips the
    breaker, recovery, then an LLM 429 burst with fallbacks — narrated in the status line,
    paced in simulated time. Space pauses; q quits."""
    with errors_reported():
        from agentdesk.simulation import demo_workspace
        from agentdesk.tui.app import make_app
        from agentdesk.tui.demo import DEMO_PACE

        app = make_app(
            demo_workspace(), "support-triage", "happy", seed=seed, pace=DEMO_PACE, demo=True
        )
    app.run()
