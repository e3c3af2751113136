"""The LLM sim: OpenAI's shapes, usage from agentdesk.tokens, rules, schemas, faults."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from agentdesk.tokens import count_chat, count_text
from sims import SimWorld
from tests.sims.conftest import chat, client

Run = Callable[..., Any]
TRIAGE_SCHEMA = {
    "type": "object",
    "properties": {
        "category": {"type": "string", "enum": ["refund", "shipping", "account"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "refund_cents": {"type": "integer", "minimum": 0, "maximum": 50000},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "urgent": {"type": "boolean"},
        "customer": {"$ref": "#/$defs/customer"},
    },
    "required": ["category", "confidence", "refund_cents"],
    "additionalProperties": False,
    "$defs": {
        "customer": {
            "type": "object",
            "properties": {"email": {"type": "string", "format": "email"}},
        }
    },
}
FIXED_TTFT = {"llm": {"ttft": {"dist": "fixed", "value": 0.5}, "per_token": 0.01}}


def structured(schema: dict[str, Any] = TRIAGE_SCHEMA, **extra: Any) -> dict[str, Any]:
    fmt = {"type": "json_schema", "json_schema": {"name": "triage", "schema": schema}}
    return chat("Triage ticket T-1001", response_format=fmt, **extra)


def post(world: SimWorld, body: Any, **headers: str) -> Any:
    async def main() -> Any:
        async with client(world, "llm") as c:
            return await c.post("/v1/chat/completions", json=body, headers=headers)

    return main()


def content(response: Any) -> str:
    text: str = response.json()["choices"][0]["message"]["content"]
    return text


def test_a_completion_looks_like_openais(run: Run) -> None:
    response = run(post(SimWorld(1, None, FIXED_TTFT), chat()))
    body = response.json()
    assert response.status_code == 200
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["model"] == "gpt-4o-mini" and body["created"] == 1767225600
    choice = body["choices"][0]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"]
    assert response.headers["x-request-id"].startswith("req_")
    assert int(response.headers["openai-processing-ms"]) >= 0


def test_usage_is_counted_with_agentdesk_tokens(run: Run) -> None:
    request = chat("Please count me.")
    response = run(post(SimWorld(1, None, FIXED_TTFT), request))
    usage = response.json()["usage"]
    assert usage["prompt_tokens"] == count_chat("gpt-4o-mini", request["messages"]).tokens
    assert usage["completion_tokens"] == count_text("gpt-4o-mini", content(response)).tokens
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_usage_skew_misreports_prompt_tokens(run: Run) -> None:
    request = chat("word " * 200)
    counted = count_chat("gpt-4o-mini", request["messages"]).tokens
    usage = run(post(SimWorld(1, None, {"llm": {"usage_skew": 0.1}}), request)).json()["usage"]
    assert usage["prompt_tokens"] == round(counted * 1.1)


def test_latency_is_ttft_plus_per_token(run: Run) -> None:
    async def main() -> tuple[float, int]:
        response = await post(SimWorld(1, None, FIXED_TTFT), chat())
        return asyncio.get_running_loop().time(), response.json()["usage"]["completion_tokens"]

    elapsed, tokens = run(main())
    assert elapsed == pytest.approx(0.5 + 0.01 * tokens)


def test_a_schema_request_gets_a_valid_instance(run: Run) -> None:
    for seed in range(20):
        answer = json.loads(content(run(post(SimWorld(seed), structured()))))
        jsonschema.validate(answer, TRIAGE_SCHEMA)


def test_wrong_answer_rate_breaks_the_schema(run: Run) -> None:
    world = SimWorld(1, None, {"llm": {"wrong_answer_rate": 1.0}})
    for n in range(10):
        answer = json.loads(content(run(post(world, structured(), **{"x-agentdesk-key": str(n)}))))
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(answer, TRIAGE_SCHEMA)


RULES = {
    "llm": {
        "rules": [
            {
                "step": "judge",
                "choices": [
                    {"weight": 1, "json": {"verdict": "pass"}},
                    {"weight": 1, "json": {"verdict": "fail"}},
                ],
            },
            {"match": "(?i)summari[sz]e", "text": "A short summary."},
        ]
    }
}


def test_rules_match_the_last_segment_of_the_step(run: Run) -> None:
    world = SimWorld(1, None, RULES)
    verdicts = {
        json.loads(
            content(
                run(
                    post(
                        world,
                        chat(),
                        **{"x-agentdesk-step": "review[2]/judge", "x-agentdesk-key": f"k{n}"},
                    )
                )
            )
        )["verdict"]
        for n in range(20)
    }
    assert verdicts == {"pass", "fail"}


def test_rules_match_a_regex_on_the_last_user_message(run: Run) -> None:
    world = SimWorld(1, None, RULES)
    assert content(run(post(world, chat("Please SUMMARISE this")))) == "A short summary."
    assert content(run(post(world, chat("Something else")))) != "A short summary."


def test_same_key_same_answer_different_seed_differs(run: Run) -> None:
    def answers(seed: int) -> list[str]:
        world = SimWorld(seed)
        return [
            content(run(post(world, structured(), **{"x-agentdesk-key": f"r/t#{n}"})))
            for n in range(5)
        ]

    assert answers(1) == answers(1) and answers(1) != answers(2)


def test_max_tokens_cuts_with_finish_reason_length(run: Run) -> None:
    response = run(post(SimWorld(1), chat(max_tokens=3)))
    body = response.json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 3


def test_context_length_exceeded(run: Run) -> None:
    world = SimWorld(1, None, {"llm": {"context_windows": {"gpt-4o-mini": 50}}})
    response = run(post(world, chat("word " * 100)))
    error = response.json()["error"]
    assert response.status_code == 400
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "context_length_exceeded" and error["param"] == "messages"
    assert "maximum context length is 50 tokens" in error["message"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "gpt-4o", "messages": []}, "messages"),
        ({"model": "gpt-4o", "messages": ["hi"]}, "messages"),
    ],
)
def test_invalid_requests_get_400(run: Run, body: Any, param: str) -> None:
    response = run(post(SimWorld(1), body))
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response.json()["error"]["param"] == param


def test_a_body_that_is_not_json(run: Run) -> None:
    async def main() -> Any:
        async with client(SimWorld(1), "llm") as c:
            return await c.post("/chat/completions", content=b"{nope")

    response = run(main())
    assert response.status_code == 400 and "parse the JSON" in response.json()["error"]["message"]


def test_unknown_urls_get_openais_404(run: Run) -> None:
    async def main() -> Any:
        async with client(SimWorld(1), "llm") as c:
            return await c.get("/v1/models/unknown")

    response = run(main())
    assert response.status_code == 404 and "Invalid URL" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("status", "kind", "code"),
    [
        (429, "rate_limit_error", "rate_limit_exceeded"),
        (500, "server_error", None),
        (503, "server_error", None),
        (400, "invalid_request_error", None),
    ],
)
def test_fault_errors_use_openais_types(run: Run, status: int, kind: str, code: str | None) -> None:
    scenario = {"services": {"llm": {"faults": [{"kind": "error", "status": status}]}}}
    response = run(post(SimWorld(1, scenario), chat()))
    error = response.json()["error"]
    assert response.status_code == status and error["type"] == kind and error["code"] == code
    assert set(error) == {"message", "type", "param", "code"}


def test_the_rate_limiter_sends_openai_headers(run: Run) -> None:
    scenario = {"services": {"llm": {"rate_limit": {"rate": 1, "burst": 1}}}}
    world = SimWorld(1, scenario, {"llm": {"ttft": {"dist": "fixed", "value": 0}}})

    async def main() -> Any:
        await post(world, chat())
        return await post(world, chat())

    response = run(main())
    assert response.status_code == 429 and response.headers["retry-after"] == "1"
    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"


@pytest.mark.parametrize("mode", ["truncated", "fenced", "wrong_types"])
def test_malformed_breaks_the_content_not_the_body(run: Run, mode: str) -> None:
    scenario = {"services": {"llm": {"faults": [{"kind": "malformed", "mode": mode}]}}}
    response = run(post(SimWorld(1, scenario), structured()))
    text = content(response)  # the HTTP body itself parsed fine
    if mode == "wrong_types":
        assert isinstance(json.loads(text)["confidence"], str)
    else:
        with pytest.raises(json.JSONDecodeError):
            json.loads(text)
    assert response.json()["usage"]["completion_tokens"] == count_text("gpt-4o-mini", text).tokens


def test_drift_renames_fields_in_the_content(run: Run) -> None:
    drift = {"kind": "drift", "rename": {"category": "type"}, "drop": ["confidence"]}
    scenario = {"services": {"llm": {"faults": [drift]}}}
    answer = json.loads(content(run(post(SimWorld(1, scenario), structured()))))
    assert "type" in answer and "category" not in answer and "confidence" not in answer
