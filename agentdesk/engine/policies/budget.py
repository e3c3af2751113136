"""Budgets: decide, before anything is spent, whether a run can afford it.

A ``BudgetMeter`` tracks one scope — a run, or a session of runs — against its limits:
tokens, dollars (in whole pico-dollars, see ``tokens.prices``), seconds on the loop's clock,
and step executions. A ``RunBudget`` answers for every meter a run is under (its own and its
session's) and returns decisions, never events:

- ``admit_step`` → ``None`` (go; the step is charged) or ``Exhausted``;
- ``plan_call`` → ``CallPlan`` (go, with at most ``max_tokens`` of output; the worst case is
  reserved) or ``Exhausted``; ``settle`` later swaps the reservation for what was spent.

The guarantee is that no meter's spend ever exceeds its limit: a call is planned with its exact
prompt count and its output bound, the output bound is lowered to what remains (``limited_by``
says which budget did it), and while it is in flight its worst case is reserved, so concurrent
calls of one run (a ``parallel`` step) cannot both spend the same remainder. Time is bounded
by ``deadline``: the executor never waits or lets an attempt run past it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agentdesk.spec.models import BudgetSpec
from agentdesk.tokens.prices import Price, pico, usd

BudgetKind = Literal["tokens", "usd", "seconds", "steps"]
Scope = Literal["run", "session"]


@dataclass(frozen=True)
class Limits:
    """A scope's limits in exact units: whole tokens, pico-dollars, seconds, steps."""

    tokens: int | None = None
    pico: int | None = None
    seconds: float | None = None
    steps: int | None = None

    @classmethod
    def from_spec(cls, spec: BudgetSpec) -> Limits:
        return cls(
            spec.tokens, None if spec.usd is None else pico(spec.usd), spec.seconds, spec.steps
        )

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.tokens, self.pico, self.seconds, self.steps))


@dataclass(frozen=True)
class Exhausted:
    """Stop: this scope cannot afford what was asked."""

    scope: Scope
    kind: BudgetKind
    used: float
    limit: float
    needed: float
    """What the refused step or call needed at least (1 step, prompt + 1 tokens, …)."""


@dataclass(frozen=True)
class CallPlan:
    """Go: send the call with at most ``max_tokens`` of output; its worst case is reserved."""

    prompt_tokens: int
    requested: int
    max_tokens: int
    reserved_pico: int
    limited_by: str = ""
    """``run:usd``, ``session:tokens``… when a budget lowered the output bound; else empty."""


class BudgetMeter:
    """What one scope has spent (and has reserved for calls in flight) against its limits."""

    def __init__(self, scope: Scope, limits: Limits, started: float) -> None:
        self.scope: Scope = scope
        self.limits = limits
        self.started = started
        self.tokens = 0
        self.pico = 0
        self.steps = 0
        self.reserved_tokens = 0
        self.reserved_pico = 0

    @property
    def deadline(self) -> float | None:
        return None if self.limits.seconds is None else self.started + self.limits.seconds

    def used(self, now: float) -> dict[str, float]:
        """What has been spent, by budget kind, for events and meters."""
        # Floats throughout, so that an event's JSON reads back byte for byte the same.
        return {
            "tokens": float(self.tokens),
            "usd": usd(self.pico),
            "seconds": round(now - self.started, 6),
            "steps": float(self.steps),
        }

    def limit_values(self) -> dict[str, float]:
        """The limits that apply, in display units (dollars, not pico-dollars)."""
        limits = self.limits
        values: dict[str, float | None] = {
            "tokens": limits.tokens,
            "usd": None if limits.pico is None else usd(limits.pico),
            "seconds": limits.seconds,
            "steps": limits.steps,
        }
        return {k: float(v) for k, v in values.items() if v is not None}

    def out_of_time(self, now: float) -> Exhausted | None:
        deadline = self.deadline
        if deadline is None or now < deadline:
            return None
        assert self.limits.seconds is not None
        return Exhausted(self.scope, "seconds", now - self.started, self.limits.seconds, 0.0)

    def step_refusal(self, now: float) -> Exhausted | None:
        late = self.out_of_time(now)
        if late is not None:
            return late
        limit = self.limits.steps
        if limit is not None and self.steps + 1 > limit:
            return Exhausted(self.scope, "steps", self.steps, limit, 1)
        return None

    def output_room(self, prompt: int, price: Price | None) -> tuple[int, str] | Exhausted:
        """The most output tokens this scope can still pay for after ``prompt``, and the kind
        of budget that sets that bound (``""`` when none does)."""
        room, kind = _UNLIMITED, ""
        if self.limits.tokens is not None:
            left = self.limits.tokens - self.tokens - self.reserved_tokens
            if prompt + 1 > left:
                used = self.tokens + self.reserved_tokens
                return Exhausted(self.scope, "tokens", used, self.limits.tokens, prompt + 1)
            room, kind = left - prompt, "tokens"
        if self.limits.pico is not None and price is not None:
            left_pico = self.limits.pico - self.pico - self.reserved_pico
            needed = price.cost_pico(prompt, 1)
            if needed > left_pico:
                used_pico = self.pico + self.reserved_pico
                return Exhausted(
                    self.scope, "usd", usd(used_pico), usd(self.limits.pico), usd(needed)
                )
            if price.output_pico > 0:
                affordable = (left_pico - price.cost_pico(prompt, 0)) // price.output_pico
                if affordable < room:
                    room, kind = affordable, "usd"
        return room, kind

    def reserve(self, tokens: int, cost: int) -> None:
        self.reserved_tokens += tokens
        self.reserved_pico += cost

    def release(self, tokens: int, cost: int) -> None:
        self.reserved_tokens -= tokens
        self.reserved_pico -= cost

    def charge(self, tokens: int, cost: int) -> None:
        self.tokens += tokens
        self.pico += cost


_UNLIMITED = 1 << 62


class RunBudget:
    """Every meter one run answers to; decides for all of them at once."""

    def __init__(self, meters: list[BudgetMeter]) -> None:
        self.meters = meters

    @property
    def deadline(self) -> float | None:
        deadlines = [d for m in self.meters if (d := m.deadline) is not None]
        return min(deadlines) if deadlines else None

    def out_of_time(self, now: float) -> Exhausted | None:
        for meter in self.meters:
            late = meter.out_of_time(now)
            if late is not None:
                return late
        return None

    def wait_refusal(self, now: float, delay: float) -> Exhausted | None:
        """Refuses a wait (a retry's back-off) that would end at or past a time limit."""
        for meter in self.meters:
            deadline, limit = meter.deadline, meter.limits.seconds
            if deadline is not None and limit is not None and now + delay >= deadline:
                return Exhausted(meter.scope, "seconds", now - meter.started, limit, delay)
        return None

    def admit_step(self, now: float) -> Exhausted | None:
        for meter in self.meters:
            refusal = meter.step_refusal(now)
            if refusal is not None:
                return refusal
        for meter in self.meters:
            meter.steps += 1
        return None

    def plan_call(
        self, prompt: int, requested: int, price: Price | None, now: float
    ) -> CallPlan | Exhausted:
        late = self.out_of_time(now)
        if late is not None:
            return late
        allowed, limited_by = requested, ""
        for meter in self.meters:
            bound = meter.output_room(prompt, price)
            if isinstance(bound, Exhausted):
                return bound
            room, kind = bound
            if room < allowed:
                allowed, limited_by = room, f"{meter.scope}:{kind}"
        cost = price.cost_pico(prompt, allowed) if price is not None else 0
        for meter in self.meters:
            meter.reserve(prompt + allowed, cost)
        return CallPlan(prompt, requested, allowed, cost, limited_by)

    def settle(self, plan: CallPlan, tokens: int, cost: int) -> None:
        """Swap a call's reservation for what it actually spent (0 when nothing was billed)."""
        for meter in self.meters:
            meter.release(plan.prompt_tokens + plan.max_tokens, plan.reserved_pico)
            meter.charge(tokens, cost)
