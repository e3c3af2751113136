"""Least privilege for tool steps, against hostile placeholder values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentdesk.engine.policies.allowlist import (
    Allowlist,
    check,
    default_rules,
    path_problem,
    rules_for,
)
from agentdesk.spec.models import AllowRule, ToolStep

STEP = ToolStep(kind="tool", id="ticket", service="crm", path="/tickets/{{ input.ticket_id }}")
RULES = default_rules(STEP)


def call(value: str, service: str = "crm", method: str = "GET") -> str | None:
    """Check the request the step makes when its placeholder renders to ``value``."""
    return check(RULES, service, method, f"/tickets/{value}")


def test_default_rules_are_the_steps_own_shape() -> None:
    step = ToolStep(
        kind="tool",
        id="esc",
        service="crm",
        method="POST",
        path="/tickets/{{ input.ticket_id }}/notes/T-{{steps.x.n}}",
    )
    assert default_rules(step) == [
        AllowRule(service="crm", methods=["POST"], paths=["/tickets/*/notes/T-*"])
    ]


def test_rules_for_prefers_the_explicit_allow_list() -> None:
    allow = [AllowRule(service="crm", paths=["/tickets/**"])]
    step = STEP.model_copy(update={"allow": allow})
    assert rules_for(step) == allow
    assert rules_for(STEP) == RULES


@pytest.mark.parametrize("value", ["T-1001", "T%20one", "ticket.json", "%3Fq"])
def test_one_segment_values_are_allowed(value: str) -> None:
    assert call(value) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("http://evil.example/steal", "absolute URL refused"),
        ("../../admin", "path traversal refused"),
        ("T-1/../../x", "path traversal refused"),
        ("./T-1", "path traversal refused"),
        ("%2e%2e%2fadmin", "path traversal refused"),
        ("%2E%2E", "path traversal refused"),
        ("%252e%252e", "path traversal refused"),
        ("a%2fb", "path traversal refused"),
        ("a%5cb", "path traversal refused"),
        ("x\r\nHost: evil", "control character in path refused"),
        ("x%0d%0aHost: evil", "control character in path refused"),
        ("x%00", "control character in path refused"),
        ("x\u2028y", "control character in path refused"),
        ("..\\admin", "backslash in path refused"),
        ("T-1?admin=1", "query or fragment inside path '/tickets/T-1?admin=1' refused"),
        ("T-1#frag", "query or fragment inside path '/tickets/T-1#frag' refused"),
        ("T-1/admin", "path '/tickets/T-1/admin' does not match /tickets/*"),
        ("", "path '/tickets/' does not match /tickets/*"),
        ("/T-1", "empty path segment refused"),
    ],
)
def test_hostile_values_are_refused(value: str, reason: str) -> None:
    assert call(value) == reason


@pytest.mark.parametrize(
    "path",
    ["http://evil.example/steal", "//evil.example/steal", "HTTPS://x", "javascript:alert(1)"],
)
def test_absolute_urls_are_refused(path: str) -> None:
    assert check(RULES, "crm", "GET", path) == "absolute URL refused"


def test_relative_paths_are_refused() -> None:
    assert check(RULES, "crm", "GET", "tickets/T-1") == "path 'tickets/T-1' must start with '/'"


def test_other_services_are_refused() -> None:
    assert call("T-1", service="evil") == "service 'evil' not allowed for this step"


def test_other_methods_are_refused() -> None:
    assert call("T-1", method="DELETE") == "method DELETE not allowed for service 'crm'"


def test_reasons_quote_untrusted_text_safely() -> None:
    reason = check(RULES, "crm", "GET", "/other/" + "x" * 200)
    assert (
        reason is not None and len(reason) < 140 and reason.endswith("…' does not match /tickets/*")
    )
    reason = check(RULES, "ev\x1bil", "GET", "/tickets/1")
    assert reason == "service 'ev?il' not allowed for this step"


def test_double_star_spans_segments() -> None:
    rules = [AllowRule(service="kb", methods=["get"], paths=["/docs/**", "/v1/*/items/**/raw"])]
    assert check(rules, "kb", "GET", "/docs") is None
    assert check(rules, "kb", "GET", "/docs/a/b/c") is None
    assert check(rules, "kb", "GET", "/v1/x/items/raw") is None
    assert check(rules, "kb", "GET", "/v1/x/items/a/b/raw") is None
    assert check(rules, "kb", "GET", "/v1/x/y/items/raw") is not None
    assert check(rules, "kb", "GET", "/docs/../admin") == "path traversal refused"
    assert check(rules, "kb", "GET", "/docs/a?x=1") is not None


def test_a_literal_query_in_the_pattern_still_matches() -> None:
    rules = [AllowRule(service="kb", paths=["/search?q=*"])]
    assert check(rules, "kb", "GET", "/search?q=refunds") is None
    assert check(rules, "kb", "GET", "/search?q=a#b") is not None


def test_any_matching_rule_allows() -> None:
    rules = [
        AllowRule(service="crm", methods=["GET"], paths=["/tickets/*"]),
        AllowRule(service="crm", methods=["POST"], paths=["/tickets/*/escalations"]),
    ]
    assert check(rules, "crm", "POST", "/tickets/T-1/escalations") is None
    assert check(rules, "crm", "POST", "/tickets/T-1") is not None


def test_path_problem_on_its_own() -> None:
    assert path_problem("/tickets/T-1") is None
    assert path_problem("/a//b") == "empty path segment refused"


@given(st.text(max_size=30))
def test_a_placeholder_never_escapes_its_segment(value: str) -> None:
    if call(value) is None:
        assert "/" not in value and "?" not in value and "#" not in value
        assert value not in ("", ".", "..") and "\\" not in value


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["crm", "payments"]),
            st.sampled_from(["GET", "POST"]),
            st.sampled_from(["T-1", "T-2", "..", "%2e%2e", "a/b", "", "x?y"]),
        ),
        max_size=30,
    )
)
def test_a_remembered_verdict_is_the_verdict(calls: list[tuple[str, str, str]]) -> None:
    """The engine asks a step's ``Allowlist``, which remembers what it decided; asked again,
    in any order, it answers what ``check`` answers."""
    allowlist = Allowlist(RULES)
    allowlist.REMEMBERED = 4  # forgets often too
    for service, method, value in calls + calls[::-1]:
        path = f"/tickets/{value}"
        assert allowlist.check(service, method, path) == check(RULES, service, method, path)
    assert len(allowlist._verdicts) <= 4
