"""Eval results per release: written after each ``agentdesk eval``, read back as baselines,
trends and the Evals screen's lists.

Three tables (``tables.EvalRun``, ``EvalScenario``, ``EvalCase``): one row per eval, per
scenario of it (figures, gates, the batch its runs were recorded in) and per case (verdict,
run, cost, latency, retries, tags, judge scores, every assertion's message). Messages can
quote model output, so they pass through the workspace's ``Redactor`` like every stored event.

A **baseline** is named by a release id (or a unique prefix of one), or by a label of the
artifact registry: the newest evaluated release of the pipeline whose files are the versions
the label points at (files the label does not name may be any version). Its results are,
per scenario, the newest stored eval of that release that ran the scenario.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from agentdesk import __version__
from agentdesk.evals.assertions import Outcome
from agentdesk.evals.baseline import Baseline, BaselineScenario
from agentdesk.evals.report import PERCENTILES, CaseResult, EvalReport
from agentdesk.store.artifacts import Registry, UnknownArtifact
from agentdesk.store.database import StoreError, reading, writing
from agentdesk.store.redaction import Redactor
from agentdesk.store.tables import EvalCase, EvalRun, EvalScenario, table

_HEX = re.compile(r"[0-9a-f]{4,64}")


class UnknownBaseline(StoreError):
    """``--baseline`` names no evaluated release of the pipeline."""


@dataclass(frozen=True)
class StoredEval:
    """One recorded eval, as lists and trends show it."""

    id: str
    created: datetime
    pipeline: str
    release_id: str
    golden: str
    gates_file: str | None
    baseline_release: str | None
    cases: int
    passed: int
    gates_passed: bool | None

    def to_json(self) -> dict[str, Any]:
        return {**vars(self), "created": self.created.isoformat()}


@dataclass(frozen=True)
class StoredScenario:
    eval_id: str
    scenario: str
    release_id: str
    batch_id: str | None
    seed: int
    cases: int
    passed: int
    latency_p50: float
    latency_p90: float
    latency_p95: float
    cost_per_case: float
    breaker_trips: int
    fallback_rate: float
    scores: dict[str, float]
    gates: list[dict[str, Any]]
    created: datetime

    @property
    def pass_rate(self) -> float:
        return self.passed / self.cases if self.cases else 0.0

    @property
    def gates_passed(self) -> bool | None:
        evaluated = [g for g in self.gates if not g.get("skipped")]
        return all(g["passed"] for g in evaluated) if evaluated else None


@dataclass(frozen=True)
class StoredCase:
    """A stored case result, and the recording its run is in (``BATCH/RUN`` opens it)."""

    result: CaseResult
    batch_id: str | None

    @property
    def run_ref(self) -> str:
        run = self.result.run_id
        return f"{self.batch_id}/{run}" if self.batch_id else run


class EvalStore:
    """Writes and reads eval results; each call is its own transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- writing -----------------------------------------------------------------------------

    def record(
        self,
        report: EvalReport,
        *,
        workspace: str,
        redactor: Redactor,
        batches: Mapping[str, str] | None = None,
        baseline_release: str | None = None,
        when: datetime | None = None,
    ) -> str:
        """Store ``report``; ``batches`` names each scenario's recording. Returns the eval id."""
        eval_id = secrets.token_hex(4)
        batches = batches or {}
        cases = [case for s in report.scenarios for case in s.cases]
        run = {
            "id": eval_id,
            "created": when or datetime.now(UTC),
            "workspace": workspace,
            "pipeline": report.pipeline,
            "release_id": report.scenarios[0].release if report.scenarios else "",
            "golden": report.golden,
            "gates_file": report.gates_file,
            "baseline_release": baseline_release,
            "cases": len(cases),
            "passed": sum(case.passed for case in cases),
            "gates_passed": report.gates_passed if report.gates_evaluated else None,
            "agentdesk_version": __version__,
        }
        scenarios = [
            _scenario_row(eval_id, position, s, batches.get(s.scenario), redactor)
            for position, s in enumerate(report.scenarios)
        ]
        case_rows = [
            _case_row(eval_id, case, batches.get(s.scenario), redactor)
            for s in report.scenarios
            for case in s.cases
        ]
        with self._writing() as conn:
            conn.execute(insert(table(EvalRun)), [run])
            if scenarios:
                conn.execute(insert(table(EvalScenario)), scenarios)
            if case_rows:
                conn.execute(insert(table(EvalCase)), case_rows)
        return eval_id

    # --- reading -----------------------------------------------------------------------------

    def evals(self, pipeline: str | None = None, limit: int = 100) -> list[StoredEval]:
        """Recorded evals, newest first."""
        runs = table(EvalRun)
        query = select(runs).order_by(runs.c.created.desc(), runs.c.id).limit(limit)
        if pipeline is not None:
            query = query.where(runs.c.pipeline == pipeline)
        with self._reading() as conn:
            rows = conn.execute(query).mappings().all()
        return [_stored_eval(row) for row in rows]

    def scenarios(self, eval_id: str) -> list[StoredScenario]:
        """One eval's scenarios, in the order it ran them."""
        rows = self._scenario_rows(table(EvalScenario).c.eval_id == eval_id)
        return [row for _, row in sorted(rows, key=lambda pair: pair[0])]

    def cases(self, eval_id: str, scenario: str | None = None) -> list[StoredCase]:
        """One eval's case results (of one scenario), in golden-file order."""
        cases = table(EvalCase)
        query = select(cases).where(cases.c.eval_id == eval_id)
        if scenario is not None:
            query = query.where(cases.c.scenario == scenario)
        query = query.order_by(cases.c.scenario, cases.c.line)
        with self._reading() as conn:
            rows = conn.execute(query).mappings().all()
        return [StoredCase(_case_result(row), row["batch_id"]) for row in rows]

    def _results(self, eval_id: str, scenario: str) -> tuple[CaseResult, ...]:
        return tuple(stored.result for stored in self.cases(eval_id, scenario))

    def trend(self, pipeline: str, limit: int = 30) -> list[StoredScenario]:
        """Per release and scenario, the newest stored figures; releases in the order they
        were first evaluated, the last ``limit`` of them."""
        runs = table(EvalRun)
        rows = self._scenario_rows(runs.c.pipeline == pipeline)
        newest: dict[tuple[str, str], StoredScenario] = {}
        first_seen: dict[str, datetime] = {}
        for _, row in sorted(rows, key=lambda pair: pair[1].created):
            newest[(row.release_id, row.scenario)] = row
            first_seen.setdefault(row.release_id, row.created)
        releases = sorted(first_seen, key=lambda r: first_seen[r])[-limit:]
        order = {release: index for index, release in enumerate(releases)}
        kept = [row for (release, _), row in newest.items() if release in order]
        return sorted(kept, key=lambda row: (order[row.release_id], row.scenario))

    def baseline(self, pipeline: str, ref: str) -> Baseline:
        """The stored results ``ref`` (a release id or prefix, or a label) names."""
        release = self._release_for(pipeline, ref)
        newest: dict[str, StoredScenario] = {}
        runs = table(EvalRun)
        where = (runs.c.pipeline == pipeline) & (runs.c.release_id == release)
        for _, row in sorted(self._scenario_rows(where), key=lambda pair: pair[1].created):
            newest[row.scenario] = row
        scenarios = {
            name: BaselineScenario(name, row.eval_id, row.created, self._results(row.eval_id, name))
            for name, row in newest.items()
        }
        return Baseline(ref, release, scenarios)

    def _release_for(self, pipeline: str, ref: str) -> str:
        evaluated = self._evaluated_releases(pipeline)
        if not evaluated:
            raise UnknownBaseline(
                f"--baseline {ref}: no eval of {pipeline} is recorded in this store yet "
                "(agentdesk eval records one per run)"
            )
        if _HEX.fullmatch(ref):
            matches = [r for r in evaluated if r.startswith(ref)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise UnknownBaseline(
                    f"--baseline {ref}: the prefix matches {len(matches)} evaluated releases "
                    f"({', '.join(m[:12] for m in matches[:5])})"
                )
        return self._labelled(pipeline, ref, evaluated)

    def _labelled(self, pipeline: str, label: str, evaluated: list[str]) -> str:
        registry = Registry(self.engine)
        known = {record.id: record for record in registry.releases(pipeline)}
        named_anywhere = False
        for release in evaluated:  # newest first
            record = known.get(release)
            if record is None:
                continue
            pinned = _pinned(registry, record.files, label)
            named_anywhere = named_anywhere or bool(pinned)
            if pinned and all(record.files[path] == aid for path, aid in pinned.items()):
                return release
        if not named_anywhere:
            raise UnknownBaseline(
                f"--baseline {label}: neither an evaluated release of {pipeline} nor a label "
                f"on any of its files (agentdesk artifacts label {label} PATH sets one)"
            )
        raise UnknownBaseline(
            f"--baseline {label}: no evaluated release of {pipeline} has the files the label "
            f"{label} points at (run agentdesk eval on that version first)"
        )

    def _evaluated_releases(self, pipeline: str) -> list[str]:
        """Releases of ``pipeline`` with stored results, most recently evaluated first."""
        runs = table(EvalRun)
        query = (
            select(runs.c.release_id, runs.c.created)
            .where(runs.c.pipeline == pipeline)
            .order_by(runs.c.created.desc())
        )
        with self._reading() as conn:
            rows = conn.execute(query).all()
        return list(dict.fromkeys(row.release_id for row in rows))

    def _scenario_rows(self, where: Any) -> list[tuple[int, StoredScenario]]:
        scenarios, runs = table(EvalScenario), table(EvalRun)
        query = (
            select(scenarios, runs.c.created)
            .join(runs, runs.c.id == scenarios.c.eval_id)
            .where(where)
        )
        with self._reading() as conn:
            rows = conn.execute(query).mappings().all()
        return [(row["position"], _stored_scenario(row)) for row in rows]

    # --- connections -------------------------------------------------------------------------

    def _writing(self) -> AbstractContextManager[Connection]:
        return writing(self.engine, "cannot record the eval")

    def _reading(self) -> AbstractContextManager[Connection]:
        return reading(self.engine, "cannot read eval results")


def _pinned(registry: Registry, files: Mapping[str, str], label: str) -> dict[str, str]:
    """path → artifact id of the version ``label`` points at, for the files it labels."""
    pinned = {}
    for path in files:
        try:
            version = registry.resolve(f"{path}@{label}")
        except UnknownArtifact:
            continue
        if label in version.labels:
            pinned[path] = version.artifact_id
    return pinned


# --- rows ------------------------------------------------------------------------------------


def _scenario_row(
    eval_id: str, position: int, s: Any, batch: str | None, redactor: Redactor
) -> dict[str, Any]:
    figures = {f"latency_{name}": s.latency(q) for name, q in PERCENTILES}
    return {
        "eval_id": eval_id,
        "scenario": s.scenario,
        "position": position,
        "release_id": s.release,
        "batch_id": batch,
        "seed": s.seed,
        "cases": len(s.cases),
        "passed": s.passed_cases,
        **figures,
        "cost_per_case": s.cost_per_case,
        "breaker_trips": s.breaker_trips,
        "fallback_rate": s.fallback_rate,
        "scores": json.dumps(s.scores()),
        "gates": json.dumps(redactor.value([g.to_json() for g in s.gates])),
    }


def _case_row(
    eval_id: str, case: CaseResult, batch: str | None, redactor: Redactor
) -> dict[str, Any]:
    assertions = [outcome.to_json() for outcome in case.outcomes]
    return {
        "eval_id": eval_id,
        "scenario": case.scenario,
        "case_id": case.case_id,
        "line": case.line,
        "release_id": case.release,
        "batch_id": batch,
        "run_id": case.run_id,
        "passed": case.passed,
        "status": case.status,
        "stop_reason": case.stop_reason,
        "duration": case.duration,
        "usd": case.usd,
        "retries": case.retries,
        "fallbacks": case.fallbacks,
        "tags": json.dumps(list(case.tags)),
        "scores": json.dumps(case.scores),
        "assertions": json.dumps(redactor.value(assertions)),
    }


def _stored_eval(row: Any) -> StoredEval:
    values = {k: row[k] for k in StoredEval.__dataclass_fields__}
    return StoredEval(**{**values, "created": _utc(row["created"])})


def _case_result(row: Any) -> CaseResult:
    outcomes = tuple(
        Outcome(a["kind"], a["passed"], a["message"], a.get("score"), a.get("metric"))
        for a in json.loads(row["assertions"])
    )
    return CaseResult(
        case_id=row["case_id"],
        line=row["line"],
        scenario=row["scenario"],
        release=row["release_id"],
        run_id=row["run_id"],
        tags=tuple(json.loads(row["tags"])),
        status=row["status"],
        stop_reason=row["stop_reason"],
        duration=row["duration"],
        usd=row["usd"],
        retries=row["retries"],
        fallbacks=row["fallbacks"],
        outcomes=outcomes,
    )


def _stored_scenario(row: Any) -> StoredScenario:
    return StoredScenario(
        eval_id=row["eval_id"],
        scenario=row["scenario"],
        release_id=row["release_id"],
        batch_id=row["batch_id"],
        seed=row["seed"],
        cases=row["cases"],
        passed=row["passed"],
        latency_p50=row["latency_p50"],
        latency_p90=row["latency_p90"],
        latency_p95=row["latency_p95"],
        cost_per_case=row["cost_per_case"],
        breaker_trips=row["breaker_trips"],
        fallback_rate=row["fallback_rate"],
        scores=json.loads(row["scores"]),
        gates=json.loads(row["gates"]),
        created=_utc(row["created"]),
    )


def _utc(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were stored in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
