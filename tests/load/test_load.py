"""Load tests end to end on the virtual clock: what the report counts, that it is the same for
the same seed, canary rollback on an alert, and the shadow comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentdesk.alerts import DEFAULT_RULES
from agentdesk.engine.events import AlertFired
from agentdesk.load import LoadPlan, LoadTest
from agentdesk.simulation import Simulation
from tests.load.conftest import DEMO


def storm() -> Simulation:
    return Simulation.prepare(DEMO, "support-triage", "payments-503-storm")


def test_a_load_test_counts_every_run_once_and_keeps_nothing_per_run(tickets: list[Any]) -> None:
    plan = LoadPlan(sessions=30, duration=240, think=20, windows=8)
    test = LoadTest(storm(), plan, tickets, rules=DEFAULT_RULES)
    report = test.run()
    [arm] = report.arms
    assert arm.runs == sum(w.finished for w in arm.windows) == sum(w.started for w in arm.windows)
    assert arm.runs > 30 * 240 / 25  # every session ran several turns
    assert arm.fold.in_flight == 0 and not test.shadow
    assert sum(arm.fold.stop_reasons.values()) == arm.runs
    # the 20-second 503 storm opens the payments breaker at the start, and it closes again
    timeline = arm.breaker_rows()["service:payments"]
    assert timeline[0] == "open" and timeline[-1] == "closed"
    assert arm.to_json(plan)["tool_error_rate_by_service"]["payments"] > 0
    assert report.simulated < plan.duration + 120  # no session starts a turn after the end


def test_the_same_seed_gives_the_same_report_and_another_seed_another(
    tickets: list[Any],
) -> None:
    plan = LoadPlan(sessions=12, duration=120, think=15, windows=4)
    first = LoadTest(storm(), plan, tickets).run().to_json()
    assert LoadTest(storm(), plan, tickets).run().to_json() == first
    other = Simulation.prepare(DEMO, "support-triage", "payments-503-storm", seed=43)
    assert LoadTest(other, plan, tickets).run().to_json() != first


def test_a_canary_is_rolled_back_when_an_alert_fires_on_it(
    tickets: list[Any], bloated: Path
) -> None:
    candidate = Simulation.prepare(bloated, "support-triage", "happy")
    plan = LoadPlan(sessions=60, duration=600, think=20, windows=10, canary=0.25)
    report = LoadTest(
        Simulation.prepare(DEMO, "support-triage", "happy"),
        plan,
        tickets,
        candidate=candidate,
        rules=DEFAULT_RULES,
    ).run()
    assert report.rollback is not None
    assert report.rollback.rule in {"tokens_per_task", "daily_cost"}
    assert report.rollback.t == 60.0  # judged at the end of the first minute
    fired = [a for a in report.alerts if isinstance(a, AlertFired)]
    assert {a.arm for a in fired} == {"candidate"}
    baseline, canary = report.arms
    assert canary.runs > 0 and baseline.runs > 5 * canary.runs
    # after the rollback no request starts on the candidate
    assert sum(w.started for w in canary.windows[1:]) == 0
    assert report.to_json()["rollback"]["rule"] == report.rollback.rule


def test_a_canary_that_behaves_is_kept(tickets: list[Any]) -> None:
    happy = Simulation.prepare(DEMO, "support-triage", "happy")
    plan = LoadPlan(sessions=40, duration=420, think=20, windows=7, canary=0.3)
    report = LoadTest(happy, plan, tickets, candidate=happy, rules=DEFAULT_RULES).run()
    assert report.rollback is None and not report.fired()
    assert sum(w.started for w in report.arms[1].windows[-2:]) > 0


def test_shadow_runs_every_request_on_both_and_compares_them(
    tickets: list[Any], bloated: Path
) -> None:
    happy = Simulation.prepare(DEMO, "support-triage", "happy")
    plan = LoadPlan(sessions=15, duration=120, think=20, windows=4, shadow=True)
    same = LoadTest(happy, plan, tickets, candidate=happy).run()
    assert same.shadow is not None and same.shadow.pairs == same.arms[0].runs > 0
    assert same.shadow.same == same.shadow.pairs and same.shadow.unpaired == 0
    assert same.arms[0].runs == same.arms[1].runs

    candidate = Simulation.prepare(bloated, "support-triage", "happy")
    costly = LoadTest(happy, plan, tickets, candidate=candidate).run()
    assert costly.shadow is not None
    data = costly.shadow.to_json()
    assert data["pairs"] == same.shadow.pairs  # the same traffic
    assert data["mean_usd_delta"] > 0  # the long prompt costs more on every request
