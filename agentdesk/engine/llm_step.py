"""The ``llm`` step: a model call with a fallback chain and, optionally, structured output.

Models are tried in the order the step lists them. A model is skipped (``fallback_taken``)
when its breaker is open, its retries are exhausted, its error is permanent, or the prompt
would not fit its context window — checked here, before the call, with the real token count.
A structured step parses the answer as JSON (code fences tolerated), validates it against the
step's schema and re-asks with the validation errors at most ``repair`` times; a value that
still does not validate is a typed failure, never passed downstream.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentdesk.engine.billing import LLMBilling, completion_text
from agentdesk.engine.calls import AttemptCounter, CallExecutor, CallFailed, Request
from agentdesk.engine.events import FallbackTaken, ValidationFailed, ValidationRepaired
from agentdesk.engine.state import RunState, StepFailed, stamp
from agentdesk.engine.structured import (
    OutputParseError,
    SchemaValidator,
    parse_json_output,
    repair_message,
)
from agentdesk.spec.models import LLMStep, ModelSpec, PolicySpec
from agentdesk.tokens.counting import count_chat
from agentdesk.tokens.prices import PriceBook

Message = dict[str, str]

_FALLBACK_REASONS = {
    "breaker_open": "breaker_open",
    "retries_exhausted": "retries_exhausted",
    "retry_after_exceeds_cap": "retries_exhausted",
    "permanent": "permanent_error",
    "context_too_long": "context_too_long",
}


@dataclass(frozen=True)
class LLMCall:
    """Everything one llm step needs besides the run: resolved once per engine."""

    step: LLMStep
    path: str
    models: Mapping[str, ModelSpec]
    validator: SchemaValidator | None
    schema: dict[str, Any] | None
    prices: PriceBook


async def run_llm_step(
    executor: CallExecutor,
    state: RunState,
    call: LLMCall,
    messages: list[Message],
    policy: PolicySpec,
    deadline: float | None,
) -> Any:
    chain = [call.step.model, *call.step.fallback]
    attempts = AttemptCounter()
    for index, model in enumerate(chain):
        try:
            return await _ask(executor, state, call, model, messages, policy, attempts, deadline)
        except CallFailed as exc:
            reason = _fallback_reason(exc)
            if reason is None or index == len(chain) - 1:
                raise
            await state.emit(
                FallbackTaken(
                    t=stamp(),
                    run_id=state.run_id,
                    step=call.path,
                    from_model=model,
                    to_model=chain[index + 1],
                    reason=reason,
                )
            )
    raise AssertionError("unreachable: the chain is never empty")


async def _ask(
    executor: CallExecutor,
    state: RunState,
    call: LLMCall,
    model: str,
    messages: list[Message],
    policy: PolicySpec,
    attempts: AttemptCounter,
    deadline: float | None,
) -> Any:
    spec = call.models[model]
    conversation = list(messages)
    repairs = 0
    while True:
        content = await _complete(
            executor, state, call, model, spec, conversation, policy, attempts, deadline
        )
        if call.validator is None:
            return content
        value, errors = _validate(call.validator, content)
        if not errors:
            if repairs:
                await state.emit(
                    ValidationRepaired(
                        t=stamp(),
                        run_id=state.run_id,
                        step=call.path,
                        attempt=attempts.count,
                        repairs=repairs,
                    )
                )
            return value
        await state.emit(
            ValidationFailed(
                t=stamp(),
                run_id=state.run_id,
                step=call.path,
                attempt=attempts.count,
                errors=errors,
                repair=repairs,
            )
        )
        if repairs >= policy.repair:
            raise StepFailed("invalid_output", f"{errors[0]} (after {repairs} re-asks)")
        repairs += 1
        conversation += [
            {"role": "assistant", "content": content},
            {"role": "user", "content": repair_message(errors)},
        ]


async def _complete(
    executor: CallExecutor,
    state: RunState,
    call: LLMCall,
    model: str,
    spec: ModelSpec,
    conversation: list[Message],
    policy: PolicySpec,
    attempts: AttemptCounter,
    deadline: float | None,
) -> str:
    wire_model = spec.name or model
    prompt = count_chat(wire_model, conversation)
    _check_context(prompt.tokens, spec, call.step.max_tokens)
    max_tokens = min(call.step.max_tokens, spec.max_output_tokens)
    body: dict[str, Any] = {
        "model": wire_model,
        "messages": conversation,
        "max_tokens": max_tokens,
        "temperature": call.step.temperature,
    }
    if call.schema is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": call.step.id, "schema": call.schema},
        }
    request = Request(
        service=spec.service, method="POST", path="/chat/completions", json=body, model=model
    )
    billing = LLMBilling(model, wire_model, prompt, max_tokens, call.prices.price_for(model))
    reply = await executor.call(state, call.path, request, policy, attempts, deadline, billing)
    content = completion_text(reply.body)
    if content is None:
        raise StepFailed("malformed_response", "the reply has no choices[0].message.content")
    return content


def _validate(validator: SchemaValidator, content: str) -> tuple[Any, list[str]]:
    try:
        value = parse_json_output(content)
    except OutputParseError as exc:
        return None, [str(exc)]
    return value, validator.errors(value)


def _check_context(prompt: int, spec: ModelSpec, max_tokens: int) -> None:
    needed = prompt + min(max_tokens, spec.max_output_tokens)
    if needed > spec.context_window:
        raise CallFailed(
            "context_too_long",
            f"{prompt} prompt + {max_tokens} output tokens > {spec.context_window}",
            None,
        )


def _fallback_reason(exc: CallFailed) -> str | None:
    if exc.failure is not None and "context_length" in exc.failure.message:
        return "context_too_long"
    return _FALLBACK_REASONS.get(exc.reason)
