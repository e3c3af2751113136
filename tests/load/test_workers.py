"""A load test split across worker processes (``--workers N``): the same traffic, folded and
judged in the parent; replicas with breakers of their own."""

from __future__ import annotations

from typing import Any

import pytest

from agentdesk.alerts import DEFAULT_RULES
from agentdesk.errors import RunError
from agentdesk.load import LoadPlan, LoadTest
from agentdesk.simulation import Simulation
from tests.load.conftest import DEMO


def _sim(scenario: str) -> Simulation:
    return Simulation.prepare(DEMO, "support-triage", scenario)


def _figures(report: Any) -> Any:
    """The report as JSON, floats to 12 significant digits (sums of cents add up in another
    order when two processes each add their share)."""

    def rounded(value: Any) -> Any:
        if isinstance(value, float):
            return float(f"{value:.12g}")
        if isinstance(value, dict):
            return {k: rounded(v) for k, v in value.items() if k != "workers"}
        if isinstance(value, list):
            return [rounded(v) for v in value]
        return value

    return rounded(report.to_json())


def test_without_breaker_trips_two_workers_report_exactly_what_one_process_does(
    tickets: list[Any],
) -> None:
    """Every draw is keyed by the request, so when no breaker changes state the split cannot
    change anything: runs, windows, latency, cost, alerts — the same report."""
    plan = LoadPlan(sessions=24, duration=300, think=20, windows=6)
    one = LoadTest(_sim("malformed-json"), plan, tickets, rules=DEFAULT_RULES).run()
    assert not one.arms[0].breaker_opens()  # re-asks and repairs, but no breaker moves
    two = LoadTest(_sim("malformed-json"), plan, tickets, rules=DEFAULT_RULES, workers=2).run()
    assert two.workers == 2 and two.runs == one.runs > 24
    assert _figures(two) == _figures(one)


def test_each_worker_is_a_replica_whose_breakers_open_on_its_own_share(
    tickets: list[Any],
) -> None:
    plan = LoadPlan(sessions=24, duration=300, think=20, windows=6)
    progress: list[tuple[float, int]] = []
    test = LoadTest(
        _sim("crm-latency-spike"),
        plan,
        tickets,
        rules=DEFAULT_RULES,
        workers=2,
        progress=lambda now, runs: progress.append((now, runs)),
    )
    report = test.run()
    [arm] = report.arms
    assert arm.runs == sum(w.finished for w in arm.windows) == sum(w.started for w in arm.windows)
    assert sum(arm.fold.stop_reasons.values()) == arm.runs
    assert "open" in arm.breaker_rows()["service:crm"]
    assert arm.breaker_opens()["service:crm"] >= 2  # each replica's breaker trips on its own
    fired = {a.rule for a in report.fired()}
    assert "tool_error_rate" in fired  # judged in the parent, over both shares
    assert progress and progress[-1][1] <= arm.runs


def test_workers_refuse_a_candidate(tickets: list[Any]) -> None:
    plan = LoadPlan(sessions=4, duration=60, canary=0.5)
    with pytest.raises(RunError, match="--workers splits a plain load test"):
        LoadTest(_sim("happy"), plan, tickets, candidate=_sim("happy"), workers=2)


def test_a_failing_worker_is_reported_with_its_traceback(
    tickets: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: LoadTest) -> float:
        raise ValueError("the sim world fell over")

    monkeypatch.setattr(LoadTest, "run_async", broken)  # inherited by the forked workers
    plan = LoadPlan(sessions=4, duration=60)
    with pytest.raises(RunError, match="load worker 0 failed") as caught:
        LoadTest(_sim("happy"), plan, tickets, workers=2).run()
    assert "ValueError: the sim world fell over" in str(caught.value)
