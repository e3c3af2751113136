"""The fault engine: what happens to one request, decided before any work is done.

``decide`` is a pure function of the profile, the sim-clock time and a generator seeded by
(seed, service, request key), so a request's fate does not depend on which concurrent task
reached the sim first. The only state is the per-service ``TokenBucket``, which by nature
depends on arrival times; it reads the sim clock it is handed, never the wall clock.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from sims.profiles import (
    Fault,
    FixedLatency,
    LatencySpec,
    LognormalLatency,
    NormalLatency,
    ServiceProfile,
    SpikeFault,
    UniformLatency,
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The fate of one request."""

    latency: float = 0.0
    """Seconds to wait before answering (baseline draw, its spike, a spike fault)."""
    fault: Fault | None = None
    """The fault that fired, if any (a spike fault is already folded into ``latency``)."""
    retry_after: float | None = None
    """Set when the rate limiter refused the request: seconds until a token is free."""


class TokenBucket:
    """A token bucket on the sim clock: ``burst`` tokens, refilled at ``rate`` per second."""

    def __init__(self, rate: float, burst: int, now: float = 0.0) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._last = now

    def take(self, now: float) -> float:
        """Take one token: 0.0 when granted, else the seconds until one will be free."""
        elapsed = max(0.0, now - self._last)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
        self._last = max(self._last, now)
        if self._tokens >= 1.0 - _EPSILON:  # refilled by float sums: 0.9999999999 is a token
            self._tokens = max(0.0, self._tokens - 1.0)
            return 0.0
        return (1.0 - self._tokens) / self.rate


_EPSILON = 1e-9


def retry_after_seconds(wait: float) -> int:
    """``Retry-After`` in whole seconds, rounded up (float noise does not add a second)."""
    return max(1, math.ceil(round(wait, 9)))


def draw_latency(spec: LatencySpec | None, rng: random.Random) -> float:
    """One latency draw in seconds, spike included."""
    if spec is None:
        return 0.0
    base = _base_draw(spec, rng)
    if spec.spike is not None and rng.random() < spec.spike.p:
        base += spec.spike.extra
    return base


def _base_draw(spec: LatencySpec, rng: random.Random) -> float:
    if isinstance(spec, FixedLatency):
        return spec.value
    if isinstance(spec, UniformLatency):
        return rng.uniform(spec.low, spec.high)
    if isinstance(spec, NormalLatency):
        return max(0.0, rng.gauss(spec.mean, spec.stddev))
    assert isinstance(spec, LognormalLatency)
    return rng.lognormvariate(math.log(spec.median), spec.sigma)


def pick_fault(faults: list[Fault], rng: random.Random, now: float) -> Fault | None:
    """The first fault whose window holds ``now`` and whose rate fires."""
    for fault in faults:
        if fault.window is not None and not fault.window.contains(now):
            continue
        if rng.random() < fault.rate:
            return fault
    return None


def decide(
    profile: ServiceProfile,
    rng: random.Random,
    now: float,
    bucket: TokenBucket | None = None,
) -> Verdict:
    """The request's latency and fault, or a refusal by the rate limiter."""
    if bucket is not None:
        wait = bucket.take(now)
        if wait > 0:
            return Verdict(retry_after=wait)
    latency = draw_latency(profile.latency, rng)
    fault = pick_fault(profile.faults, rng, now)
    if isinstance(fault, SpikeFault):
        return Verdict(latency=latency + fault.extra, fault=fault)
    return Verdict(latency=latency, fault=fault)
