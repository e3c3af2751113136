"""What one run carries while it executes: its identity, its input and its steps' outputs.

The template context is built from this (``input``, ``steps``, ``loop``); the runner and the
step executors share it, and nothing in it is global, so concurrent sessions never touch each
other's state — only the breakers are shared, on purpose.
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from agentdesk.engine.bus import EventBus
from agentdesk.engine.events import AnyEvent
from agentdesk.engine.policies.budget import Exhausted, RunBudget


@dataclass
class RunState:
    run_id: str
    session: int
    seed: int
    input: Any
    bus: EventBus
    outputs: dict[str, Any] = field(default_factory=dict)
    loop: dict[str, Any] | None = None
    started: float = 0.0
    last_step: str | None = None
    """The id of the last step that finished with an output: its output is the run's."""
    budget: RunBudget | None = None
    """The budgets this run answers to (its own and its session's), if any are set."""

    def context(self) -> dict[str, Any]:
        """The template context: ``input``, ``steps`` and (inside a loop) ``loop``."""
        ctx: dict[str, Any] = {"input": self.input, "steps": self.outputs}
        if self.loop is not None:
            ctx["loop"] = self.loop
        return ctx

    @staticmethod
    def now() -> float:
        return asyncio.get_running_loop().time()

    async def emit(self, event: AnyEvent) -> None:
        await self.bus.publish(event)


EPOCH: ContextVar[float] = ContextVar("agentdesk_epoch", default=0.0)
"""The loop time the current batch of runs started at; event times are measured from it, so
they read the same on the virtual clock (which starts at 0) and on a real one (whose loop
time counts from the machine's boot)."""


def stamp() -> float:
    """Seconds since the batch started on the loop's clock, rounded to the microsecond for
    byte-stable logs."""
    return round(asyncio.get_running_loop().time() - EPOCH.get(), 6)


class StepFailed(Exception):
    """A step could not produce an output; ``reason`` becomes the run's stop reason."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.step_path = ""
        """The path of the step it happened in; set by the runner where it is first caught."""

    @property
    def stop_reason(self) -> str:
        """The run's stop reason when this failure ends it: ``{reason}: {step path}``."""
        return f"{self.reason}: {self.step_path}"


class BudgetStop(StepFailed):
    """A budget refused a step or call: the run stops whatever the step's ``on_error`` says."""

    def __init__(self, exhausted: Exhausted) -> None:
        super().__init__("budget_exhausted", f"{exhausted.scope} {exhausted.kind}")
        self.exhausted = exhausted

    @property
    def stop_reason(self) -> str:
        return f"budget_exhausted: {self.exhausted.kind}"
