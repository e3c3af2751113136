"""``agentdesk eval``: a golden set through a pipeline under scenarios, checked against gates.

Exit codes (console.py): 0 the gates passed (or, with no gate evaluated, every case passed) ·
1 no gate evaluated and a case failed · 2 bad input (golden file, gates file, workspace,
baseline; every problem listed, nothing run) · 3 a gate failed.

By default the eval is recorded in the store (``--db``, as ``run`` records): each scenario's
runs as a batch (``agentdesk runs show BATCH/RUN`` opens a failing case's trace) and the
results per case and scenario under the release that ran (``store/evals.py``), which later
evals name with ``--baseline``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from agentdesk import heap
from agentdesk.cli.console import (
    EXIT_GATE_FAILED,
    EXIT_OK,
    EXIT_RUN_FAILED,
    errors_reported,
    progress,
    seed_option,
    stderr,
    stdout,
    workspace_option,
)
from agentdesk.cli.runs import db_option
from agentdesk.errors import RunError
from agentdesk.evals.baseline import Baseline, Comparison, ScenarioComparison
from agentdesk.evals.compounding import EXAMPLE, Compounding, reference
from agentdesk.evals.gates import GateResult
from agentdesk.evals.report import EvalReport, ScenarioReport
from agentdesk.reports import dollars, ms

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from agentdesk.engine.bus import Listener
    from agentdesk.simulation import Simulation
    from agentdesk.store import Redactor, StoreLocation

FAILURES_SHOWN = 15
"""Failing cases listed per scenario (all of them are in --json and --junit)."""


@click.command("eval")
@click.argument("pipeline")
@workspace_option
@click.option(
    "-g",
    "--golden",
    metavar="NAME|PATH",
    help="Golden set: golden/NAME.jsonl or a path (default: golden/PIPELINE.jsonl).",
)
@click.option(
    "-s",
    "--scenario",
    "scenarios",
    multiple=True,
    help="Scenario to run the golden set under (repeatable; default: the workspace's).",
)
@click.option(
    "--gates",
    "gates_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Gates file (default: gates.yaml in the workspace, when there is one).",
)
@click.option("--no-gates", is_flag=True, help="Check no gate, even if gates.yaml exists.")
@seed_option
@click.option(
    "--concurrency",
    type=click.IntRange(1, 10_000),
    default=8,
    show_default=True,
    help="Cases run at once in each scenario (they share breakers and rate limits).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--junit",
    "junit_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the results as JUnit XML to this file.",
)
@click.option(
    "--baseline",
    metavar="LABEL|RELEASE",
    help="Compare with the stored results of another release: a label (production) or a "
    "release id or prefix. Relative gates (max_drop, max_rise) need one.",
)
@db_option
@click.option(
    "--no-record", is_flag=True, help="Do not record the runs or the results in the store."
)
def eval_command(
    pipeline: str,
    workspace: Path | None,
    golden: str | None = None,
    scenarios: tuple[str, ...] = (),
    gates_file: Path | None = None,
    no_gates: bool = False,
    seed: int | None = None,
    concurrency: int = 8,
    as_json: bool = False,
    junit_file: Path | None = None,
    baseline: str | None = None,
    db: str | None = None,
    no_record: bool = False,
) -> None:
    """Run a golden set through PIPELINE under each scenario; check assertions and gates."""
    with errors_reported():
        from agentdesk.evals import runner
        from agentdesk.evals.baseline import compare
        from agentdesk.simulation import find_workspace
        from agentdesk.store.redaction import Redactor, workspace_secrets

        root = find_workspace(workspace)
        plan = runner.prepare(
            root,
            pipeline,
            scenarios,
            golden=golden,
            gates=gates_file,
            use_gates=not no_gates,
            seed=seed,
            concurrency=concurrency,
        )
        store = _Store.open(plan.simulations[0], db) if baseline or not no_record else None
        try:
            before = store.results.baseline(plan.pipeline, baseline) if store and baseline else None
            total = plan.total_cases
            enabled = not as_json and total > 1
            plan.simulations[0].load_model_tables()  # one workspace: its models for all
            heap.settle()  # everything is loaded: keep it out of the collector's way
            with progress(total, enabled=enabled, description="evaluating") as tick:
                attach = store.attach if store and not no_record else runner.no_listeners
                report = runner.run(plan, tick, baseline=before, attach=attach)
            comparison = compare(report, before) if before is not None else None
            if store is not None and not no_record:
                store.record(report, root, before.release if before else None)
        finally:
            if store is not None:
                store.close()
        if junit_file is not None:
            _write_junit(report, junit_file, comparison)
        spec = plan.simulations[0].workspace.spec
        alerts = eval_alerts(root, report, before, _model_services(spec))
        secrets = Redactor(workspace_secrets(spec.services, os.environ), ())
        if as_json:
            data = {
                **report.to_json(),
                "alerts": alerts,
                "baseline": comparison.to_json() if comparison else None,
                "recording": store.to_json() if store and not no_record else None,
            }
            click.echo(json.dumps(secrets.value(data), indent=2))
        else:
            with stdout.capture() as captured:
                stdout.print(eval_summary(report, comparison))
                if alerts:
                    stdout.print(_alerts_table(alerts))
                if store is not None and not no_record:
                    stdout.print(store.describe(), soft_wrap=True)
            stdout.file.write(secrets.secrets_only(captured.get()))
        if store is not None and store.failure:
            stderr.print(Text.assemble(("error: ", "bold red"), store.failure))
        sys.exit(exit_code(report))


def exit_code(report: EvalReport) -> int:
    """Gates decide when any was evaluated (a relative gate without a baseline is skipped);
    otherwise every case must pass."""
    if report.gates_evaluated:
        return EXIT_OK if report.gates_passed else EXIT_GATE_FAILED
    return EXIT_OK if report.cases_passed else EXIT_RUN_FAILED


def _write_junit(report: EvalReport, path: Path, comparison: Comparison | None) -> None:
    from agentdesk.evals.junit import write_junit

    try:
        write_junit(report, path, comparison)
    except OSError as exc:
        raise RunError(f"{path}: cannot write the JUnit file: {exc.strerror}") from exc


def _model_services(spec: Any) -> set[str]:
    """Services that answer model calls (their attempts are not tool calls)."""
    return {model.service for model in spec.models.values()}


def eval_alerts(
    root: Path, report: EvalReport, baseline: Baseline | None, model_services: set[str]
) -> list[dict[str, Any]]:
    """The workspace's alert rules (``alerts.yaml``, else the defaults) judged over each
    scenario's results, against the baseline's figures when there is one: the rules that
    fired. Alerts are reported; they do not change the exit code (gates do)."""
    from agentdesk.alerts import Baseline as Reference
    from agentdesk.alerts import Figures, fired, load_rules

    rules = load_rules(root)
    found = []
    for s in report.scenarios:
        tools = [v for name, v in s.summary.services.items() if name not in model_services]
        figures = Figures(
            runs=len(s.cases),
            tool_calls=sum(v.calls for v in tools),
            tool_errors=sum(v.calls - v.ok for v in tools),
            latency_p95=s.latency(0.95) if s.cases else None,
            usd=sum(case.usd for case in s.cases),
            tokens=s.summary.tokens.prompt + s.summary.tokens.completion,
        )
        before = baseline.scenario(s.scenario) if baseline is not None else None
        reference = (
            Reference(latency_p95=before.latency(0.95), usd_per_run=before.cost_per_case)
            if before is not None and before.cases
            else None
        )
        for verdict in fired(rules, figures, reference):
            found.append(
                {
                    "scenario": s.scenario,
                    "rule": verdict.rule,
                    "value": verdict.value,
                    "threshold": verdict.threshold,
                    "message": verdict.message,
                }
            )
    return found


def _alerts_table(alerts: list[dict[str, Any]]) -> Table:
    table = _table("Alerts fired (alerts.yaml, or the defaults)", "scenario", "rule", "why")
    table.columns[2].justify = "left"
    for alert in alerts:
        table.add_row(
            Text(alert["scenario"]), Text(alert["rule"], style="bold red"), Text(alert["message"])
        )
    return table


@dataclass
class _Store:
    """Where an eval is recorded: one batch of runs per scenario, then the results."""

    location: StoreLocation
    engine: Engine
    redactor: Redactor
    batches: dict[str, str] = field(default_factory=dict)
    eval_id: str = ""
    failure: str = ""

    @classmethod
    def open(cls, sim: Simulation, db: str | None) -> _Store:
        from agentdesk.store import locate, open_engine, redactor_for

        location = locate(sim.workspace.root, db)
        return cls(location, open_engine(location), redactor_for(sim.workspace.spec, os.environ))

    @property
    def results(self) -> Any:
        from agentdesk.store.evals import EvalStore

        return EvalStore(self.engine)

    @contextmanager
    def attach(self, sim: Simulation) -> Iterator[Sequence[Listener]]:
        """Record one scenario's runs as a batch while they run."""
        from agentdesk.store import Recorder, StoreError, new_batch

        name = sim.pipeline.spec.name
        batch = new_batch(sim.workspace.root, name, sim.scenario_name, sim.seed, sim.real_clock)
        recorder = Recorder(self.engine, batch, self.redactor, pipeline=sim.pipeline)
        self.batches[sim.scenario_name] = batch.id
        try:
            yield [recorder.offer]
        finally:
            try:
                recorder.close()
            except StoreError as exc:
                self.failure = f"{sim.scenario_name}: {exc}"

    def record(self, report: EvalReport, root: Path, baseline: str | None) -> None:
        from agentdesk.store import StoreError

        try:
            self.eval_id = self.results.record(
                report,
                workspace=str(root),
                redactor=self.redactor,
                batches=self.batches,
                baseline_release=baseline,
            )
        except StoreError as exc:
            self.failure = str(exc)

    def close(self) -> None:
        self.engine.dispose()

    def describe(self) -> Text:
        if not self.eval_id:
            return Text("the eval was not recorded", style="yellow")
        text = Text("recorded in ", style="dim")
        text.append(self.location.describe())
        text.append(f" · eval {self.eval_id} · runs in batch ", style="dim")
        text.append(", ".join(self.batches.values()) or "-", style="dim")
        if self.location.note:
            text.append(f" ({self.location.note})", style="yellow")
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "store": self.location.describe(),
            "eval": self.eval_id or None,
            "batches": dict(self.batches),
            "failure": self.failure or None,
            "note": self.location.note,
        }


# --- rendering --------------------------------------------------------------------------------


def eval_summary(report: EvalReport, comparison: Comparison | None = None) -> RenderableType:
    parts: list[RenderableType] = [_header(report), _scenarios_table(report)]
    if any(s.scores() for s in report.scenarios):
        parts.append(_scores_table(report))
    if any(case.tags for s in report.scenarios for case in s.cases):
        parts.append(_tags_table(report))
    parts.append(_errors_table(report))
    parts += [_compounding(s) for s in report.scenarios if s.cases]
    parts += [_failures(s) for s in report.scenarios if s.passed_cases < len(s.cases)]
    if comparison is not None:
        parts += _comparison(comparison)
    if report.gates:
        parts.append(_gates_table(report))
    parts.append(_verdict(report))
    return Group(*parts)


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right", no_wrap=index == 0)
    return table


def _header(report: EvalReport) -> Text:
    releases = sorted({s.release for s in report.scenarios})
    text = Text(f"{report.pipeline} · ", style="bold")
    text.append(report.golden, style="bold")
    cases = sum(len(s.cases) for s in report.scenarios)
    text.append(f"\n{cases} case run(s) under {len(report.scenarios)} scenario(s)")
    text.append(f" · release {', '.join(r[:12] for r in releases)}")
    if report.gates_file:
        text.append(f" · gates {report.gates_file}")
    return text


def _scenarios_table(report: EvalReport) -> Table:
    table = _table(
        "Scenarios (latency in simulated time)",
        "scenario",
        "passed",
        "p50",
        "p90",
        "p95",
        "cost/case",
        "fallback",
        "trips",
        "gates",
    )
    for s in report.scenarios:
        table.add_row(
            Text(s.scenario),
            _rate(s.pass_rate, s.passed_cases == len(s.cases), f"{s.passed_cases}/{len(s.cases)} "),
            ms(s.latency(0.50)),
            ms(s.latency(0.90)),
            ms(s.latency(0.95)),
            dollars(s.cost_per_case),
            f"{s.fallback_rate:.0%}",
            str(s.breaker_trips),
            _gate_count(s),
        )
    return table


def _tags_table(report: EvalReport) -> Table:
    tags = sorted({tag for s in report.scenarios for case in s.cases for tag in case.tags})
    table = _table("Pass rate by tag", "tag", *(s.scenario for s in report.scenarios))
    for tag in tags:
        cells = []
        for s in report.scenarios:
            totals, passed = s.tag_counts()
            n, ok = totals[tag], passed[tag]
            cells.append(_rate(ok / n, good=ok == n, prefix=f"{ok}/{n} ") if n else Text("-"))
        table.add_row(Text(tag), *cells)
    return table


def _errors_table(report: EvalReport) -> Table:
    services = sorted({name for s in report.scenarios for name in s.error_rates()})
    table = _table(
        "Error rate per downstream (failed attempts)",
        "service",
        *(s.scenario for s in report.scenarios),
    )
    for service in services:
        rates = [s.error_rates().get(service) for s in report.scenarios]
        table.add_row(
            Text(service),
            *(
                Text("-") if r is None else Text(f"{r:.1%}", style="red" if r else "")
                for r in rates
            ),
        )
    return table


def _compounding(s: ScenarioReport) -> Group:
    c: Compounding = s.compounding
    table = _table(
        f"Compounding · {s.scenario} (per-step success → end to end)",
        "step",
        "per case",
        "first time",
        "in the end",
        "caught",
    )
    for step in c.steps:
        name = Text(step.step)
        name.append(f" {step.kind}", style="dim")
        caught = "-" if step.caught is None else f"{step.caught:.0%}"
        table.add_row(
            name,
            f"{step.per_case:.2f}",
            f"{step.first_time:.1%}",
            f"{step.in_the_end:.1%}",
            caught,
        )
    per_step, steps, share = EXAMPLE
    ref = reference(per_step, steps, share)
    text = Text("  end to end: ")
    text.append(f"{c.without_policies:.1%}", style="bold")
    text.append(" if every step had to be right first time · ")
    text.append(f"{c.with_policies:.1%}", style="bold")
    text.append(" with the pipeline's retries, repairs and fallbacks · ")
    text.append(f"{c.with_validation(share):.1%}", style="bold")
    text.append(f" if validation caught {share:.0%} of each step's errors · measured ")
    text.append(f"{c.measured:.1%}", style="bold")
    text.append(
        f"\n  (for scale: {per_step:.0%} per step over {steps} steps is "
        f"{ref['without_validation']:.1%} end to end; catching {share:.0%} of errors makes it "
        f"{ref['with_validation']:.1%})",
        style="dim",
    )
    return Group(table, text)


def _failures(s: ScenarioReport) -> Text:
    """One block per failing case: where it is, its run (for its trace), what failed."""
    failed = [case for case in s.cases if not case.passed]
    text = Text(f"Failing cases · {s.scenario} ({len(failed)})\n", style="italic")
    for case in failed[:FAILURES_SHOWN]:
        text.append(f"  {case.case_id}", style="bold")
        text.append(f" (line {case.line}) · {case.run_id} · ", style="dim")
        text.append(case.stop_reason, style="green" if case.stop_reason == "completed" else "red")
        for outcome in case.failures[:3]:
            text.append(f"\n    {outcome.kind}: ", style="red")
            text.append(outcome.message)
        if len(case.failures) > 3:
            text.append(f"\n    +{len(case.failures) - 3} more", style="dim")
        text.append("\n")
    if len(failed) > FAILURES_SHOWN:
        text.append(f"  {len(failed) - FAILURES_SHOWN} more in --json / --junit\n", style="dim")
    return text


def _scores_table(report: EvalReport) -> Table:
    """Judge metrics: each one's mean score per scenario (``faithfulness``…)."""
    metrics = sorted({m for s in report.scenarios for m in s.scores()})
    table = _table("Judge scores (mean, 0..1)", "metric", *(s.scenario for s in report.scenarios))
    for metric in metrics:
        cells = [s.scores().get(metric) for s in report.scenarios]
        table.add_row(Text(metric), *("-" if c is None else f"{c:.3f}" for c in cells))
    return table


def _comparison(comparison: Comparison) -> list[RenderableType]:
    """Per scenario: each figure now and in the baseline; then each case that changed."""
    baseline = comparison.baseline
    title = f"Against baseline {baseline.ref} (release {baseline.release[:12]})"
    table = _table(title, "scenario", "figure", "now", "baseline", "change")
    for s in comparison.scenarios:
        if not s.compared:
            table.add_row(Text(s.scenario), Text("no results in the baseline", style="dim"))
            continue
        table.add_row(Text(s.scenario), "cases", "", "", _changed(s))
        for name, delta in s.figures.items():
            label, shape, better_up = _FIGURES.get(name, (name, "{:.3f}", True))
            table.add_row("", label, *_delta(delta.now, delta.before, shape, better_up))
        table.add_section()
    parts: list[RenderableType] = [table]
    parts += [_changes(s) for s in comparison.scenarios if s.changes]
    return parts


_FIGURES = {
    "pass_rate": ("pass rate", "{:.1%}", True),
    "latency_p50": ("latency p50", "{:.3f}s", False),
    "latency_p95": ("latency p95", "{:.3f}s", False),
    "cost_per_case": ("cost/case", "${:.6f}", False),
}
"""Figure → (label, format, whether higher is better); judge metrics: higher is better."""


def _delta(now: float | None, before: float | None, shape: str, better_up: bool) -> list[Text]:
    cells = [Text("-" if v is None else shape.format(v)) for v in (now, before)]
    if now is None or before is None:
        return [*cells, Text("-", style="dim")]
    if abs(now - before) < 1e-12:
        return [*cells, Text("=", style="dim")]
    better = (now > before) == better_up
    arrow = "▲" if now > before else "▼"
    change = f"{arrow} {abs(now - before) / before:.1%}" if before else arrow
    return [*cells, Text(change, style="green" if better else "bold red")]


def _changed(s: ScenarioComparison) -> Text:
    text = Text()
    if s.regressions:
        text.append(f"{len(s.regressions)} regressed", style="bold red")
    if s.improvements:
        text.append(", " if text else "").append(f"{len(s.improvements)} improved", style="green")
    if s.new or s.gone:
        text.append(", " if text else "").append(f"+{len(s.new)} −{len(s.gone)}", style="dim")
    return text or Text("none", style="dim")


def _changes(s: ScenarioComparison) -> Text:
    text = Text(f"Changed since the baseline · {s.scenario}\n", style="italic")
    for change in s.regressions[:FAILURES_SHOWN]:
        text.append("  ✗ regressed ", style="bold red").append(change.case_id, style="bold")
        text.append(f" · {change.now.run_id}", style="dim")
        for outcome in change.now.failures[:2]:
            text.append(f"\n    {outcome.kind}: ", style="red").append(outcome.message)
        text.append("\n")
    for change in s.improvements[:FAILURES_SHOWN]:
        text.append("  ✓ improved ", style="green").append(change.case_id, style="bold")
        text.append(f" · {change.now.run_id}\n", style="dim")
    hidden = max(0, len(s.regressions) - FAILURES_SHOWN) + max(
        0, len(s.improvements) - FAILURES_SHOWN
    )
    if hidden:
        text.append(f"  {hidden} more in --json / --junit\n", style="dim")
    return text


def _gates_table(report: EvalReport) -> Table:
    table = _table("Gates", "scenario", "gate", "actual", "limit", "")
    table.columns[1].justify = "left"
    for column in table.columns[1:4]:
        column.no_wrap = True
    table.columns[0].no_wrap, table.columns[0].overflow = False, "fold"
    table.columns[4].min_width = 4
    for gate in report.gates:
        table.add_row(
            Text(gate.scenario),
            Text(gate.gate),
            _gate_actual(gate),
            _gate_limit(gate),
            _gate_verdict(gate),
        )
    return table


def _gate_actual(gate: GateResult) -> Text:
    if gate.skipped:
        return Text(gate.note.split(" (")[0], style="dim")
    if not gate.relative:
        return Text("nothing" if gate.actual is None else f"{gate.actual:.4g}")
    if gate.actual is None:
        return Text(gate.note or "nothing")
    way = "▼" if gate.gate.startswith("max_drop") else "▲"
    return Text(f"{way} {gate.actual:.1%}", style="" if gate.passed else "red")


def _gate_limit(gate: GateResult) -> str:
    if gate.relative:
        way = "▼" if gate.gate.startswith("max_drop") else "▲"
        return f"{way} ≤ {gate.limit * 100:.3g}%"
    return f"{'≥' if gate.gate.startswith('min_') else '≤'} {gate.limit:g}"


def _gate_verdict(gate: GateResult) -> Text:
    if gate.skipped:
        return Text("skip", style="yellow")
    return Text("pass", style="green") if gate.passed else Text("FAIL", style="bold red")


def _verdict(report: EvalReport) -> Text:
    failed = [gate for gate in report.gates if not gate.passed]
    skipped = sum(gate.skipped for gate in report.gates)
    evaluated = len(report.gates) - skipped
    note = f" ({skipped} skipped: no baseline)" if skipped else ""
    if evaluated:
        if failed:
            return Text(f"{len(failed)} of {evaluated} gate(s) failed{note}", style="bold red")
        return Text(f"all {evaluated} gate(s) passed{note}", style="bold green")
    if report.cases_passed:
        return Text(f"every case passed (no gates checked){note}", style="bold green")
    return Text(f"some cases failed (no gates checked){note}", style="bold red")


def _gate_count(s: ScenarioReport) -> Text:
    gates = [gate for gate in s.gates if gate.evaluated]
    if not gates:
        return Text("-", style="dim")
    failed = sum(not gate.passed for gate in gates)
    if failed:
        return Text(f"✗ {failed}/{len(gates)}", style="bold red")
    return Text(f"✓ {len(gates)}", style="green")


def _rate(rate: float, good: bool, prefix: str = "") -> Text:
    return Text(f"{prefix}{rate:.0%}", style="green" if good else "red")
