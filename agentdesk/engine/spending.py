"""Where the runner spends budget: it asks ``policies.budget`` and acts on the answer.

The budget policy decides; this module performs: it charges steps, bounds waits and attempt
timeouts by the time budget, publishes ``budget_updated`` after every charge and
``budget_exhausted`` before stopping the run with ``BudgetStop`` (a stop no ``on_error`` and no
fallback can swallow: a run out of budget must not try something else that costs more).
"""

from __future__ import annotations

from typing import NoReturn

from agentdesk.engine.events import BudgetExhausted, BudgetUpdated
from agentdesk.engine.policies.budget import Exhausted
from agentdesk.engine.state import BudgetStop, RunState, stamp


async def stop(state: RunState, step: str, exhausted: Exhausted) -> NoReturn:
    await state.emit(
        BudgetExhausted(
            t=stamp(),
            run_id=state.run_id,
            step=step,
            scope=exhausted.scope,
            kind=exhausted.kind,
            used=float(round(exhausted.used, 6)),
            limit=float(exhausted.limit),
            needed=float(round(exhausted.needed, 12)),
        )
    )
    raise BudgetStop(exhausted)


async def report(state: RunState) -> None:
    """Publish every limited scope's spend (after a billed call, and as a run ends)."""
    if state.budget is None:
        return
    now = state.now()
    for meter in state.budget.meters:
        await state.emit(
            BudgetUpdated(
                t=stamp(),
                run_id=state.run_id,
                scope=meter.scope,
                session=state.session,
                used=meter.used(now),
                limits=meter.limit_values(),
            )
        )


async def admit_step(state: RunState, path: str) -> None:
    """Charge one step execution, or stop the run if a budget cannot afford it.

    No ``budget_updated`` here: a step is visible as ``step_started`` already, and one more
    event per step would cost the simulation a fifth of its events. The spend is reported
    after every billed call and when the run ends."""
    if state.budget is None:
        return
    refusal = state.budget.admit_step(state.now())
    if refusal is not None:
        await stop(state, path, refusal)


async def within_time(state: RunState, step: str) -> None:
    """Stop the run if its time budget is used up (say, by an attempt that ran to the end)."""
    if state.budget is not None:
        late = state.budget.out_of_time(state.now())
        if late is not None:
            await stop(state, step, late)


async def bound_timeout(state: RunState, step: str, timeout: float | None) -> float | None:
    """An attempt's timeout, shortened to the time budget left (stops if none is left)."""
    if state.budget is None or state.budget.deadline is None:
        return timeout
    await within_time(state, step)
    remaining = state.budget.deadline - state.now()
    return remaining if timeout is None else min(timeout, remaining)


async def afford_wait(state: RunState, step: str, delay: float) -> None:
    """Stop the run rather than wait past the time budget for a retry."""
    if state.budget is None:
        return
    refusal = state.budget.wait_refusal(state.now(), delay)
    if refusal is not None:
        await stop(state, step, refusal)
