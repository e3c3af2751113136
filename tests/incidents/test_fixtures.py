"""The demo incidents in fixtures/incidents: each replays exactly, and its what-if fixes it.

These are the incidents docs/incidents.md walks through; ``make.py`` regenerates them, and
regenerating one must give the committed bytes (recording, redaction and the bundle format
are all deterministic).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from agentdesk.incidents.bundle import Bundle, read_bundle
from agentdesk.incidents.whatif import WhatIf, WhatIfResult, replay_exact, run_what_if
from agentdesk.simulation import demo_workspace
from agentdesk.store.incidents import bundle_redactor

FOLDER = demo_workspace() / "incidents"
NAMES = (
    "payments-503-storm",
    "llm-429-burst",
    "malformed-json",
    "crm-latency-spike",
    "load-crm-latency-spike",
)


def _bundle(name: str) -> Bundle:
    return read_bundle(FOLDER / f"{name}.incident.jsonl")


def _what_if(name: str) -> WhatIfResult:
    bundle = _bundle(name)
    changes = WhatIf.from_file(FOLDER / f"{name}.whatif.yaml")
    return run_what_if(bundle, changes, redactor=bundle_redactor(bundle, {}))


@pytest.mark.parametrize("name", NAMES)
def test_each_fixture_replays_exactly(name: str) -> None:
    bundle = _bundle(name)
    result = replay_exact(bundle, redactor=bundle_redactor(bundle, {}))
    assert result.divergence is None
    assert result.replayed == bundle.events
    assert result.answered == len(bundle.tape)


def test_payments_storm_retries_past_the_storm() -> None:
    bundle = _bundle("payments-503-storm")
    assert {r.stop_reason for r in bundle.focus} == {"breaker_open: refund"}
    result = _what_if("payments-503-storm")
    assert result.original.breakers["service:payments"].opened == 1
    assert dict(result.changed.statuses) == {"ok": len(bundle.focus)}
    assert "service:payments" not in result.changed.breakers
    assert result.sims_answered > 0  # the extra attempts were never made: the sims answer them


def test_llm_429_cascade_stays_on_the_primary_model() -> None:
    result = _what_if("llm-429-burst")
    before, after = result.original, result.changed
    assert sum(s.fallbacks for s in before.steps.values()) > 0
    assert {b.opened for b in before.breakers.values()} == {1}
    assert sum(s.fallbacks for s in after.steps.values()) == 0
    assert all(b.opened == 0 for b in after.breakers.values())
    assert after.tokens.usd < before.tokens.usd / 5
    assert dict(after.statuses) == {"ok": 8}


def test_malformed_json_finishes_inside_the_budget_on_the_backup_model() -> None:
    bundle = _bundle("malformed-json")
    assert {r.stop_reason for r in bundle.focus} == {"budget_exhausted: tokens"}
    result = _what_if("malformed-json")
    assert dict(result.changed.statuses) == {"ok": len(bundle.focus)}
    assert set(result.changed.models) == {"gpt-4o"}


def test_crm_latency_spike_waits_past_the_stall() -> None:
    bundle = _bundle("crm-latency-spike")
    assert all(r.stop_reason.startswith("retries_exhausted") for r in bundle.focus)
    result = _what_if("crm-latency-spike")
    assert dict(result.changed.statuses) == {"ok": len(bundle.focus)}
    assert result.divergence is not None  # the first ticket attempt, with its new timeout
    assert b'"timeout":8.0' in (result.divergence.recorded or b"")
    assert b'"timeout":15.0' in (result.divergence.replayed or b"")


def test_a_load_tests_failures_all_complete_with_longer_crm_timeouts() -> None:
    bundle = _bundle("load-crm-latency-spike")
    assert bundle.load is not None and bundle.load["arrival"] == "constant"
    sessions = [r.session for r in bundle.runs]
    assert len(bundle.focus) == 20 and len(set(sessions)) < len(sessions)
    assert any(r.stop_reason.startswith("breaker_open") for r in bundle.focus)
    result = _what_if("load-crm-latency-spike")
    assert result.original.breakers and all(b.opened == 0 for b in result.changed.breakers.values())
    assert dict(result.changed.statuses) == {"ok": len(bundle.focus)}


@pytest.mark.parametrize("name", ["crm-latency-spike", "load-crm-latency-spike"])
def test_make_regenerates_the_committed_bytes(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location("make_incidents", FOLDER / "make.py")
    assert spec is not None and spec.loader is not None
    make = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, make)
    spec.loader.exec_module(make)
    incident = next(i for i in make.INCIDENTS if i.name == name)
    made = make.make(incident, tmp_path)
    assert made.read_bytes() == (FOLDER / made.name).read_bytes()
