"""Structured model output: read JSON out of an answer, check it, and word the re-ask.

An ``llm`` step with an ``output`` schema expects JSON, and models wrap it in Markdown fences,
put a sentence before it, or get cut off. ``parse_json_output`` accepts the first two and
reports the third with a short reason; ``SchemaValidator`` lists what is wrong with a parsed
value as ``at $.path: message`` lines; ``repair_message`` turns either into the user message
that asks the model again. All of these return values or raise ``OutputParseError``; the
runner decides what happens next and publishes ``validation_failed`` / ``validation_repaired``.

Schemas are checked against JSON Schema Draft 2020-12 with format checking off (formats are
annotations there) and an empty reference registry, so a ``$ref`` to a URL is an error, never
a network fetch.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry
from referencing.exceptions import Unresolvable

MAX_ERRORS = 10
_MESSAGE_MAX = 200
_FENCE = re.compile(r"```[ \t]*([\w+.-]*)[ \t]*\r?\n(.*?)```", re.DOTALL)
_OPEN_FENCE = re.compile(r"```[ \t]*[\w+.-]*[ \t]*\r?\n(.*)", re.DOTALL)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NO_RETRIEVAL = Registry()
"""Our registry holds nothing; jsonschema adds the bundled meta-schemas and fetches nothing."""
_META_VALIDATOR = Draft202012Validator(Draft202012Validator.META_SCHEMA, registry=_NO_RETRIEVAL)


class OutputParseError(ValueError):
    """A model's answer that holds no readable JSON; ``message`` is a short reason."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidSchemaError(ValueError):
    """A schema that is not valid JSON Schema; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid JSON Schema: " + "; ".join(problems))
        self.problems = problems


# --- parsing --------------------------------------------------------------------------------


def parse_json_output(text: str) -> Any:
    """The JSON value in a model's answer: bare, or in one fenced block (```json or ```),
    with any prose around the block ignored. Raises ``OutputParseError`` otherwise."""
    stripped = text.strip()
    if not stripped:
        raise OutputParseError("empty answer")
    if stripped[0] in "{[":
        return _loads(stripped)
    return _loads(_fenced_body(stripped))


def _fenced_body(text: str) -> str:
    blocks = _FENCE.findall(text)
    json_blocks = [body for label, body in blocks if label.lower() == "json"]
    candidates = json_blocks or [body for _, body in blocks]
    if len(candidates) > 1:
        raise OutputParseError(f"ambiguous: {len(candidates)} fenced blocks")
    if candidates:
        return _non_empty(candidates[0])
    unclosed = _OPEN_FENCE.search(text)
    if unclosed is not None:
        return _non_empty(unclosed.group(1))
    return text


def _non_empty(body: str) -> str:
    if not body.strip():
        raise OutputParseError("empty answer")
    return body


def _loads(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise OutputParseError(f"not JSON: {_decode_reason(error)}") from None
    except RecursionError:
        raise OutputParseError("not JSON: nested too deeply") from None


def _decode_reason(error: json.JSONDecodeError) -> str:
    """``Expecting ',' delimiter at line 1 column 17``, flagged when the text ran out first."""
    at = " " if error.msg.endswith(" at") else " at "
    reason = f"{error.msg}{at}line {error.lineno} column {error.colno}"
    ran_out = error.pos >= len(error.doc.rstrip()) or error.msg.startswith("Unterminated string")
    return reason + " (answer ends early)" if ran_out else reason


def _refuse_constant(name: str) -> Any:
    raise OutputParseError(f"not JSON: {name} is not allowed")


# --- validation -----------------------------------------------------------------------------

VERDICT_CACHE = 4096
"""How many distinct values each validator remembers its verdict for."""


def check_schema(schema: Mapping[str, Any]) -> list[str]:
    """Every problem that makes ``schema`` invalid Draft 2020-12, sorted; [] when valid."""
    return _format_errors(_META_VALIDATOR.iter_errors(schema), limit=None)


class SchemaValidator:
    """One schema, checked and compiled once, then used for every answer it judges."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        problems = check_schema(schema)
        if problems:
            raise InvalidSchemaError(problems)
        self.schema = schema
        self._validator = Draft202012Validator(schema, registry=_NO_RETRIEVAL)
        self._verdicts: OrderedDict[bytes, list[str]] = OrderedDict()

    def errors(self, value: Any) -> list[str]:
        """What is wrong with ``value``, as sorted ``at $.path: message`` lines (at most
        ``MAX_ERRORS``; a last ``… and N more`` line says how many were left out).

        Verdicts are remembered by the value's canonical JSON: agents see the same payloads
        again and again, and jsonschema costs far more than encoding the value to look it up.
        """
        try:
            key = msgspec.json.encode(value, order="sorted")
        except (TypeError, msgspec.EncodeError):
            return self._judge(value)
        found = self._verdicts.get(key)
        if found is None:
            found = self._verdicts[key] = self._judge(value)
            if len(self._verdicts) > VERDICT_CACHE:
                self._verdicts.popitem(last=False)
        return list(found)

    def _judge(self, value: Any) -> list[str]:
        try:
            return _format_errors(self._validator.iter_errors(value), limit=MAX_ERRORS)
        except Unresolvable as error:
            return [f"at $: schema error: cannot resolve $ref {error.ref!r}"]

    def is_valid(self, value: Any) -> bool:
        return not self.errors(value)


def _format_errors(errors: Iterable[ValidationError], limit: int | None) -> list[str]:
    """Sorted by place (the value itself first, then its members), then by message."""
    found = {(_sort_key(error.absolute_path), _shortened(error.message)) for error in errors}
    lines = [f"at {json_path(p for _, p in key)}: {message}" for key, message in sorted(found)]
    if limit is None or len(lines) <= limit:
        return lines
    return [*lines[: limit - 1], f"… and {len(lines) - limit + 1} more"]


def _sort_key(path: Iterable[str | int]) -> tuple[tuple[bool, str | int], ...]:
    """Array indices in numeric order; keys and indices never compared with each other."""
    return tuple((isinstance(part, str), part) for part in path)


def _shortened(message: str) -> str:
    return message if len(message) <= _MESSAGE_MAX else message[: _MESSAGE_MAX - 1] + "…"


def json_path(parts: Iterable[str | int]) -> str:
    """``$.items[2]["odd key"]`` for the path parts of an instance location."""
    path = "$"
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part):
            path += f".{part}"
        else:
            path += f"[{json.dumps(part, ensure_ascii=False)}]"
    return path


# --- repair ---------------------------------------------------------------------------------


def repair_message(errors: list[str]) -> str:
    """The user message that asks the model to answer again, listing what was wrong."""
    listed = "\n".join(f"- {error}" for error in errors) or "- the answer was not usable"
    return (
        "Your previous answer was not valid:\n"
        f"{listed}\n"
        "Answer again with only JSON that matches the schema."
    )
