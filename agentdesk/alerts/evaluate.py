"""Judging figures against rules: a pure function from what was measured to verdicts.

``Figures`` is what one stretch of traffic measured (a window of a load test, a scenario of an
eval, a batch of recorded runs); ``Baseline`` is what it is compared with. ``evaluate`` gives
one ``Verdict`` per enabled rule — fired, within bounds, or not judged (too few calls, no
reference figure) with the reason — so a report can say why a rule stayed quiet.

Three rules are ratios to a reference. The reference comes from ``Baseline``: a release's
measured figures (eval baselines, the baseline arm of a canary), ``alerts.yaml``'s fixed
``baseline:``, or a calibration stretch (``monitor.AlertMonitor``). Daily cost is the spend
rate projected to a day when the figures cover a known stretch of time; for a batch with no
meaningful rate (an eval's cases run back to back) the cost per run is compared instead — at
equal traffic the two ratios are the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentdesk.alerts.durations import shown
from agentdesk.alerts.rules import (
    DAY,
    AnyRule,
    DailyCostRule,
    LatencyP95Rule,
    RuleName,
    Rules,
    TokensPerTaskRule,
    ToolErrorRateRule,
)


@dataclass(frozen=True, slots=True)
class Figures:
    """What one stretch of traffic measured."""

    runs: int = 0
    tool_calls: int = 0
    """Attempts sent to tool services (model calls are not tool calls)."""
    tool_errors: int = 0
    latency_p95: float | None = None
    """Run duration p95 in (simulated) seconds; None with no run."""
    usd: float = 0.0
    tokens: int = 0
    """Prompt + completion tokens billed."""
    seconds: float = 0.0
    """The stretch of time the figures cover; 0 when it has no meaning (an eval batch)."""

    @property
    def tool_error_rate(self) -> float:
        return self.tool_errors / self.tool_calls if self.tool_calls else 0.0

    @property
    def tokens_per_task(self) -> float:
        return self.tokens / self.runs if self.runs else 0.0

    @property
    def usd_per_run(self) -> float:
        return self.usd / self.runs if self.runs else 0.0

    @property
    def daily_cost(self) -> float | None:
        """USD per day at this stretch's spend rate; None when the stretch has no length."""
        return self.usd / self.seconds * DAY if self.seconds > 0 else None


@dataclass(frozen=True, slots=True)
class Baseline:
    """Reference figures for the ratio rules; a figure left None leaves its rule unjudged."""

    latency_p95: float | None = None
    daily_cost: float | None = None
    """USD per day (the rolling 7-day average)."""
    usd_per_run: float | None = None
    """Cost per run, for figures without a rate (``Figures.seconds == 0``)."""
    tokens_per_task: float | None = None

    def merged(self, fallback: Baseline) -> Baseline:
        """These figures, with ``fallback``'s where these are None."""
        return Baseline(
            *(
                mine if mine is not None else theirs
                for mine, theirs in (
                    (self.latency_p95, fallback.latency_p95),
                    (self.daily_cost, fallback.daily_cost),
                    (self.usd_per_run, fallback.usd_per_run),
                    (self.tokens_per_task, fallback.tokens_per_task),
                )
            )
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    """One rule judged against one set of figures."""

    rule: RuleName
    fired: bool
    value: float | None
    """The figure (None when it could not be measured)."""
    threshold: float | None
    """What fires the rule, resolved to the figure's unit (a ratio times its reference)."""
    window: float
    message: str
    """Why it fired, why it held, or why it was not judged."""
    judged: bool = True


def evaluate(rules: Rules, figures: Figures, baseline: Baseline | None = None) -> list[Verdict]:
    """Every enabled rule judged against ``figures`` (one stretch: its window is the stretch).

    The ``baseline`` given wins over ``alerts.yaml``'s fixed ``baseline:`` figures."""
    reference = _reference(rules, baseline)
    return [verdict(name, rule, figures, reference) for name, rule in rules.enabled()]


def fired(rules: Rules, figures: Figures, baseline: Baseline | None = None) -> list[Verdict]:
    """Only the rules that fired."""
    return [v for v in evaluate(rules, figures, baseline) if v.fired]


def _reference(rules: Rules, baseline: Baseline | None) -> Baseline:
    spec = rules.spec.baseline
    fixed = Baseline(
        latency_p95=spec.latency_p95,
        daily_cost=spec.daily_cost,
        tokens_per_task=spec.tokens_per_task,
    )
    return fixed if baseline is None else baseline.merged(fixed)


def verdict(name: RuleName, rule: AnyRule, figures: Figures, baseline: Baseline) -> Verdict:
    """One rule against figures already cut to the rule's window."""
    if isinstance(rule, ToolErrorRateRule):
        return _tool_errors(rule, figures)
    if isinstance(rule, LatencyP95Rule):
        return _latency(rule, figures, baseline)
    if isinstance(rule, DailyCostRule):
        return _daily_cost(rule, figures, baseline)
    assert isinstance(rule, TokensPerTaskRule)
    return _tokens(rule, figures, baseline)


def _tool_errors(rule: ToolErrorRateRule, f: Figures) -> Verdict:
    name: RuleName = "tool_error_rate"
    if f.tool_calls < rule.min_calls:
        return _unjudged(name, rule, f"{f.tool_calls} tool call(s), fewer than {rule.min_calls}")
    rate = f.tool_error_rate
    fired = rate > rule.above
    message = (
        f"tool-call error rate {rate:.1%} ({f.tool_errors}/{f.tool_calls}) "
        f"{'>' if fired else '≤'} {rule.above:.0%} over {shown(rule.window)}"
    )
    return Verdict(name, fired, rate, rule.above, rule.window, message)


def _latency(rule: LatencyP95Rule, f: Figures, baseline: Baseline) -> Verdict:
    name: RuleName = "latency_p95"
    if f.runs < rule.min_runs or f.latency_p95 is None:
        return _unjudged(name, rule, f"{f.runs} run(s), fewer than {rule.min_runs}")
    if not baseline.latency_p95:
        return _unjudged(name, rule, "no baseline p95")
    limit = rule.above * baseline.latency_p95
    fired = f.latency_p95 > limit
    message = (
        f"p95 latency {f.latency_p95:.3g}s {'>' if fired else '≤'} {rule.above:g}× "
        f"baseline {baseline.latency_p95:.3g}s over {shown(rule.window)}"
    )
    return Verdict(name, fired, f.latency_p95, limit, rule.window, message)


def _daily_cost(rule: DailyCostRule, f: Figures, baseline: Baseline) -> Verdict:
    name: RuleName = "daily_cost"
    if not f.runs:
        return _unjudged(name, rule, "no run")
    daily = f.daily_cost
    if daily is not None and baseline.daily_cost:
        limit = rule.above * baseline.daily_cost
        fired = daily > limit
        message = (
            f"daily cost ${daily:.4g}/day {'>' if fired else '≤'} {rule.above:.0%} of the "
            f"{rule.days}-day average ${baseline.daily_cost:.4g}/day"
        )
        return Verdict(name, fired, daily, limit, rule.window, message)
    if baseline.usd_per_run:
        limit = rule.above * baseline.usd_per_run
        fired = f.usd_per_run > limit
        message = (
            f"cost per run ${f.usd_per_run:.4g} {'>' if fired else '≤'} {rule.above:.0%} of "
            f"the baseline's ${baseline.usd_per_run:.4g} (daily cost at equal traffic)"
        )
        return Verdict(name, fired, f.usd_per_run, limit, rule.window, message)
    return _unjudged(name, rule, "no average daily cost to compare with")


def _tokens(rule: TokensPerTaskRule, f: Figures, baseline: Baseline) -> Verdict:
    name: RuleName = "tokens_per_task"
    if f.runs < rule.min_runs:
        return _unjudged(name, rule, f"{f.runs} run(s), fewer than {rule.min_runs}")
    if not baseline.tokens_per_task:
        return _unjudged(name, rule, "no expected tokens per task")
    limit = rule.above * baseline.tokens_per_task
    value = f.tokens_per_task
    fired = value > limit
    message = (
        f"tokens per task {value:,.0f} {'>' if fired else '≤'} {rule.above:g}× the expected "
        f"{baseline.tokens_per_task:,.0f} over {shown(rule.window)}"
    )
    return Verdict(name, fired, value, limit, rule.window, message)


def _unjudged(name: RuleName, rule: AnyRule, why: str) -> Verdict:
    return Verdict(name, False, None, None, rule.window, f"not judged: {why}", judged=False)
