"""``agentdesk load``: N concurrent sessions for a simulated duration, drawn as tables and charts.

Exit codes (console.py): 0 no alert fired · 1 an alert fired (or the canary was rolled back) ·
2 bad input (workspace, alerts.yaml, options, candidate reference).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, cast

import click
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from agentdesk import heap
from agentdesk.cli.console import (
    EXIT_OK,
    EXIT_RUN_FAILED,
    errors_reported,
    input_options,
    scenario_option,
    seed_option,
    stderr,
    stdout,
    workspace_option,
)
from agentdesk.cli.runs import Recording
from agentdesk.errors import Problem, SpecError
from agentdesk.reports import dollars, ms

SPARKS = "▁▂▃▄▅▆▇█"
BREAKER_MARKS = {"closed": ("·", "green"), "half_open": ("▒", "yellow"), "open": ("█", "red")}


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> float:
    from agentdesk.alerts import parse_duration

    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if seconds <= 0:
        raise click.BadParameter("must be more than 0")
    return seconds


def _share(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    text = value.strip()
    try:
        share = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        raise click.BadParameter(f"expected a share such as 10% or 0.1, got '{value}'") from None
    if not 0 < share < 1:
        raise click.BadParameter("must be between 0% and 100%, exclusive")
    return share


@click.command("load")
@click.argument("pipeline")
@workspace_option
@click.option(
    "-n",
    "--sessions",
    type=click.IntRange(1, 1_000_000),
    default=100,
    show_default=True,
    help="Concurrent sessions (users).",
)
@click.option(
    "--duration",
    default="1h",
    show_default=True,
    callback=_duration,
    help="Simulated duration: 90s, 30m, 1h…",
)
@click.option(
    "--think",
    default="60s",
    show_default=True,
    callback=_duration,
    help="Mean think time between a user's requests (exponential).",
)
@click.option(
    "--arrival",
    type=click.Choice(["constant", "ramp", "spike"]),
    default="constant",
    show_default=True,
    help="How sessions arrive (docs/load.md).",
)
@click.option(
    "--windows",
    type=click.IntRange(1, 1000),
    default=60,
    show_default=True,
    help="Slices of the duration the charts and --json report.",
)
@scenario_option
@seed_option
@input_options
@click.option(
    "--candidate",
    metavar="REF",
    help="A second release: a workspace folder, a release id, a label, or PATH@VERSION.",
)
@click.option(
    "--canary",
    metavar="SHARE",
    callback=_share,
    help="Send this share of sessions (10% or 0.1) to the candidate; roll back on an alert.",
)
@click.option("--shadow", is_flag=True, help="Run every request on the candidate too; compare.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Split the sessions across N processes (one per core): N replicas of the agent, "
    "each with its own breakers. Not with --candidate or --record.",
)
@click.option("--no-alerts", is_flag=True, help="Judge no alert rule.")
@click.option(
    "--record",
    is_flag=True,
    help="Record every run and downstream call in the store, so the failures can be saved as "
    "one incident (agentdesk incidents save --failed BATCH) and replayed.",
)
@click.option(
    "--db",
    metavar="URL",
    help="The store --record writes to and the candidate's versions are read from (default: "
    "$AGENTDESK_DB, else the workspace's).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def load(
    pipeline: str,
    workspace: Path | None,
    sessions: int,
    duration: float,
    think: float,
    arrival: str,
    windows: int,
    scenario: str | None,
    seed: int | None,
    input_json: str | None,
    inputs_file: Path | None,
    candidate: str | None,
    canary: float | None,
    shadow: bool,
    no_alerts: bool,
    db: str | None,
    as_json: bool,
    record: bool = False,
    workers: int = 1,
) -> None:
    """Simulate SESSIONS concurrent users of PIPELINE for a simulated DURATION."""
    with errors_reported():
        from agentdesk.alerts import load_rules
        from agentdesk.inputs import read_inputs
        from agentdesk.load import Arrival, LoadPlan, LoadTest
        from agentdesk.simulation import Simulation, find_workspace

        if (canary is not None or shadow) and candidate is None:
            raise SpecError([Problem("--canary/--shadow", 0, 0, "needs --candidate REF")])
        if canary is not None and shadow:
            raise SpecError([Problem("--shadow", 0, 0, "give --canary or --shadow, not both")])
        if candidate is not None and canary is None and not shadow:
            raise SpecError([Problem("--candidate", 0, 0, "needs --canary SHARE or --shadow")])
        if record and candidate is not None:
            why = "records one release's traffic: run it without --candidate"
            raise SpecError([Problem("--record", 0, 0, why)])
        if workers > 1 and (candidate is not None or record):
            why = "one process must see every run with --candidate or --record: use --workers 1"
            raise SpecError([Problem("--workers", 0, 0, why)])
        root = find_workspace(workspace)
        sim = Simulation.prepare(root, pipeline, scenario, seed)
        spec = sim.pipeline.spec
        items = read_inputs(spec.input.example, input_json, inputs_file, spec.input.schema_)
        rules = None if no_alerts else load_rules(root)
        other = (
            None
            if candidate is None
            else _candidate(root, candidate, pipeline, sim.scenario_name, sim.seed, db)
        )
        plan = LoadPlan(sessions, duration, think, cast(Arrival, arrival), windows, canary, shadow)
        recording = None
        if record:
            recording = Recording.start(sim, db)
            recording.keep_tape(sim, {**plan.traffic_json(), "inputs": items})
        sim.load_model_tables()
        heap.settle()  # everything is loaded: keep it out of the collector's way
        started = time.perf_counter()
        try:
            with _progress(duration, enabled=not as_json) as tick:
                report = LoadTest(
                    sim,
                    plan,
                    items,
                    candidate=other,
                    rules=rules,
                    progress=tick,
                    listeners=[recording.recorder.offer] if recording else (),
                    wrap=recording.tape.wrap if recording and recording.tape else None,
                    workers=workers,
                ).run()
        finally:
            if recording is not None:
                recording.close(sessions)
        wall = time.perf_counter() - started
        if as_json:
            data = report.to_json()
            if recording is not None:
                data["recording"] = recording.to_json()
            click.echo(json.dumps(data, indent=2))
        else:
            stdout.print(load_summary(report, wall))
            if recording is not None:
                stdout.print(_recorded(recording, report), soft_wrap=True)
        if recording is not None and recording.failure:
            stderr.print(Text.assemble(("error: ", "bold red"), recording.failure))
            sys.exit(EXIT_RUN_FAILED)
        sys.exit(EXIT_RUN_FAILED if report.fired() else EXIT_OK)


def _recorded(recording: Recording, report: Any) -> Text:
    """Where the runs went, and how to keep the failures as one incident."""
    text = recording.describe()
    failed = sum(int(arm.total("failed") + arm.total("stopped")) for arm in report.arms)
    if failed:
        batch = recording.recorder.batch_id
        text.append(
            f"\n{failed:,} run(s) failed: keep them as one incident with "
            f"agentdesk incidents save --failed {batch}",
            style="dim",
        )
    return text


# --- the candidate ------------------------------------------------------------------------------


def _candidate(
    root: Path, ref: str, pipeline: str, scenario: str, seed: int, db: str | None
) -> Any:
    """The candidate release as a Simulation: another workspace folder, or stored versions."""
    from agentdesk.simulation import Simulation

    folder = Path(ref)
    if (folder / "agentdesk.yaml").is_file():
        return Simulation.prepare(folder, pipeline, scenario, seed)
    files = _stored_files(root, ref, db)
    return Simulation.prepare(root, pipeline, scenario, seed, files=files)


def _stored_files(root: Path, ref: str, db: str | None) -> Any:
    """The workspace with the files ``ref`` names answered from the store."""
    from agentdesk.spec.sources import OverlayFiles
    from agentdesk.store import locate, open_engine
    from agentdesk.store.artifacts import Registry
    from agentdesk.store.database import StoreError

    try:
        registry = Registry(open_engine(locate(root, db)))
        if "@" in ref:
            version = registry.resolve(ref)
            return OverlayFiles(root, {version.path: registry.content(version)})
        overrides = _labelled(registry, ref) or _release_files(registry, ref)
    except StoreError as exc:
        raise SpecError([Problem("--candidate", 0, 0, f"{ref}: {exc}")]) from None
    if not overrides:
        raise SpecError(
            [Problem("--candidate", 0, 0, f"{ref}: no workspace folder, label or release")]
        )
    return OverlayFiles(root, overrides)


def _labelled(registry: Any, label: str) -> dict[str, bytes]:
    """Every file's version carrying ``label``."""
    found: dict[str, bytes] = {}
    for file in registry.files():
        for version in registry.history(file.path):
            if label in version.labels:
                found[file.path] = registry.content(version)
                break
    return found


def _release_files(registry: Any, prefix: str) -> dict[str, bytes]:
    from agentdesk.store.artifacts import UnknownArtifact

    try:
        release = registry.release(prefix)
    except UnknownArtifact:
        return {}
    return {
        path: registry.content(registry.resolve(f"{path}@{artifact}"))
        for path, artifact in release.files.items()
    }


# --- progress -----------------------------------------------------------------------------------


class _progress:
    """Simulated time as a progress bar on stderr, with the runs finished so far."""

    def __init__(self, duration: float, enabled: bool) -> None:
        self.duration, self.enabled = duration, enabled

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("simulating"),
            BarColumn(),
            TextColumn("{task.fields[clock]}"),
            TextColumn("{task.fields[runs]}"),
            TimeElapsedColumn(),
            console=stderr,
            transient=True,
        )
        self.bar.__enter__()
        self.task = self.bar.add_task("load", total=self.duration, clock="", runs="")

        def tick(now: float, runs: int) -> None:
            shown = min(now, self.duration)
            self.bar.update(
                self.task, completed=shown, clock=f"{_clock(shown)}", runs=f"{runs:,} runs"
            )

        return tick

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            self.bar.__exit__(*exc)


# --- rendering ----------------------------------------------------------------------------------


def load_summary(report: Any, wall: float | None = None) -> RenderableType:
    parts: list[RenderableType] = [_header(report, wall), _totals(report), _timeline(report)]
    if any(arm.fold.breakers for arm in report.arms):
        parts.append(_breakers(report))
    parts.append(_latency_table(report))
    if report.alert_rules:
        parts.append(_alerts(report))
    if report.shadow is not None:
        parts.append(_shadow(report))
    parts.append(_stop_reasons(report))
    return Group(*parts)


def _header(report: Any, wall: float | None) -> Text:
    plan = report.plan
    text = Text(f"{report.pipeline} · {report.scenario} · seed {report.seed}\n", style="bold")
    text.append(
        f"{plan.sessions:,} sessions × {_clock(plan.duration)} simulated ({plan.arrival} arrival, "
        f"think {plan.think:g}s) · {report.runs:,} runs"
    )
    if plan.canary is not None:
        text.append(f" · canary {plan.canary:.0%} on the candidate")
    if plan.shadow:
        text.append(" · shadow: every request also on the candidate")
    if report.workers > 1:
        text.append(f" · {report.workers} workers (replicas with their own breakers)")
    if wall is not None:
        text.append(f" · {wall:.1f}s wall ({report.runs / wall:,.0f} runs/s)", style="dim")
    return text


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right", no_wrap=index == 0)
    return table


def _totals(report: Any) -> Table:
    arms = report.arms
    table = _table("Totals (latency in simulated time)", "", *(arm.name for arm in arms))
    data = [arm.to_json(report.plan) for arm in arms]

    def row(label: str, cells: list[Any]) -> None:
        table.add_row(label, *(c if isinstance(c, Text) else Text(str(c)) for c in cells))

    row("release", [arm.release[:12] for arm in arms])
    row("runs", [f"{arm.runs:,}" for arm in arms])
    row("throughput", [f"{d['throughput_per_s']:.1f} runs/s" for d in data])
    for name, q in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99)):
        row(f"latency {name}", [ms(arm.latency(q)) for arm in arms])
    row(
        "tool-call errors",
        [
            Text(f"{d['tool_error_rate']:.2%}", style="red" if d["tool_error_rate"] > 0.05 else "")
            for d in data
        ],
    )
    row("LLM call errors", [f"{d['llm_error_rate']:.2%}" for d in data])
    row("retries per run", [f"{d['retries_per_run']:.3f}" for d in data])
    row("calls refused (breaker)", [f"{d['calls_refused_by_breakers']:,}" for d in data])
    row("budget exhaustions", [_budget_stops(d["budget_exhaustions"]) for d in data])
    row("cost per hour", [dollars(d["usd_per_hour"]) for d in data])
    return table


def _budget_stops(kinds: dict[str, int]) -> str:
    return ", ".join(f"{kind} {count:,}" for kind, count in kinds.items()) or "0"


def sparkline(values: list[float], style: str = "cyan") -> Text:
    """One character per value, scaled to the largest (a flat line when all are equal)."""
    top = max(values, default=0.0)
    text = Text()
    for value in values:
        index = 0 if top <= 0 else min(len(SPARKS) - 1, int(value / top * (len(SPARKS) - 1)))
        text.append(SPARKS[index] if value > 0 else " ", style=style)
    return text


def _timeline(report: Any) -> Table:
    plan = report.plan
    table = Table(
        title=f"Over time (one column = {_clock(plan.window)}; 0 → {_clock(plan.duration)})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("", no_wrap=True)
    table.add_column("", no_wrap=True)
    table.add_column("max", justify="right", no_wrap=True)
    active = [float(a) for a in report.active]
    table.add_row("sessions present", sparkline(active, "blue"), f"{max(active, default=0):,.0f}")
    for arm in report.arms:
        prefix = "" if arm.name == "all" else f"{arm.name} "
        w = arm.windows
        per_s = [x.finished / plan.window for x in w]
        p95 = [x.digest.quantile(0.95) for x in w]
        errors = [x.tool_errors / x.tool_calls if x.tool_calls else 0.0 for x in w]
        retries = [float(x.retries) for x in w]
        usd = [x.usd / plan.window * 3600 for x in w]
        table.add_row(f"{prefix}runs/s", sparkline(per_s), f"{max(per_s, default=0):.1f}")
        table.add_row(f"{prefix}p95 latency", sparkline(p95, "magenta"), ms(max(p95, default=0)))
        table.add_row(
            f"{prefix}tool errors", sparkline(errors, "red"), f"{max(errors, default=0):.1%}"
        )
        table.add_row(
            f"{prefix}retries", sparkline(retries, "yellow"), f"{max(retries, default=0):,.0f}"
        )
        table.add_row(f"{prefix}$/hour", sparkline(usd, "green"), dollars(max(usd, default=0)))
    if report.alert_rules:
        table.add_row("alerts", _alert_marks(report), str(len(report.fired())))
    return table


def _alert_marks(report: Any) -> Text:
    """▲ where an alert fired, ✕ where the canary was rolled back."""
    plan = report.plan
    marks = [" "] * plan.windows
    for alert in report.fired():
        marks[plan.window_of(max(0.0, alert.t - 1e-9))] = "▲"
    if report.rollback is not None:
        marks[plan.window_of(max(0.0, report.rollback.t - 1e-9))] = "✕"
    return Text("".join(marks), style="bold red")


def _breakers(report: Any) -> Table:
    table = Table(
        title="Breakers (· closed  ▒ half-open  █ open, worst state per column)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("breaker", no_wrap=True)
    table.add_column("", no_wrap=True)
    table.add_column("opened", justify="right")
    for arm in report.arms:
        opens = arm.breaker_opens()
        for name, states in arm.breaker_rows().items():
            row = Text()
            for state in states:
                mark, style = BREAKER_MARKS[state]
                row.append(mark, style=style)
            label = name if arm.name == "all" else f"{arm.name} {name}"
            table.add_row(Text(label), row, str(opens[name]))
    return table


def _latency_table(report: Any, rows: int = 12) -> Table:
    """Latency percentiles over time: the chart slices grouped into ``rows`` bars."""
    plan = report.plan
    arm = report.arms[0]
    table = _table(
        f"Latency over time ({arm.name if arm.name != 'all' else 'all traffic'})",
        "from", "runs", "p50", "p95", "p99", "p95",
    )  # fmt: skip
    group = max(1, -(-plan.windows // rows))
    chunks = [arm.windows[i : i + group] for i in range(0, plan.windows, group)]
    from agentdesk.projections.latency import LatencyDigest

    digests = []
    for chunk in chunks:
        digest = LatencyDigest()
        for w in chunk:
            digest.merge(w.digest)
        digests.append(digest)
    top = max((d.quantile(0.95) for d in digests), default=0.0)
    for index, digest in enumerate(digests):
        p95 = digest.quantile(0.95)
        bar = "█" * (0 if top <= 0 else round(p95 / top * 24))
        table.add_row(
            _clock(index * group * plan.window),
            f"{digest.count:,}",
            ms(digest.quantile(0.50)),
            ms(p95),
            ms(digest.quantile(0.99)),
            Text(bar, style="magenta"),
        )
    return table


def _alerts(report: Any) -> RenderableType:
    resolved = {
        (a.arm, a.rule, a.fired_at): a.t
        for a in report.alerts
        if type(a).__name__ == "AlertResolved"
    }
    fired = report.fired()
    if not fired:
        rules = "; ".join(report.alert_rules)
        return Text(f"Alerts: none fired ({rules})\n", style="green")
    table = _table("Alerts", "at", "arm", "rule", "until", "")
    for alert in fired:
        until = resolved.get((alert.arm, alert.rule, alert.t))
        table.add_row(
            Text(_clock(alert.t)),
            alert.arm or "all",
            Text(alert.rule, style="bold red"),
            "-" if until is None else _clock(until),
            Text(alert.message),
        )
    parts: list[RenderableType] = [table]
    if report.rollback is not None:
        rollback = report.rollback
        parts.append(
            Text(
                f"canary rolled back at {_clock(rollback.t)} ({rollback.rule}): every session on "
                f"the baseline from then on\n",
                style="bold red",
            )
        )
    elif report.plan.canary is not None:
        parts.append(Text("canary held: no alert on the candidate\n", style="green"))
    return Group(*parts)


def _shadow(report: Any) -> Table:
    s = report.shadow.to_json()
    table = _table(f"Shadow: {s['pairs']:,} requests on both releases", "", "")
    table.add_row("same outcome", f"{s['same']:,}")
    table.add_row("both completed, different output", f"{s['other_output']:,}")
    table.add_row(
        Text("candidate failed, baseline completed"),
        Text(f"{s['candidate_worse']:,}", style="red" if s["candidate_worse"] else ""),
    )
    table.add_row("candidate completed, baseline failed", f"{s['candidate_better']:,}")
    table.add_row("both failed, differently", f"{s['other_failure']:,}")
    table.add_row("cost per run Δ", f"{s['mean_usd_delta']:+.6f} USD")
    table.add_row("latency per run Δ", f"{s['mean_latency_delta'] * 1000:+.0f} ms")
    for example in s["examples"][:5]:
        table.add_row(
            Text(f"  {example['run_id']}", style="dim"),
            Text(f"{example['baseline']} → {example['candidate']}", style="dim"),
        )
    return table


def _stop_reasons(report: Any) -> Text:
    text = Text("Stop reasons: ", style="italic")
    for arm in report.arms:
        if arm.name != "all":
            text.append(f"{arm.name}: ", style="bold")
        shown = arm.fold.stop_reasons.most_common(4)
        text.append(
            " · ".join(f"{reason} {count:,}" for reason, count in shown) or "no runs",
        )
        text.append("  ")
    return text


def _clock(seconds: float) -> str:
    """``3600`` → ``1:00:00``, ``75`` → ``1:15``."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
