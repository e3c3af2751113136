"""Retry decisions as pure functions: classification, Retry-After, back-off, giving up."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentdesk.engine.policies.retry import (
    Failure,
    GiveUp,
    Retry,
    RetryPolicy,
    backoff_delay,
    classify,
    retry_after,
)
from agentdesk.spec.models import BackoffSpec, RetrySpec

SPEC = RetrySpec()
DATE = "Wed, 21 Oct 2015 07:28:00 GMT"


def http(status: int, **headers: str) -> Failure:
    return Failure("http_status", status, {k.replace("_", "-"): v for k, v in headers.items()})


# --- Failure --------------------------------------------------------------------------------


def test_failure_header_names_are_case_insensitive() -> None:
    failure = Failure("http_status", 429, {"Retry-After": "2", "X-Should-Retry": "true"})
    assert failure.headers["retry-after"] == "2"
    assert failure.headers["x-should-retry"] == "true"


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (http(503), "HTTP 503"),
        (Failure("timeout"), "timeout"),
        (Failure("reset"), "connection reset"),
        (Failure("connect"), "connection failed"),
        (Failure("malformed"), "malformed response"),
        (Failure("schema"), "schema mismatch"),
    ],
)
def test_failure_reasons_are_short_and_stable(failure: Failure, reason: str) -> None:
    assert failure.reason == reason


# --- classify -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["timeout", "connect", "reset", "malformed"])
def test_transport_failures_are_transient(kind: str) -> None:
    assert classify(Failure(kind), SPEC) == "transient"  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 507, 599])
def test_retryable_statuses_are_transient(status: int) -> None:
    assert classify(http(status), SPEC) == "transient"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_other_client_errors_are_permanent(status: int) -> None:
    assert classify(http(status), SPEC) == "permanent"


def test_schema_mismatch_is_permanent() -> None:
    assert classify(Failure("schema"), SPEC) == "permanent"


def test_retry_on_adds_statuses() -> None:
    spec = RetrySpec(retry_on=[425, 429])
    assert classify(http(425), spec) == "transient"
    assert classify(http(409), spec) == "permanent"  # retry_on narrows the 4xx list
    assert classify(http(500), spec) == "transient"  # every 5xx stays transient


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (http(400, x_should_retry="true"), "transient"),
        (http(503, x_should_retry="false"), "permanent"),
        (http(503, x_should_retry="FALSE"), "permanent"),
        (http(503, x_should_retry="maybe"), "transient"),
        (Failure("timeout", None, {"X-Should-Retry": "false"}), "permanent"),
    ],
)
def test_x_should_retry_overrides(failure: Failure, expected: str) -> None:
    assert classify(failure, SPEC) == expected


# --- retry_after ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500"}, (1.5, "retry_after_ms")),
        ({"Retry-After-Ms": "250.5", "Retry-After": "9"}, (0.2505, "retry_after_ms")),
        ({"Retry-After": "2"}, (2.0, "retry_after")),
        ({"retry-after": " 1.25 "}, (1.25, "retry_after")),
        ({"retry-after": "-3"}, (0.0, "retry_after")),
        ({"retry-after-ms": "soon", "retry-after": "4"}, (4.0, "retry_after")),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "inf"}, None),
        ({"retry-after": ""}, None),
        ({}, None),
    ],
)
def test_retry_after_headers(headers: dict[str, str], expected: object) -> None:
    assert retry_after(headers, None) == expected


@pytest.mark.parametrize(
    "target",
    [
        "Wed, 21 Oct 2015 07:28:03 GMT",  # IMF-fixdate
        "Wednesday, 21-Oct-15 07:28:03 GMT",  # obsolete RFC 850
        "Wed Oct 21 07:28:03 2015",  # obsolete asctime
    ],
)
def test_retry_after_http_date_is_measured_against_the_date_header(target: str) -> None:
    assert retry_after({"Retry-After": target, "Date": DATE}, None) == (3.0, "retry_after")


def test_retry_after_http_date_falls_back_to_now_date() -> None:
    now = datetime(2015, 10, 21, 7, 27, 50, tzinfo=UTC)
    assert retry_after({"Retry-After": DATE}, now) == (10.0, "retry_after")
    naive = datetime(2015, 10, 21, 7, 27, 58)
    assert retry_after({"Retry-After": DATE}, naive) == (2.0, "retry_after")


def test_retry_after_http_date_without_a_reference_is_ignored() -> None:
    assert retry_after({"Retry-After": DATE}, None) is None


def test_retry_after_http_date_in_the_past_is_zero() -> None:
    headers = {"Retry-After": DATE, "Date": "Wed, 21 Oct 2015 08:00:00 GMT"}
    assert retry_after(headers, None) == (0.0, "retry_after")


def test_retry_after_garbage_date_is_ignored() -> None:
    assert retry_after({"Retry-After": "Wed, 99 Foo 2015", "Date": DATE}, None) is None
    assert retry_after({"Retry-After": DATE, "Date": "yesterday"}, None) is None


# --- decide ---------------------------------------------------------------------------------


def decide(failure: Failure, attempt: int = 1, spec: RetrySpec = SPEC, **kw: object) -> object:
    return RetryPolicy(spec).decide(attempt, failure, random.Random(1), **kw)  # type: ignore[arg-type]


def test_permanent_failure_gives_up_at_once() -> None:
    assert decide(http(400)) == GiveUp("permanent: HTTP 400")


def test_exhausted_attempts_give_up() -> None:
    assert decide(http(503), attempt=3) == GiveUp("retries_exhausted: 3 attempts")
    assert decide(http(503), spec=RetrySpec(max_attempts=1)) == GiveUp(
        "retries_exhausted: 1 attempts"
    )


def test_retry_after_wins_over_backoff() -> None:
    assert decide(http(429, retry_after="2")) == Retry(2.0, "HTTP 429", "retry_after")
    assert decide(http(429, retry_after_ms="1500")) == Retry(1.5, "HTTP 429", "retry_after_ms")


def test_retry_after_date_uses_now_date_when_no_date_header() -> None:
    now = datetime(2015, 10, 21, 7, 27, 55, tzinfo=UTC)
    assert decide(http(503, retry_after=DATE), now_date=now) == Retry(
        5.0, "HTTP 503", "retry_after"
    )


def test_retry_after_over_the_cap_gives_up() -> None:
    assert decide(http(429, retry_after="120")) == GiveUp("retry_after_exceeds_cap: 120s > 30s")


def test_delay_that_does_not_fit_the_step_gives_up() -> None:
    decision = decide(http(429, retry_after="5"), remaining=3.0)
    assert decision == GiveUp("step_deadline: retry in 5s >= 3s left")


def test_delay_that_fits_the_step_retries() -> None:
    assert decide(http(429, retry_after="5"), remaining=5.5) == Retry(
        5.0, "HTTP 429", "retry_after"
    )


def test_backoff_without_jitter_doubles_up_to_the_cap() -> None:
    spec = RetrySpec(max_attempts=10, backoff=BackoffSpec(base=0.5, cap=3, jitter="none"))
    delays = [decide(Failure("timeout"), n, spec) for n in range(1, 6)]
    assert delays == [Retry(d, "timeout") for d in (0.5, 1.0, 2.0, 3.0, 3.0)]


def test_backoff_draws_from_the_injected_generator() -> None:
    spec = BackoffSpec(base=1, cap=8, jitter="full")
    first = [backoff_delay(3, spec, random.Random(7)) for _ in range(2)]
    assert first[0] == first[1] == random.Random(7).uniform(0, 4)


def test_equal_jitter_keeps_half_the_delay() -> None:
    spec = BackoffSpec(base=1, cap=8, jitter="equal")
    delays = [backoff_delay(4, spec, random.Random(seed)) for seed in range(50)]
    assert all(4.0 <= d <= 8.0 for d in delays)


def test_huge_attempt_numbers_do_not_overflow() -> None:
    spec = BackoffSpec(base=1, cap=8, jitter="none")
    assert backoff_delay(10_000, spec, random.Random(0)) == 8.0


# --- properties -----------------------------------------------------------------------------

backoffs = st.builds(
    BackoffSpec,
    base=st.floats(0, 100),
    cap=st.floats(0, 100),
    jitter=st.sampled_from(["full", "equal", "none"]),
)
retry_specs = st.builds(RetrySpec, max_attempts=st.integers(1, 50), backoff=backoffs)
transient = st.one_of(
    st.sampled_from([Failure("timeout"), Failure("reset"), Failure("connect")]),
    st.integers(500, 599).map(http),
    st.sampled_from([http(408), http(409), http(429)]),
)
permanent = st.one_of(
    st.integers(400, 499).filter(lambda s: s not in (408, 409, 429)).map(http),
    st.just(Failure("schema")),
    st.just(http(503, x_should_retry="false")),
)


@given(st.integers(1, 200), backoffs, st.integers(0, 2**32))
def test_backoff_delay_is_within_zero_and_cap(attempt: int, spec: BackoffSpec, seed: int) -> None:
    assert 0.0 <= backoff_delay(attempt, spec, random.Random(seed)) <= spec.cap


@given(retry_specs, permanent, st.integers(1, 60), st.integers(0, 2**32))
def test_never_retries_a_permanent_failure(
    spec: RetrySpec, failure: Failure, attempt: int, seed: int
) -> None:
    decision = RetryPolicy(spec).decide(attempt, failure, random.Random(seed))
    assert isinstance(decision, GiveUp)
    assert decision.reason.startswith("permanent: ")


@given(retry_specs, st.lists(transient, min_size=1, max_size=60), st.integers(0, 2**32))
def test_never_more_than_max_attempts(spec: RetrySpec, failures: list[Failure], seed: int) -> None:
    policy, rng, attempts = RetryPolicy(spec), random.Random(seed), 0
    for failure in failures:
        attempts += 1
        decision = policy.decide(attempts, failure, rng)
        if isinstance(decision, GiveUp):
            break
        assert 0.0 <= decision.delay <= spec.backoff.cap
    assert attempts <= spec.max_attempts


@given(retry_specs, transient, st.floats(0, 1000), st.integers(0, 2**32))
def test_a_retry_always_fits_the_remaining_time(
    spec: RetrySpec, failure: Failure, remaining: float, seed: int
) -> None:
    decision = RetryPolicy(spec).decide(1, failure, random.Random(seed), remaining)
    assert isinstance(decision, GiveUp) or decision.delay < remaining
