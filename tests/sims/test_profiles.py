"""Scenario and sims: validation: the shapes of docs/workspace-format.md, and clear errors."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from sims.profiles import (
    ErrorFault,
    LognormalLatency,
    NormalLatency,
    validate_scenario,
    validate_sims,
)

DOC_SCENARIO: dict[str, Any] = {
    "description": "Payments answers 503 for a minute, starting 30 s in",
    "services": {
        "payments": {
            "latency": {
                "dist": "normal",
                "mean": 0.2,
                "stddev": 0.05,
                "spike": {"p": 0.02, "extra": 2.0},
            },
            "faults": [
                {"kind": "error", "status": 503, "rate": 0.9, "window": {"start": 30, "end": 90}},
                {"kind": "error", "status": 429, "rate": 0.1, "retry_after": 2},
                {"kind": "error", "status": 429, "rate": 0.1, "retry_after_ms": 1500},
                {"kind": "error", "status": 429, "rate": 0.1, "retry_after_date": 3},
                {"kind": "hang", "rate": 0.01},
                {"kind": "reset", "rate": 0.01, "phase": "after"},
                {"kind": "malformed", "mode": "truncated", "rate": 0.05},
                {
                    "kind": "drift",
                    "rename": {"customer_id": "customerId"},
                    "drop": ["tier"],
                    "rate": 1.0,
                },
                {"kind": "spike", "extra": 3.0, "rate": 0.05},
            ],
            "rate_limit": {"rate": 5, "burst": 10},
        }
    },
}

DOC_SIMS: dict[str, Any] = {
    "crm": {"latency": {"dist": "lognormal", "median": 0.08, "sigma": 0.3}},
    "llm": {
        "ttft": {"dist": "lognormal", "median": 0.35, "sigma": 0.25},
        "per_token": 0.01,
        "wrong_answer_rate": 0.0,
        "rules": [
            {
                "step": "triage",
                "choices": [
                    {"weight": 3, "json": {"category": "refund", "confidence": 0.9}},
                    {"weight": 1, "json": {"category": "refund", "confidence": 0.4}},
                ],
            },
            {"match": "(?i)summari[sz]e", "text": "A short summary."},
        ],
    },
}


def test_the_documented_scenario_validates() -> None:
    scenario = validate_scenario(DOC_SCENARIO)
    payments = scenario.services["payments"]
    assert isinstance(payments.latency, NormalLatency)
    assert [f.kind for f in payments.faults][:5] == ["error", "error", "error", "error", "hang"]
    first = payments.faults[0]
    assert isinstance(first, ErrorFault) and first.window and first.window.contains(30)
    assert not first.window.contains(90)


def test_the_documented_sims_section_validates() -> None:
    config = validate_sims(DOC_SIMS)
    assert isinstance(config.crm.latency, LognormalLatency)
    assert config.llm.rules[0].answers()[0].json_ == {"category": "refund", "confidence": 0.9}
    assert config.llm.rules[1].answers()[0].text == "A short summary."


def _locs(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[Any, ...]]:
    return [tuple(e["loc"]) for e in exc.value.errors()]


@pytest.mark.parametrize(
    ("raw", "loc_start", "words"),
    [
        ({"services": {"crm": {"latncy": {}}}}, ("services", "crm", "latncy"), "Extra inputs"),
        (
            {"services": {"crm": {"latency": {"dist": "gamma"}}}},
            ("services", "crm", "latency"),
            "gamma",
        ),
        (
            {"services": {"crm": {"faults": [{"kind": "error", "status": 200}]}}},
            ("services", "crm", "faults", 0, "error", "status"),
            "greater than or equal",
        ),
        (
            {
                "services": {
                    "crm": {
                        "faults": [
                            {"kind": "error", "status": 429, "retry_after": 1, "retry_after_ms": 5}
                        ]
                    }
                }
            },
            ("services", "crm", "faults", 0, "error"),
            "at most one",
        ),
        (
            {"services": {"crm": {"faults": [{"kind": "hang", "rate": 1.5}]}}},
            ("services", "crm", "faults", 0, "hang", "rate"),
            "less than or equal",
        ),
    ],
)
def test_bad_scenarios_say_where_and_what(
    raw: dict[str, Any], loc_start: tuple[Any, ...], words: str
) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_scenario(raw)
    assert any(loc[: len(loc_start)] == loc_start for loc in _locs(exc)), _locs(exc)
    assert words in str(exc.value)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"llm": {"rules": [{"text": "x"}]}}, "exactly one of 'step' or 'match'"),
        ({"llm": {"rules": [{"step": "a", "match": "b", "text": "x"}]}}, "exactly one of"),
        ({"llm": {"rules": [{"step": "a"}]}}, "'json', 'text' or 'choices'"),
        ({"llm": {"rules": [{"match": "(", "text": "x"}]}}, "invalid regex"),
        ({"llm": {"rules": [{"step": "a", "choices": [{"weight": 1}]}]}}, "exactly one of"),
        ({"llm": {"per_token": -1}}, "greater than or equal"),
        ({"search": {}}, "Extra inputs"),
    ],
)
def test_bad_sims_sections_are_refused(raw: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError, match=words.replace("(", r"\(")):
        validate_sims(raw)


def test_a_rule_may_answer_json_null() -> None:
    config = validate_sims({"llm": {"rules": [{"step": "a", "json": None}]}})
    assert config.llm.rules[0].answers()[0].json_ is None
