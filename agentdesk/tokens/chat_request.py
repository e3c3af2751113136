"""Chat-completions request bodies, read, checked and priced before anything is sent.

``agentdesk tokens`` (and anything else that estimates a request offline) reads an OpenAI chat
request body — ``model``, ``messages``, optional ``tools`` or legacy ``functions`` — that a user
wrote or captured. Such a file is untrusted: every problem is reported as one line naming the
file, the line and column, and the JSON path (``request.json:4:5: messages[1].content: ...``).
Python's json module does not give positions for values, so the body is decoded with its
pure-Python scanner with hooks that note where each object and array starts; a problem with a
value is placed at the object or array that holds it.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from agentdesk.errors import AgentdeskError
from agentdesk.tokens.counting import TokenCount, TokenCounter, non_text_parts
from agentdesk.tokens.prices import Price, PriceBook


class RequestBodyError(AgentdeskError):
    """A request body that is not a chat-completions request; the message names the place."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """The parts of a chat request that cost prompt tokens."""

    model: str | None
    messages: list[dict[str, Any]]
    functions: list[dict[str, Any]]
    """Tool definitions (``tools[].function``) and legacy ``functions``, in that order."""


@dataclass(frozen=True, slots=True)
class PromptEstimate:
    """What a request's prompt costs for one model: tokens, and money when the model is priced."""

    model: str
    count: TokenCount
    price: Price | None
    cost_pico: int | None
    uncounted_parts: int
    """Content parts that are not text (images, audio, files): not in ``count``."""


def estimate_prompt(
    request: ChatRequest, model: str, prices: PriceBook, counter: TokenCounter
) -> PromptEstimate:
    """Counts the prompt with the model's encoding (its wire name) and prices it as input."""
    count = counter.count_chat(prices.wire_name(model), request.messages, request.functions)
    price = prices.price_for(model)
    cost = None if price is None else price.cost_pico(count.tokens, 0)
    return PromptEstimate(model, count, price, cost, non_text_parts(request.messages))


def read_chat_request(text: str, source: str) -> ChatRequest:
    """The chat request in ``text`` (read from ``source``), or a RequestBodyError saying where."""
    body, starts = _decode(text, source)
    check = _Checker(text, source, starts)
    if not isinstance(body, dict):
        raise check.problem(
            body, "", f"expected a JSON object (a chat-completions request), got {_kind(body)}"
        )
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        check.fail(body, "model", "a string", model)
    return ChatRequest(model, check.messages(body), check.functions(body))


_Parse = Callable[..., tuple[Any, int]]
_JSON_OBJECT: _Parse = json.decoder.JSONObject  # type: ignore[attr-defined]
_JSON_ARRAY: _Parse = json.decoder.JSONArray  # type: ignore[attr-defined]
"""The pure-Python scanner's object and array parsers, which the hooks below wrap."""


def _decode(text: str, source: str) -> tuple[Any, dict[int, int]]:
    """The JSON value, and where each object and array in it starts (by ``id``)."""
    starts: dict[int, int] = {}

    def parse_object(s_and_end: tuple[str, int], *args: Any) -> tuple[Any, int]:
        value, end = _JSON_OBJECT(s_and_end, *args)
        starts[id(value)] = s_and_end[1] - 1
        return value, end

    def parse_array(s_and_end: tuple[str, int], *args: Any) -> tuple[Any, int]:
        value, end = _JSON_ARRAY(s_and_end, *args)
        starts[id(value)] = s_and_end[1] - 1
        return value, end

    decoder = json.JSONDecoder()
    decoder.parse_object = parse_object  # type: ignore[attr-defined]
    decoder.parse_array = parse_array  # type: ignore[attr-defined]
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    try:
        return decoder.decode(text), starts
    except json.JSONDecodeError as exc:
        where = f"{source}:{exc.lineno}:{exc.colno}"
        raise RequestBodyError(f"{where}: not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise RequestBodyError(f"{source}: not a request body: JSON nested too deeply") from None


class _Checker:
    """Checks a decoded body, raising at the first problem with its place in the file."""

    def __init__(self, text: str, source: str, starts: dict[int, int]) -> None:
        self._text = text
        self._source = source
        self._starts = starts

    def messages(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        if "messages" not in body:
            raise self.problem(body, "", 'no "messages": a chat request needs a list of messages')
        messages = self.list_of_objects(body, "messages", "messages")
        if not messages:
            raise self.problem(
                messages, "messages", "empty (a chat request needs at least one message)"
            )
        for index, message in enumerate(messages):
            self.message(message, f"messages[{index}]")
        return messages

    def message(self, message: dict[str, Any], path: str) -> None:
        if not isinstance(message.get("role", _MISSING), str):
            self.fail(message, f"{path}.role", "a string", message.get("role", _MISSING))
        if "name" in message and not isinstance(message["name"], str):
            self.fail(message, f"{path}.name", "a string", message["name"])
        content = message.get("content")
        if isinstance(content, list):
            for index, part in enumerate(content):
                self.content_part(content, part, f"{path}.content[{index}]")
        elif content is not None and not isinstance(content, str):
            self.fail(message, f"{path}.content", "a string, a list of parts or null", content)

    def content_part(self, parts: list[Any], part: Any, path: str) -> None:
        if not isinstance(part, dict):
            self.fail(parts, path, "an object", part)
        if not isinstance(part.get("type", _MISSING), str):
            self.fail(part, f"{path}.type", "a string", part.get("type", _MISSING))
        if "text" in part and not isinstance(part["text"], str):
            self.fail(part, f"{path}.text", "a string", part["text"])

    def functions(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        found = []
        for index, tool in enumerate(self.list_of_objects(body, "tools", "tools", optional=True)):
            function = tool.get("function", _MISSING)
            if not isinstance(function, dict):
                self.fail(tool, f"tools[{index}].function", "an object", function)
            found.append(self.function(function, f"tools[{index}].function"))
        legacy = self.list_of_objects(body, "functions", "functions", optional=True)
        found += [self.function(f, f"functions[{i}]") for i, f in enumerate(legacy)]
        return found

    def function(self, function: dict[str, Any], path: str) -> dict[str, Any]:
        if not isinstance(function.get("name", _MISSING), str):
            self.fail(function, f"{path}.name", "a string", function.get("name", _MISSING))
        self.optional(function, "description", str, f"{path}.description", "a string")
        self.optional(function, "parameters", dict, f"{path}.parameters", "an object")
        parameters = function.get("parameters") or {}
        self.optional(parameters, "properties", dict, f"{path}.parameters.properties", "an object")
        for key, prop in (parameters.get("properties") or {}).items():
            where = f"{path}.parameters.properties.{key}"
            if not isinstance(prop, dict):
                self.fail(parameters["properties"], where, "an object", prop)
            self.optional(prop, "description", str, f"{where}.description", "a string")
            self.optional(prop, "enum", list, f"{where}.enum", "a list")
        return function

    def list_of_objects(
        self, holder: dict[str, Any], key: str, path: str, optional: bool = False
    ) -> list[dict[str, Any]]:
        value = holder.get(key)
        if value is None and optional:
            return []
        if not isinstance(value, list):
            self.fail(holder, path, "a list", value)
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                self.fail(value, f"{path}[{index}]", "an object", item)
        return value

    def optional(
        self, holder: Mapping[str, Any], key: str, kind: type, path: str, expected: str
    ) -> None:
        if key in holder and not isinstance(holder[key], kind):
            self.fail(holder, path, expected, holder[key])

    def fail(self, holder: Any, path: str, expected: str, value: Any) -> NoReturn:
        raise self.problem(holder, path, f"expected {expected}, got {_kind(value)}")

    def problem(self, holder: Any, path: str, message: str) -> RequestBodyError:
        where = self._source
        start = self._starts.get(id(holder))
        if start is not None:
            line = self._text.count("\n", 0, start) + 1
            column = start - self._text.rfind("\n", 0, start)
            where += f":{line}:{column}"
        return RequestBodyError(f"{where}: {path}: {message}" if path else f"{where}: {message}")


_MISSING: Any = object()
"""What ``.get`` returns for a key that is not there, so problems can say "got nothing"."""


def _kind(value: Any) -> str:
    if value is _MISSING:
        return "nothing"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    names = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number"}
    return names.get(type(value), type(value).__name__)
