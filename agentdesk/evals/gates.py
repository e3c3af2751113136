"""Gates: the thresholds an eval must meet, per scenario, read from a YAML file.

A gate turns a figure of the report into a yes or no for CI::

    defaults:                      # every scenario, unless it says otherwise
      max_error_rate: {"*": 0.5}
    scenarios:
      happy:
        min_pass_rate: 0.95
        max_latency_p90: 250ms     # simulated time; a number is seconds
        max_cost_per_case: 0.002   # USD
      payments-503-storm:
        min_pass_rate: 0.6
        max_breaker_trips: 3

Some gates compare with a **baseline release** (``agentdesk eval --baseline LABEL|RELEASE``)::

    scenarios:
      happy:
        max_drop: {faithfulness: 5%, pass_rate: 2%}   # relative to the baseline's figure
        max_rise: {latency_p95: 50%, cost_per_case: 10%}

Without a baseline (or when the baseline has no results for the scenario or the figure), a
relative gate is **skipped**, and says why: it neither passes nor fails the eval, so the first
release of a pipeline can be gated at all. ``min_score`` limits a judge metric absolutely.

One gates file serves every golden set of the workspace; ``pipelines`` holds the gates of one
pipeline (its own ``defaults`` and ``scenarios``)::

    pipelines:
      doc-reconciliation:
        scenarios:
          happy: {min_pass_rate: 0.8}

A scenario's gates are, each on top of the one before: ``defaults``, ``scenarios.NAME``,
``pipelines.PIPELINE.defaults``, ``pipelines.PIPELINE.scenarios.NAME`` (maps such as
``max_error_rate`` merge key by key). Gates for a scenario the eval did not run are not
evaluated. The file is checked like every workspace file — unknown keys, scenarios, services
and tags are problems with ``file:line:column``, all reported at once, before anything runs —
because a misspelt gate that silently never fires is worse than no gate.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from agentdesk.errors import Problem, SpecError
from agentdesk.spec.validation import suggestion, validate_document
from agentdesk.spec.yamlpos import YamlDocument, YamlPath, parse_yaml

if TYPE_CHECKING:
    from agentdesk.evals.baseline import Figures
    from agentdesk.evals.report import ScenarioReport

ANY_SERVICE = "*"
PASS_RATE = "pass_rate"
RISING = ("latency_p50", "latency_p90", "latency_p95", "cost_per_case")
"""What ``max_rise`` may limit: figures that get worse as they grow."""
NO_BASELINE = "no baseline (run with --baseline LABEL|RELEASE)"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*$")
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def _seconds(value: Any) -> Any:
    """``250ms``, ``2s``, ``1.5 s`` or a plain number of seconds."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"expected a duration such as 250ms or 2s, got '{value}'")
        number = float(match.group(1))
        return number / 1000 if match.group(2) == "ms" else number
    return value


def _fraction(value: Any) -> Any:
    """``5%`` or a plain fraction (``0.05``)."""
    if isinstance(value, str):
        match = _PERCENT.match(value)
        if match is None:
            raise ValueError(f"expected a share such as 5% or 0.05, got '{value}'")
        return float(match.group(1)) / 100
    return value


Seconds = Annotated[float, BeforeValidator(_seconds), Field(ge=0)]
Rate = Annotated[float, Field(ge=0, le=1)]
Drop = Annotated[float, BeforeValidator(_fraction), Field(ge=0, le=1)]
Rise = Annotated[float, BeforeValidator(_fraction), Field(ge=0)]


class GateSpec(BaseModel):
    """The gates of one scenario; every key is optional (a missing key is no gate)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_pass_rate: Rate | None = None
    """Fraction of the scenario's cases whose assertions all passed."""
    min_pass_rate_by_tag: dict[str, Rate] = Field(default_factory=dict)
    """The same, for the cases with a tag."""
    max_latency_p50: Seconds | None = None
    """Median run duration, in simulated seconds (or ``250ms``)."""
    max_latency_p90: Seconds | None = None
    max_latency_p95: Seconds | None = None
    max_cost_per_case: float | None = Field(None, ge=0)
    """Mean USD per case (tokens billed, at the workspace's prices)."""
    max_error_rate: dict[str, Rate] = Field(default_factory=dict)
    """Failed attempts / attempts, per downstream service; ``"*"`` for any other service."""
    max_breaker_trips: int | None = Field(None, ge=0)
    """Times any breaker opened during the scenario."""
    max_fallback_rate: Rate | None = None
    """Fraction of cases that took a model fallback."""
    min_end_to_end: Rate | None = None
    """End-to-end reliability composed from the measured per-step success rates (the
    compounding table's "with the pipeline's policies" figure)."""
    min_score: dict[str, Rate] = Field(default_factory=dict)
    """A judge metric's mean score (``faithfulness: 0.8``)."""
    max_drop: dict[str, Drop] = Field(default_factory=dict)
    """``pass_rate`` or a judge metric: the largest drop allowed from the baseline release's
    figure, relative to it (``5%``: 0.80 may fall to 0.76)."""
    max_rise: dict[str, Rise] = Field(default_factory=dict)
    """``latency_p50``/``p90``/``p95`` or ``cost_per_case``: the largest rise allowed over the
    baseline release's figure, relative to it (``100%``: twice the baseline)."""


class PipelineGates(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    defaults: GateSpec = GateSpec()
    """Gates for every scenario of this pipeline."""
    scenarios: dict[str, GateSpec] = Field(default_factory=dict)
    """Gates by scenario name, for this pipeline."""


class GatesFile(PipelineGates):
    pipelines: dict[str, PipelineGates] = Field(default_factory=dict)
    """Gates of one pipeline, on top of the ones for every pipeline."""


@dataclass(frozen=True, slots=True)
class Gates:
    file: str
    spec: GatesFile

    def for_scenario(self, scenario: str, pipeline: str | None = None) -> GateSpec:
        layers: list[PipelineGates] = [self.spec]
        own = self.spec.pipelines.get(pipeline) if pipeline is not None else None
        if own is not None:
            layers.append(own)
        found = GateSpec()
        for layer in layers:
            found = _merged(found, layer.defaults)
            mine = layer.scenarios.get(scenario)
            if mine is not None:
                found = _merged(found, mine)
        return found


@dataclass(frozen=True, slots=True)
class GateResult:
    """One gate checked against one scenario's figures."""

    scenario: str
    gate: str
    """The key, with its service, tag or metric: ``max_error_rate[payments]``."""
    limit: float
    actual: float | None
    """None when there was nothing to measure (no case with the tag): the gate fails. For a
    relative gate, the relative change from the baseline (0.0625: down 6.25 %)."""
    passed: bool
    skipped: bool = False
    """A relative gate with nothing to compare with: it counts as neither pass nor fail."""
    note: str = ""
    """Why it was skipped, or why there is nothing to measure."""
    value: float | None = None
    """A relative gate's figure in this eval."""
    baseline: float | None = None
    """A relative gate's figure in the baseline release."""

    @property
    def relative(self) -> bool:
        return self.gate.startswith(("max_drop[", "max_rise["))

    @property
    def evaluated(self) -> bool:
        return not self.skipped

    def describe(self) -> str:
        if self.skipped:
            return f"{self.gate}: skipped, {self.note}"
        if self.relative:
            return self._describe_relative()
        sign = ">=" if self.gate.startswith("min_") else "<="
        actual = "nothing measured" if self.actual is None else f"{self.actual:.6g}"
        return f"{self.gate}: {actual} (must be {sign} {self.limit:g})"

    def _describe_relative(self) -> str:
        way = "down" if self.gate.startswith("max_drop") else "up"
        if self.actual is None:
            what = self.note or "nothing measured"
            return f"{self.gate}: {what} (must be {way} <= {self.limit:.1%})"
        return (
            f"{self.gate}: {_figure(self.value)} against {_figure(self.baseline)} in the "
            f"baseline, {way} {self.actual:.1%} (must be {way} <= {self.limit:.1%})"
        )

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "scenario": self.scenario,
            "gate": self.gate,
            "limit": self.limit,
            "actual": self.actual,
            "passed": self.passed,
        }
        if self.relative or self.skipped or self.note:
            found |= {"skipped": self.skipped, "note": self.note}
        if self.relative:
            found |= {"value": self.value, "baseline": self.baseline}
        return found


def _figure(value: float | None) -> str:
    return "nothing" if value is None else f"{value:.4g}"


def load_gates(
    path: Path,
    label: str,
    *,
    scenarios: Sequence[str] | None = None,
    services: Sequence[str] | None = None,
    tags: Sequence[str] | None = None,
    pipelines: Sequence[str] | None = None,
) -> Gates:
    """The gates in ``path``; raises ``SpecError`` with every problem. The optional name lists
    are what scenario names, ``max_error_rate`` keys and tags may be. (One gates file may
    serve several golden sets, so the eval does not pass tags: a tag gate with no case to
    measure fails instead.)"""
    try:
        doc = parse_yaml(path.read_bytes(), label)
    except OSError as exc:
        raise SpecError([Problem(label, 0, 0, f"cannot read: {exc.strerror}")]) from None
    spec, problems = validate_document(GatesFile.model_validate, doc, model=GatesFile)
    problems += _name_problems(doc, scenarios, services, tags)
    listed = doc.data.get("pipelines")
    if isinstance(listed, dict) and pipelines is not None:
        problems += _unknown(doc, ("pipelines",), listed, pipelines, "pipeline")
    if spec is None or problems:
        raise SpecError(problems)
    return Gates(label, spec)


def _name_problems(
    doc: YamlDocument,
    scenarios: Sequence[str] | None,
    services: Sequence[str] | None,
    tags: Sequence[str] | None,
) -> list[Problem]:
    problems = []
    for at, layer in _layers(doc.data):
        sections = layer.get("scenarios")
        if isinstance(sections, dict) and scenarios is not None:
            problems += _unknown(doc, (*at, "scenarios"), sections, scenarios, "scenario")
    for prefix, section in _sections(doc.data):
        if services is not None:
            problems += _unknown(
                doc,
                (*prefix, "max_error_rate"),
                section.get("max_error_rate"),
                [*services, ANY_SERVICE],
                "service",
            )
        if tags is not None:
            where = (*prefix, "min_pass_rate_by_tag")
            problems += _unknown(doc, where, section.get("min_pass_rate_by_tag"), tags, "tag")
        where = (*prefix, "max_rise")
        problems += _unknown(doc, where, section.get("max_rise"), RISING, "figure")
    return problems


def _layers(data: dict[str, Any]) -> Iterator[tuple[YamlPath, dict[str, Any]]]:
    """The file itself, then each ``pipelines.NAME``: what holds defaults and scenarios."""
    yield (), data
    pipelines = data.get("pipelines")
    for name, layer in pipelines.items() if isinstance(pipelines, dict) else ():
        if isinstance(layer, dict):
            yield ("pipelines", name), layer


def _sections(data: dict[str, Any]) -> Iterator[tuple[YamlPath, dict[str, Any]]]:
    """Every mapping of gates, with where it is."""
    for at, layer in _layers(data):
        if isinstance(layer.get("defaults"), dict):
            yield (*at, "defaults"), layer["defaults"]
        scenarios = layer.get("scenarios")
        for name, section in scenarios.items() if isinstance(scenarios, dict) else ():
            if isinstance(section, dict):
                yield (*at, "scenarios", name), section


def _unknown(
    doc: YamlDocument, at: YamlPath, mapping: Any, known: Sequence[str], what: str
) -> list[Problem]:
    if not isinstance(mapping, dict):
        return []
    return [
        doc.problem((*at, name), f"unknown {what} '{name}'{suggestion(name, known)}")
        for name in mapping
        if name not in known
    ]


def _merged(base: GateSpec, own: GateSpec) -> GateSpec:
    values = base.model_dump()
    for key in own.model_fields_set:
        mine = getattr(own, key)
        values[key] = {**values[key], **mine} if isinstance(mine, dict) else mine
    return GateSpec.model_validate(values)


# --- evaluation -------------------------------------------------------------------------------


def evaluate(
    spec: GateSpec,
    report: ScenarioReport,
    baseline: Figures | None = None,
    no_baseline: str = NO_BASELINE,
) -> list[GateResult]:
    """Every gate ``spec`` sets, checked against one scenario's report; relative gates against
    ``baseline`` (the same scenario in the baseline release), skipped with ``no_baseline``
    as their reason when there is none."""
    results: list[GateResult] = []

    def gate(name: str, limit: float | None, actual: float | None, minimum: bool) -> None:
        if limit is None:
            return
        ok = actual is not None and (actual >= limit if minimum else actual <= limit + 1e-12)
        results.append(GateResult(report.scenario, name, limit, actual, ok))

    _pass_rate_gates(spec, report, gate)
    for name, q in (("p50", 0.50), ("p90", 0.90), ("p95", 0.95)):
        gate(f"max_latency_{name}", getattr(spec, f"max_latency_{name}"), report.latency(q), False)
    gate("max_cost_per_case", spec.max_cost_per_case, report.cost_per_case, False)
    for service, limit, rate in _error_limits(report.error_rates(), spec.max_error_rate):
        gate(f"max_error_rate[{service}]", limit, rate, False)
    gate("max_breaker_trips", spec.max_breaker_trips, report.breaker_trips, False)
    gate("max_fallback_rate", spec.max_fallback_rate, report.fallback_rate, False)
    gate("min_end_to_end", spec.min_end_to_end, report.compounding.with_policies, True)
    scores = report.scores()
    for metric, limit in spec.min_score.items():
        gate(f"min_score[{metric}]", limit, scores.get(metric), True)
    results += _relative_gates(spec, report, baseline, no_baseline)
    return results


def _relative_gates(
    spec: GateSpec, report: ScenarioReport, baseline: Figures | None, no_baseline: str
) -> list[GateResult]:
    checks = [("max_drop", m, limit) for m, limit in spec.max_drop.items()]
    checks += [("max_rise", m, limit) for m, limit in spec.max_rise.items()]
    results = []
    for key, metric, limit in checks:
        name = f"{key}[{metric}]"
        if baseline is None:
            results.append(GateResult(report.scenario, name, limit, None, True, True, no_baseline))
            continue
        now, before = figure(report, metric), figure(baseline, metric)
        results.append(_compared(report.scenario, name, limit, now, before))
    return results


def _compared(
    scenario: str, name: str, limit: float, now: float | None, before: float | None
) -> GateResult:
    if now is None:
        return GateResult(scenario, name, limit, None, False, note="not measured in this eval")
    if before is None:
        note = "the baseline has no such figure for this scenario"
        return GateResult(scenario, name, limit, None, True, True, note, now)
    change = relative_change(now, before, rising=name.startswith("max_rise"))
    if change is None:
        note = f"{now:.4g} against 0 in the baseline"
        return GateResult(scenario, name, limit, None, False, note=note, value=now, baseline=before)
    passed = change <= limit + 1e-12
    return GateResult(scenario, name, limit, change, passed, value=now, baseline=before)


def relative_change(now: float, before: float, rising: bool) -> float | None:
    """How far ``now`` moved the bad way from ``before``, as a share of ``before`` (0 when it
    moved the good way); None when ``before`` is 0 and ``now`` rose (no finite share)."""
    worse = now - before if rising else before - now
    if worse <= 0:
        return 0.0
    return worse / before if before > 0 else None


def figure(source: Figures, metric: str) -> float | None:
    """A figure by the name gates use: ``pass_rate``, ``latency_p95``, ``cost_per_case`` or a
    judge metric (None when no case was scored on it)."""
    if metric == PASS_RATE:
        return source.pass_rate if source.cases else None
    if metric == "cost_per_case":
        return source.cost_per_case
    if metric.startswith("latency_p") and metric in RISING:
        return source.latency(int(metric.removeprefix("latency_p")) / 100)
    return source.scores().get(metric)


_Gate = Callable[[str, float | None, float | None, bool], None]


def _pass_rate_gates(spec: GateSpec, report: ScenarioReport, gate: _Gate) -> None:
    gate("min_pass_rate", spec.min_pass_rate, report.pass_rate, True)
    tag_rates = report.tag_rates()
    for tag, limit in spec.min_pass_rate_by_tag.items():
        gate(f"min_pass_rate_by_tag[{tag}]", limit, tag_rates.get(tag), True)


def _error_limits(
    measured: dict[str, float], limits: dict[str, float]
) -> Iterator[tuple[str, float, float]]:
    """(service, limit, rate) for each limited service; ``*`` limits each service not named."""
    for service, limit in limits.items():
        if service != ANY_SERVICE:
            yield service, limit, measured.get(service, 0.0)
    if ANY_SERVICE in limits:
        for service, rate in sorted(measured.items()):
            if service not in limits:
                yield service, limits[ANY_SERVICE], rate
