"""alerts.yaml: the defaults without a file, tuning and switching rules off, and bad files
reported with file:line:column, every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentdesk.alerts import DEFAULT_RULES, RULE_NAMES, load_rules
from agentdesk.errors import SpecError


def write(root: Path, text: str) -> Path:
    (root / "alerts.yaml").write_text(text)
    return root


def test_without_a_file_the_four_production_thresholds_hold(tmp_path: Path) -> None:
    rules = load_rules(tmp_path)
    assert rules is DEFAULT_RULES and rules.file is None
    assert [name for name, _ in rules.enabled()] == list(RULE_NAMES)
    spec = rules.spec.rules
    assert spec.tool_error_rate is not None and spec.tool_error_rate.above == 0.05
    assert spec.tool_error_rate.window == 300
    assert spec.latency_p95 is not None and spec.latency_p95.above == 2.0
    assert spec.daily_cost is not None and (spec.daily_cost.above, spec.daily_cost.days) == (1.5, 7)
    assert spec.tokens_per_task is not None and spec.tokens_per_task.above == 3.0


def test_a_file_tunes_rules_and_switches_them_off(tmp_path: Path) -> None:
    rules = load_rules(
        write(
            tmp_path,
            "every: 30s\nbaseline: {latency_p95: 800ms, tokens_per_task: 1500}\n"
            "rules:\n  tool_error_rate: {above: 0.1, window: 10m}\n  daily_cost: false\n",
        )
    )
    assert rules.file == "alerts.yaml"
    assert rules.spec.every == 30
    assert rules.spec.baseline.latency_p95 == pytest.approx(0.8)
    assert [name for name, _ in rules.enabled()] == [
        "tool_error_rate",
        "latency_p95",
        "tokens_per_task",
    ]
    rule = rules.spec.rules.tool_error_rate
    assert rule is not None and (rule.above, rule.window, rule.min_calls) == (0.1, 600, 20)


def test_bad_rules_are_reported_with_their_place_all_at_once(tmp_path: Path) -> None:
    write(
        tmp_path,
        "rules:\n"
        "  tool_error_rate: {above: 5, window: 5 minutes}\n"
        "  latency_p59: {above: 2}\n"
        "baseline: {daily_cost: -3}\n",
    )
    with pytest.raises(SpecError) as caught:
        load_rules(tmp_path)
    shown = [str(p) for p in caught.value.problems]
    assert any(s.startswith("alerts.yaml:2:") and "above" in s for s in shown), shown
    assert any(s.startswith("alerts.yaml:2:") and "5 minutes" in s for s in shown), shown
    assert any(
        s.startswith("alerts.yaml:3:3") and "latency_p59" in s and "latency_p95" in s for s in shown
    ), shown
    assert any(s.startswith("alerts.yaml:4:") and "daily_cost" in s for s in shown), shown


def test_yaml_that_does_not_parse_names_its_line(tmp_path: Path) -> None:
    write(tmp_path, "rules:\n  tool_error_rate: {above: [\n")
    with pytest.raises(SpecError) as caught:
        load_rules(tmp_path)
    assert caught.value.problems[0].file == "alerts.yaml"
    assert caught.value.problems[0].line >= 2
