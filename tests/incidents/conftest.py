"""Recorded demo runs to export, and the round trip's other half.

``demo_events`` runs the bundled demo workspace in-process on the virtual clock, exactly as
``agentdesk run`` does, with a listener collecting what the bus published: the same events the
store records. Batches are cached per session (a dozen runs each take well under a second).
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from agentdesk.engine.events import AnyEvent
from agentdesk.simulation import Simulation, demo_workspace
from agentdesk.store.redaction import Redactor
from sims import records

RUNS = 12
BATCHES = {
    "triage@llm-429-burst": ("support-triage", "llm-429-burst"),
    "triage@payments-503-storm": ("support-triage", "payments-503-storm"),
    "reconciliation@malformed-json": ("doc-reconciliation", "malformed-json"),
}
"""Fallbacks and breakers on models; retries, a breaker and refusals on a service; loops of
nested steps with validation failures and re-asks."""


@functools.cache
def demo_events(name: str) -> tuple[AnyEvent, ...]:
    pipeline, scenario = BATCHES[name]
    sim = Simulation.prepare(demo_workspace(), pipeline, scenario, seed=42)
    if pipeline == "support-triage":
        inputs = [{"ticket_id": f"T-{1001 + i}"} for i in range(RUNS)]
    else:
        # The example's charge id is unknown to the payments sim; use ones the CRM mentions.
        charges = [str(records.ticket(f"T-{1001 + i}")["charge_id"]) for i in range(RUNS)]
        inputs = [{**sim.default_input(), "charge_id": c} for c in charges]
    events: list[AnyEvent] = []
    sim.execute(inputs, concurrency=4, listeners=[events.append])
    return tuple(events)


@pytest.fixture(scope="session", params=list(BATCHES))
def batch(request: pytest.FixtureRequest) -> list[AnyEvent]:
    """Each demo batch's events in turn."""
    return list(demo_events(request.param))


@pytest.fixture
def storm() -> list[AnyEvent]:
    """Support triage under an LLM 429 burst: retries, fallbacks, model breakers."""
    return list(demo_events("triage@llm-429-burst"))


@pytest.fixture
def redactor() -> Redactor:
    """The store's redactor with its defaults: secrets and every kind of personal data."""
    return Redactor()


@pytest.fixture(autouse=True)
def _no_workspace_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing a test here does may write into fixtures/.agentdesk."""
    monkeypatch.setenv("AGENTDESK_DB", str(tmp_path / "store" / "agentdesk.db"))
