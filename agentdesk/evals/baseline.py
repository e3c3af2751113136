"""Baselines: this eval beside the stored results of another release of the same pipeline.

A baseline is what an earlier eval recorded for one release (``agentdesk eval --baseline
production``: the release the label ``production`` points at; or a release id): per scenario,
its case results. Cases are matched by id within a scenario, which is why a case's id should
stay with it when the golden file is edited. A case that passed in the baseline and fails now
is a **regression**; one that failed and passes now is an **improvement**. Per scenario the
comparison also gives the pass rate, latency, cost and judge scores before and after.

The store reads baselines back (``store/evals.py``); this module only compares values, so the
comparison is a pure function and the evals package stays headless.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from agentdesk.evals.report import (
    CaseResult,
    EvalReport,
    ScenarioReport,
    cost_per_case,
    latency,
    mean_scores,
    pass_rate,
)

REGRESSED, IMPROVED = "regressed", "improved"


class Figures(Protocol):
    """What relative gates read: a live scenario report or a stored baseline scenario."""

    @property
    def cases(self) -> Sequence[CaseResult]: ...

    @property
    def pass_rate(self) -> float: ...

    @property
    def cost_per_case(self) -> float: ...

    def latency(self, q: float) -> float: ...

    def scores(self) -> dict[str, float]: ...


@dataclass(frozen=True)
class BaselineScenario:
    """One scenario's stored case results in the baseline release."""

    scenario: str
    eval_id: str
    """The stored eval they come from."""
    recorded: datetime
    cases: tuple[CaseResult, ...]

    @property
    def pass_rate(self) -> float:
        return pass_rate(self.cases)

    @property
    def cost_per_case(self) -> float:
        return cost_per_case(self.cases)

    def latency(self, q: float) -> float:
        return latency(self.cases, q)

    def scores(self) -> dict[str, float]:
        return mean_scores(self.cases)


@dataclass(frozen=True)
class Baseline:
    ref: str
    """How the user named it: a label or a release id (prefix)."""
    release: str
    scenarios: Mapping[str, BaselineScenario]

    def scenario(self, name: str) -> BaselineScenario | None:
        return self.scenarios.get(name)

    def missing(self, scenario: str) -> str:
        """Why a relative gate of ``scenario`` has nothing to compare with."""
        return f"baseline {self.release[:12]} has no results under {scenario}"


@dataclass(frozen=True, slots=True)
class CaseChange:
    case_id: str
    change: str
    """``regressed`` or ``improved``."""
    now: CaseResult
    before: CaseResult

    def to_json(self) -> dict[str, Any]:
        return {
            "case": self.case_id,
            "change": self.change,
            "run_id": self.now.run_id,
            "baseline_run_id": self.before.run_id,
            "failures": [f"{o.kind}: {o.message}" for o in self.now.failures],
            "baseline_failures": [f"{o.kind}: {o.message}" for o in self.before.failures],
        }


@dataclass(frozen=True, slots=True)
class Delta:
    """One figure now and in the baseline."""

    now: float | None
    before: float | None

    @property
    def change(self) -> float | None:
        if self.now is None or self.before is None:
            return None
        return self.now - self.before

    def to_json(self) -> dict[str, Any]:
        change = self.change
        return {
            "now": _round(self.now),
            "baseline": _round(self.before),
            "change": _round(change),
        }


@dataclass(frozen=True)
class ScenarioComparison:
    scenario: str
    compared: bool
    """False when the baseline has no results under this scenario."""
    changes: tuple[CaseChange, ...] = ()
    new: tuple[str, ...] = ()
    """Case ids the baseline did not run."""
    gone: tuple[str, ...] = ()
    """Case ids the baseline ran and this eval did not."""
    figures: dict[str, Delta] = field(default_factory=dict)
    """``pass_rate``, ``latency_p50``, ``latency_p95``, ``cost_per_case``, judge metrics."""

    @property
    def regressions(self) -> list[CaseChange]:
        return [c for c in self.changes if c.change == REGRESSED]

    @property
    def improvements(self) -> list[CaseChange]:
        return [c for c in self.changes if c.change == IMPROVED]

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "compared": self.compared,
            "figures": {name: delta.to_json() for name, delta in self.figures.items()},
            "regressions": [c.to_json() for c in self.regressions],
            "improvements": [c.to_json() for c in self.improvements],
            "new": list(self.new),
            "gone": list(self.gone),
        }


@dataclass(frozen=True)
class Comparison:
    baseline: Baseline
    scenarios: tuple[ScenarioComparison, ...]

    def of(self, scenario: str) -> ScenarioComparison | None:
        return next((s for s in self.scenarios if s.scenario == scenario), None)

    @property
    def regressions(self) -> int:
        return sum(len(s.regressions) for s in self.scenarios)

    @property
    def improvements(self) -> int:
        return sum(len(s.improvements) for s in self.scenarios)

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.baseline.ref,
            "release": self.baseline.release,
            "regressions": self.regressions,
            "improvements": self.improvements,
            "scenarios": [s.to_json() for s in self.scenarios],
        }


def compare(report: EvalReport, baseline: Baseline) -> Comparison:
    """Every scenario of ``report`` beside the same scenario in ``baseline``."""
    return Comparison(baseline, tuple(_scenario(s, baseline) for s in report.scenarios))


def _scenario(now: ScenarioReport, baseline: Baseline) -> ScenarioComparison:
    before = baseline.scenario(now.scenario)
    if before is None:
        return ScenarioComparison(now.scenario, compared=False)
    earlier = {case.case_id: case for case in before.cases}
    current = {case.case_id: case for case in now.cases}
    changes = []
    for case in now.cases:
        old = earlier.get(case.case_id)
        if old is not None and old.passed != case.passed:
            change = IMPROVED if case.passed else REGRESSED
            changes.append(CaseChange(case.case_id, change, case, old))
    return ScenarioComparison(
        now.scenario,
        compared=True,
        changes=tuple(changes),
        new=tuple(c.case_id for c in now.cases if c.case_id not in earlier),
        gone=tuple(c.case_id for c in before.cases if c.case_id not in current),
        figures=_figures(now, before),
    )


def _figures(now: Figures, before: Figures) -> dict[str, Delta]:
    figures = {
        "pass_rate": Delta(now.pass_rate, before.pass_rate),
        "latency_p50": Delta(now.latency(0.5), before.latency(0.5)),
        "latency_p95": Delta(now.latency(0.95), before.latency(0.95)),
        "cost_per_case": Delta(now.cost_per_case, before.cost_per_case),
    }
    scores, old = now.scores(), before.scores()
    for metric in sorted(scores.keys() | old.keys()):
        figures[metric] = Delta(scores.get(metric), old.get(metric))
    return figures


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 9)
