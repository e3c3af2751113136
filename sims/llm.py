"""An OpenAI-compatible chat completions endpoint that answers deterministically.

Clients (the engine, or the official ``openai`` SDK against a served sim) must not be able to
tell it from the real API by shape: the same response and error bodies, the same usage
arithmetic (counted with agentdesk.tokens), ``finish_reason: length`` when ``max_tokens``
cuts the answer. What it says comes from the workspace's rules (by step or by regex on the last
user message), else a schema-valid instance of the requested ``json_schema``, else a short
text; every draw comes from the request's seeded generator. Malformed and drift faults break
the message *content*, never the HTTP body: that is how real models fail.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeGuard

import msgspec

from agentdesk.tokens.counting import TokenCounter, shared_counter
from sims import answers
from sims.asgi import Reply, Router
from sims.damage import damage_text
from sims.gateway import SIM_EPOCH, STEP_HEADER, Call
from sims.profiles import (
    Choice,
    DriftFault,
    Fault,
    InjectFault,
    LLMRule,
    LLMSimConfig,
    MalformedFault,
)

_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "The request is invalid."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("permission_error", None, "You are not allowed to use this model."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: (
        "rate_limit_error",
        "rate_limit_exceeded",
        "Rate limit reached for requests. Please try again later.",
    ),
    500: (
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def openai_error(
    status: int, message: str | None = None, param: str | None = None, code: str | None = None
) -> Reply:
    """An error reply shaped like OpenAI's ``{"error": {message, type, param, code}}``."""
    kind, default_code, default_message = _ERRORS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None, "Error.")
    )
    error = {
        "message": message or default_message,
        "type": kind,
        "param": param,
        "code": code or default_code,
    }
    return Reply(status, {"error": error})


class InvalidRequest(Exception):
    """A request OpenAI would refuse with 400; carries the parameter at fault."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.code = code


class LLMSim:
    """``POST /v1/chat/completions`` with rules, schema-driven answers and real usage."""

    damages_content = True

    def __init__(self, config: LLMSimConfig, counter: TokenCounter | None = None) -> None:
        self.config = config
        self.counter = counter or shared_counter()
        self._patterns = [re.compile(r.match) if r.match else None for r in config.rules]
        self.router: Router[Callable[[Call], Reply]] = Router()
        self.router.add("POST", r"(?:/v1)?/chat/completions", self._completions)

    def handle(self, call: Call) -> Reply:
        handler = self.router.match(call.request)
        if handler is None:
            path = f"{call.request.method} {call.request.path}"
            return openai_error(404, f"Invalid URL ({path})", code="unknown_url")
        try:
            return handler(call)
        except InvalidRequest as exc:
            return openai_error(400, str(exc), exc.param, exc.code)

    def error(self, status: int, message: str | None) -> Reply:
        return openai_error(status, message)

    def _completions(self, call: Call) -> Reply:
        body = _parse(call.request.body)
        model, messages = body["model"], body["messages"]
        prompt = self.counter.count_chat(model, messages, body.get("tools"))
        window = self.config.context_windows.get(model, self.config.context_window)
        if prompt.tokens > window:
            too_long = _too_long(window, prompt.tokens)
            raise InvalidRequest(too_long, "messages", "context_length_exceeded")
        content = self._content(call, body, messages)
        content, finish = self._cut(model, content, body)
        completion = self.counter.count_text(model, content).tokens
        usage = self._usage(prompt.tokens, completion)
        payload = _completion(call, model, content, finish, usage)
        latency = self.config.per_token * completion
        headers = (("openai-processing-ms", str(round(latency * 1000))), ("openai-model", model))
        return Reply(200, payload, headers, extra_latency=latency)

    def _content(self, call: Call, body: dict[str, Any], messages: list[Any]) -> str:
        rng = call.rng("answer")
        value = self._answer(call, body, messages, rng)
        if _obeys(call.fault, messages):
            value = call.fault.json_
        if isinstance(value, str):
            text = value
        else:
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        if isinstance(call.fault, MalformedFault | DriftFault):
            return damage_text(text, call.fault)
        return text

    def _answer(
        self, call: Call, body: dict[str, Any], messages: list[Any], rng: random.Random
    ) -> Any:
        schema = _schema(body)
        rule = self._rule(call.request.headers.get(STEP_HEADER), _last_user(messages))
        if rule is not None:
            choice = _weighted(rule.answers(), rng)
            if choice.text is not None:
                return choice.text
            return self._maybe_wrong(choice.json_, schema, rng)
        if schema is not None:
            return self._maybe_wrong(answers.instance(schema, rng), schema, rng)
        if _wants_json(body):
            return self._maybe_wrong({"answer": answers.short_text(rng)}, None, rng)
        return answers.short_text(rng)

    def _maybe_wrong(self, value: Any, schema: Mapping[str, Any] | None, rng: random.Random) -> Any:
        if rng.random() < self.config.wrong_answer_rate:
            return answers.violate(value, schema, rng)
        return value

    def _rule(self, step: str | None, last_user: str) -> LLMRule | None:
        step_id = _step_id(step) if step else None
        for rule, pattern in zip(self.config.rules, self._patterns, strict=True):
            if rule.step is not None and rule.step == step_id:
                return rule
            if pattern is not None and pattern.search(last_user):
                return rule
        return None

    def _cut(self, model: str, content: str, body: dict[str, Any]) -> tuple[str, str]:
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if not isinstance(limit, int) or limit <= 0:
            return content, "stop"
        cut = self.counter.truncate(model, content, limit)
        return cut, "stop" if cut == content else "length"

    def _usage(self, prompt: int, completion: int) -> dict[str, int]:
        reported = max(0, round(prompt * (1 + self.config.usage_skew)))
        return {
            "prompt_tokens": reported,
            "completion_tokens": completion,
            "total_tokens": reported + completion,
        }


_decode = msgspec.json.Decoder().decode


def _parse(raw: bytes) -> dict[str, Any]:
    try:
        # msgspec reads the same values several times faster; what it refuses (NaN,
        # Infinity) still goes to the standard library, which says what is wrong as before.
        body = _decode(raw)
    except msgspec.DecodeError:
        body = _decode_leniently(raw)
    return _checked(body)


def _decode_leniently(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise InvalidRequest(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly.)"
        ) from None


def _checked(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise InvalidRequest("you must provide a model parameter", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array.", "messages")
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        raise InvalidRequest("Each message must be an object with a 'role'.", "messages")
    return body


def _too_long(window: int, tokens: int) -> str:
    return (
        f"This model's maximum context length is {window} tokens. However, your messages "
        f"resulted in {tokens} tokens. Please reduce the length of the messages."
    )


def _completion(
    call: Call, model: str, content: str, finish: str, usage: dict[str, int]
) -> dict[str, Any]:
    message = {"role": "assistant", "content": content, "refusal": None}
    return {
        "id": f"chatcmpl-{call.request_id}",
        "object": "chat.completion",
        "created": SIM_EPOCH + int(call.now),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": usage,
        "system_fingerprint": "fp_agentdesk_sim",
    }


def _schema(body: dict[str, Any]) -> Mapping[str, Any] | None:
    fmt = body.get("response_format")
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return None
    schema = (fmt.get("json_schema") or {}).get("schema")
    return schema if isinstance(schema, dict) else None


def _wants_json(body: dict[str, Any]) -> bool:
    fmt = body.get("response_format")
    return isinstance(fmt, dict) and fmt.get("type") == "json_object"


def _last_user(messages: list[Any]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            return content if isinstance(content, str) else ""
    return ""


def _obeys(fault: Fault | None, messages: list[Any]) -> TypeGuard[InjectFault]:
    """A model that follows instructions found in its input (the ``inject`` fault)."""
    return (
        isinstance(fault, InjectFault)
        and fault.json_ is not None
        and fault.text in _last_user(messages)
    )


def _step_id(step: str) -> str:
    """``review[2]/judge`` → ``judge``; ``triage[1]`` → ``triage``."""
    return step.rsplit("/", 1)[-1].split("[", 1)[0]


def _weighted(choices: list[Choice], rng: random.Random) -> Choice:
    if len(choices) == 1:
        return choices[0]
    return rng.choices(choices, weights=[c.weight for c in choices])[0]
