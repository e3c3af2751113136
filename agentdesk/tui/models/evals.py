"""The Evals screen's read model: stored eval results turned into rows, and the trend chart.

The screen's worker reads the store (``store.evals.EvalStore``) off the UI thread and hands
what it read to ``build_view``, which makes one frozen ``EvalsView``: the evals of the
pipeline (newest first), the chosen one's scenarios with their gates, its cases (failing
first, each with the ``BATCH/RUN`` reference of its recorded run), and per scenario the trend
across releases (pass rate, cost per case and p95 per release, oldest first). Nothing here
imports the store or Textual: the stored records arrive as anything with the right attributes
(the protocols below), so tests build views from plain values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

BARS = "▁▂▃▄▅▆▇█"


class _Counted(Protocol):
    """What an eval and one of its scenarios both hold: the release and how many cases passed."""

    @property
    def created(self) -> datetime: ...

    @property
    def release_id(self) -> str: ...

    @property
    def cases(self) -> int: ...

    @property
    def passed(self) -> int: ...


class EvalRecord(_Counted, Protocol):
    @property
    def id(self) -> str: ...

    @property
    def gates_passed(self) -> bool | None: ...


class ScenarioRecord(_Counted, Protocol):
    @property
    def scenario(self) -> str: ...

    @property
    def latency_p95(self) -> float: ...

    @property
    def cost_per_case(self) -> float: ...

    @property
    def scores(self) -> dict[str, float]: ...

    @property
    def gates(self) -> list[dict[str, Any]]: ...


class CaseOutcome(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def passed(self) -> bool: ...

    @property
    def message(self) -> str: ...


class CaseRecord(Protocol):
    """``store.evals.StoredCase``: a case result and the reference of its recorded run."""

    @property
    def run_ref(self) -> str: ...

    @property
    def batch_id(self) -> str | None: ...

    @property
    def result(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class EvalRow:
    id: str
    created: datetime
    release: str
    cases: int
    passed: int
    gates_passed: bool | None


@dataclass(frozen=True, slots=True)
class GateRow:
    gate: str
    passed: bool
    skipped: bool
    text: str
    """What the gate saw, as ``--json``'s figures say it (untrusted: shown through safe_text)."""


@dataclass(frozen=True, slots=True)
class ScenarioRow:
    scenario: str
    cases: int
    passed: int
    p95: float
    cost_per_case: float
    scores: tuple[tuple[str, float], ...]
    gates: tuple[GateRow, ...]

    @property
    def pass_rate(self) -> float:
        return self.passed / self.cases if self.cases else 0.0

    @property
    def failed_gates(self) -> tuple[GateRow, ...]:
        return tuple(g for g in self.gates if not g.passed and not g.skipped)

    @property
    def gates_passed(self) -> bool | None:
        """None when no gate was evaluated."""
        evaluated = [g for g in self.gates if not g.skipped]
        return all(g.passed for g in evaluated) if evaluated else None


@dataclass(frozen=True, slots=True)
class CaseRow:
    scenario: str
    case_id: str
    line: int
    passed: bool
    run_ref: str
    """``BATCH/RUN`` when the run was recorded, else the run id alone (no trace to open)."""
    recorded: bool
    stop_reason: str
    duration: float
    usd: float
    retries: int
    tags: tuple[str, ...]
    failures: tuple[str, ...]
    """``kind: message`` for each failed assertion (untrusted text)."""


@dataclass(frozen=True, slots=True)
class TrendPoint:
    release: str
    when: datetime
    pass_rate: float
    cost_per_case: float
    p95: float


@dataclass(frozen=True)
class EvalsView:
    pipeline: str
    evals: tuple[EvalRow, ...] = ()
    selected: str | None = None
    """The eval shown (its id)."""
    scenarios: tuple[ScenarioRow, ...] = ()
    cases: tuple[CaseRow, ...] = ()
    """Every case of the eval, failing ones first within each scenario."""
    trends: tuple[tuple[str, tuple[TrendPoint, ...]], ...] = ()
    """Per scenario, its figures per release, oldest release first."""
    store: str = ""
    """Where the results were read from, or why they could not be."""
    error: str = ""

    def eval_row(self) -> EvalRow | None:
        return next((e for e in self.evals if e.id == self.selected), None)

    def cases_of(self, scenario: str | None) -> tuple[CaseRow, ...]:
        return tuple(c for c in self.cases if scenario is None or c.scenario == scenario)

    def trend(self, scenario: str | None) -> tuple[TrendPoint, ...]:
        return next((points for name, points in self.trends if name == scenario), ())


def build_view(
    pipeline: str,
    evals: Sequence[EvalRecord],
    selected: str | None,
    scenarios: Sequence[ScenarioRecord],
    cases: Sequence[CaseRecord],
    trend: Sequence[ScenarioRecord],
    store: str = "",
) -> EvalsView:
    """One view from what the store returned (``selected`` defaults to the newest eval)."""
    rows = tuple(_eval_row(e) for e in evals)
    if selected is None and rows:
        selected = rows[0].id
    case_rows = [_case_row(c) for c in cases]
    order = {s.scenario: i for i, s in enumerate(scenarios)}
    case_rows.sort(key=lambda c: (order.get(c.scenario, len(order)), c.passed, c.line))
    return EvalsView(
        pipeline=pipeline,
        evals=rows,
        selected=selected,
        scenarios=tuple(_scenario_row(s) for s in scenarios),
        cases=tuple(case_rows),
        trends=_trends(trend),
        store=store,
    )


def _eval_row(record: EvalRecord) -> EvalRow:
    return EvalRow(
        record.id,
        record.created,
        record.release_id,
        record.cases,
        record.passed,
        record.gates_passed,
    )


def _scenario_row(record: ScenarioRecord) -> ScenarioRow:
    return ScenarioRow(
        scenario=record.scenario,
        cases=record.cases,
        passed=record.passed,
        p95=record.latency_p95,
        cost_per_case=record.cost_per_case,
        scores=tuple(sorted(record.scores.items())),
        gates=tuple(_gate_row(g) for g in record.gates),
    )


def _gate_row(gate: dict[str, Any]) -> GateRow:
    name = str(gate.get("gate", "?"))
    skipped = bool(gate.get("skipped"))
    actual = gate.get("actual")
    if skipped:
        text = f"skipped: {gate.get('note', '')}"
    elif actual is None:
        text = str(gate.get("note") or "nothing measured")
    else:
        text = f"{actual:.4g} (limit {gate.get('limit')})"
    return GateRow(name, bool(gate.get("passed")), skipped, text)


def _case_row(record: CaseRecord) -> CaseRow:
    result = record.result
    failures: Iterable[CaseOutcome] = result.failures
    return CaseRow(
        scenario=result.scenario,
        case_id=result.case_id,
        line=result.line,
        passed=result.passed,
        run_ref=record.run_ref,
        recorded=record.batch_id is not None,
        stop_reason=result.stop_reason,
        duration=result.duration,
        usd=result.usd,
        retries=result.retries,
        tags=tuple(result.tags),
        failures=tuple(f"{o.kind}: {o.message}" for o in failures),
    )


def _trends(records: Sequence[ScenarioRecord]) -> tuple[tuple[str, tuple[TrendPoint, ...]], ...]:
    by_scenario: dict[str, list[TrendPoint]] = {}
    for r in records:
        point = TrendPoint(
            r.release_id,
            r.created,
            r.passed / r.cases if r.cases else 0.0,
            r.cost_per_case,
            r.latency_p95,
        )
        by_scenario.setdefault(r.scenario, []).append(point)
    return tuple((name, tuple(points)) for name, points in by_scenario.items())


def bars(values: Sequence[float], low: float | None = None, high: float | None = None) -> str:
    """One block character per value, scaled between ``low`` and ``high`` (default: the
    values' own range; equal values draw mid-height)."""
    if not values:
        return ""
    low = min(values) if low is None else low
    high = max(values) if high is None else high
    if high - low < 1e-12:
        return BARS[len(BARS) // 2] * len(values)
    top = len(BARS) - 1
    return "".join(BARS[round((min(max(v, low), high) - low) / (high - low) * top)] for v in values)
