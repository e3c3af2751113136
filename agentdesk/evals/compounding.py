"""Compounding: how per-step reliability multiplies into end-to-end reliability.

A pipeline succeeds only when every step does, so per-step success rates multiply: 98 % per
step over 10 steps is 0.98¹⁰ ≈ 82 % end to end. Validation changes the factor, not the
exponent: a check that catches a fraction ``c`` of a step's errors (and gets them redone —
a retry, a re-ask, a fallback) leaves ``(1 - p)(1 - c)`` of them, so 90 % caught at 98 % per
step gives 0.998¹⁰ ≈ 98 %.

The eval measures both factors for every working step (tool, llm, validate): **first time**
(no failed attempt, no invalid answer, no fallback) and **in the end** (after the pipeline's
retries, repairs and fallbacks — its validation). Steps that do not run in every case (a route
picks one branch; a loop repeats) count by how often they run per case: the composed figure is
``∏ pᵢ^(nᵢ/N)``, the expected product along the paths the cases actually took, which is the
plain product for a straight pipeline. A step with ``on_error: continue`` counts its failures
although the run goes on, so the composed figure is a floor for the measured one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from agentdesk.evals.runs import StepOutcome

EXAMPLE = (0.98, 10, 0.9)
"""The reference the report shows beside the measured figures: per-step success, steps,
share of errors caught by validation."""


def validated(success: float, caught: float) -> float:
    """A step's success when validation catches ``caught`` of its errors and they are redone."""
    return 1 - (1 - success) * (1 - caught)


def end_to_end(factors: Iterable[tuple[float, float]]) -> float:
    """∏ success^weight over (success, weight) pairs; weight is executions per case."""
    log = 0.0
    for success, weight in factors:
        if weight == 0:
            continue
        if success <= 0:
            return 0.0
        log += weight * math.log(success)
    return math.exp(log)


@dataclass(frozen=True, slots=True)
class StepReliability:
    step: str
    kind: str
    executions: int
    clean: int
    ok: int
    per_case: float
    """How many times the step ran per case, on average."""

    @property
    def first_time(self) -> float:
        return self.clean / self.executions if self.executions else 1.0

    @property
    def in_the_end(self) -> float:
        return self.ok / self.executions if self.executions else 1.0

    @property
    def caught(self) -> float | None:
        """Share of first-time errors the pipeline's policies recovered (None: no errors)."""
        errors = self.executions - self.clean
        return (self.ok - self.clean) / errors if errors else None

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "kind": self.kind,
            "executions": self.executions,
            "per_case": round(self.per_case, 6),
            "first_time": round(self.first_time, 6),
            "in_the_end": round(self.in_the_end, 6),
            "caught": None if self.caught is None else round(self.caught, 6),
        }


@dataclass(frozen=True, slots=True)
class Compounding:
    """Per-step rates measured in one scenario, and what they compose to."""

    cases: int
    completed: int
    steps: tuple[StepReliability, ...]

    @property
    def without_policies(self) -> float:
        """End to end if every step had to be right first time."""
        return end_to_end((s.first_time, s.per_case) for s in self.steps)

    @property
    def with_policies(self) -> float:
        """End to end with the success each step reached after the pipeline's policies."""
        return end_to_end((s.in_the_end, s.per_case) for s in self.steps)

    @property
    def measured(self) -> float:
        """Cases whose run completed, as a fraction: what actually happened."""
        return self.completed / self.cases if self.cases else 0.0

    def with_validation(self, caught: float) -> float:
        """End to end if validation caught ``caught`` of every step's first-time errors."""
        return end_to_end((validated(s.first_time, caught), s.per_case) for s in self.steps)

    def to_json(self) -> dict[str, Any]:
        per_step, steps, caught = EXAMPLE
        return {
            "cases": self.cases,
            "steps": [s.to_json() for s in self.steps],
            "end_to_end": {
                "first_time": round(self.without_policies, 6),
                "with_policies": round(self.with_policies, 6),
                f"if_validation_caught_{round(caught * 100)}pct": round(
                    self.with_validation(caught), 6
                ),
                "measured": round(self.measured, 6),
            },
            "reference": reference(per_step, steps, caught),
        }


def compose(outcomes: Iterable[StepOutcome], cases: int, completed: int) -> Compounding:
    """Fold step executions into per-step rates, in the order the steps first ran."""
    tallies: dict[str, list[Any]] = {}
    for outcome in outcomes:
        tally = tallies.setdefault(outcome.step, [outcome.kind, 0, 0, 0])
        tally[1] += 1
        tally[2] += outcome.clean
        tally[3] += outcome.ok
    steps = tuple(
        StepReliability(step, kind, n, clean, ok, n / cases if cases else 0.0)
        for step, (kind, n, clean, ok) in tallies.items()
    )
    return Compounding(cases, completed, steps)


def reference(per_step: float, steps: int, caught: float) -> dict[str, float]:
    """The textbook case: ``steps`` steps at ``per_step``, without and with validation."""
    return {
        "per_step": per_step,
        "steps": steps,
        "caught": caught,
        "without_validation": round(per_step**steps, 6),
        "with_validation": round(validated(per_step, caught) ** steps, 6),
    }
