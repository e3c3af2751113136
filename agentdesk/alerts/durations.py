"""Durations as people write them in rules files and on the command line: ``250ms``, ``60s``,
``5m``, ``1h``, ``7d``, or a plain number of seconds."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(text: str) -> float:
    """Seconds in ``text``; raises ValueError naming what was expected."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"expected a duration such as 250ms, 60s, 5m or 1h, got '{text}'")
    return float(match.group(1)) * _UNIT[match.group(2)]


def _seconds(value: Any) -> Any:
    return parse_duration(value) if isinstance(value, str) else value


Seconds = Annotated[float, BeforeValidator(_seconds), Field(gt=0)]
"""A positive duration in seconds, written as a number or with a unit."""


def shown(seconds: float) -> str:
    """``300`` → ``5m``, ``90`` → ``90s``, ``0.25`` → ``250ms``: the shortest exact form."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0)):
        if seconds >= size and (seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    return f"{seconds * 1000:g}ms" if seconds < 1 else f"{seconds:g}s"
