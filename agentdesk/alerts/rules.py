"""Alert rules: the four production thresholds, tunable in the workspace's ``alerts.yaml``.

With no file the defaults hold::

    calibration: 5m            # no baseline figure given: the first 5 minutes of traffic set it
    every: 1m                  # how often a stream of runs is checked
    baseline:                  # optional fixed reference figures
      latency_p95: 2.5s
      daily_cost: 40           # USD per day: the rolling 7-day average
      tokens_per_task: 1800
    rules:
      tool_error_rate: {above: 0.05, window: 5m, min_calls: 20}
      latency_p95: {above: 2.0, window: 5m, min_runs: 20}    # × the baseline p95
      daily_cost: {above: 1.5, window: 1h}                   # × the rolling 7-day average
      tokens_per_task: {above: 3.0, window: 5m, min_runs: 10}  # × the expected mean
      # a rule set to false is switched off

The file is read with positions like every workspace file, so a misspelt key or a bad value
is a ``file:line:column`` problem, all of them reported at once: a rule that silently never
fires is worse than no rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from agentdesk.alerts.durations import Seconds
from agentdesk.errors import Problem, SpecError
from agentdesk.spec.validation import validate_document
from agentdesk.spec.yamlpos import parse_yaml

ALERTS_FILE: Final = "alerts.yaml"
RuleName = Literal["tool_error_rate", "latency_p95", "daily_cost", "tokens_per_task"]
RULE_NAMES: Final[tuple[RuleName, ...]] = (
    "tool_error_rate",
    "latency_p95",
    "daily_cost",
    "tokens_per_task",
)
DAY: Final = 86400.0


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ToolErrorRateRule(_Rule):
    """Failed tool calls (HTTP calls to tool services) / tool calls, over a trailing window."""

    above: float = Field(0.05, ge=0, le=1)
    """The rate that fires the alert (0.05: more than 5 % of calls failed)."""
    window: Seconds = 300.0
    min_calls: int = Field(20, ge=1)
    """Fewer tool calls than this in the window: not judged (one failure in two is noise)."""


class LatencyP95Rule(_Rule):
    """The 95th percentile of run durations over a trailing window, against the baseline's."""

    above: float = Field(2.0, gt=0)
    """Multiple of the baseline p95 that fires the alert."""
    window: Seconds = 300.0
    min_runs: int = Field(20, ge=1)


class DailyCostRule(_Rule):
    """Spend per day — the rate over a trailing window, projected to a day — against the
    rolling average of the previous ``days`` days (or the baseline's daily cost)."""

    above: float = Field(1.5, gt=0)
    """Multiple of the average daily cost that fires the alert."""
    window: Seconds = 3600.0
    """The trailing stretch whose spend rate is projected to a day."""
    days: int = Field(7, ge=1)
    """How many previous whole days the rolling average covers."""


class TokensPerTaskRule(_Rule):
    """Mean tokens (prompt + completion) per run over a trailing window, against the expected
    mean."""

    above: float = Field(3.0, gt=0)
    """Multiple of the expected mean that fires the alert."""
    window: Seconds = 300.0
    min_runs: int = Field(10, ge=1)


def _off(value: Any) -> Any:
    """``false`` switches a rule off; ``true`` or ``{}`` keeps its defaults."""
    if value is False:
        return None
    return {} if value is True or value is None else value


class RulesSpec(_Rule):
    tool_error_rate: Annotated[ToolErrorRateRule | None, BeforeValidator(_off)] = (
        ToolErrorRateRule()
    )
    latency_p95: Annotated[LatencyP95Rule | None, BeforeValidator(_off)] = LatencyP95Rule()
    daily_cost: Annotated[DailyCostRule | None, BeforeValidator(_off)] = DailyCostRule()
    tokens_per_task: Annotated[TokensPerTaskRule | None, BeforeValidator(_off)] = (
        TokensPerTaskRule()
    )


class BaselineSpec(_Rule):
    """Fixed reference figures; a figure left out is measured (calibration or a baseline arm)."""

    latency_p95: Seconds | None = None
    daily_cost: float | None = Field(None, gt=0)
    """USD per day: what the rolling 7-day average would be."""
    tokens_per_task: float | None = Field(None, gt=0)


class AlertsFile(_Rule):
    calibration: Seconds = 300.0
    """When a ratio rule has no reference figure, the first stretch of traffic (this long)
    sets it, and the rule is judged only after it."""
    every: Seconds = 60.0
    """How often a stream of runs is checked (every window ends on a multiple of it)."""
    baseline: BaselineSpec = BaselineSpec()
    rules: RulesSpec = RulesSpec()


AnyRule = ToolErrorRateRule | LatencyP95Rule | DailyCostRule | TokensPerTaskRule


@dataclass(frozen=True, slots=True)
class Rules:
    """The rules in force and where they came from (``file`` is None for the defaults)."""

    spec: AlertsFile
    file: str | None = None

    def enabled(self) -> list[tuple[RuleName, AnyRule]]:
        """The rules switched on, in a fixed order."""
        found = ((name, getattr(self.spec.rules, name)) for name in RULE_NAMES)
        return [(name, rule) for name, rule in found if rule is not None]

    def rule(self, name: RuleName) -> AnyRule | None:
        rule: AnyRule | None = getattr(self.spec.rules, name)
        return rule

    def describe(self, name: RuleName) -> str:
        """The rule in words: ``tool-call error rate > 5% over 5m``."""
        from agentdesk.alerts.durations import shown

        rule = self.rule(name)
        if rule is None:
            return f"{name}: off"
        window = shown(rule.window)
        if name == "tool_error_rate":
            return f"tool-call error rate > {rule.above:.0%} over {window}"
        if name == "latency_p95":
            return f"p95 latency over {window} > {rule.above:g}× baseline"
        if name == "daily_cost":
            assert isinstance(rule, DailyCostRule)
            return f"daily cost (last {window} projected) > {rule.above:.0%} of {rule.days}-day avg"
        return f"tokens per task over {window} > {rule.above:g}× expected mean"


DEFAULT_RULES: Final = Rules(AlertsFile())
"""The four production thresholds, with no baseline figures."""


def load_rules(workspace_root: Path) -> Rules:
    """The workspace's rules: ``alerts.yaml`` in its root, else the defaults.

    Raises ``SpecError`` listing every problem of the file (``alerts.yaml:4:7: …``)."""
    path = workspace_root / ALERTS_FILE
    if not path.is_file():
        return DEFAULT_RULES
    return read_rules(path, ALERTS_FILE)


def read_rules(path: Path, label: str) -> Rules:
    """The rules in ``path``, reported under ``label``; raises ``SpecError``."""
    try:
        doc = parse_yaml(path.read_bytes(), label)
    except OSError as exc:
        raise SpecError([Problem(label, 0, 0, f"cannot read: {exc.strerror}")]) from None
    spec, problems = validate_document(AlertsFile.model_validate, doc, model=AlertsFile)
    if spec is None or problems:
        raise SpecError(problems)
    return Rules(spec, label)
