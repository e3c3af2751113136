"""Running an eval: a golden set through one pipeline under each scenario, then the verdicts.

``prepare`` reads everything first — the pipeline and each scenario (through
``Simulation.prepare``, like every command), the golden file, the gates file — and raises one
``SpecError`` with every problem of every file, so a typo anywhere runs nothing. ``run`` then
executes each scenario's cases as one batch of concurrent sessions on the virtual clock (one
sim world per scenario, so breakers and rate limits are shared between cases as between
production requests), folds the events into a ``CaseRun`` per case, asks the judge for the
``judge`` assertions, checks the rest, and checks the gates.

The same golden file, seed and release give the same report: a case's run is session ``i``
of its scenario's batch, and every draw is keyed by its run id. Reordering the cases changes
which draws each case gets, as reordering requests would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentdesk.engine.bus import Listener
from agentdesk.engine.runner import RunResult
from agentdesk.errors import Problem, SpecError
from agentdesk.evals.assertions import Judge, Outcome, check
from agentdesk.evals.baseline import Baseline
from agentdesk.evals.compounding import compose
from agentdesk.evals.gates import Gates, evaluate, load_gates
from agentdesk.evals.golden import GoldenCase, GoldenSet, load_golden
from agentdesk.evals.judge import JudgeRequest, judge_all
from agentdesk.evals.report import CaseResult, EvalReport, ScenarioReport
from agentdesk.evals.runs import CaseFold, CaseRun
from agentdesk.projections.summary import RunSummary
from agentdesk.simulation import Simulation

GOLDEN_FOLDER = "golden"
GATES_FILE = "gates.yaml"
DEFAULT_CONCURRENCY = 8


@dataclass(frozen=True)
class EvalPlan:
    """Everything an eval needs, read and checked."""

    pipeline: str
    simulations: tuple[Simulation, ...]
    """One per scenario, in the order asked."""
    golden: GoldenSet
    gates: Gates | None
    concurrency: int = DEFAULT_CONCURRENCY

    @property
    def total_cases(self) -> int:
        return sum(len(self.golden.cases_for(s.scenario_name)) for s in self.simulations)


def prepare(
    root: Path,
    pipeline: str,
    scenarios: Sequence[str] = (),
    *,
    golden: str | None = None,
    gates: Path | None = None,
    use_gates: bool = True,
    seed: int | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> EvalPlan:
    """Read and check every file the eval needs; one ``SpecError`` lists every problem."""
    first = Simulation.prepare(root, pipeline, scenarios[0] if scenarios else None, seed)
    problems: list[Problem] = []
    simulations = [first, *_other_scenarios(root, pipeline, scenarios[1:], seed, problems)]
    known = _scenario_names(root)
    golden_set = _collect(problems, lambda: _golden(first, golden, known))
    gates_path = _gates_path(root, gates, use_gates)
    loaded_gates = None
    if gates_path is not None:
        services = list(first.workspace.spec.services)
        label = first.workspace.relative(gates_path)
        loaded_gates = _collect(
            problems,
            lambda: load_gates(
                gates_path,
                label,
                scenarios=known,
                services=services,
                pipelines=_pipeline_names(root),
            ),
        )
    if problems or golden_set is None:
        raise SpecError(problems)
    return EvalPlan(
        first.pipeline.spec.name, tuple(simulations), golden_set, loaded_gates, concurrency
    )


def _other_scenarios(
    root: Path, pipeline: str, names: Sequence[str], seed: int | None, problems: list[Problem]
) -> list[Simulation]:
    simulations = []
    for name in names:
        try:
            simulations.append(Simulation.prepare(root, pipeline, name, seed))
        except SpecError as exc:
            problems += exc.problems
    return simulations


def _collect(problems: list[Problem], load: Callable[[], Any]) -> Any:
    try:
        return load()
    except SpecError as exc:
        problems += exc.problems
        return None


def _pipeline_names(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / "pipelines").glob("*.y*ml"))


def _scenario_names(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / "scenarios").glob("*.y*ml"))


def _golden(sim: Simulation, name: str | None, scenarios: list[str]) -> GoldenSet:
    path = golden_path(sim.workspace.root, name or sim.pipeline.spec.name)
    models = list(sim.workspace.spec.models)
    label = sim.workspace.relative(path)
    return load_golden(path, label, sim.pipeline.spec.input.schema_, scenarios, models)


def golden_path(root: Path, name: str) -> Path:
    """A golden set by name (``golden/NAME.jsonl``) or by path."""
    given = Path(name)
    if given.suffix or len(given.parts) > 1:
        return given
    return root / GOLDEN_FOLDER / f"{name}.jsonl"


def _gates_path(root: Path, given: Path | None, use_gates: bool) -> Path | None:
    if not use_gates:
        return None
    if given is not None:
        return given
    default = root / GATES_FILE
    return default if default.is_file() else None


# --- running ----------------------------------------------------------------------------------


Attach = Callable[[Simulation], AbstractContextManager[Sequence[Listener]]]
"""Listeners for one scenario's runs, open while they run (the CLI records them in the
store this way; the evals package itself never imports the store)."""


@contextmanager
def no_listeners(_: Simulation) -> Iterator[Sequence[Listener]]:
    yield ()


def run(
    plan: EvalPlan,
    on_case: Callable[[], None] = lambda: None,
    *,
    baseline: Baseline | None = None,
    attach: Attach = no_listeners,
) -> EvalReport:
    """Run every scenario of the plan and check every assertion and gate (relative gates
    against ``baseline``). Blocks."""
    reports = [_run_scenario(plan, sim, on_case, baseline, attach) for sim in plan.simulations]
    gates_file = plan.gates.file if plan.gates else None
    return EvalReport(plan.pipeline, plan.golden.file, gates_file, reports)


def _run_scenario(
    plan: EvalPlan,
    sim: Simulation,
    on_case: Callable[[], None],
    baseline: Baseline | None,
    attach: Attach,
) -> ScenarioReport:
    cases = plan.golden.cases_for(sim.scenario_name)
    fold, summary = CaseFold(), RunSummary()

    def finished(_: RunResult) -> None:
        on_case()

    if cases:
        with attach(sim) as extra:
            listeners = [summary.apply, fold.apply, *extra]
            sim.execute([c.input for c in cases], plan.concurrency, listeners, finished)
    runs = [fold.runs[session] for session in range(len(cases))]
    verdicts = judge_all(sim.workspace, _judge_requests(cases, runs), sim.seed)
    results = [_result(sim, case, run, verdicts) for case, run in zip(cases, runs, strict=True)]
    completed = sum(run.status == "ok" for run in runs)
    outcomes = [outcome for run in runs for outcome in run.outcomes]
    report = ScenarioReport(
        scenario=sim.scenario_name,
        release=sim.pipeline.release,
        seed=sim.seed,
        cases=results,
        summary=summary,
        compounding=compose(outcomes, len(cases), completed),
    )
    if plan.gates is not None:
        spec = plan.gates.for_scenario(sim.scenario_name, plan.pipeline)
        if baseline is None:
            report.gates = evaluate(spec, report)
        else:
            before = baseline.scenario(sim.scenario_name)
            report.gates = evaluate(spec, report, before, baseline.missing(sim.scenario_name))
    return report


def _judge_requests(cases: Sequence[GoldenCase], runs: Sequence[CaseRun]) -> list[JudgeRequest]:
    requests = []
    for case, run in zip(cases, runs, strict=True):
        for index, assertion in enumerate(case.assertions):
            if isinstance(assertion, Judge):
                found, value = assertion.path.find(run.document())
                requests.append(JudgeRequest(_judge_key(run, index), assertion, found, value))
    return requests


def _judge_key(run: CaseRun, index: int) -> str:
    return f"{run.run_id}/judge#{index}"


def _result(
    sim: Simulation, case: GoldenCase, run: CaseRun, verdicts: dict[str, Outcome]
) -> CaseResult:
    outcomes = tuple(
        verdicts[_judge_key(run, i)] if isinstance(a, Judge) else check(a, run)
        for i, a in enumerate(case.assertions)
    )
    return CaseResult(
        case_id=case.id,
        line=case.line,
        scenario=sim.scenario_name,
        release=run.release,
        run_id=run.run_id,
        tags=case.tags,
        status=run.status,
        stop_reason=run.stop_reason,
        duration=run.duration,
        usd=run.usd,
        retries=run.retries,
        fallbacks=run.fallbacks,
        outcomes=outcomes,
    )
