"""The gates file's layers (every pipeline, one pipeline), its relative gates and their
problems, and the arithmetic of a relative change."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentdesk.errors import SpecError
from agentdesk.evals.gates import load_gates, relative_change

LAYERED = """\
defaults:
  max_error_rate: {crm: 0.05}
  max_drop: {faithfulness: 5%}
scenarios:
  happy: {min_pass_rate: 0.9, max_error_rate: {llm: 0.01}}
pipelines:
  docs:
    defaults: {max_cost_per_case: 0.01}
    scenarios:
      happy: {min_pass_rate: 0.8, max_drop: {pass_rate: 0.1}}
"""


def gates_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gates.yaml"
    path.write_text(text)
    return path


def test_a_pipeline_s_gates_go_on_top_of_everyone_s(tmp_path: Path) -> None:
    gates = load_gates(gates_file(tmp_path, LAYERED), "gates.yaml", pipelines=["docs", "other"])
    docs = gates.for_scenario("happy", "docs")
    assert docs.min_pass_rate == 0.8
    assert docs.max_cost_per_case == 0.01
    assert docs.max_error_rate == {"crm": 0.05, "llm": 0.01}
    assert docs.max_drop == {"faithfulness": 0.05, "pass_rate": 0.1}
    other = gates.for_scenario("happy", "other")
    assert (other.min_pass_rate, other.max_cost_per_case) == (0.9, None)
    assert other.max_drop == {"faithfulness": 0.05}
    assert gates.for_scenario("storm", "docs").min_pass_rate is None


def test_problems_of_pipelines_and_relative_gates_all_at_once(tmp_path: Path) -> None:
    text = (
        "defaults:\n"
        "  max_drop: {faithfulness: 5 percent}\n"
        "  max_rise: {latency_p99: 50%, cost_per_case: -1}\n"
        "pipelines:\n"
        "  suport-triage:\n"
        "    scenarios:\n"
        "      hapy: {min_score: {faithfulness: 2}}\n"
    )
    path = gates_file(tmp_path, text)
    with pytest.raises(SpecError) as caught:
        load_gates(path, "gates.yaml", scenarios=["happy"], pipelines=["support-triage"])
    assert [str(p) for p in caught.value.problems] == [
        "gates.yaml:2:28: expected a share such as 5% or 0.05, got '5 percent'",
        "gates.yaml:3:14: unknown figure 'latency_p99' (did you mean 'latency_p95'?)",
        "gates.yaml:3:47: cost_per_case must be greater than or equal to 0, got -1",
        "gates.yaml:5:3: unknown pipeline 'suport-triage' (did you mean 'support-triage'?)",
        "gates.yaml:7:7: unknown scenario 'hapy' (did you mean 'happy'?)",
        "gates.yaml:7:40: faithfulness must be less than or equal to 1, got 2",
    ]


@pytest.mark.parametrize(
    ("now", "before", "rising", "change"),
    [
        (0.76, 0.80, False, pytest.approx(0.05)),  # down 5 %
        (0.90, 0.80, False, 0.0),  # up is no drop
        (2.0, 1.0, True, 1.0),  # twice the baseline: up 100 %
        (0.5, 1.0, True, 0.0),
        (0.0, 0.0, False, 0.0),  # nothing to drop from
        (0.0, 0.0, True, 0.0),
        (0.1, 0.0, True, None),  # up from nothing: no finite share
    ],
)
def test_relative_change(now: float, before: float, rising: bool, change: object) -> None:
    assert relative_change(now, before, rising) == change
