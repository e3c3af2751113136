"""What the TUI tests share: recorded event logs (deterministic runs of the demo workspace)
and the app built through the same factory the CLI uses."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import cache

from agentdesk.engine.events import AnyEvent
from agentdesk.simulation import Simulation, demo_workspace
from agentdesk.tui.app import AgentdeskApp, make_app

SIZE = (120, 36)
"""Terminal size of the snapshot tests and screenshots."""


@cache
def recorded(scenario: str, runs: int = 60, sessions: int = 8) -> tuple[AnyEvent, ...]:
    """The events of ``runs`` runs of support-triage under ``scenario`` (seed 42): always the
    same events, so pictures built from them are stable."""
    sim = Simulation.prepare(demo_workspace(), "support-triage", scenario)
    events: list[AnyEvent] = []
    inputs = [sim.default_input()] * runs
    # On its own thread: async tests call this with their own event loop running.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(sim.execute, inputs, sessions, [events.append]).result()
    return tuple(events)


def recorded_app(scenario: str = "happy", events: list[AnyEvent] | None = None) -> AgentdeskApp:
    """The app showing a recorded session: no simulation thread, nothing moves."""
    shown = list(recorded(scenario)) if events is None else events
    return make_app(demo_workspace(), "support-triage", scenario, events=shown)
