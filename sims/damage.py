"""How a malformed or drift fault damages an answer: the JSON breaks the way real services
(and real models) break it.

Tool sims damage their HTTP body; the LLM sim keeps a valid HTTP body and damages the
message content instead, because that is where a model's output goes wrong. Both go through
the same transforms here so that "wrong types" or "renamed field" mean the same thing
everywhere. Every transform is deterministic: the same payload breaks the same way.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from sims.asgi import Reply
from sims.profiles import DriftFault, InjectFault, MalformedFault


def truncate(text: str) -> str:
    """Cut a document in the middle, as a connection closed mid-stream would."""
    return text[: max(1, len(text) // 2)]


def fence(text: str) -> str:
    """Wrap JSON in a Markdown code fence, as chat models like to."""
    return f"```json\n{text}\n```"


def wrong_types(value: Any, depth: int = 0) -> Any:
    """Numbers and booleans become strings, numeric strings become numbers, nested objects
    become JSON strings (top level and one level down)."""
    if isinstance(value, dict):
        if depth > 1:
            return json.dumps(value)
        return {k: wrong_types(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list) and depth <= 1:
        return [wrong_types(v, depth) for v in value]
    return _wrong_scalar(value)


def _wrong_scalar(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and value.strip().lstrip("-").replace(".", "", 1).isdigit():
        return float(value) if "." in value else int(value)
    return value


def drift(value: Any, fault: DriftFault, depth: int = 0) -> Any:
    """Rename and drop fields, top level and one level down (items of a list count at the
    list's level, so ``{"results": [{...}]}`` drifts inside the results too)."""
    if isinstance(value, list) and depth <= 1:
        return [drift(v, fault, depth) for v in value]
    if not isinstance(value, dict) or depth > 1:
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key not in fault.drop:
            out[fault.rename.get(str(key), str(key))] = drift(item, fault, depth + 1)
    return out


def damage_text(text: str, fault: MalformedFault | DriftFault) -> str:
    """Damage a JSON document given as text (an LLM's content); non-JSON text is only
    truncated or fenced."""
    if isinstance(fault, MalformedFault) and fault.mode == "truncated":
        return truncate(text)
    if isinstance(fault, MalformedFault) and fault.mode == "fenced":
        return fence(text)
    try:
        value = json.loads(text)
    except ValueError:
        return text
    changed = drift(value, fault) if isinstance(fault, DriftFault) else wrong_types(value)
    return json.dumps(changed, ensure_ascii=False)


def inject(value: Any, fault: InjectFault) -> Any:
    """The fault's text appended to the named top-level string fields of a JSON object."""
    if not isinstance(value, dict):
        return value
    return {
        k: f"{v}\n\n{fault.text}" if k in fault.fields and isinstance(v, str) else v
        for k, v in value.items()
    }


def damage_reply(reply: Reply, fault: MalformedFault | DriftFault | InjectFault) -> Reply:
    """Damage a tool sim's HTTP body (the status and headers stay as they were)."""
    if isinstance(fault, InjectFault):
        return replace(reply, payload=inject(reply.payload, fault))
    if isinstance(fault, DriftFault):
        return replace(reply, payload=drift(reply.payload, fault))
    if fault.mode == "wrong_types":
        return replace(reply, payload=wrong_types(reply.payload))
    body = reply.body()
    if fault.mode == "truncated":
        return replace(reply, raw=body[: max(1, len(body) // 2)])
    return replace(reply, raw=b"```json\n" + body + b"\n```")
