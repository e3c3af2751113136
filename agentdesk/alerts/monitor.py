"""Alerts over a stream of runs in (virtual) time, in bounded memory.

``AlertMonitor`` folds finished runs into slices of ``every`` seconds (1 minute by default).
When a slice ends it judges every rule over the rule's trailing window — the slices that window
covers, summed; percentiles from merged ``LatencyDigest``s — and turns changes into events:
``AlertFired`` when a rule starts firing, ``AlertResolved`` when its figure is back within
bounds. A rule that cannot be judged (too few calls) keeps its state.

Memory does not grow with the stream: the monitor keeps the slices of its longest window
(digests only for the latency window's), a running calibration digest, and one total per day
for the rolling daily-cost average.

Where the ratio rules' reference figures come from, first found wins:

1. the ``baseline`` given to the monitor (an eval's baseline release, say);
2. a ``reference`` monitor watching other traffic over the same windows — the baseline arm of
   a canary, so the candidate is compared with what the baseline did at the same moment;
3. ``alerts.yaml``'s fixed ``baseline:`` figures;
4. for daily cost, the average of the previous whole days of the stream (up to ``days``);
5. calibration: the stream's own first ``calibration`` seconds. Until they are over, the
   ratio rules are not judged.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace

from agentdesk.alerts.evaluate import Baseline, Figures, verdict
from agentdesk.alerts.rules import DAY, AnyRule, DailyCostRule, RuleName, Rules
from agentdesk.engine.events import AlertFired, AlertResolved
from agentdesk.projections.latency import LatencyDigest

AlertEvent = AlertFired | AlertResolved


@dataclass(frozen=True, slots=True)
class RunObservation:
    """One finished run, as the alert rules see it."""

    t: float
    """When it finished, in seconds on the stream's clock."""
    duration: float
    tool_calls: int = 0
    tool_errors: int = 0
    tokens: int = 0
    usd: float = 0.0


class _Slice:
    __slots__ = ("digest", "index", "runs", "tokens", "tool_calls", "tool_errors", "usd")

    def __init__(self, index: int) -> None:
        self.index = index
        self.runs = self.tool_calls = self.tool_errors = self.tokens = 0
        self.usd = 0.0
        self.digest: LatencyDigest | None = LatencyDigest()


class AlertMonitor:
    """Judges ``rules`` over a stream of runs; yields alert events as slices end."""

    def __init__(
        self,
        rules: Rules,
        baseline: Baseline | None = None,
        *,
        arm: str = "",
        reference: AlertMonitor | None = None,
        start: float = 0.0,
    ) -> None:
        self.rules = rules
        self.arm = arm
        self.baseline = baseline
        self.reference = reference
        self.start = start
        self.every = rules.spec.every
        self.active: dict[RuleName, AlertFired] = {}
        """The rules firing now, with the event that started each."""
        windows = [rule.window for _, rule in rules.enabled()] or [self.every]
        self._keep = max(self._slices(w) for w in windows)
        latency = rules.spec.rules.latency_p95
        self._keep_digests = self._slices(latency.window) if latency else 1
        self._recent: deque[_Slice] = deque([_Slice(0)])
        self._calibration_slices = self._slices(rules.spec.calibration)
        self._calibration = _Totals()
        self._calibrated: Baseline | None = None
        self._days: deque[float] = deque(maxlen=self._history_days())
        self._today = 0.0
        self._day = 0

    # --- feeding ------------------------------------------------------------------------------

    def observe(self, run: RunObservation) -> list[AlertEvent]:
        """Count a finished run; returns the events of the slices that ended before it."""
        events = self.advance(run.t)
        current = self._recent[-1]
        current.runs += 1
        current.tool_calls += run.tool_calls
        current.tool_errors += run.tool_errors
        current.tokens += run.tokens
        current.usd += run.usd
        if current.digest is not None:
            current.digest.add(run.duration)
        if current.index < self._calibration_slices:
            self._calibration.add(run)
        return events

    def advance(self, now: float) -> list[AlertEvent]:
        """Close every slice that ended by ``now``; returns the events they raised."""
        events: list[AlertEvent] = []
        upto = math.floor((now - self.start) / self.every + 1e-9)
        while self._recent[-1].index < upto:
            events += self._close()
        return events

    # --- figures ------------------------------------------------------------------------------

    def figures(self, window: float, end: int | None = None) -> Figures:
        """The figures of the ``window`` seconds of slices before slice ``end`` (default: the
        slices closed so far)."""
        last = self._recent[-1].index if end is None else end
        first = max(0, last - self._slices(window))
        chosen = [s for s in self._recent if first <= s.index < last]
        return _figures(chosen, (last - first) * self.every)

    # --- inside -------------------------------------------------------------------------------

    def _slices(self, seconds: float) -> int:
        return max(1, math.ceil(seconds / self.every - 1e-9))

    def _history_days(self) -> int:
        rule = self.rules.spec.rules.daily_cost
        return rule.days if rule is not None else 1

    def _close(self) -> list[AlertEvent]:
        closing = self._recent[-1]
        end = closing.index + 1
        self._count_day(closing)
        if end == self._calibration_slices:
            self._calibrated = self._calibration.baseline(self.rules.spec.calibration)
        events = self._judge(end)
        self._recent.append(_Slice(end))
        while len(self._recent) > self._keep:
            self._recent.popleft()
        for old in list(self._recent)[: -self._keep_digests]:
            old.digest = None
        return events

    def _count_day(self, closing: _Slice) -> None:
        day = int((closing.index * self.every) // DAY)
        if day != self._day:
            self._days.append(self._today)
            self._today, self._day = 0.0, day
        self._today += closing.usd

    def _judge(self, end: int) -> list[AlertEvent]:
        t = round(self.start + end * self.every, 6)
        events: list[AlertEvent] = []
        for name, rule in self.rules.enabled():
            figures = self.figures(rule.window, end)
            judged = verdict(name, rule, figures, self._baseline_for(rule, end))
            if not judged.judged:
                continue
            active = self.active.get(name)
            if judged.fired and active is None:
                assert judged.value is not None and judged.threshold is not None
                fired = AlertFired(
                    t=t,
                    rule=name,
                    value=judged.value,
                    threshold=judged.threshold,
                    window=figures.seconds,
                    message=judged.message,
                    arm=self.arm,
                )
                self.active[name] = fired
                events.append(fired)
            elif not judged.fired and active is not None:
                del self.active[name]
                events.append(
                    AlertResolved(
                        t=t,
                        rule=name,
                        value=judged.value or 0.0,
                        threshold=judged.threshold or 0.0,
                        fired_at=active.t,
                        arm=self.arm,
                    )
                )
        return events

    def _baseline_for(self, rule: AnyRule, end: int) -> Baseline:
        chain: list[Baseline] = []
        if self.baseline is not None:
            chain.append(self.baseline)
        if self.reference is not None:
            other = self.reference.figures(rule.window, end)
            chain.append(
                Baseline(
                    latency_p95=other.latency_p95,
                    usd_per_run=other.usd_per_run or None,
                    tokens_per_task=other.tokens_per_task or None,
                )
            )
        fixed = self.rules.spec.baseline
        chain.append(Baseline(fixed.latency_p95, fixed.daily_cost, None, fixed.tokens_per_task))
        if isinstance(rule, DailyCostRule) and self._days:
            recent = list(self._days)[-rule.days :]
            chain.append(Baseline(daily_cost=sum(recent) / len(recent)))
        if self._calibrated is not None:
            chain.append(self._calibrated)
        merged = Baseline()
        for baseline in chain:
            merged = merged.merged(baseline)
        if self.reference is not None and merged.usd_per_run:
            # Arms carry different shares of the traffic: compare what a run costs on each.
            merged = replace(merged, daily_cost=None)
        return merged


class _Totals:
    """Calibration: everything the first stretch measured, run by run."""

    def __init__(self) -> None:
        self.runs = self.tokens = 0
        self.usd = 0.0
        self.digest = LatencyDigest()

    def add(self, run: RunObservation) -> None:
        self.runs += 1
        self.tokens += run.tokens
        self.usd += run.usd
        self.digest.add(run.duration)

    def baseline(self, seconds: float) -> Baseline | None:
        if not self.runs:
            return None
        return Baseline(
            latency_p95=self.digest.quantile(0.95),
            daily_cost=self.usd / seconds * DAY if self.usd else None,
            tokens_per_task=self.tokens / self.runs if self.tokens else None,
        )


def _figures(slices: Iterable[_Slice], seconds: float) -> Figures:
    runs = calls = errors = tokens = 0
    usd = 0.0
    digest = LatencyDigest()
    for s in slices:
        runs += s.runs
        calls += s.tool_calls
        errors += s.tool_errors
        tokens += s.tokens
        usd += s.usd
        if s.digest is not None:
            digest.merge(s.digest)
    p95 = digest.quantile(0.95) if digest.count else None
    return Figures(runs, calls, errors, p95, usd, tokens, seconds)
