"""Event logs to fold: demo runs under fault scenarios, and one nested workspace."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from agentdesk.engine.events import AnyEvent
from agentdesk.simulation import Simulation
from sims import records
from tests.engine.harness import run_workspace, write_workspace

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
RUNS = 24

NESTED = """\
name: p
steps:
  - id: rounds
    kind: loop
    max_iterations: 2
    steps:
      - id: gather
        kind: parallel
        steps:
          - id: ticket
            kind: tool
            service: crm
            path: /tickets/T-100{{ loop.iteration }}
          - id: kb
            kind: tool
            service: knowledge
            path: /search
            query: {q: refund}
  - id: done
    kind: tool
    service: crm
    path: /tickets/T-1009
"""


LOGS = {
    "triage@payments-503-storm": ("support-triage", "payments-503-storm"),
    "triage@llm-429-burst": ("support-triage", "llm-429-burst"),
    "triage@crm-latency-spike": ("support-triage", "crm-latency-spike"),
    "reconciliation@malformed-json": ("doc-reconciliation", "malformed-json"),
}


@functools.cache
def demo_events(name: str) -> tuple[AnyEvent, ...]:
    """The events of one demo batch in ``LOGS`` (24 runs, 8 at a time, seed 42), cached."""
    pipeline, scenario = LOGS[name]
    sim = Simulation.prepare(FIXTURES, pipeline, scenario, seed=42)
    if pipeline == "support-triage":
        inputs = [{"ticket_id": f"T-{1001 + i}"} for i in range(RUNS)]
    else:
        # The example's charge id is unknown to the payments sim; use ones the CRM mentions.
        charges = [str(records.ticket(f"T-{1001 + i}")["charge_id"]) for i in range(RUNS)]
        inputs = [{**sim.default_input(), "charge_id": c} for c in charges]
    events: list[AnyEvent] = []
    sim.execute(inputs, concurrency=8, listeners=[events.append])
    return tuple(events)


@pytest.fixture(scope="session", params=list(LOGS))
def demo_log(request: pytest.FixtureRequest) -> list[AnyEvent]:
    """Each demo batch's events in turn."""
    return list(demo_events(request.param))


@pytest.fixture(scope="session")
def nested_log(tmp_path_factory: pytest.TempPathFactory) -> list[AnyEvent]:
    """A loop of parallel steps, then a top-level step: spans nest three deep."""
    root = write_workspace(tmp_path_factory.mktemp("nested"), NESTED)
    return run_workspace(root, [{}, {}], concurrency=2).events
