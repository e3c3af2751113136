"""Latency per step and per service: percentiles over everything, a sparkline of the recent.

Percentiles come from ``projections.latency.LatencyDigest`` (constant memory); the sparkline
is the last ``SPARK`` values, so a storm shows up as a spike at the right end.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from agentdesk.engine.events import AnyEvent, AttemptFinished, StepFinished
from agentdesk.projections.latency import LatencyDigest
from agentdesk.projections.summary import step_name

SPARK = 40


@dataclass
class Series:
    name: str
    kind: str
    """``step`` or ``service``."""
    digest: LatencyDigest = field(default_factory=LatencyDigest)
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=SPARK))

    def add(self, seconds: float) -> None:
        self.digest.add(seconds)
        self.recent.append(seconds)


class LatencyBook:
    def __init__(self) -> None:
        self.steps: dict[str, Series] = {}
        self.services: dict[str, Series] = {}

    def apply(self, event: AnyEvent) -> None:
        if isinstance(event, StepFinished) and event.kind in ("llm", "tool", "parallel", "loop"):
            name = step_name(event.step)
            _series(self.steps, name, "step").add(event.duration)
        elif isinstance(event, AttemptFinished) and event.error_kind != "breaker_open":
            _series(self.services, event.service, "service").add(event.latency)

    def rows(self) -> list[Series]:
        return [*self.steps.values(), *sorted(self.services.values(), key=lambda s: s.name)]


def _series(table: dict[str, Series], name: str, kind: str) -> Series:
    series = table.get(name)
    if series is None:
        series = table[name] = Series(name, kind)
    return series
