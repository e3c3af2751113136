"""What the simulated model says: schema-valid JSON, deliberately wrong JSON, or short text.

Answers must be plausible enough for a pipeline to act on (a triage step needs a category from
its enum and a confidence within bounds) and reproducible: everything is drawn from the
generator the caller passes, which is seeded by (seed, service, request key). Only the JSON
Schema subset that structured outputs use is covered: objects, arrays, enums, consts, numbers
with bounds, strings with lengths and common formats, booleans, anyOf/oneOf/allOf and local
``$ref``s.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

_WORDS = ("refund", "order", "customer", "charge", "policy", "account", "shipping", "review")
_OPENERS = (
    "Thanks for the details.",
    "Understood.",
    "Here is a short answer.",
    "I looked into this.",
)
_BODIES = (
    "The request looks eligible under the standard policy.",
    "The customer should receive an update within two business days.",
    "No further action is needed at this point.",
    "This needs a human to double-check before anything is sent.",
)
_FORMATS = {
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "email": "customer@example.com",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}
_WRONG = {"string": 12345, "integer": "many", "number": "high", "boolean": "yes"}


def short_text(rng: random.Random) -> str:
    """A deterministic, bland, short reply."""
    return f"{rng.choice(_OPENERS)} {rng.choice(_BODIES)}"


def instance(schema: Mapping[str, Any], rng: random.Random) -> Any:
    """A value valid against ``schema``."""
    return _Generator(schema, rng).value(schema, 0)


def violate(value: Any, schema: Mapping[str, Any] | None, rng: random.Random) -> Any:
    """``value`` made invalid: a required field dropped, or a field of the wrong type."""
    if isinstance(value, dict) and value:
        required = [k for k in (schema or {}).get("required", []) if k in value]
        keys = required or sorted(value)
        key = rng.choice(keys)
        broken = dict(value)
        if rng.random() < 0.5:
            del broken[key]
        else:
            broken[key] = _wrong_type(value[key])
        return broken
    return _wrong_type(value)


def _wrong_type(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, int | float):
        return "high"
    if isinstance(value, str):
        return 12345
    return "unexpected"


class _Generator:
    """Walks a schema, resolving local ``$ref``s against the root."""

    MAX_DEPTH = 8

    def __init__(self, root: Mapping[str, Any], rng: random.Random) -> None:
        self.root = root
        self.rng = rng

    def value(self, schema: Mapping[str, Any], depth: int) -> Any:
        schema = self._resolve(schema)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return self.rng.choice(list(schema["enum"]))
        for key in ("anyOf", "oneOf"):
            if schema.get(key):
                return self.value(self.rng.choice(list(schema[key])), depth)
        if schema.get("allOf"):
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                merged.update(self._resolve(part))
            return self.value(merged, depth)
        return self._typed(schema, _type_of(schema), depth)

    def _typed(self, schema: Mapping[str, Any], kind: str, depth: int) -> Any:
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, depth)
        if kind in ("integer", "number"):
            return self._number(schema, kind == "integer")
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "null":
            return None
        return self._string(schema)

    def _object(self, schema: Mapping[str, Any], depth: int) -> dict[str, Any]:
        if depth >= self.MAX_DEPTH:
            return {}
        properties: Mapping[str, Any] = schema.get("properties", {})
        return {name: self.value(sub, depth + 1) for name, sub in properties.items()}

    def _array(self, schema: Mapping[str, Any], depth: int) -> list[Any]:
        low = int(schema.get("minItems", 1))
        high = int(schema.get("maxItems", max(low, 3)))
        count = self.rng.randint(low, max(low, min(high, low + 2)))
        items = schema.get("items", {"type": "string"})
        return [self.value(items, depth + 1) for _ in range(count)]

    def _number(self, schema: Mapping[str, Any], integer: bool) -> int | float:
        low = float(schema.get("minimum", schema.get("exclusiveMinimum", 0)))
        high = float(schema.get("maximum", schema.get("exclusiveMaximum", max(low, 0) + 100)))
        if integer:
            return self._integer(schema, low, high)
        drawn = round(self.rng.uniform(low, high), 2)
        if drawn in (schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")):
            drawn = (low + high) / 2
        return drawn

    def _integer(self, schema: Mapping[str, Any], low: float, high: float) -> int:
        first = int(low) + (1 if "exclusiveMinimum" in schema else 0)
        last = int(high) - (1 if "exclusiveMaximum" in schema else 0)
        return self.rng.randint(first, max(first, last))

    def _string(self, schema: Mapping[str, Any]) -> str:
        text = _FORMATS.get(str(schema.get("format")), self.rng.choice(_WORDS))
        minimum, maximum = int(schema.get("minLength", 0)), schema.get("maxLength")
        if len(text) < minimum:
            text = text + "x" * (minimum - len(text))
        return text if maximum is None else text[: int(maximum)]

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return schema
        node: Any = self.root
        for part in ref[2:].split("/"):
            node = node.get(part, {}) if isinstance(node, Mapping) else {}
        return node if isinstance(node, Mapping) else {}


def _type_of(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    if "properties" in schema:
        return "object"
    return "array" if "items" in schema else "string"
