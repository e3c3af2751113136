"""Turning pydantic's validation errors into Problems a person can act on.

pydantic says ``('steps', 0, 'llm', 'max_tokens') Input should be a valid integer``; a user
needs ``pipelines/triage.yaml:14:17: expected a whole number, got 'abc'``. This module walks
each error's ``loc`` through the raw YAML data (dropping the tag segment that discriminated
unions add, ``'llm'`` above) to find the position, and through the model's types to find the
keys that *would* have been accepted, so an unknown key comes with a "did you mean".
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from agentdesk.errors import Problem
from agentdesk.spec.yamlpos import YamlDocument, YamlPath

M = TypeVar("M")

_TYPE_NAMES = {
    "float": "a number",
    "int": "a whole number",
    "bool": "true or false",
    "string": "a string",
    "dict": "a mapping",
    "model": "a mapping",
    "model_attributes": "a mapping",
    "list": "a list",
}
_QUOTED = re.compile(r"'([^']*)'")


def validate_document(
    validate: Callable[[Any], M],
    doc: YamlDocument,
    data: Any = None,
    prefix: YamlPath = (),
    model: type[BaseModel] | None = None,
) -> tuple[M | None, list[Problem]]:
    """Validate ``data`` (default: the whole document) found at ``prefix`` in ``doc``.

    ``model`` is the class ``validate`` builds, for "did you mean" suggestions.
    """
    try:
        return validate(doc.data if data is None else data), []
    except ValidationError as exc:
        raw = doc.data if data is None else data
        return None, [error_problem(error, doc, raw, prefix, model) for error in exc.errors()]


def error_problem(
    error: ErrorDetails,
    doc: YamlDocument,
    data: Any,
    prefix: YamlPath = (),
    model: type[BaseModel] | None = None,
) -> Problem:
    """One pydantic error as a Problem at the place in ``doc`` it is about."""
    loc = tuple(error["loc"])
    path = (*prefix, *data_path(data, loc))
    kind = error["type"]
    if kind == "missing":
        return doc.problem(path[:-1], message(error, model))
    if kind == "extra_forbidden":
        return doc.problem(path, message(error, model))
    if kind.startswith("union_tag"):
        tag = _discriminator(error)
        return doc.problem((*path, tag), message(error, model), value=True)
    return doc.problem(path, message(error, model), value=True)


def data_path(data: Any, loc: tuple[str | int, ...]) -> YamlPath:
    """``loc`` without the segments that name no key or item in ``data`` (union tags)."""
    path: list[str | int] = []
    for index, part in enumerate(loc):
        found, child = _child(data, part)
        if found:
            data = child
        elif index < len(loc) - 1:
            continue
        path.append(part)
    return tuple(path)


def _child(data: Any, part: str | int) -> tuple[bool, Any]:
    if isinstance(data, dict) and part in data:
        return True, data[part]
    if isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
        return True, data[part]
    return False, None


def message(error: ErrorDetails, model: type[BaseModel] | None = None) -> str:
    """A short sentence for one pydantic error."""
    kind, loc, ctx = error["type"], tuple(error["loc"]), error.get("ctx") or {}
    key = _key_name(loc)
    if kind == "missing":
        return f"missing required key '{key}'"
    if kind == "extra_forbidden":
        allowed = allowed_keys(model, loc[:-1]) if model else []
        return f"unknown key '{key}'{suggestion(str(key), allowed)}"
    if kind == "union_tag_not_found":
        return f"missing required key '{_discriminator(error)}'"
    if kind == "union_tag_invalid":
        tags = ", ".join(_QUOTED.findall(str(ctx.get("expected_tags", ""))))
        return f"{_discriminator(error)} must be one of {tags}, got {shown(ctx.get('tag'))}"
    if kind == "literal_error":
        choices = ", ".join(_QUOTED.findall(str(ctx.get("expected", ""))))
        return f"{key} must be one of {choices}, got {shown(error['input'])}"
    return _generic(error, key)


def _generic(error: ErrorDetails, key: str | int) -> str:
    kind, text = error["type"], error["msg"]
    base = kind.removesuffix("_type").removesuffix("_parsing").removesuffix("_from_float")
    if base in _TYPE_NAMES and (kind.endswith(("_type", "_parsing", "_from_float"))):
        return f"expected {_TYPE_NAMES[base]}, got {shown(error['input'])}"
    if kind == "value_error":
        return text.removeprefix("Value error, ")
    if text.startswith("Input should be "):
        return f"{key} must be {text.removeprefix('Input should be ')}, got {shown(error['input'])}"
    return f"{key}: {text[0].lower()}{text[1:]}" if text else str(key)


def _discriminator(error: ErrorDetails) -> str:
    found = _QUOTED.findall(str((error.get("ctx") or {}).get("discriminator", "")))
    return found[0] if found else "kind"


def _key_name(loc: tuple[str | int, ...]) -> str | int:
    for part in reversed(loc):
        if isinstance(part, str):
            return part
    return loc[-1] if loc else "value"


def shown(value: Any) -> str:
    """A value as a message shows it: strings quoted, containers by kind."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f"'{value}'"
    return str(value)


def suggestion(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a choice is close to ``word``, else nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


# --- walking the model's types ----------------------------------------------------------------


def allowed_keys(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The keys the mapping at ``loc`` (pydantic loc, tags included) may have."""
    annotation: Any = model
    for part in loc:
        annotation = _step_into(annotation, part)
        if annotation is None:
            return []
    target = _model_of(annotation)
    if target is None:
        return []
    return [info.alias or name for name, info in target.model_fields.items()]


def _step_into(annotation: Any, part: str | int) -> Any:
    annotation = _unwrap(annotation)
    members = _union_members(annotation)
    if members:
        tagged = [m for m in members if part in _tags_of(m)]
        if tagged:
            return tagged[0]
        annotation = next((m for m in members if _model_of(m) is not None), members[0])
    model = _model_of(annotation)
    if model is not None:
        return _field_annotation(model, part)
    args = typing.get_args(annotation)
    return args[-1] if args else None


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _union_members(annotation: Any) -> list[Any]:
    """The non-None members of a union, nested unions flattened; [] for a non-union."""
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return []
    members = []
    for arg in typing.get_args(annotation):
        inner = _unwrap(arg)
        if inner is not type(None):
            members += _union_members(inner) or [inner]
    return members


def _model_of(annotation: Any) -> type[BaseModel] | None:
    annotation = _unwrap(annotation)
    members = _union_members(annotation) or [annotation]
    for member in members:
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None


def _tags_of(annotation: Any) -> set[Any]:
    """The values of a model's single-value ``Literal`` fields: its union tags."""
    model = _model_of(annotation)
    tags = set()
    for info in model.model_fields.values() if model else []:
        args = typing.get_args(info.annotation)
        if typing.get_origin(info.annotation) is typing.Literal and len(args) == 1:
            tags.add(args[0])
    return tags


def _field_annotation(model: type[BaseModel], key: str | int) -> Any:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info.annotation
    return None
