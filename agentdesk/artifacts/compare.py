"""Before and after an edit: one pipeline run on two releases, same inputs, scenario and seed.

What a developer wants to see when they save a prompt: did the output change, and what did
it cost — tokens, dollars, latency, retries, failures. Both sides run on the virtual clock
with the same seed, so every difference comes from the files, not from chance. A side is
keyed by (release, scenario, seed, inputs): ``SideCache`` keeps the last few so the "before"
of an edit is the "after" of the previous one, never run twice.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentdesk.engine.events import AnyEvent, TokensCounted
from agentdesk.engine.runner import RunResult
from agentdesk.projections.summary import RunSummary, step_name
from agentdesk.simulation import Simulation
from agentdesk.spec.sources import FileSource


@dataclass(frozen=True)
class Side:
    """One release's runs of the inputs."""

    release: str
    results: list[RunResult]
    """One per input, in input order."""
    summary: RunSummary

    @property
    def approximate(self) -> bool:
        """Token counts were estimated (tiktoken's encodings could not be loaded)."""
        return self.summary.tokens.approximate

    def measures(self) -> dict[str, float]:
        s = self.summary
        steps = s.steps.values()
        failed_runs = sum(n for status, n in s.statuses.items() if status != "ok")
        durations = sorted(r.duration for r in self.results)
        return {
            "prompt tokens": s.tokens.prompt,
            "completion tokens": s.tokens.completion,
            "cost (USD)": s.tokens.usd,
            "latency p50 (s)": _percentile(durations, 0.5),
            "latency p95 (s)": _percentile(durations, 0.95),
            "retries": sum(st.retries for st in steps),
            "fallbacks": sum(st.fallbacks for st in steps),
            "failed attempts": sum(sum(st.errors.values()) for st in steps),
            "failed runs": failed_runs,
        }


@dataclass(frozen=True)
class Delta:
    name: str
    before: float
    after: float

    @property
    def change(self) -> float:
        return self.after - self.before

    @property
    def ratio(self) -> float | None:
        """after / before - 1 (None when before is zero)."""
        return None if not self.before else self.after / self.before - 1


@dataclass(frozen=True)
class OutputPair:
    input: Any
    before: Any
    after: Any
    before_status: str
    after_status: str

    @property
    def changed(self) -> bool:
        return (self.before, self.before_status) != (self.after, self.after_status)


@dataclass(frozen=True)
class Comparison:
    pipeline: str
    scenario: str
    seed: int
    inputs: list[Any]
    before: Side
    after: Side

    @property
    def deltas(self) -> list[Delta]:
        before, after = self.before.measures(), self.after.measures()
        return [Delta(name, before[name], after[name]) for name in before]

    @property
    def outputs(self) -> list[OutputPair]:
        return [
            OutputPair(given, b.output, a.output, _status(b), _status(a))
            for given, b, a in zip(
                self.inputs, self.before.results, self.after.results, strict=True
            )
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline,
            "scenario": self.scenario,
            "seed": self.seed,
            "before": self.before.release,
            "after": self.after.release,
            "deltas": {d.name: {"before": d.before, "after": d.after} for d in self.deltas},
            "outputs": [
                {
                    "input": pair.input,
                    "before": pair.before,
                    "after": pair.after,
                    "before_status": pair.before_status,
                    "after_status": pair.after_status,
                    "changed": pair.changed,
                }
                for pair in self.outputs
            ],
        }


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values (exact: a comparison has few runs)."""
    if not values:
        return 0.0
    return values[min(len(values) - 1, max(0, round(q * len(values) + 0.5) - 1))]


def _status(result: RunResult) -> str:
    return "completed" if result.status == "ok" else result.stop_reason


@dataclass
class SideCache:
    """The last few sides run, by (release, scenario, seed, inputs)."""

    size: int = 8
    _sides: OrderedDict[tuple[str, str, int, str], Side] = field(default_factory=OrderedDict)

    def get(self, key: tuple[str, str, int, str]) -> Side | None:
        side = self._sides.get(key)
        if side is not None:
            self._sides.move_to_end(key)
        return side

    def put(self, key: tuple[str, str, int, str], side: Side) -> None:
        self._sides[key] = side
        while len(self._sides) > self.size:
            self._sides.popitem(last=False)


def run_side(
    root: Path,
    files: FileSource,
    pipeline: str,
    *,
    scenario: str | None = None,
    seed: int | None = None,
    inputs: list[Any] | None = None,
    cache: SideCache | None = None,
) -> tuple[Simulation, Side]:
    """Run the inputs (default: the pipeline's example input) on the release ``files`` give.

    Raises SpecError when that release does not load."""
    sim = Simulation.prepare(root, pipeline, scenario, seed, files=files)
    given = inputs if inputs is not None else [sim.default_input()]
    key = (sim.pipeline.release, sim.scenario_name, sim.seed, json.dumps(given, sort_keys=True))
    cached = cache.get(key) if cache is not None else None
    if cached is not None:
        return sim, cached
    summary = RunSummary()
    results: list[RunResult] = []
    sim.execute(given, 1, [summary.apply], results.append)
    results.sort(key=lambda r: r.session)
    side = Side(sim.pipeline.release, results, summary)
    if cache is not None:
        cache.put(key, side)
    return sim, side


def compare(
    root: Path,
    before: FileSource,
    after: FileSource,
    pipeline: str,
    *,
    scenario: str | None = None,
    seed: int | None = None,
    inputs: list[Any] | None = None,
    cache: SideCache | None = None,
) -> Comparison:
    """Run the same inputs on two releases and put them side by side."""
    sim, old = run_side(
        root, before, pipeline, scenario=scenario, seed=seed, inputs=inputs, cache=cache
    )
    given = inputs if inputs is not None else [sim.default_input()]
    _, new = run_side(
        root, after, pipeline, scenario=sim.scenario_name, seed=sim.seed, inputs=given, cache=cache
    )
    return Comparison(sim.pipeline.spec.name, sim.scenario_name, sim.seed, given, old, new)


def rendered_prompt_tokens(root: Path, files: FileSource, pipeline: str, path: str) -> int | None:
    """Prompt tokens of the first call of each step that reads ``path``, summed: the prompt
    as the model receives it (rendered, with the chat overhead), not the template's text.

    The pipeline runs once on its example input under the workspace's scenario; None when no
    step reading the file was called (a route skipped it, an earlier step failed)."""
    sim = Simulation.prepare(root, pipeline, files=files)
    steps = {step for step, read in sim.pipeline.step_files.items() if path in read}
    first: dict[str, int] = {}

    def note(event: AnyEvent) -> None:
        if type(event) is TokensCounted and step_name(event.step).split("/")[-1] in steps:
            first.setdefault(event.step, event.prompt_tokens)

    sim.execute([sim.default_input()], 1, [note])
    return sum(first.values()) if first else None
