"""Alerts over a stream of runs: sliding windows, calibration, a reference arm, events in
virtual time, and memory that does not grow with the stream."""

from __future__ import annotations

import pytest

from agentdesk.alerts import DEFAULT_RULES, AlertMonitor, Baseline, RunObservation
from agentdesk.engine.events import AlertFired, AlertResolved


def steady(monitor: AlertMonitor, start: float, end: float, **kw: float) -> list:  # type: ignore[type-arg]
    """One run every 2 seconds from ``start`` to ``end``."""
    events = []
    t = start
    while t < end:
        run = RunObservation(
            t=t,
            duration=kw.get("duration", 1.0),
            tool_calls=int(kw.get("calls", 4)),
            tool_errors=int(kw.get("errors", 0)),
            tokens=int(kw.get("tokens", 1000)),
            usd=kw.get("usd", 0.001),
        )
        events += monitor.observe(run)
        t += 2.0
    return events


def test_an_error_burst_fires_once_and_resolves_when_it_is_over() -> None:
    monitor = AlertMonitor(DEFAULT_RULES)
    events = steady(monitor, 0, 600)
    events += steady(monitor, 600, 720, errors=1)  # 25 % of tool calls fail for two minutes
    events += steady(monitor, 720, 1500)
    events += monitor.advance(1500)
    kinds = [(type(e).__name__, e.rule, e.t) for e in events]
    # 5-minute windows judged each minute: at 660 s one bad minute in five is exactly 5 %,
    # at 720 s two are 10 %; at 960 s one bad minute is left in the window, 5 % again.
    assert kinds == [
        ("AlertFired", "tool_error_rate", 720.0),
        ("AlertResolved", "tool_error_rate", 960.0),
    ]
    fired, resolved = events
    assert isinstance(fired, AlertFired) and fired.value == 0.1 and fired.window == 300
    assert isinstance(resolved, AlertResolved) and resolved.fired_at == 720.0


def test_calibration_sets_the_baseline_and_a_slowdown_fires_after_it() -> None:
    monitor = AlertMonitor(DEFAULT_RULES)
    events = steady(monitor, 0, 600, duration=1.0)
    assert events == []
    events = steady(monitor, 600, 1200, duration=3.0)
    fired = [e for e in events if isinstance(e, AlertFired)]
    assert [e.rule for e in fired] == ["latency_p95"]
    assert fired[0].threshold > 1.9 and fired[0].value > 2.9


def test_no_ratio_alert_fires_during_calibration() -> None:
    monitor = AlertMonitor(DEFAULT_RULES)
    assert steady(monitor, 0, 299, duration=50.0, tokens=90_000) == []


def test_a_candidate_is_compared_with_the_baseline_arm_at_the_same_moment() -> None:
    baseline = AlertMonitor(DEFAULT_RULES, arm="baseline")
    candidate = AlertMonitor(DEFAULT_RULES, arm="candidate", reference=baseline)
    steady(baseline, 0, 400, tokens=1000)
    events = steady(candidate, 0, 400, tokens=4000, usd=0.002)  # 4× the tokens, 2× the cost
    baseline.advance(400)
    events += candidate.advance(400)
    fired = [e for e in events if isinstance(e, AlertFired)]
    assert {e.rule for e in fired} == {"tokens_per_task", "daily_cost"}
    assert all(e.arm == "candidate" and e.t == 60.0 for e in fired)


def test_a_given_baseline_wins_and_daily_cost_projects_the_rate() -> None:
    monitor = AlertMonitor(DEFAULT_RULES, Baseline(daily_cost=10.0))
    events = steady(monitor, 0, 200, usd=0.001)  # $1.80 an hour: $43.20 a day
    events += monitor.advance(200)
    assert [e.rule for e in events] == ["daily_cost"]
    # one minute's spend (30 runs), projected to a day
    assert events[0].value == pytest.approx(0.001 * 30 * 24 * 60)


def test_memory_is_bounded_whatever_the_length_of_the_stream() -> None:
    monitor = AlertMonitor(DEFAULT_RULES)
    steady(monitor, 0, 4 * 3600)
    kept = len(monitor._recent)
    with_digests = sum(s.digest is not None for s in monitor._recent)
    steady(monitor, 4 * 3600, 12 * 3600)
    assert len(monitor._recent) == kept == 60  # the longest window: daily cost's hour
    assert sum(s.digest is not None for s in monitor._recent) == with_digests == 5
