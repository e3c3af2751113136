"""Compounding as pure arithmetic: the textbook figures, weights for steps that do not always
run, and the fold from step executions."""

from __future__ import annotations

import pytest

from agentdesk.evals.compounding import compose, end_to_end, validated
from agentdesk.evals.runs import StepOutcome


def test_ten_steps_at_98_percent() -> None:
    assert end_to_end([(0.98, 1.0)] * 10) == pytest.approx(0.8171, abs=1e-4)
    assert end_to_end([(validated(0.98, 0.9), 1.0)] * 10) == pytest.approx(0.9802, abs=1e-4)


def test_a_step_that_runs_in_half_the_cases_counts_half() -> None:
    assert end_to_end([(0.9, 1.0), (0.5, 0.5)]) == pytest.approx(0.9 * 0.5**0.5)
    assert end_to_end([(0.0, 0.0), (0.9, 1.0)]) == pytest.approx(0.9)
    assert end_to_end([(0.0, 1.0)]) == 0.0


def test_compose_counts_first_time_and_in_the_end() -> None:
    outcomes = [
        StepOutcome("fetch", "tool", clean=True, ok=True),
        StepOutcome("fetch", "tool", clean=False, ok=True),  # a retry saved it
        StepOutcome("fetch", "tool", clean=False, ok=True),
        StepOutcome("fetch", "tool", clean=False, ok=False),
        StepOutcome("pay", "tool", clean=True, ok=True),
    ]
    result = compose(outcomes, cases=4, completed=3)
    fetch, pay = result.steps
    assert (fetch.first_time, fetch.in_the_end, fetch.caught) == (0.25, 0.75, pytest.approx(2 / 3))
    assert (pay.per_case, pay.caught) == (0.25, None)
    assert result.without_policies == pytest.approx(0.25)
    assert result.with_policies == pytest.approx(0.75)
    assert result.measured == 0.75
    assert result.with_validation(0.9) == pytest.approx(1 - 0.75 * 0.1)
