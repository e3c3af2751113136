"""What-if replay: an incident re-run with changed policies, budgets, fallbacks or prompts.

The public API (headless; the CLI's ``agentdesk replay --what-if`` and the TUI's Incidents
screen both call it)::

    from agentdesk.incidents.whatif import WhatIf, run_what_if, replay_exact

    changes = WhatIf.parse(["retry.max_attempts=5", "steps.refund.timeout=3s"])
    changes = WhatIf.from_file(Path("fix.whatif.yaml"))        # the same keys, as YAML
    result = run_what_if(bundle, changes, redactor=r, resolve=registry_content)
    result.original, result.changed     # projections.summary.RunSummary of the incident's runs
    result.rows()                       # [DiffRow(label, original, changed)]: the side-by-side
    result.divergence                   # replay.Divergence: first event that differs, or None
    result.to_json()

    replay_exact(bundle, redactor=r) -> ReplayResult   # .equal, .divergence, .replayed

**Keys** (``WhatIf.parse`` takes ``key=value`` strings; ``from_file`` a YAML mapping, nested or
dotted). A policy key alone changes every step; ``steps.<id>.`` in front changes one step:

    retry.max_attempts  retry.backoff.base  retry.backoff.cap  retry.backoff.jitter
    retry.retry_after_cap  retry.retry_on            (attempts, seconds, full|equal|none, [codes])
    timeout  (= timeout.attempt)  timeout.attempt  timeout.step      (3s, 500ms, 2m, none)
    breaker.enabled  breaker.window  breaker.min_calls  breaker.failure_rate
    breaker.cooldown  breaker.half_open_probes  breaker.slow_call
    repair
    steps.<id>.fallback    a list of models (``[gpt-4o]``, ``gpt-4o,gpt-4.1-mini``, ``[]``)
    steps.<id>.model       steps.<id>.max_tokens
    budget.<kind>  budget.run.<kind>  budget.session.<kind>   tokens, usd, seconds, steps (none)
    prompt                 ``PATH@VERSION`` (``prompts/triage.user.md@2``, ``@production``):
                           a stored version of a file, through ``resolve``

A bad key or value raises ``WhatIfError`` naming where it came from (``--set`` or
``file:line``) and what is wrong; nothing runs.

**How it runs**: the pipeline is loaded from the bundle's files (with any prompt replaced),
the changes are applied to the loaded pipeline, and the incident's runs are re-run with the
tape answering every call the original made (same match key: service, method, path, request
key, body). A call the tape cannot answer — an attempt the original never made, a request
whose body changed with the prompt, a call the original gave up waiting for — goes to the
recorded scenario's sims with the recorded seed, so it is answered as the scenario would
have answered it (sims keyed by seed and request key; their state and rate limits see only
these calls). An incident imported from a trace has no sims: ``tape.StandIn`` answers such a
call as the same call was last answered (see ``docs/incidents.md``, "OTLP traces").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pydantic
import yaml

from agentdesk.errors import AgentdeskError
from agentdesk.incidents.bundle import Bundle
from agentdesk.incidents.replay import (
    Divergence,
    EventRedaction,
    PlainEvents,
    ReplayResult,
    first_divergence,
    play,
    prepare,
    recorded_summary,
    replay_exact,
)
from agentdesk.projections.summary import RunSummary
from agentdesk.simulation import Simulation
from agentdesk.spec.models import AnyStep, BudgetsSpec, LLMStep, LoopStep, ParallelStep, PolicySpec

__all__ = [
    "DiffRow",
    "Divergence",
    "ReplayResult",
    "WhatIf",
    "WhatIfError",
    "WhatIfResult",
    "figures",
    "replay_exact",
    "run_what_if",
]

Resolve = Callable[[str, str], bytes]
"""(workspace path, version ref) → that version's content; raises ``AgentdeskError``."""

POLICY_KEYS = (
    "retry.max_attempts",
    "retry.backoff.base",
    "retry.backoff.cap",
    "retry.backoff.jitter",
    "retry.retry_after_cap",
    "retry.retry_on",
    "timeout.attempt",
    "timeout.step",
    "breaker.enabled",
    "breaker.window",
    "breaker.min_calls",
    "breaker.failure_rate",
    "breaker.cooldown",
    "breaker.half_open_probes",
    "breaker.slow_call",
    "repair",
)
STEP_KEYS = ("fallback", "model", "max_tokens")
_SECONDS = frozenset(
    {
        "retry.backoff.base",
        "retry.backoff.cap",
        "retry.retry_after_cap",
        "timeout.attempt",
        "timeout.step",
        "breaker.cooldown",
        "breaker.slow_call",
        "seconds",
    }
)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
BUDGET_KINDS = ("tokens", "usd", "seconds", "steps")


class WhatIfError(AgentdeskError):
    """A what-if change that cannot be made: where it came from and why (exit code 2)."""

    exit_code = 2


@dataclass(frozen=True)
class Change:
    """One change: its key as given, its value, and where it was given (for errors)."""

    key: str
    value: Any
    where: str = "--set"

    def __str__(self) -> str:
        shown = (
            self.value
            if isinstance(self.value, str)
            else yaml.safe_dump(self.value, default_flow_style=True)
            .strip()
            .removesuffix("...")
            .strip()
        )
        return f"{self.key} = {shown}"

    def fail(self, message: str) -> WhatIfError:
        return WhatIfError(f"{self.where}: {self.key}: {message}")


@dataclass(frozen=True)
class WhatIf:
    """The changes of one what-if replay, in the order given (a later one wins)."""

    changes: tuple[Change, ...] = ()

    @classmethod
    def parse(cls, settings: Iterable[str] | Mapping[str, Any], where: str = "--set") -> WhatIf:
        """From ``key=value`` strings (values read as YAML: ``5``, ``3s``, ``[gpt-4o]``,
        ``none``) or from a mapping of key → value. Every key is checked now."""
        pairs: list[tuple[str, Any]] = []
        if isinstance(settings, Mapping):
            pairs = list(settings.items())
        else:
            for setting in settings:
                key, sep, text = setting.partition("=")
                if not sep or not key.strip():
                    raise WhatIfError(f"{where}: {setting!r}: expected KEY=VALUE")
                pairs.append((key.strip(), _scalar(text)))
        return cls(tuple(_checked(Change(k, v, where)) for k, v in pairs))

    @classmethod
    def from_file(cls, path: Path) -> WhatIf:
        """A YAML mapping of the same keys (nested or dotted); errors name file and line."""
        from agentdesk.spec.yamlpos import parse_yaml

        try:
            data = path.read_bytes()
        except OSError as exc:
            raise WhatIfError(f"{path}: cannot read: {exc.strerror}") from exc
        try:
            doc = parse_yaml(data, str(path))
        except AgentdeskError as exc:
            raise WhatIfError(str(exc).removeprefix("1 problem found\n")) from exc
        if not isinstance(doc.data, dict):
            raise WhatIfError(f"{path}:1: expected a mapping of KEY: VALUE")
        changes = []
        for key, value, position in _flatten(doc.data, (), doc):
            where = f"{path}:{position}" if position else str(path)
            changes.append(_checked(Change(key, value, where)))
        return cls(tuple(changes))

    def __add__(self, other: WhatIf) -> WhatIf:
        return WhatIf(self.changes + other.changes)

    def describe(self) -> list[str]:
        return [str(c) for c in self.changes]

    def to_json(self) -> list[dict[str, Any]]:
        return [{"key": c.key, "value": c.value} for c in self.changes]


def _scalar(text: str) -> Any:
    text = text.strip()
    if "," in text and not text.startswith(("[", "{")):
        return [_scalar(part) for part in text.split(",") if part.strip()]
    try:
        value = yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        return text
    if isinstance(value, str) and value.lower() in ("none", "null"):
        return None
    return value


def _flatten(
    data: Mapping[str, Any], prefix: tuple[str, ...], doc: Any
) -> Iterable[tuple[str, Any, int]]:
    for key, value in data.items():
        path = (*prefix, str(key))
        dotted = ".".join(path)
        if isinstance(value, dict) and not _is_leaf(dotted):
            yield from _flatten(value, path, doc)
        else:
            yield dotted, value, _line_of(doc, path)


def _is_leaf(dotted: str) -> bool:
    """A mapping that is a value (none is, today): every key ends at a scalar or a list."""
    return False


def _line_of(doc: Any, path: tuple[str, ...]) -> int:
    line, _ = doc.where(path)
    return int(line)


def _policy_path(parts: list[str]) -> tuple[str, ...] | None:
    dotted = ".".join(parts)
    if dotted == "timeout":
        return ("timeout", "attempt")
    return tuple(parts) if dotted in POLICY_KEYS else None


def _checked(change: Change) -> Change:
    """The change with its value typed (durations as seconds); unknown keys refused."""
    parts = change.key.split(".")
    if change.key == "prompt":
        if not isinstance(change.value, str) or "@" not in change.value:
            raise change.fail("expected PATH@VERSION (prompts/triage.user.md@2)")
        return change
    if parts[0] in ("budget", "budgets"):
        return _checked_budget(change, parts[1:])
    if parts[0] == "steps":
        if len(parts) < 3:
            raise change.fail("expected steps.<step id>.<key>")
        if len(parts) == 3 and parts[2] in STEP_KEYS:
            return _checked_step_key(change, parts[2])
        parts = parts[2:]
    policy = _policy_path(parts)
    if policy is None:
        known = ", ".join((*POLICY_KEYS, "timeout", "prompt", "budget.<kind>"))
        raise change.fail(f"unknown key (known: {known}; steps.<id>.<key> for one step)")
    if ".".join(policy) in _SECONDS:
        return replace(change, value=_seconds(change, change.value))
    return change


def _checked_step_key(change: Change, name: str) -> Change:
    if name == "fallback":
        value = change.value
        if value is None:
            value = []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise change.fail("expected a list of model names")
        return replace(change, value=value)
    if name == "model" and not isinstance(change.value, str):
        raise change.fail("expected a model name")
    if name == "max_tokens" and (not isinstance(change.value, int) or change.value < 1):
        raise change.fail("expected a positive whole number")
    return change


def _checked_budget(change: Change, parts: list[str]) -> Change:
    if len(parts) == 1:
        parts = ["run", *parts]
    if len(parts) != 2 or parts[0] not in ("run", "session") or parts[1] not in BUDGET_KINDS:
        raise change.fail(
            f"expected budget.[run.|session.]KIND with KIND one of {', '.join(BUDGET_KINDS)}"
        )
    value = change.value
    if parts[1] == "seconds":
        value = _seconds(change, value)
    elif value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise change.fail(f"{value!r} is not a number")
    return Change(f"budget.{parts[0]}.{parts[1]}", value, change.where)


def _seconds(change: Change, value: Any) -> float | None:
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return None if value is None else float(value)
    match = _DURATION.match(str(value))
    if match is None:
        raise change.fail(f"{value!r} is not a duration (3s, 500ms, 2m, or none)")
    return float(match.group(1)) * _UNITS[match.group(2)]


# --- applying ---------------------------------------------------------------------------------


def apply(bundle: Bundle, what_if: WhatIf, resolve: Resolve | None = None) -> Simulation:
    """The bundle's simulation with the changes made (prompts replaced before loading)."""
    overrides: dict[str, bytes] = {}
    for change in what_if.changes:
        if change.key == "prompt":
            path, _, ref = str(change.value).rpartition("@")
            if path not in bundle.files:
                raise change.fail(f"the incident's release has no file {path!r}")
            if resolve is None:
                raise change.fail("no store to read stored versions from")
            try:
                overrides[path] = resolve(path, ref)
            except AgentdeskError as exc:
                raise change.fail(str(exc)) from exc
    sim = prepare(bundle, overrides)
    steps = _all_steps(sim.pipeline.spec.steps)
    policies = dict(sim.pipeline.policies)
    step_changes: dict[str, dict[str, Any]] = {}
    budgets: dict[str, dict[str, Any]] = {
        scope: dict(limits) for scope, limits in (bundle.budgets or {}).items()
    }
    for change in what_if.changes:
        parts = change.key.split(".")
        if change.key == "prompt":
            continue
        if parts[0] == "budget":
            budgets.setdefault(parts[1], {})[parts[2]] = change.value
            continue
        targets = list(policies)
        if parts[0] == "steps":
            step_id = parts[1]
            if step_id not in steps:
                raise change.fail(f"the pipeline has no step {step_id!r} ({', '.join(steps)})")
            if parts[2] in STEP_KEYS:
                _check_step_key(sim, steps[step_id], change, parts[2])
                step_changes.setdefault(step_id, {})[parts[2]] = change.value
                continue
            targets, parts = [step_id], parts[2:]
        policy_path = _policy_path(parts)
        assert policy_path is not None
        for step_id in targets:
            policies[step_id] = _set_policy(policies[step_id], policy_path, change)
    pipeline = sim.pipeline
    if step_changes:
        spec = pipeline.spec.model_copy(
            update={"steps": _changed_steps(pipeline.spec.steps, step_changes)}
        )
        pipeline = replace(pipeline, spec=spec)
    sim.pipeline = replace(pipeline, policies=policies)
    if budgets:
        try:
            sim.budgets = BudgetsSpec.model_validate(budgets)
        except pydantic.ValidationError as exc:
            changed = [c for c in what_if.changes if c.key.startswith("budget.")]
            raise changed[-1].fail(_first_error(exc)) from None
    return sim


def _set_policy(policy: PolicySpec, path: tuple[str, ...], change: Change) -> PolicySpec:
    data = policy.model_dump()
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = change.value
    try:
        return PolicySpec.model_validate(data)
    except pydantic.ValidationError as exc:
        raise change.fail(_first_error(exc)) from None


def _first_error(exc: pydantic.ValidationError) -> str:
    first = exc.errors()[0]
    return f"{first['msg']} (got {first.get('input')!r})"


def _check_step_key(sim: Simulation, step: AnyStep, change: Change, name: str) -> None:
    if not isinstance(step, LLMStep):
        raise change.fail(f"step {step.id!r} is a {step.kind} step; {name} is for llm steps")
    models = sim.workspace.spec.models
    named = change.value if name == "fallback" else [change.value] if name == "model" else []
    for model in named:
        if model not in models:
            raise change.fail(f"unknown model {model!r} (models: {', '.join(models)})")


def _all_steps(steps: Sequence[AnyStep]) -> dict[str, AnyStep]:
    found: dict[str, AnyStep] = {}
    for step in steps:
        found[step.id] = step
        if isinstance(step, ParallelStep | LoopStep):
            found.update(_all_steps(step.steps))
    return found


def _changed_steps(
    steps: Sequence[AnyStep], changes: Mapping[str, dict[str, Any]]
) -> list[AnyStep]:
    out: list[AnyStep] = []
    for step in steps:
        if isinstance(step, ParallelStep | LoopStep):
            step = step.model_copy(update={"steps": _changed_steps(step.steps, changes)})
        elif step.id in changes:
            step = step.model_copy(update=changes[step.id])
        out.append(step)
    return out


# --- running and comparing --------------------------------------------------------------------


@dataclass(frozen=True)
class DiffRow:
    """One line of the side-by-side comparison."""

    label: str
    original: str
    changed: str

    @property
    def differs(self) -> bool:
        return self.original != self.changed


@dataclass(frozen=True)
class WhatIfResult:
    """An incident's runs as recorded beside the same runs replayed with the changes."""

    bundle_id: str
    changes: WhatIf
    original: RunSummary
    changed: RunSummary
    divergence: Divergence | None
    """The first event where the replay differs from the recording (None: no difference)."""
    tape_answered: int
    """Calls the tape answered."""
    sims_answered: int
    """Calls the tape could not answer, answered by the recorded scenario's sims."""
    events: tuple[bytes, ...] = field(default=(), repr=False)
    """The changed replay's events (encoded, redacted), for a timeline."""

    def rows(self) -> list[DiffRow]:
        before, after = figures(self.original), figures(self.changed)
        return [DiffRow(label, before[label], after[label]) for label in before]

    def to_json(self) -> dict[str, Any]:
        return {
            "incident": self.bundle_id,
            "changes": self.changes.to_json(),
            "original": figures(self.original),
            "changed": figures(self.changed),
            "divergence": self.divergence.to_json() if self.divergence else None,
            "tape_answered": self.tape_answered,
            "sims_answered": self.sims_answered,
        }


def figures(summary: RunSummary) -> dict[str, str]:
    """What the side-by-side shows, as text: outcome, stop reasons, cost, tokens, latency,
    retries, breaker trips, fallbacks."""
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(summary.statuses.items())) or "none"
    reasons = ", ".join(
        f"{reason} ×{n}" if n > 1 else reason
        for reason, n in summary.stop_reasons.most_common()
        if reason != "completed"
    )
    steps = summary.steps.values()
    duration = summary.duration
    return {
        "outcome": statuses,
        "stop reason": reasons or "completed",
        "cost": f"${summary.tokens.usd:.6f}",
        "tokens": f"{summary.tokens.prompt + summary.tokens.completion:,}",
        "latency p50": f"{duration.quantile(0.5):.3f}s" if duration.count else "-",
        "latency max": f"{duration.max:.3f}s" if duration.count else "-",
        "attempts": str(sum(s.attempts for s in steps)),
        "retries": str(sum(s.retries for s in steps)),
        "breaker trips": str(sum(b.opened for b in summary.breakers.values())),
        "fallbacks": str(sum(s.fallbacks for s in steps)),
    }


def run_what_if(
    bundle: Bundle,
    changes: WhatIf,
    *,
    redactor: EventRedaction | None = None,
    resolve: Resolve | None = None,
) -> WhatIfResult:
    """Replay ``bundle`` with ``changes`` (see the module docstring) and compare.

    ``redactor``: the recording's redaction rules (``store.incidents.bundle_redactor``), so
    the replayed events compare with the recorded ones; ``resolve``: reads stored file
    versions for ``prompt`` changes (``store.incidents.version_reader``)."""
    redactor = redactor or PlainEvents()
    sim = apply(bundle, changes, resolve)
    played = play(sim, bundle, redactor, fallback=True, limit=None)
    focus = {r.run_id for r in bundle.focus}
    changed = RunSummary()
    for event in played.events:
        if event.run_id in focus:
            changed.apply(event)
    return WhatIfResult(
        bundle.id,
        changes,
        recorded_summary(bundle, focus),
        changed,
        first_divergence(bundle.events, played.encoded),
        played.deck.answered,
        played.deck.passed_on,
        tuple(played.encoded),
    )
