"""JSON paths into a case's result: ``$.steps.triage.category``, ``$.output.items[0]``.

Assertions point at a value inside the document a case's run produced (see ``CaseRun.document``).
Only the subset of JSONPath that names one value is supported — member names (``.name`` or
``['name']``), array indexes (``[0]``, ``[-1]``) — because an assertion compares one value; a
wildcard would need a rule for "all" or "any" that a reader of the golden file cannot see. The
leading ``$.`` may be left out, so a path reads like a template: ``steps.triage.category``.
Paths are parsed when the golden file is loaded, so a malformed one is a problem with a place,
not a failure halfway through an eval.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"""\.(?P<name>[A-Za-z_][\w-]*)        # .name
      | \[(?P<index>-?\d+)\]               # [0]
      | \[(?P<quote>['"])(?P<key>.*?)(?P=quote)\]  # ['name'] or ["name"]
    """,
    re.VERBOSE,
)

_MISSING = object()


class PathSyntaxError(ValueError):
    """A path that is not in the supported subset; the message says where it went wrong."""


@dataclass(frozen=True, slots=True)
class JsonPath:
    """A parsed path: the keys and indexes to follow from the document's root."""

    text: str
    parts: tuple[str | int, ...]

    @classmethod
    def parse(cls, text: str) -> JsonPath:
        body = text.strip()
        if body.startswith("$"):
            body = body[1:]
        elif body and not body.startswith((".", "[")):
            body = "." + body
        parts: list[str | int] = []
        position = 0
        while position < len(body):
            match = _TOKEN.match(body, position)
            if match is None:
                raise PathSyntaxError(
                    f"bad path {text!r}: cannot read {body[position:]!r} "
                    "(use .name, ['name'] or [index])"
                )
            parts.append(_part(match))
            position = match.end()
        return cls(text, tuple(parts))

    def find(self, document: Any) -> tuple[bool, Any]:
        """``(True, value)`` when the path leads to a value, else ``(False, None)``."""
        value = document
        for part in self.parts:
            value = _step(value, part)
            if value is _MISSING:
                return False, None
        return True, value

    def __str__(self) -> str:
        return self.text


def _part(match: re.Match[str]) -> str | int:
    if match.group("name") is not None:
        return match.group("name")
    if match.group("index") is not None:
        return int(match.group("index"))
    return match.group("key")


def _step(value: Any, part: str | int) -> Any:
    if isinstance(part, int):
        if isinstance(value, list) and -len(value) <= part < len(value):
            return value[part]
        return _MISSING
    if isinstance(value, dict) and part in value:
        return value[part]
    return _MISSING


OUTPUT = JsonPath.parse("$.output")
"""Where assertions look when they name no path: the run's final output."""
