"""``agentdesk watch PIPELINE``: hot reload without the TUI — on every save, what changed.

Each save of a file the pipeline reads is judged (``ArtifactSession``): a rejected edit
prints its problems and which version stays active; an activated one that changes the
pipeline's release runs the same inputs on the release before and the release after (same
scenario, same seed, virtual clock) and prints outputs side by side with the deltas in
tokens, cost, latency, retries and failures. ``--json`` prints one JSON object per change.
Runs until Ctrl-C (exit 0).
"""

from __future__ import annotations

import json
import queue
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich import box
from rich.table import Table
from rich.text import Text

from agentdesk.cli.console import (
    errors_reported,
    input_options,
    scenario_option,
    seed_option,
    stderr,
    stdout,
    workspace_option,
)
from agentdesk.cli.runs import db_option

if TYPE_CHECKING:
    from agentdesk.artifacts.compare import Comparison, Delta
    from agentdesk.artifacts.session import ArtifactSession, Outcome
    from agentdesk.spec.sources import OverlayFiles

_OUTPUT_CHARS = 400
"""How much of each output a side-by-side shows (``--json`` has all of it)."""
_OUTPUTS_SHOWN = 5


@click.command()
@click.argument("pipeline")
@workspace_option
@scenario_option
@seed_option
@input_options
@db_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per change.")
@click.option(
    "--step-ms",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="How long the watcher waits for more changes before acting.",
)
def watch(
    pipeline: str,
    workspace: Path | None,
    scenario: str | None,
    seed: int | None,
    input_json: str | None,
    inputs_file: Path | None,
    db: str | None,
    as_json: bool,
    step_ms: int,
) -> None:
    """Watch the workspace; on every save print what the change does to PIPELINE."""
    with errors_reported():
        from agentdesk.artifacts.compare import SideCache, run_side
        from agentdesk.artifacts.session import ArtifactSession
        from agentdesk.artifacts.watch import Watcher
        from agentdesk.inputs import read_inputs
        from agentdesk.simulation import Simulation, find_workspace
        from agentdesk.store import locate, open_engine
        from agentdesk.store.artifacts import Registry

        root = find_workspace(workspace)
        sim = Simulation.prepare(root, pipeline, scenario, seed)  # fails early, clearly
        inputs = read_inputs(
            sim.default_input(), input_json, inputs_file, sim.pipeline.spec.input.schema_
        )
        session = ArtifactSession(root, Registry(open_engine(locate(root, db))))
        session.scan()
        loaded = session.load(pipeline)
        files = session.files()
        cache = SideCache()
        options: dict[str, Any] = {
            "scenario": sim.scenario_name,
            "seed": sim.seed,
            "inputs": inputs,
        }
        run_side(root, files, pipeline, cache=cache, **options)  # the first "before"
        outcomes: queue.Queue[Outcome] = queue.Queue()
        session.listeners.append(outcomes.put)
        watcher = Watcher(session, step_ms=step_ms)
        watcher.start()
        watcher.ready.wait(timeout=5)
        if as_json:
            ready = {"watching": str(root), "pipeline": pipeline, "release": loaded.release}
            click.echo(json.dumps({**ready, "scenario": sim.scenario_name, "seed": sim.seed}))
        else:
            stdout.print(
                Text.assemble(
                    ("watching ", "dim"),
                    str(root),
                    (f" · {pipeline} · release {loaded.release[:12]}", "dim"),
                    (f" · {sim.scenario_name} · seed {sim.seed} · Ctrl-C to stop", "dim"),
                )
            )
        state = _State(session, pipeline, files, cache, options, as_json)
        try:
            while True:
                try:
                    state.show(outcomes.get(timeout=0.5))
                except queue.Empty:
                    continue
        except KeyboardInterrupt:
            watcher.stop()
            if not as_json:
                stderr.print("stopped", style="dim")


class _State:
    """What the loop remembers between saves: the active files the last comparison ended on."""

    def __init__(
        self,
        session: ArtifactSession,
        pipeline: str,
        files: OverlayFiles,
        cache: Any,
        options: dict[str, Any],
        as_json: bool,
    ) -> None:
        self.session = session
        self.pipeline = pipeline
        self.files = files
        self.cache = cache
        self.options = options
        self.as_json = as_json

    def show(self, outcome: Outcome) -> None:
        if outcome.status == "unchanged":
            return
        comparison = None
        if outcome.status == "activated" and self.pipeline in outcome.releases:
            comparison = self._compare()
        if self.as_json:
            click.echo(json.dumps(_outcome_json(outcome, comparison)))
            return
        reads = self.pipeline in self.session.readers(outcome.path)
        stdout.print(_outcome_line(outcome, self.pipeline, reads))
        for problem in outcome.problems if outcome.status == "rejected" else ():
            stdout.print(Text(f"  {problem}", style="red"), soft_wrap=True)
        if comparison is not None:
            stdout.print(_comparison(comparison))

    def _compare(self) -> Comparison | None:
        from agentdesk.artifacts.compare import compare
        from agentdesk.errors import AgentdeskError

        after = self.session.files()
        root = self.session.root
        try:
            found = compare(
                root, self.files, after, self.pipeline, cache=self.cache, **self.options
            )
        except AgentdeskError as exc:
            stderr.print(Text(f"  cannot compare: {exc}", style="yellow"))
            return None
        self.files = after
        return found


def _outcome_line(outcome: Outcome, pipeline: str, reads: bool) -> Text:
    styles = {"activated": "green", "rejected": "bold red", "deleted": "yellow"}
    text = Text.assemble((outcome.path, "bold"), " ")
    if outcome.version is not None:
        text.append(f"#{outcome.version.number} {outcome.version.short} ")
    text.append(outcome.status, style=styles.get(outcome.status, ""))
    if outcome.status == "rejected":
        kept = outcome.short or "nothing"
        text.append(f" · {kept} stays active", style="dim")
    elif outcome.status == "deleted":
        text.append(f" · its last version {outcome.short} stays active", style="dim")
    elif pipeline in outcome.releases:
        before, after = outcome.releases[pipeline]
        text.append(f" · release {before[:12]} → {after[:12]}", style="dim")
    elif outcome.status == "activated" and reads:
        text.append(" · release unchanged", style="dim")
    elif outcome.status == "activated":
        text.append(f" · {pipeline} does not read it", style="dim")
    text.append(f" · {outcome.seconds * 1000:.0f} ms", style="dim")
    return text


def _comparison(found: Comparison) -> Table:
    from agentdesk.reports import dollars, ms

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, title_justify="left")
    table.add_column("")
    table.add_column("before", justify="right")
    table.add_column("after", justify="right")
    table.add_column("change", justify="right")
    approximate = found.before.approximate or found.after.approximate
    for delta in found.deltas:
        shown = _shown(delta, dollars, ms, approximate)
        table.add_row(delta.name, shown(delta.before), shown(delta.after), _change(delta, shown))
    changed = [(i, pair) for i, pair in enumerate(found.outputs) if pair.changed]
    same = len(found.outputs) - len(changed)
    if same:
        label = "output" if len(found.outputs) == 1 else f"{same} output(s)"
        table.add_row(label, Text("same", style="dim"), Text("same", style="dim"), "")
    for index, pair in changed[:_OUTPUTS_SHOWN]:
        label = f"output {index + 1}" if len(found.outputs) > 1 else "output"
        table.add_row(
            label,
            _output(pair.before, pair.before_status),
            _output(pair.after, pair.after_status),
            Text("changed", style="yellow"),
        )
    if len(changed) > _OUTPUTS_SHOWN:
        more = len(changed) - _OUTPUTS_SHOWN
        table.add_row(f"{more} more changed", "", "", Text("--json has all", style="dim"))
    return table


def _shown(delta: Delta, dollars: Any, ms: Any, approximate: bool) -> Any:
    if "USD" in delta.name:
        return dollars
    if "(s)" in delta.name:
        return ms
    mark = "~" if approximate and "tokens" in delta.name else ""
    return lambda value: f"{mark}{value:,.0f}"


def _change(delta: Delta, shown: Any) -> Text:
    if delta.change == 0:
        return Text("=", style="dim")
    worse = delta.change > 0  # more tokens, cost, latency, retries or failures
    sign = "+" if delta.change > 0 else "-"
    amount = shown(abs(delta.change)).lstrip("~")
    text = Text(f"{sign}{amount}", style="red" if worse else "green")
    if delta.ratio is not None:
        text.append(f" ({delta.ratio:+.0%})", style="dim")
    return text


def _output(value: Any, status: str) -> Text:
    shown = json.dumps(value, ensure_ascii=False, default=str)
    if len(shown) > _OUTPUT_CHARS:
        shown = shown[:_OUTPUT_CHARS] + "…"
    text = Text(shown)
    if status != "completed":
        text.append(f"\n{status}", style="red")
    return text


def _outcome_json(outcome: Outcome, comparison: Comparison | None) -> dict[str, Any]:
    return {
        "path": outcome.path,
        "status": outcome.status,
        "version": None if outcome.version is None else outcome.version.to_json(),
        "active": outcome.active,
        "problems": [str(p) for p in outcome.problems],
        "releases": {name: list(pair) for name, pair in outcome.releases.items()},
        "seconds": round(outcome.seconds, 6),
        "comparison": None if comparison is None else comparison.to_json(),
    }
