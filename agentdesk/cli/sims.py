"""``agentdesk sims``: the simulated services, served over HTTP for outside clients."""

from __future__ import annotations

from pathlib import Path

import click

from agentdesk.cli.console import errors_reported, stderr, stdout, workspace_option


@click.group()
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
    with errors_reported():
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
