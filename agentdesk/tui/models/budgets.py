"""Budget meters: what a run (and its session) has spent against its limits.

Folded from ``BudgetUpdated`` (spend and limits per scope after each charge) and
``BudgetExhausted`` (a refusal). Both are read by name and attribute, so the board works on
logs recorded before budgets existed; a run without budget events still gets meters of what
it spent (tokens, dollars, seconds, steps) with no limit to fill against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KINDS = ("tokens", "usd", "seconds", "steps")
WARNING = 0.8
"""Share of a limit from which a meter warns."""


@dataclass(frozen=True)
class Meter:
    scope: str
    kind: str
    used: float
    limit: float | None

    @property
    def fraction(self) -> float:
        return min(1.0, self.used / self.limit) if self.limit else 0.0

    @property
    def level(self) -> str:
        """``none`` (no limit), ``ok``, ``warning`` or ``exhausted``."""
        if not self.limit:
            return "none"
        if self.used >= self.limit:
            return "exhausted"
        return "warning" if self.fraction >= WARNING else "ok"


@dataclass
class RunBudget:
    used: dict[str, dict[str, float]] = field(default_factory=dict)
    """Scope → kind → spend."""
    limits: dict[str, dict[str, float]] = field(default_factory=dict)
    exhausted: set[tuple[str, str]] = field(default_factory=set)

    def apply(self, event: Any) -> None:
        name = type(event).__name__
        if name == "BudgetUpdated":
            self.used[event.scope] = dict(event.used)
            self.limits[event.scope] = dict(event.limits)
        elif name == "BudgetExhausted":
            self.exhausted.add((event.scope, event.kind))
            self.used.setdefault(event.scope, {})[event.kind] = float(event.used)
            self.limits.setdefault(event.scope, {})[event.kind] = float(event.limit)

    def meters(self, spent: dict[str, float]) -> list[Meter]:
        """Every limited meter; without limits, one unlimited meter per kind from ``spent``."""
        meters = [
            _meter(scope, kind, self.used.get(scope, {}).get(kind, 0.0), limit, self.exhausted)
            for scope, limits in sorted(self.limits.items())
            for kind, limit in limits.items()
        ]
        return meters or [Meter("run", kind, spent.get(kind, 0.0), None) for kind in KINDS]


def _meter(
    scope: str, kind: str, used: float, limit: float, exhausted: set[tuple[str, str]]
) -> Meter:
    return Meter(scope, kind, max(used, limit) if (scope, kind) in exhausted else used, limit)


def is_budget_event(event: object) -> bool:
    return type(event).__name__ in ("BudgetUpdated", "BudgetExhausted")
