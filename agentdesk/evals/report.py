"""What an eval found: one result per case and scenario, the figures per scenario, the gates.

These are plain values, built once the runs are done and never changed, so everything that
reads an eval reads the same thing: the CLI's tables, ``--json``, the JUnit file, and later a
baseline comparison or the TUI's Evals screen. A ``CaseResult`` carries what such a reader
needs to find its way back: the case id and line, the scenario, the run id (its trace in the
store and the event log) and the release id of what ran.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentdesk.evals.assertions import Outcome
from agentdesk.evals.compounding import Compounding
from agentdesk.projections.summary import RunSummary

if TYPE_CHECKING:
    from agentdesk.evals.gates import GateResult

PERCENTILES = (("p50", 0.50), ("p90", 0.90), ("p95", 0.95))


@dataclass(frozen=True, slots=True)
class CaseResult:
    case_id: str
    line: int
    """The case's line in the golden file."""
    scenario: str
    release: str
    run_id: str
    tags: tuple[str, ...]
    status: str
    stop_reason: str
    duration: float
    """Simulated seconds, run start to run end."""
    usd: float
    retries: int
    fallbacks: int
    outcomes: tuple[Outcome, ...]

    @property
    def passed(self) -> bool:
        return all(outcome.passed for outcome in self.outcomes)

    @property
    def failures(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if not outcome.passed]

    @property
    def scores(self) -> dict[str, float]:
        """Each judge metric's mean score in this case (a judge that gave none is left out)."""
        found: dict[str, list[float]] = {}
        for outcome in self.outcomes:
            if outcome.metric is not None and outcome.score is not None:
                found.setdefault(outcome.metric, []).append(outcome.score)
        return {metric: sum(s) / len(s) for metric, s in sorted(found.items())}

    def to_json(self) -> dict[str, Any]:
        return {
            "case": self.case_id,
            "line": self.line,
            "scenario": self.scenario,
            "release": self.release,
            "run_id": self.run_id,
            "tags": list(self.tags),
            "passed": self.passed,
            "status": self.status,
            "stop_reason": self.stop_reason,
            "duration": round(self.duration, 6),
            "usd": round(self.usd, 9),
            "retries": self.retries,
            "fallbacks": self.fallbacks,
            "scores": {k: round(v, 6) for k, v in self.scores.items()},
            "assertions": [outcome.to_json() for outcome in self.outcomes],
        }


# --- figures over a list of case results (a scenario's, or a stored baseline's) --------------


def pass_rate(cases: Sequence[CaseResult]) -> float:
    return sum(case.passed for case in cases) / len(cases) if cases else 0.0


def latency(cases: Sequence[CaseResult], q: float) -> float:
    """The run duration at quantile ``q`` (nearest rank, exact), in simulated seconds."""
    durations = sorted(case.duration for case in cases)
    if not durations:
        return 0.0
    return durations[max(0, math.ceil(q * len(durations)) - 1)]


def cost_per_case(cases: Sequence[CaseResult]) -> float:
    return sum(case.usd for case in cases) / len(cases) if cases else 0.0


def mean_scores(cases: Sequence[CaseResult]) -> dict[str, float]:
    """Each judge metric's mean over the cases it scored (each case counts once)."""
    found: dict[str, list[float]] = {}
    for case in cases:
        for metric, score in case.scores.items():
            found.setdefault(metric, []).append(score)
    return {metric: sum(s) / len(s) for metric, s in sorted(found.items())}


@dataclass
class ScenarioReport:
    """One scenario's cases and the figures gates are checked against."""

    scenario: str
    release: str
    seed: int
    cases: list[CaseResult]
    summary: RunSummary
    """The same fold ``agentdesk run`` prints: services, breakers, steps."""
    compounding: Compounding
    gates: list[GateResult] = field(default_factory=list)

    @property
    def passed_cases(self) -> int:
        return sum(case.passed for case in self.cases)

    @property
    def pass_rate(self) -> float:
        return pass_rate(self.cases)

    def scores(self) -> dict[str, float]:
        """Each judge metric's mean score over the cases it scored."""
        return mean_scores(self.cases)

    def tag_rates(self) -> dict[str, float]:
        totals, passed = self.tag_counts()
        return {tag: passed[tag] / totals[tag] for tag in sorted(totals)}

    def tag_counts(self) -> tuple[Counter[str], Counter[str]]:
        totals: Counter[str] = Counter()
        passed: Counter[str] = Counter()
        for case in self.cases:
            for tag in case.tags:
                totals[tag] += 1
                passed[tag] += case.passed
        return totals, passed

    def latency(self, q: float) -> float:
        """The run duration at quantile ``q`` (nearest rank, exact), in simulated seconds."""
        return latency(self.cases, q)

    @property
    def cost_per_case(self) -> float:
        return cost_per_case(self.cases)

    def error_rates(self) -> dict[str, float]:
        """Failed attempts / attempts, per downstream service that was called."""
        return {
            name: (s.calls - s.ok) / s.calls
            for name, s in sorted(self.summary.services.items())
            if s.calls
        }

    @property
    def breaker_trips(self) -> int:
        return sum(history.opened for history in self.summary.breakers.values())

    @property
    def fallback_rate(self) -> float:
        taken = sum(case.fallbacks > 0 for case in self.cases)
        return taken / len(self.cases) if self.cases else 0.0

    @property
    def gates_passed(self) -> bool:
        return all(gate.passed for gate in self.gates)

    def to_json(self) -> dict[str, Any]:
        totals, passed = self.tag_counts()
        return {
            "scenario": self.scenario,
            "release": self.release,
            "seed": self.seed,
            "cases": len(self.cases),
            "passed": self.passed_cases,
            "pass_rate": round(self.pass_rate, 6),
            "tags": {t: {"cases": totals[t], "passed": passed[t]} for t in sorted(totals)},
            "latency": {name: round(self.latency(q), 6) for name, q in PERCENTILES},
            "cost_per_case": round(self.cost_per_case, 9),
            "error_rates": {k: round(v, 6) for k, v in self.error_rates().items()},
            "breaker_trips": self.breaker_trips,
            "fallback_rate": round(self.fallback_rate, 6),
            "scores": {k: round(v, 6) for k, v in self.scores().items()},
            "compounding": self.compounding.to_json(),
            "gates": [gate.to_json() for gate in self.gates],
            "results": [case.to_json() for case in self.cases],
        }


@dataclass
class EvalReport:
    pipeline: str
    golden: str
    """The golden file, as named in messages."""
    gates_file: str | None
    scenarios: list[ScenarioReport]

    @property
    def gates(self) -> list[GateResult]:
        return [gate for scenario in self.scenarios for gate in scenario.gates]

    @property
    def gates_passed(self) -> bool:
        return all(gate.passed for gate in self.gates)

    @property
    def gates_evaluated(self) -> bool:
        """Some gate was checked (relative gates without a baseline are skipped)."""
        return any(gate.evaluated for gate in self.gates)

    @property
    def cases_passed(self) -> bool:
        return all(case.passed for scenario in self.scenarios for case in scenario.cases)

    def to_json(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline,
            "golden": self.golden,
            "gates_file": self.gates_file,
            "gates_passed": self.gates_passed,
            "cases_passed": self.cases_passed,
            "scenarios": [scenario.to_json() for scenario in self.scenarios],
        }
