"""The ``tool`` step: render an HTTP request from templates, check it, send it resiliently.

The request is checked against the step's allowlist *after* rendering, because that is when
values that came from a model's answer (an id, a path, a service name) are in it; a request the
allowlist does not cover is refused and never reaches the wire.
"""

from __future__ import annotations

from typing import Any

from agentdesk.engine.calls import AttemptCounter, CallExecutor, Request
from agentdesk.engine.events import CallRefused
from agentdesk.engine.policies.allowlist import Allowlist
from agentdesk.engine.state import RunState, StepFailed, stamp
from agentdesk.spec.loader import CompiledStep
from agentdesk.spec.models import PolicySpec, ToolStep


async def run_tool_step(
    executor: CallExecutor,
    state: RunState,
    step: ToolStep,
    path: str,
    compiled: CompiledStep,
    allowlist: Allowlist,
    policy: PolicySpec,
    deadline: float | None,
) -> Any:
    ctx = state.context()
    assert compiled.service is not None and compiled.path is not None
    request = Request(
        service=compiled.service.render(ctx),
        method=step.method,
        path=compiled.path.render(ctx),
        params=_texts(compiled.query.render(ctx) if compiled.query else None),
        headers=_texts(compiled.headers.render(ctx) if compiled.headers else None),
        json=compiled.json.render(ctx) if compiled.json is not None else None,
    )
    refusal = allowlist.check(request.service, request.method, request.path)
    refusal = refusal or _header_problem(request.headers)
    if refusal is None and not executor.knows(request.service):
        refusal = f"service {request.service!r} is not declared in the workspace"
    if refusal is not None:
        await state.emit(
            CallRefused(
                t=stamp(),
                run_id=state.run_id,
                step=path,
                service=request.service,
                method=request.method,
                target=request.path[:200],
                reason=refusal,
            )
        )
        raise StepFailed("policy_violation", refusal)
    reply = await executor.call(state, path, request, policy, AttemptCounter(), deadline)
    return reply.body


def _header_problem(headers: dict[str, str] | Any) -> str | None:
    """A header HTTP cannot carry (non-ASCII, or a line break that would smuggle another
    header in) is refused like any other request the step may not make."""
    for name, value in headers.items():
        if not (name + value).isascii() or any(c in name + value for c in "\r\n\0"):
            return f"header {name!r} has a value HTTP cannot carry: {value[:40]!r}"
    return None


def _texts(mapping: Any) -> dict[str, str]:
    if not isinstance(mapping, dict):
        return {}
    return {str(k): _text(v) for k, v in mapping.items()}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
