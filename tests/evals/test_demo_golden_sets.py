"""Both demo golden sets under every demo scenario: the eval runs, the gates give the verdicts
``fixtures/gates.yaml`` explains (its comments say why each failing one fails), and the
doc-reconciliation set checks what that pipeline must get right."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.evals.conftest import DEMO, Eval

SCENARIOS = sorted(p.stem for p in (DEMO / "scenarios").glob("*.yaml"))
FAILING_GATES = {
    ("support-triage", "crm-latency-spike"): {"max_error_rate[crm]"},
    ("support-triage", "prompt-injection"): {"min_pass_rate_by_tag[injection]"},
    ("doc-reconciliation", "llm-429-burst"): {"min_end_to_end"},
}


def test_the_demo_scenarios_are_the_ones_checked_here() -> None:
    assert SCENARIOS == [
        "crm-latency-spike",
        "happy",
        "llm-429-burst",
        "malformed-json",
        "payments-503-storm",
        "prompt-injection",
        "schema-drift",
    ]


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("pipeline", ["support-triage", "doc-reconciliation"])
def test_each_golden_set_under_each_scenario(run_eval: Eval, pipeline: str, scenario: str) -> None:
    result = run_eval(pipeline, "-s", scenario, "--json", "--no-record")
    data: dict[str, Any] = json.loads(result.stdout)
    [report] = data["scenarios"]
    assert report["cases"] == len(report["results"]) > 0
    failed = {g["gate"] for g in report["gates"] if not g["passed"]}
    assert failed == FAILING_GATES.get((pipeline, scenario), set())
    assert result.exit_code == (3 if failed else 0)
    assert report["compounding"]["steps"], "every scenario measures its steps"


def cases(run_eval: Eval, scenario: str) -> dict[str, dict[str, Any]]:
    result = run_eval("doc-reconciliation", "-s", scenario, "--json", "--no-record")
    return {c["case"]: c for c in json.loads(result.stdout)["scenarios"][0]["results"]}


def failed(case: dict[str, Any]) -> list[str]:
    return [f"{a['kind']}: {a['message']}" for a in case["assertions"] if not a["passed"]]


def test_doc_reconciliation_catches_a_review_loop_that_never_agreed(run_eval: Eval) -> None:
    """Under happy every step works, yet a loop whose reviewer said 'retry' three times
    completes unreconciled: the golden set fails exactly those cases, and their faithfulness."""
    found = cases(run_eval, "happy")
    assert len(found) == 12
    unreconciled = {k: c for k, c in found.items() if not c["passed"]}
    assert unreconciled, "the seeded reviewer sends some proposals back three times"
    for case in unreconciled.values():
        assert case["stop_reason"] == "completed"
        assert failed(case)[0].startswith('json_path: $.steps.review.verdict: expected "match"')
        assert case["scores"] == {"faithfulness": 0.0}
    for case in found.values():
        if case["passed"]:
            assert case["scores"] == {"faithfulness": 1.0}


def test_doc_reconciliation_without_its_ledger(run_eval: Eval) -> None:
    """Payments down: the ledger step's breaker opens and the reconciliation never starts."""
    found = cases(run_eval, "payments-503-storm")
    stopped = [c for c in found.values() if c["stop_reason"] == "breaker_open: ledger"]
    assert len(stopped) >= 10
    assert all("json_path: $.steps.ledger.id: nothing there" in failed(c) for c in stopped)


def test_the_doc_reconciliation_golden_file_is_valid() -> None:
    from agentdesk.evals.golden import load_golden

    golden = load_golden(DEMO / "golden" / "doc-reconciliation.jsonl", "doc-reconciliation")
    assert {tag for case in golden.cases for tag in case.tags} >= {
        "invoice",
        "receipt",
        "credit_note",
        "hostile",
    }
