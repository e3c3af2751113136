"""The pure judgement: each rule fires above its threshold, holds at or below it, and says
why when it cannot judge (too few calls, no reference figure)."""

from __future__ import annotations

import pytest

from agentdesk.alerts import DEFAULT_RULES, Baseline, Figures, evaluate, fired


def by_rule(figures: Figures, baseline: Baseline | None = None) -> dict[str, object]:
    return {v.rule: v for v in evaluate(DEFAULT_RULES, figures, baseline)}


def test_tool_error_rate_above_five_percent_fires() -> None:
    assert [
        v.rule for v in fired(DEFAULT_RULES, Figures(runs=5, tool_calls=100, tool_errors=6))
    ] == ["tool_error_rate"]
    assert not fired(DEFAULT_RULES, Figures(runs=5, tool_calls=100, tool_errors=5))


def test_too_few_calls_are_not_judged() -> None:
    verdict = by_rule(Figures(runs=1, tool_calls=3, tool_errors=3))["tool_error_rate"]
    assert not verdict.fired and not verdict.judged  # type: ignore[attr-defined]
    assert "fewer than 20" in verdict.message  # type: ignore[attr-defined]


def test_ratio_rules_need_a_reference_and_compare_with_it() -> None:
    slow = Figures(runs=40, latency_p95=2.1, tokens=40 * 5000, usd=0.4, seconds=3600)
    quiet = by_rule(slow)
    assert not quiet["latency_p95"].judged  # type: ignore[attr-defined]
    assert "no baseline" in quiet["latency_p95"].message  # type: ignore[attr-defined]
    baseline = Baseline(latency_p95=1.0, tokens_per_task=1600, daily_cost=5.0)
    names = {v.rule: v for v in fired(DEFAULT_RULES, slow, baseline)}
    assert set(names) == {"latency_p95", "tokens_per_task", "daily_cost"}
    assert names["latency_p95"].threshold == pytest.approx(2.0)
    assert names["daily_cost"].value == pytest.approx(0.4 * 24)  # $0.40 an hour → $9.60 a day
    assert names["daily_cost"].threshold == pytest.approx(7.5)
    assert not fired(DEFAULT_RULES, slow, Baseline(latency_p95=1.05, tokens_per_task=1700))


def test_without_a_rate_cost_per_run_is_compared() -> None:
    batch = Figures(runs=10, usd=0.02)  # an eval: no meaningful stretch of time
    [verdict] = fired(DEFAULT_RULES, batch, Baseline(usd_per_run=0.001))
    assert verdict.rule == "daily_cost" and verdict.value == pytest.approx(0.002)
    assert not fired(DEFAULT_RULES, batch, Baseline(usd_per_run=0.0014))


def test_the_files_fixed_baseline_is_used_when_none_is_given(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from agentdesk.alerts import load_rules

    (tmp_path / "alerts.yaml").write_text("baseline: {latency_p95: 500ms}\n")
    rules = load_rules(tmp_path)
    figures = Figures(runs=30, latency_p95=1.2)
    assert [v.rule for v in fired(rules, figures)] == ["latency_p95"]
    assert not fired(rules, figures, Baseline(latency_p95=0.7))  # the caller's wins
