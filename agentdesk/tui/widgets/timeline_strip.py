"""The incident on a time axis: where errors, breaker transitions, budget exhaustion, fallbacks
and retries happened, how busy each moment was, and the cursor.

Each column is a slice of simulated time. Lanes, top to bottom: errors (✗), breaker
transitions (● open, ◐ half-open, ● closed, coloured by the state entered), budget exhaustion
($), fallbacks (⤷) and retries (↻), event density (a sparkline), then the axis with the cursor
(▲). The cursor's column is drawn reversed in every lane. Columns are bucketed once per width
(10,000 events cost one pass), so moving the cursor only repaints.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from agentdesk.tui.models.timeline import Mark
from agentdesk.tui.widgets.styles import BAD, DIM, INFO, MAGENTA, OK, SPARKS, WARN

LABEL = 9
"""Width of the lane names on the left."""
BREAKER_GLYPHS = {"open": ("●", BAD), "half_open": ("◐", WARN), "closed": ("●", OK)}
POLICY = {"budget": ("$", BAD), "fallback": ("⤷", MAGENTA), "retry": ("↻", WARN)}
"""What the policy lane shows per column: budget beats fallback beats retry."""
CURSOR = Style(reverse=True)
Glyph = Callable[[Any], tuple[str, Style]]


@dataclass(frozen=True)
class StripData:
    """What the strip draws: every event's time and the marks."""

    times: tuple[float, ...] = ()
    marks: tuple[Mark, ...] = ()

    @property
    def start(self) -> float:
        return self.times[0] if self.times else 0.0

    @property
    def end(self) -> float:
        return self.times[-1] if self.times else 0.0


@dataclass(frozen=True)
class _Columns:
    errors: list[int]
    breakers: list[str]
    policy: list[str]
    density: list[int]


class TimelineStrip(Widget, can_focus=True):
    DEFAULT_CSS = """
    TimelineStrip { height: 8; }
    """

    data: reactive[StripData] = reactive(StripData, always_update=True)
    cursor: reactive[int] = reactive(0)
    """The index of the event under the cursor."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._cache: tuple[StripData, int, _Columns] | None = None

    def column(self, t: float, width: int) -> int:
        data = self.data
        span = data.end - data.start
        if width <= 1 or span <= 0:
            return 0
        return min(width - 1, max(0, int((t - data.start) / span * width)))

    def render(self) -> Text:
        width = max(1, self.content_size.width - LABEL)
        data = self.data
        if not data.times:
            return Text("no events", style=DIM)
        columns = self._columns(width)
        at = self.column(data.times[min(self.cursor, len(data.times) - 1)], width)
        lanes = [
            self._lane("errors", columns.errors, at, _error),
            self._lane("breakers", columns.breakers, at, _breaker),
            self._lane("policy", columns.policy, at, _policy),
            self._lane("events", columns.density, at, _density(max(columns.density))),
            self._axis(width, at),
        ]
        return Text("\n").join(lanes)

    def _lane(self, name: str, values: Sequence[Any], at: int, glyph: Glyph) -> Text:
        text = Text(f"{name:<{LABEL}}", style=DIM)
        for index, value in enumerate(values):
            char, style = glyph(value)
            text.append(char, style + CURSOR if index == at else style)
        return text

    def _axis(self, width: int, at: int) -> Text:
        data = self.data
        now = data.times[min(self.cursor, len(data.times) - 1)]
        cells = [" "] * width
        label = f"▲ {_clock(now)}"
        start = at if at + len(label) <= width else max(0, at - len(label) + 1)
        if start != at:
            label = f"{_clock(now)} ▲"
        # The first and last times are shown whole, with a space before the cursor's time,
        # or not at all: a cursor near either end would otherwise overwrite half of one.
        left, right = _clock(data.start), _clock(data.end)
        if len(left) < start:
            _put(cells, 0, left)
        if start + len(label) < width - len(right):
            _put(cells, width - len(right), right)
        _put(cells, start, label)
        text = Text(f"{'t':<{LABEL}}", style=DIM)
        text.append("".join(cells[:start]), DIM)
        text.append(label, INFO)
        text.append("".join(cells[start + len(label) :]), DIM)
        return text

    def _columns(self, width: int) -> _Columns:
        if self._cache is not None and self._cache[0] is self.data and self._cache[1] == width:
            return self._cache[2]
        columns = _Columns([0] * width, [""] * width, [""] * width, [0] * width)
        for t in self.data.times:
            columns.density[self.column(t, width)] += 1
        rank = {"": 0, "retry": 1, "fallback": 2, "budget": 3}
        for mark in self.data.marks:
            col = self.column(mark.t, width)
            if mark.kind == "error":
                columns.errors[col] += 1
            elif mark.kind == "breaker":
                columns.breakers[col] = mark.state
            elif mark.kind in POLICY and rank[mark.kind] > rank[columns.policy[col]]:
                columns.policy[col] = mark.kind
        self._cache = (self.data, width, columns)
        return columns


def _error(count: int) -> tuple[str, Style]:
    return ("✗", BAD) if count else ("·", DIM)


def _breaker(state: str) -> tuple[str, Style]:
    return BREAKER_GLYPHS.get(state, ("·", DIM))


def _policy(kind: str) -> tuple[str, Style]:
    return POLICY.get(kind, ("·", DIM))


def _density(top: int) -> Glyph:
    last = len(SPARKS) - 1

    def glyph(count: int) -> tuple[str, Style]:
        if not count:
            return " ", DIM
        return SPARKS[min(last, max(0, round(count / max(top, 1) * last)))], INFO

    return glyph


def _clock(t: float) -> str:
    return f"{t:,.1f}s"


def _put(cells: list[str], start: int, label: str) -> None:
    for offset, char in enumerate(label):
        if 0 <= start + offset < len(cells):
            cells[start + offset] = char
