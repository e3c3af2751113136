"""Arrival patterns, think times and canary routing: seeded, and shaped as documented."""

from __future__ import annotations

from statistics import mean

import pytest

from agentdesk.load import LoadPlan


def test_constant_arrival_spreads_first_requests_over_one_think_time() -> None:
    plan = LoadPlan(sessions=400, duration=3600, think=60)
    presence = [plan.presence(i, seed=1) for i in range(400)]
    assert all(0 <= join < 60 and leave == 3600 for join, leave in presence)
    assert plan.active(seed=1)[5:] == [400] * (plan.windows - 5)


def test_ramp_goes_from_none_to_all_linearly() -> None:
    plan = LoadPlan(sessions=100, duration=1000, arrival="ramp", windows=10)
    # session i joins at i/100 × 1000 s; the middles of the slices are 50 s, 150 s…
    assert plan.active(seed=1) == [6, 16, 26, 36, 46, 56, 66, 76, 86, 96]


def test_spike_adds_four_fifths_between_forty_and_sixty_percent() -> None:
    plan = LoadPlan(sessions=100, duration=3600, arrival="spike", windows=10)
    assert plan.active(seed=1) == [20, 20, 20, 20, 100, 100, 20, 20, 20, 20]


def test_think_times_are_exponential_around_the_mean_and_seeded() -> None:
    plan = LoadPlan(sessions=1, duration=60, think=60)
    draws = [plan.think_time(7, session, turn) for session in range(50) for turn in range(40)]
    assert mean(draws) == pytest.approx(60, rel=0.08)
    assert draws == [plan.think_time(7, s, t) for s in range(50) for t in range(40)]
    assert draws != [plan.think_time(8, s, t) for s in range(50) for t in range(40)]


def test_a_canary_share_routes_about_that_share_of_sessions_for_good() -> None:
    plan = LoadPlan(sessions=2000, duration=60, canary=0.1)
    chosen = [plan.on_candidate(3, s) for s in range(2000)]
    assert sum(chosen) == pytest.approx(200, abs=40)
    assert chosen == [plan.on_candidate(3, s) for s in range(2000)]
    assert not any(LoadPlan(10, 60).on_candidate(3, s) for s in range(10))
