"""Assertions a golden case makes about its run: on what it answered, and on how it ran.

Two families, one list per case:

- **answer** assertions look at one value in the run's result document (``path``, default
  ``$.output``; see ``paths``): ``equals``, ``contains``, ``regex``, ``json_schema``,
  ``json_path`` (exists / equals at a path), ``number`` (within a tolerance), and ``judge``
  (a model grades the value against written criteria; ``judge.py`` asks it);
- **run** assertions look at the run itself: ``stop_reason``, ``max_cost``, ``max_latency``
  (simulated seconds), ``max_retries``, ``breaker_never_opened``, ``no_fallback``.

Each is a frozen pydantic model tagged by ``kind``, so a golden file is validated like every
other workspace file (unknown keys, wrong types and bad regexes or schemas are problems with a
place, found before anything runs), and ``check`` is a pure function of the model and the
``CaseRun``. Equality is JSON equality: ``1`` equals ``1.0`` but never ``true``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import jsonschema
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from agentdesk.evals.paths import OUTPUT, JsonPath, PathSyntaxError
from agentdesk.evals.runs import CaseRun

SHOWN = 80
"""Values quoted in a message are cut to this many characters."""


def _parse_path(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return JsonPath.parse(value)
        except PathSyntaxError as exc:
            raise ValueError(str(exc)) from None
    return value


Path = Annotated[JsonPath, BeforeValidator(_parse_path)]


class _Assertion(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class _AtPath(_Assertion):
    path: Path = OUTPUT
    """Where the value is, in the case's result document (default ``$.output``)."""


class Equals(_AtPath):
    kind: Literal["equals"]
    value: Any
    """The value expected, as JSON."""


class Contains(_AtPath):
    kind: Literal["contains"]
    value: Any
    """A substring of a string, an element of a list, or a subset of an object's keys/values."""


class Regex(_AtPath):
    kind: Literal["regex"]
    pattern: str
    """A Python regular expression searched in the value (non-strings as their JSON)."""
    ignore_case: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regex {pattern!r}: {exc}") from None
        return pattern


class Schema(_AtPath):
    kind: Literal["json_schema"]
    schema_: dict[str, Any] = Field(alias="schema")
    """A JSON Schema (draft 2020-12 unless it says otherwise) the value must satisfy."""

    model_config = ConfigDict(populate_by_name=True)

    @field_validator("schema_")
    @classmethod
    def _valid_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        try:
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
        return schema


class AtPath(_Assertion):
    kind: Literal["json_path"]
    path: Path
    """Where to look (required)."""
    equals: Any = None
    """The value expected there; leave it out to only check that the path exists (or not)."""
    exists: bool = True
    """False: the path must lead nowhere (a step that must not have run, a key that must
    not be set)."""


class Number(_AtPath):
    kind: Literal["number"]
    value: float
    """The number expected."""
    tolerance: float = Field(0.0, ge=0)
    """Absolute tolerance: passes when |actual - value| <= tolerance."""
    relative: float = Field(0.0, ge=0)
    """Relative tolerance, as a fraction of ``value`` (0.05: within 5 %)."""


DEFAULT_METRIC = "judge"
"""The metric a judge's score counts under when the assertion names none."""


class Judge(_AtPath):
    kind: Literal["judge"]
    criteria: str = Field(min_length=1)
    """What a good value does, in words; the judge model scores the value against it."""
    model: str | None = None
    """The workspace model that judges (default: the workspace's first model)."""
    min_score: float = Field(0.5, ge=0, le=1)
    """The score (0..1) the judge must give for the assertion to pass."""
    sim_pass_if: str | None = None
    """The scripted judge: when the judge model is a sim, it passes the value exactly when this
    regex is found in it (and fails it otherwise). Ignored by a real model."""
    metric: str = Field(DEFAULT_METRIC, pattern=r"^[a-z][a-z0-9_]{0,39}$")
    """The name the score is averaged under per scenario (``faithfulness``, ``tone``…): the
    report shows each metric's mean and gates can limit it, absolutely (``min_score``) or
    against a baseline release (``max_drop``)."""

    @field_validator("sim_pass_if")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        return Regex._compiles(pattern) if pattern is not None else None


class StopReason(_Assertion):
    kind: Literal["stop_reason"]
    value: str
    """``completed``, or a reason such as ``step_failed: refund``; a reason without ``:``
    matches any step (``step_failed`` matches ``step_failed: refund``)."""


class MaxCost(_Assertion):
    kind: Literal["max_cost"]
    usd: float = Field(ge=0)


class MaxLatency(_Assertion):
    kind: Literal["max_latency"]
    seconds: float = Field(ge=0)
    """Simulated seconds from the run's start to its end."""


class MaxRetries(_Assertion):
    kind: Literal["max_retries"]
    count: int = Field(ge=0)


class BreakerNeverOpened(_Assertion):
    kind: Literal["breaker_never_opened"]


class NoFallback(_Assertion):
    kind: Literal["no_fallback"]


Assertion = Annotated[
    Equals
    | Contains
    | Regex
    | Schema
    | AtPath
    | Number
    | Judge
    | StopReason
    | MaxCost
    | MaxLatency
    | MaxRetries
    | BreakerNeverOpened
    | NoFallback,
    Field(discriminator="kind"),
]

COMPLETED = StopReason(kind="stop_reason", value="completed")
"""What a case with no assertions checks: its run completed."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """One assertion checked: passed or not, and a sentence that says what was seen."""

    kind: str
    passed: bool
    message: str
    score: float | None = None
    """A judge's score (0..1); None for every other assertion, and for a judge that gave none."""
    metric: str | None = None
    """The metric a judge's score counts under."""

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"kind": self.kind, "passed": self.passed, "message": self.message}
        if self.metric is not None:
            found |= {"metric": self.metric, "score": self.score}
        return found


def check(assertion: Assertion, run: CaseRun) -> Outcome:
    """Checks every assertion but ``judge``, which needs a model (``judge.py``)."""
    if isinstance(assertion, StopReason | MaxCost | MaxLatency | MaxRetries):
        return _check_limit(assertion, run)
    if isinstance(assertion, BreakerNeverOpened):
        return _breaker(run)
    if isinstance(assertion, NoFallback):
        return _verdict(assertion, run.fallbacks == 0, f"{run.fallbacks} fallback(s) taken")
    if isinstance(assertion, Judge):
        raise TypeError("judge assertions are checked by agentdesk.evals.judge")
    found, value = assertion.path.find(run.document())
    if isinstance(assertion, AtPath):
        return _at_path(assertion, found, value)
    if not found:
        return Outcome(assertion.kind, False, f"{assertion.path}: nothing there")
    return _check_value(assertion, value)


def _check_value(assertion: Equals | Contains | Regex | Schema | Number, value: Any) -> Outcome:
    where = f"{assertion.path}: "
    if isinstance(assertion, Equals):
        ok = same(value, assertion.value)
        return _verdict(
            assertion, ok, f"{where}expected {shown(assertion.value)}, got {shown(value)}"
        )
    if isinstance(assertion, Contains):
        ok = contains(value, assertion.value)
        return _verdict(
            assertion, ok, f"{where}{shown(value)} does not contain {shown(assertion.value)}"
        )
    if isinstance(assertion, Regex):
        text = value if isinstance(value, str) else json.dumps(value)
        flags = re.IGNORECASE if assertion.ignore_case else 0
        ok = re.search(assertion.pattern, text, flags) is not None
        return _verdict(assertion, ok, f"{where}/{assertion.pattern}/ not found in {shown(value)}")
    if isinstance(assertion, Schema):
        return _schema(assertion, value)
    return _number(assertion, value)


def _at_path(assertion: AtPath, found: bool, value: Any) -> Outcome:
    if not assertion.exists:
        return _verdict(
            assertion, not found, f"{assertion.path}: expected nothing, got {shown(value)}"
        )
    if not found:
        return Outcome(assertion.kind, False, f"{assertion.path}: nothing there")
    if "equals" not in assertion.model_fields_set:
        return Outcome(assertion.kind, True, f"{assertion.path}: present")
    ok = same(value, assertion.equals)
    message = f"{assertion.path}: expected {shown(assertion.equals)}, got {shown(value)}"
    return _verdict(assertion, ok, message)


def _schema(assertion: Schema, value: Any) -> Outcome:
    validator = jsonschema.validators.validator_for(assertion.schema_)(assertion.schema_)
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is None:
        return Outcome(assertion.kind, True, f"{assertion.path}: valid")
    at = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return Outcome(assertion.kind, False, f"{assertion.path}{at}: {error.message}")


def _number(assertion: Number, value: Any) -> Outcome:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return Outcome(assertion.kind, False, f"{assertion.path}: not a number: {shown(value)}")
    allowed = max(assertion.tolerance, abs(assertion.value) * assertion.relative)
    ok = math.isfinite(value) and abs(value - assertion.value) <= allowed
    message = f"{assertion.path}: {value} is not within {allowed:g} of {assertion.value:g}"
    return _verdict(assertion, ok, message)


def _check_limit(
    assertion: StopReason | MaxCost | MaxLatency | MaxRetries, run: CaseRun
) -> Outcome:
    if isinstance(assertion, StopReason):
        expected = assertion.value
        actual = run.stop_reason if ":" in expected else run.stop_reason.split(":", 1)[0]
        return _verdict(
            assertion,
            actual == expected,
            f"stopped with {run.stop_reason!r}, expected {expected!r}",
        )
    if isinstance(assertion, MaxCost):
        ok = run.usd <= assertion.usd
        return _verdict(assertion, ok, f"cost ${run.usd:.6g}, limit ${assertion.usd:g}")
    if isinstance(assertion, MaxLatency):
        ok = run.duration <= assertion.seconds
        return _verdict(assertion, ok, f"took {run.duration:.3f} s, limit {assertion.seconds:g} s")
    ok = run.retries <= assertion.count
    return _verdict(assertion, ok, f"{run.retries} retries, limit {assertion.count}")


def _breaker(run: CaseRun) -> Outcome:
    seen = []
    if run.breaker_opened:
        seen.append("a breaker opened on its calls")
    if run.rejected:
        seen.append(f"{run.rejected} call(s) refused by an open breaker")
    message = "; ".join(seen) or "no breaker opened"
    return Outcome("breaker_never_opened", not seen, message)


def _verdict(assertion: BaseModel, passed: bool, failure: str) -> Outcome:
    kind = str(getattr(assertion, "kind", ""))
    return Outcome(kind, passed, "ok" if passed else failure)


def same(actual: Any, expected: Any) -> bool:
    """JSON equality: numbers by value, but a boolean is never a number."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(actual, dict) and isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(
            same(actual[k], expected[k]) for k in actual
        )
    if isinstance(actual, list) and isinstance(expected, list):
        return len(actual) == len(expected) and all(map(same, actual, expected))
    if isinstance(actual, int | float) and isinstance(expected, int | float):
        return actual == expected
    return type(actual) is type(expected) and actual == expected


def contains(actual: Any, part: Any) -> bool:
    """Substring of a string, element of a list, or every key of ``part`` matching in an object."""
    if isinstance(actual, str):
        return isinstance(part, str) and part in actual
    if isinstance(actual, list):
        return any(same(item, part) for item in actual)
    if isinstance(actual, dict) and isinstance(part, dict):
        return all(k in actual and _subset(actual[k], v) for k, v in part.items())
    return False


def _subset(actual: Any, part: Any) -> bool:
    if isinstance(actual, dict) and isinstance(part, dict):
        return contains(actual, part)
    return same(actual, part)


def shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"
