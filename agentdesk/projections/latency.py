"""A latency digest: percentiles in constant memory, deterministic, ~1 % relative error.

Values are counted in logarithmic buckets (each 1 % wider than the last), so a run of a
million calls costs a few hundred integers, not a million floats, and merging two digests is
adding counters. Exact sorting would be simpler but would grow with every session.
"""

from __future__ import annotations

import math
from collections import Counter

_GROWTH = 1.01
_LOG_GROWTH = math.log(_GROWTH)
_FLOOR = 1e-6
"""Values below a microsecond share bucket 0."""


class LatencyDigest:
    def __init__(self) -> None:
        self._buckets: Counter[int] = Counter()
        self.count = 0
        self.total = 0.0
        self.max = 0.0

    def add(self, seconds: float) -> None:
        self._buckets[_bucket(seconds)] += 1
        self.count += 1
        self.total += seconds
        self.max = max(self.max, seconds)

    def merge(self, other: LatencyDigest) -> None:
        self._buckets.update(other._buckets)
        self.count += other.count
        self.total += other.total
        self.max = max(self.max, other.max)

    def quantile(self, q: float) -> float:
        """The value at quantile ``q`` (0..1); 0.0 when empty."""
        if not self.count:
            return 0.0
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for bucket in sorted(self._buckets):
            seen += self._buckets[bucket]
            if seen >= rank:
                return min(_value(bucket), self.max)
        return self.max

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0


def _bucket(seconds: float) -> int:
    if seconds <= _FLOOR:
        return 0
    return 1 + int(math.log(seconds / _FLOOR) / _LOG_GROWTH)


def _value(bucket: int) -> float:
    """The upper edge of a bucket."""
    if bucket == 0:
        return _FLOOR
    return _FLOOR * _GROWTH**bucket
