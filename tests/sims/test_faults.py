"""The fault engine as pure functions: windows, order, rates, latency draws, the token bucket."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from agentdesk.engine.rng import rng_for
from sims.faults import TokenBucket, decide, draw_latency, pick_fault, retry_after_seconds
from sims.profiles import ServiceProfile, validate_scenario


def profile(**raw: Any) -> ServiceProfile:
    return validate_scenario({"services": {"s": raw}}).services["s"]


def test_the_first_fault_that_fires_wins() -> None:
    p = profile(faults=[{"kind": "error", "status": 503}, {"kind": "hang"}])
    assert decide(p, random.Random(1), 0.0).fault == p.faults[0]


def test_a_fault_outside_its_window_never_fires() -> None:
    p = profile(faults=[{"kind": "error", "status": 503, "window": {"start": 30, "end": 90}}])
    fired = [pick_fault(p.faults, random.Random(1), t) is not None for t in (0, 29.9, 30, 89, 90)]
    assert fired == [False, False, True, True, False]


def test_rates_fire_about_that_often() -> None:
    p = profile(faults=[{"kind": "error", "status": 500, "rate": 0.25}])
    fired = sum(decide(p, rng_for(7, "s", n), 0.0).fault is not None for n in range(4000))
    assert 900 < fired < 1100


def test_a_spike_fault_adds_its_latency() -> None:
    p = profile(latency={"dist": "fixed", "value": 0.2}, faults=[{"kind": "spike", "extra": 3}])
    assert decide(p, random.Random(1), 0.0).latency == 3.2


def test_latency_spikes_happen_with_their_probability() -> None:
    spec = profile(latency={"dist": "fixed", "value": 1, "spike": {"p": 0.1, "extra": 5}}).latency
    draws = [draw_latency(spec, rng_for(1, "s", n)) for n in range(2000)]
    assert set(draws) == {1.0, 6.0} and 150 < draws.count(6.0) < 250


def test_normal_latency_is_clipped_at_zero() -> None:
    spec = profile(latency={"dist": "normal", "mean": 0.01, "stddev": 1}).latency
    assert min(draw_latency(spec, rng_for(1, "s", n)) for n in range(500)) == 0.0


def test_draws_depend_only_on_the_generator_seed() -> None:
    p = profile(
        latency={"dist": "lognormal", "median": 0.3, "sigma": 0.5},
        faults=[{"kind": "error", "status": 500, "rate": 0.5}],
    )
    assert decide(p, rng_for(1, "s", "k"), 3.0) == decide(p, rng_for(1, "s", "k"), 3.0)
    runs = {decide(p, rng_for(seed, "s", "k"), 3.0).latency for seed in range(5)}
    assert len(runs) == 5


def test_the_bucket_allows_a_burst_then_answers_the_exact_wait() -> None:
    bucket = TokenBucket(rate=2, burst=3)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == 0.5
    assert bucket.take(0.25) == 0.25
    assert bucket.take(0.5) == 0.0


def test_a_refused_request_has_no_latency_or_fault() -> None:
    p = profile(faults=[{"kind": "hang"}], rate_limit={"rate": 1, "burst": 1})
    bucket = TokenBucket(1, 1)
    assert decide(p, random.Random(1), 0.0, bucket).fault is not None
    refused = decide(p, random.Random(1), 0.0, bucket)
    assert (refused.retry_after, refused.fault, refused.latency) == (1.0, None, 0.0)


def test_retry_after_rounds_up_but_not_float_noise() -> None:
    assert [retry_after_seconds(w) for w in (0.01, 1.0, 1.0000000000002, 1.2)] == [1, 1, 1, 2]


@given(
    rate=st.floats(0.1, 50),
    burst=st.integers(1, 20),
    gaps=st.lists(st.floats(0, 3), min_size=1, max_size=40),
)
def test_waiting_the_retry_after_always_gets_a_token(
    rate: float, burst: int, gaps: list[float]
) -> None:
    bucket, now = TokenBucket(rate, burst), 0.0
    for gap in gaps:
        now += gap
        wait = bucket.take(now)
        if wait > 0:
            assert bucket.take(now + retry_after_seconds(wait)) == 0.0
            now += retry_after_seconds(wait)
