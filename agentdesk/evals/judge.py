"""The LLM-judged assertion: a model scores a value against written criteria.

A judge call is an ordinary chat completion to one of the workspace's models, through the
same ``ServiceClient`` seam as the pipeline's own calls, so it reaches an in-process sim, a
served sim or a real provider alike (a real one with the API key the workspace names). It
asks for ``{"score": 0..1, "reason": …}`` as structured output; the assertion passes when
the score reaches its ``min_score``.

Against the sim LLM the judge is **scripted**: a case's ``sim_pass_if`` regex decides the
verdict, which the eval installs as an LLM-sim rule for that one judge request (the request's
user message starts with a unique tag the rule matches). The verdict still travels through
the sim — a real request, tokens counted, the answer parsed and scored — so the path a real
judge takes is the path the tests exercise. Without ``sim_pass_if`` the sim answers a seeded
score, which exercises the plumbing and means nothing.

Judging happens after a scenario's runs, in a world of its own with no faults: a scenario
tests the pipeline, not the judge, and the judge's calls must not trip the pipeline's breakers
or shift its seeded draws.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agentdesk.engine.clock import run_virtual
from agentdesk.engine.structured import OutputParseError, parse_json_output
from agentdesk.engine.transport import ServiceClient
from agentdesk.evals.assertions import Judge, Outcome, shown
from agentdesk.services import build_clients, uses_network
from agentdesk.spec.loader import Workspace
from sims.world import SimWorld

JUDGE_STEP = "judge"
CONCURRENCY = 8
"""Judge requests in flight at once (a real provider's rate limit is the usual bound)."""
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["score", "reason"],
    "additionalProperties": False,
    "properties": {
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "reason": {"type": "string"},
    },
}
SYSTEM = (
    "You are a strict evaluator. Score how well the answer meets the criteria, from 0 (not at "
    "all) to 1 (fully), and give a one-sentence reason. Answer with JSON only."
)


@dataclass(frozen=True, slots=True)
class JudgeRequest:
    """One judge assertion of one case's run, with the value it judges."""

    key: str
    """Unique per eval (``{run_id}/judge#{n}``): the request key and the sim rule's tag."""
    assertion: Judge
    found: bool
    value: Any

    def text(self) -> str:
        return self.value if isinstance(self.value, str) else json.dumps(self.value)

    def user_message(self) -> str:
        return (
            f"[judge {self.key}]\nCriteria: {self.assertion.criteria}\n"
            f"Answer to judge:\n{self.text()}"
        )


def judge_all(
    workspace: Workspace, requests: Sequence[JudgeRequest], seed: int
) -> dict[str, Outcome]:
    """Every request's outcome, by key. Blocks; runs on the virtual clock when it can."""
    if not requests:
        return {}
    main = _judge_all(workspace, requests, seed)
    return asyncio.run(main) if uses_network(workspace.spec) else run_virtual(main)


async def _judge_all(
    workspace: Workspace, requests: Sequence[JudgeRequest], seed: int
) -> dict[str, Outcome]:
    world = SimWorld(seed, None, scripted_sims(workspace.sims, requests))
    clients = build_clients(workspace.spec, world, os.environ)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(request: JudgeRequest) -> tuple[str, Outcome]:
        async with gate:
            return request.key, await _judge(workspace, clients, request)

    try:
        return dict(await asyncio.gather(*(one(r) for r in requests)))
    finally:
        for client in clients.values():
            await client.aclose()


def scripted_sims(sims: Mapping[str, Any], requests: Sequence[JudgeRequest]) -> dict[str, Any]:
    """The workspace's ``sims:`` with one LLM rule per scripted judge request, first."""
    rules = [_rule(r) for r in requests if r.assertion.sim_pass_if is not None]
    llm = dict(sims.get("llm") or {})
    llm["rules"] = [*rules, *(llm.get("rules") or [])]
    return {**sims, "llm": llm}


def _rule(request: JudgeRequest) -> dict[str, Any]:
    pattern = request.assertion.sim_pass_if or ""
    passes = request.found and re.search(pattern, request.text()) is not None
    reason = f"/{pattern}/ {'found' if passes else 'not found'} in the answer (scripted judge)"
    verdict = {"score": 1.0 if passes else 0.0, "reason": reason}
    return {"match": rf"\A\[judge {re.escape(request.key)}\]", "json": verdict}


async def _judge(
    workspace: Workspace, clients: Mapping[str, ServiceClient], request: JudgeRequest
) -> Outcome:
    assertion = request.assertion
    if not request.found:  # no answer is not a faithful one: it scores 0
        message = f"{assertion.path}: nothing there to judge"
        return Outcome("judge", False, message, 0.0, assertion.metric)
    model = assertion.model or next(iter(workspace.spec.models))
    spec = workspace.spec.models[model]
    try:
        response = await clients[spec.service].send(
            "POST",
            "/chat/completions",
            headers={"x-agentdesk-key": request.key, "x-agentdesk-step": JUDGE_STEP},
            json=_body(spec.name or model, request),
        )
    except Exception as exc:  # a judge that cannot be reached fails its assertion, not the eval
        return _unscored(assertion, f"judge {model} unreachable: {exc}")
    return _verdict(assertion, model, response.status_code, response.content)


def _body(model: str, request: JudgeRequest) -> dict[str, Any]:
    return {
        "model": model,
        "temperature": 0,
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": request.user_message()},
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "verdict", "schema": VERDICT_SCHEMA, "strict": True},
        },
    }


def _verdict(assertion: Judge, model: str, status: int, body: bytes) -> Outcome:
    if status != 200:
        return _unscored(assertion, f"judge {model} answered HTTP {status}")
    try:
        content = json.loads(body)["choices"][0]["message"]["content"]
        verdict = parse_json_output(content)
        score = float(verdict["score"])
    except (ValueError, KeyError, IndexError, TypeError, OutputParseError) as exc:
        return _unscored(assertion, f"judge {model} gave no score: {shown(str(exc))}")
    reason = str(verdict.get("reason", ""))
    passed = score >= assertion.min_score
    message = f"score {score:g} (needs {assertion.min_score:g}): {reason}"
    text = "ok: " + message if passed else message
    return Outcome("judge", passed, text, score, assertion.metric)


def _unscored(assertion: Judge, message: str) -> Outcome:
    """A judge that gave no verdict: the assertion fails, the metric has no score from it."""
    return Outcome("judge", False, message, None, assertion.metric)
