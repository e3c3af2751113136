"""Each assertion, checked against a run built by hand: what passes, what fails, and what the
failure says."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from agentdesk.evals.assertions import Assertion, check, contains, same
from agentdesk.evals.paths import JsonPath, PathSyntaxError
from agentdesk.evals.runs import CaseRun

ASSERTION: TypeAdapter[Assertion] = TypeAdapter(Assertion)


def a(**fields: Any) -> Assertion:
    return ASSERTION.validate_python(fields)


@pytest.fixture
def run() -> CaseRun:
    case = CaseRun("run-1", 0, "rel", {"ticket_id": "T-1"})
    case.status, case.stop_reason, case.duration, case.usd = "ok", "completed", 1.25, 0.0004
    case.steps = {"triage": {"category": "refund", "confidence": 0.91, "reply": "Sorry!"}}
    case.output = {"id": "RPL-1", "status": "sent", "items": [1, 2.5]}
    return case


@pytest.mark.parametrize(
    ("fields", "passes"),
    [
        ({"kind": "equals", "path": "$.output.status", "value": "sent"}, True),
        ({"kind": "equals", "path": "steps.triage.category", "value": "shipping"}, False),
        ({"kind": "equals", "path": "$.output.items[0]", "value": 1.0}, True),
        ({"kind": "equals", "path": "$.output.items[0]", "value": True}, False),
        ({"kind": "contains", "value": {"status": "sent"}}, True),
        ({"kind": "contains", "path": "$.steps.triage.reply", "value": "Sorry"}, True),
        ({"kind": "contains", "path": "$.output.items", "value": 3}, False),
        ({"kind": "regex", "path": "$.output.id", "pattern": "^rpl-", "ignore_case": True}, True),
        ({"kind": "regex", "path": "$.output.id", "pattern": "^ESC-"}, False),
        ({"kind": "json_schema", "schema": {"required": ["id", "status"]}}, True),
        ({"kind": "json_schema", "schema": {"required": ["refund"]}}, False),
        ({"kind": "json_path", "path": "$.steps.triage"}, True),
        ({"kind": "json_path", "path": "$.steps.refund", "exists": False}, True),
        ({"kind": "json_path", "path": "$.steps.triage", "exists": False}, False),
        ({"kind": "json_path", "path": "$.output['status']", "equals": "sent"}, True),
        ({"kind": "json_path", "path": "$.output.items[-1]", "equals": 2}, False),
        (
            {
                "kind": "number",
                "path": "$.steps.triage.confidence",
                "value": 0.9,
                "tolerance": 0.02,
            },
            True,
        ),
        (
            {"kind": "number", "path": "$.steps.triage.confidence", "value": 0.8, "relative": 0.1},
            False,
        ),
        ({"kind": "number", "path": "$.output.status", "value": 1}, False),
        ({"kind": "stop_reason", "value": "completed"}, True),
        ({"kind": "max_cost", "usd": 0.0004}, True),
        ({"kind": "max_cost", "usd": 0.0003}, False),
        ({"kind": "max_latency", "seconds": 1}, False),
        ({"kind": "max_retries", "count": 0}, True),
        ({"kind": "breaker_never_opened"}, True),
        ({"kind": "no_fallback"}, True),
    ],
)
def test_assertion(run: CaseRun, fields: dict[str, Any], passes: bool) -> None:
    assert check(a(**fields), run).passed is passes


def test_failures_say_what_was_seen(run: CaseRun) -> None:
    outcome = check(a(kind="equals", path="$.steps.triage.category", value="shipping"), run)
    assert outcome.message == '$.steps.triage.category: expected "shipping", got "refund"'
    missing = check(a(kind="equals", path="$.steps.refund.amount", value=1), run)
    assert missing.message == "$.steps.refund.amount: nothing there"


def test_run_checks_read_the_run(run: CaseRun) -> None:
    run.stop_reason, run.retries, run.fallbacks = "step_failed: refund", 3, 1
    run.breaker_opened, run.rejected = True, 2
    assert check(a(kind="stop_reason", value="step_failed"), run).passed
    assert not check(a(kind="stop_reason", value="step_failed: reply"), run).passed
    assert check(a(kind="max_retries", count=2), run).message == "3 retries, limit 2"
    assert not check(a(kind="no_fallback"), run).passed
    breaker = check(a(kind="breaker_never_opened"), run)
    assert not breaker.passed
    assert "2 call(s) refused by an open breaker" in breaker.message


def test_json_equality_keeps_booleans_apart_from_numbers() -> None:
    assert same({"a": [1, 2.0]}, {"a": [1.0, 2]})
    assert not same(1, True)
    assert not same({"a": 1}, {"a": 1, "b": None})
    assert contains({"a": {"b": 1, "c": 2}}, {"a": {"b": 1}})
    assert not contains({"a": {"b": 1}}, {"a": {"b": 2}})


def test_paths() -> None:
    path = JsonPath.parse("$.steps['enrich kb'].results[-1]")
    assert path.parts == ("steps", "enrich kb", "results", -1)
    assert path.find({"steps": {"enrich kb": {"results": [1, 2]}}}) == (True, 2)
    assert path.find({"steps": {}}) == (False, None)
    with pytest.raises(PathSyntaxError, match="cannot read '\\.\\.x'"):
        JsonPath.parse("$.steps..x")
