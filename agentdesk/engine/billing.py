"""Billing one model call's attempts: plan against the budgets, then count and price.

Before each attempt, ``LLMBilling`` asks the run's budgets for a plan with the exact prompt
count and the call's output bound, lowers ``max_tokens`` in the request when a budget cannot
pay for all of it (``output_limited``), or stops the run (``budget_exhausted``). After the
attempt, whatever the provider answered is paid for: the completion is counted locally, priced,
charged to the budgets and published (``tokens_counted``) next to the usage the provider
reported; a disagreement between the two is an event of its own (``usage_mismatch``).

An attempt that got no answer (a timeout, a reset, an HTTP error) is billed nothing; one that
got a 200 with an unreadable body is billed its prompt, which the provider did process.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from agentdesk.engine import spending
from agentdesk.engine.calls import Reply, Request
from agentdesk.engine.events import OutputLimited, TokensCounted, UsageMismatch
from agentdesk.engine.policies.budget import CallPlan, Exhausted
from agentdesk.engine.policies.retry import Failure
from agentdesk.engine.state import RunState, stamp
from agentdesk.tokens.counting import TokenCount, count_text
from agentdesk.tokens.prices import Price, usd


@dataclass(frozen=True)
class Usage:
    """What the provider reported in ``usage`` (None where it reported nothing)."""

    prompt: int | None = None
    completion: int | None = None
    cached: int = 0

    @classmethod
    def read(cls, body: Any) -> Usage:
        usage = body.get("usage") if isinstance(body, dict) else None
        if not isinstance(usage, dict):
            return cls()
        details = usage.get("prompt_tokens_details")
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        return cls(
            _int(usage.get("prompt_tokens")),
            _int(usage.get("completion_tokens")),
            _int(cached) or 0,
        )


def completion_text(body: Any) -> str | None:
    """``choices[0].message.content`` of a chat completion, or None if it has none."""
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return None
    return "" if content is None else str(content)


@dataclass
class LLMBilling:
    """Bills the attempts of one model call (one prompt, possibly several attempts)."""

    model: str
    """The model as the workspace knows it (events and prices use this name)."""
    wire_model: str
    """The name sent to the provider (token counts use this one's encoding)."""
    prompt: TokenCount
    max_tokens: int
    price: Price | None
    _plans: dict[int, CallPlan] = field(default_factory=dict)

    async def before(self, state: RunState, step: str, attempt: int, request: Request) -> Request:
        if state.budget is None:
            return request
        plan = state.budget.plan_call(self.prompt.tokens, self.max_tokens, self.price, state.now())
        if isinstance(plan, Exhausted):
            await spending.stop(state, step, plan)
        self._plans[attempt] = plan
        if plan.max_tokens == self.max_tokens:
            return request
        await state.emit(
            OutputLimited(
                t=stamp(),
                run_id=state.run_id,
                step=step,
                attempt=attempt,
                model=self.model,
                requested=self.max_tokens,
                allowed=plan.max_tokens,
                budget=plan.limited_by,
            )
        )
        return replace(request, json={**request.json, "max_tokens": plan.max_tokens})

    async def after(
        self,
        state: RunState,
        step: str,
        attempt: int,
        reply: Reply | None,
        failure: Failure | None,
    ) -> None:
        plan = self._plans.pop(attempt, None)
        billed = reply is not None or (failure is not None and failure.kind == "malformed")
        if not billed:
            if plan is not None and state.budget is not None:
                state.budget.settle(plan, 0, 0)
            return
        body = reply.body if reply is not None else None
        text = completion_text(body)
        completion = count_text(self.wire_model, text) if text else None
        await self._charge(state, step, attempt, plan, completion, Usage.read(body))

    async def _charge(
        self,
        state: RunState,
        step: str,
        attempt: int,
        plan: CallPlan | None,
        completion: TokenCount | None,
        usage: Usage,
    ) -> None:
        completion_tokens = completion.tokens if completion is not None else 0
        cost = 0
        if self.price is not None:
            cost = self.price.cost_pico(self.prompt.tokens, completion_tokens, usage.cached)
        if plan is not None and state.budget is not None:
            state.budget.settle(plan, self.prompt.tokens + completion_tokens, cost)
        await state.emit(
            TokensCounted(
                t=stamp(),
                run_id=state.run_id,
                step=step,
                attempt=attempt,
                model=self.model,
                prompt_tokens=self.prompt.tokens,
                completion_tokens=completion_tokens,
                approximate=self.prompt.approximate
                or (completion is not None and completion.approximate),
                reported_prompt_tokens=usage.prompt,
                reported_completion_tokens=usage.completion,
                cached_prompt_tokens=usage.cached,
                usd=usd(cost),
                priced=self.price is not None,
            )
        )
        if _disagree(self.prompt.tokens, usage.prompt) or _disagree(
            completion_tokens, usage.completion
        ):
            await state.emit(
                UsageMismatch(
                    t=stamp(),
                    run_id=state.run_id,
                    step=step,
                    attempt=attempt,
                    model=self.model,
                    prompt_tokens=self.prompt.tokens,
                    reported_prompt_tokens=usage.prompt,
                    completion_tokens=completion_tokens,
                    reported_completion_tokens=usage.completion,
                )
            )
        await spending.report(state)


def _disagree(local: int, reported: int | None) -> bool:
    return reported is not None and reported != local


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
