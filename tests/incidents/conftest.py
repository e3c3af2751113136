"""Recorded demo runs to export.

``demo_events`` (shared with the projections' tests) runs the bundled demo workspace
in-process on the virtual clock, exactly as ``agentdesk run`` does, with a listener collecting
what the bus published: the same events the store records. Batches are cached per session.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agentdesk.engine.events import AnyEvent
from agentdesk.store.redaction import Redactor
from tests.projections.conftest import demo_events

BATCHES = ("triage@llm-429-burst", "triage@payments-503-storm", "reconciliation@malformed-json")
"""Demo batches the projections' tests fold too: fallbacks and breakers on models; retries,
a breaker and refusals on a service; loops of nested steps with validation failures."""


@pytest.fixture(scope="session", params=BATCHES)
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
