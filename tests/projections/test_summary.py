"""The run summary equals what counting the events directly gives; percentiles within 1 %."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentdesk.engine.events import (
    AnyEvent,
    AttemptFinished,
    BreakerTransition,
    CallRefused,
    CallRejected,
    FallbackTaken,
    RetryScheduled,
    RunFinished,
    RunStarted,
    StepFinished,
    TokensCounted,
    ValidationFailed,
    ValidationRepaired,
    decode_lines,
    encode_lines,
)
from agentdesk.projections.latency import LatencyDigest
from agentdesk.projections.summary import RunSummary, error_label, step_name
from tests.projections.conftest import demo_events

QUANTILES = (0.5, 0.95, 0.99)


def summary_of(events: list[AnyEvent]) -> RunSummary:
    summary = RunSummary()
    for event in events:
        summary.apply(event)
    return summary


def per_step(events: list[AnyEvent], kind: type[Any]) -> Counter[str]:
    """How many events of ``kind`` each step (iterations folded together) has."""
    return Counter(step_name(e.step) for e in events if isinstance(e, kind))


def exact_quantile(values: list[float], q: float) -> float:
    """Nearest rank, the definition the digest approximates."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def close(digest: LatencyDigest, values: list[float]) -> None:
    assert digest.count == len(values)
    for q in QUANTILES:
        # Values below a microsecond share the digest's first bucket.
        assert digest.quantile(q) == pytest.approx(exact_quantile(values, q), rel=0.01, abs=1e-6)
    assert digest.max == max(values)


def test_run_counts_and_stop_reasons(demo_log: list[AnyEvent]) -> None:
    summary = summary_of(demo_log)
    finished = [e for e in demo_log if isinstance(e, RunFinished)]
    assert summary.runs == sum(isinstance(e, RunStarted) for e in demo_log)
    assert summary.finished == len(finished)
    assert summary.statuses == Counter(e.status for e in finished)
    assert summary.stop_reasons == Counter(e.stop_reason for e in finished)
    assert summary.events == len(demo_log)
    assert summary.sim_time == max(e.t for e in demo_log)


def test_step_counts(demo_log: list[AnyEvent]) -> None:
    summary = summary_of(demo_log)
    expected = {
        "attempts": per_step(demo_log, AttemptFinished),
        "retries": per_step(demo_log, RetryScheduled),
        "fallbacks": per_step(demo_log, FallbackTaken),
        "repairs": per_step(demo_log, ValidationRepaired),
        "invalid_outputs": per_step(demo_log, ValidationFailed),
        "refused": per_step(demo_log, CallRefused),
        "rejected": per_step(demo_log, CallRejected),
    }
    steps = [e for e in demo_log if isinstance(e, StepFinished)]
    expected["ok"] = Counter(step_name(e.step) for e in steps if e.status == "ok")
    expected["failed"] = Counter(step_name(e.step) for e in steps if e.status == "failed")
    for field, counts in expected.items():
        got = {name: getattr(stats, field) for name, stats in summary.steps.items()}
        assert {k: v for k, v in got.items() if v} == dict(counts), field
    errors: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for e in demo_log:
        if isinstance(e, AttemptFinished) and e.outcome == "error":
            errors[step_name(e.step)][error_label(e.status_code, e.error_kind)] += 1
    assert {n: s.errors for n, s in summary.steps.items() if s.errors} == errors


def test_the_logs_exercise_what_is_counted() -> None:
    """Guard against vacuous equalities: between them the logs hold every counted event."""
    logs = ("triage@llm-429-burst", "reconciliation@malformed-json", "triage@payments-503-storm")
    seen = {type(e) for name in logs for e in demo_events(name)}
    counted = {
        RetryScheduled,
        FallbackTaken,
        ValidationFailed,
        ValidationRepaired,
        CallRejected,
        BreakerTransition,
        TokensCounted,
    }
    assert counted <= seen


def test_service_counts(demo_log: list[AnyEvent]) -> None:
    summary = summary_of(demo_log)
    attempts = [e for e in demo_log if isinstance(e, AttemptFinished)]
    assert {n: s.calls for n, s in summary.services.items()} == Counter(e.service for e in attempts)
    assert {n: s.ok for n, s in summary.services.items() if s.ok} == Counter(
        e.service for e in attempts if e.outcome == "ok"
    )


def test_breaker_transitions(demo_log: list[AnyEvent]) -> None:
    summary = summary_of(demo_log)
    moves = [e for e in demo_log if isinstance(e, BreakerTransition)]
    assert {n: b.transitions for n, b in summary.breakers.items()} == Counter(
        e.breaker for e in moves
    )
    assert {n: b.opened for n, b in summary.breakers.items() if b.opened} == Counter(
        e.breaker for e in moves if e.to_state == "open"
    )
    last = {e.breaker: e.to_state for e in moves}
    assert {n: b.state for n, b in summary.breakers.items()} == last


def test_token_totals(demo_log: list[AnyEvent]) -> None:
    tokens = [e for e in demo_log if isinstance(e, TokensCounted)]
    totals = summary_of(demo_log).tokens
    assert totals.prompt == sum(e.prompt_tokens for e in tokens)
    assert totals.completion == sum(e.completion_tokens for e in tokens)
    assert totals.reported_prompt == sum(e.reported_prompt_tokens or 0 for e in tokens)
    assert totals.reported_completion == sum(e.reported_completion_tokens or 0 for e in tokens)


def test_percentiles_are_within_one_percent_of_the_exact_values(
    demo_log: list[AnyEvent],
) -> None:
    summary = summary_of(demo_log)
    durations = [e.duration for e in demo_log if isinstance(e, RunFinished)]
    close(summary.duration, durations)
    by_service: defaultdict[str, list[float]] = defaultdict(list)
    for e in demo_log:
        if isinstance(e, AttemptFinished):
            by_service[e.service].append(e.latency)
    for name, latencies in by_service.items():
        close(summary.services[name].latency, latencies)
    by_step: defaultdict[str, list[float]] = defaultdict(list)
    for e in demo_log:
        if isinstance(e, StepFinished):
            by_step[step_name(e.step)].append(e.duration)
    for name, step_durations in by_step.items():
        close(summary.steps[name].latency, step_durations)


def test_a_replayed_log_gives_the_same_summary(demo_log: list[AnyEvent]) -> None:
    replayed = summary_of(decode_lines(encode_lines(demo_log)))
    assert replayed.to_json() == summary_of(demo_log).to_json()


@given(
    st.lists(
        st.floats(min_value=1e-6, max_value=1e4, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=300,
    )
)
def test_digest_quantiles_are_within_one_percent(values: list[float]) -> None:
    digest = LatencyDigest()
    for value in values:
        digest.add(value)
    for q in (0.0, 0.25, *QUANTILES, 1.0):
        assert digest.quantile(q) == pytest.approx(exact_quantile(values, q), rel=0.01)


@given(
    st.lists(st.floats(min_value=1e-6, max_value=1e3), min_size=1, max_size=100),
    st.lists(st.floats(min_value=1e-6, max_value=1e3), min_size=1, max_size=100),
)
def test_merged_digests_equal_one_digest_of_both(left: list[float], right: list[float]) -> None:
    a, b, both = LatencyDigest(), LatencyDigest(), LatencyDigest()
    for value in left:
        a.add(value)
        both.add(value)
    for value in right:
        b.add(value)
        both.add(value)
    a.merge(b)
    assert a.count == both.count
    assert a.max == both.max
    assert [a.quantile(q) for q in QUANTILES] == [both.quantile(q) for q in QUANTILES]
