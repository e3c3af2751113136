"""``agentdesk eval``: a golden set through a pipeline under scenarios, checked against gates.

Exit codes (console.py): 0 the gates passed (or, with no gate, every case passed) · 1 no
gate and a case failed · 2 bad input (golden file, gates file, workspace; every problem listed,
nothing run) · 3 a gate failed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from agentdesk.cli.console import (
    EXIT_GATE_FAILED,
    EXIT_OK,
    EXIT_RUN_FAILED,
    errors_reported,
    progress,
    seed_option,
    stdout,
    workspace_option,
)
from agentdesk.errors import RunError
from agentdesk.evals.compounding import EXAMPLE, Compounding, reference
from agentdesk.evals.report import EvalReport, ScenarioReport
from agentdesk.reports import dollars, ms

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
) -> None:
    """Run a golden set through PIPELINE under each scenario; check assertions and gates."""
    with errors_reported():
        from agentdesk.evals import runner
        from agentdesk.simulation import find_workspace
        from agentdesk.store.redaction import Redactor, workspace_secrets

        plan = runner.prepare(
            find_workspace(workspace),
            pipeline,
            scenarios,
            golden=golden,
            gates=gates_file,
            use_gates=not no_gates,
            seed=seed,
            concurrency=concurrency,
        )
        total = plan.total_cases
        with progress(total, enabled=not as_json and total > 1, description="evaluating") as tick:
            report = runner.run(plan, tick)
        if junit_file is not None:
            _write_junit(report, junit_file)
        if as_json:
            spec = plan.simulations[0].workspace.spec
            secrets = Redactor(workspace_secrets(spec.services, os.environ), ())
            click.echo(json.dumps(secrets.value(report.to_json()), indent=2))
        else:
            stdout.print(eval_summary(report))
        sys.exit(exit_code(report))


def exit_code(report: EvalReport) -> int:
    """Gates decide when there are any; without gates, every case must pass."""
    if report.gates:
        return EXIT_OK if report.gates_passed else EXIT_GATE_FAILED
    return EXIT_OK if report.cases_passed else EXIT_RUN_FAILED


def _write_junit(report: EvalReport, path: Path) -> None:
    from agentdesk.evals.junit import write_junit

    try:
        write_junit(report, path)
    except OSError as exc:
        raise RunError(f"{path}: cannot write the JUnit file: {exc.strerror}") from exc


# --- rendering --------------------------------------------------------------------------------


def eval_summary(report: EvalReport) -> RenderableType:
    parts: list[RenderableType] = [_header(report), _scenarios_table(report)]
    if any(case.tags for s in report.scenarios for case in s.cases):
        parts.append(_tags_table(report))
    parts.append(_errors_table(report))
    parts += [_compounding(s) for s in report.scenarios if s.cases]
    parts += [_failures(s) for s in report.scenarios if s.passed_cases < len(s.cases)]
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


def _gates_table(report: EvalReport) -> Table:
    table = _table("Gates", "scenario", "gate", "actual", "limit", "")
    for gate in report.gates:
        actual = "nothing" if gate.actual is None else f"{gate.actual:.4g}"
        sign = "≥" if gate.gate.startswith("min_") else "≤"
        table.add_row(
            Text(gate.scenario),
            Text(gate.gate),
            actual,
            f"{sign} {gate.limit:g}",
            Text("pass", style="green") if gate.passed else Text("FAIL", style="bold red"),
        )
    return table


def _verdict(report: EvalReport) -> Text:
    failed = [gate for gate in report.gates if not gate.passed]
    if report.gates:
        if failed:
            return Text(f"{len(failed)} of {len(report.gates)} gate(s) failed", style="bold red")
        return Text(f"all {len(report.gates)} gate(s) passed", style="bold green")
    if report.cases_passed:
        return Text("every case passed (no gates checked)", style="bold green")
    return Text("some cases failed (no gates checked)", style="bold red")


def _gate_count(s: ScenarioReport) -> Text:
    if not s.gates:
        return Text("-", style="dim")
    failed = sum(not gate.passed for gate in s.gates)
    if failed:
        return Text(f"✗ {failed}/{len(s.gates)}", style="bold red")
    return Text(f"✓ {len(s.gates)}", style="green")


def _rate(rate: float, good: bool, prefix: str = "") -> Text:
    return Text(f"{prefix}{rate:.0%}", style="green" if good else "red")
