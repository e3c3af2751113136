"""The event under the timeline's cursor: where it is, what kind, and every field, inert.

Fields come from the event log, which holds untrusted text (errors, payloads, model output):
each value is made one bounded, inert line by ``safe.safe_text``; structured values are shown
as compact JSON, never as markup.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from agentdesk.engine.events import AnyEvent
from agentdesk.tui.models.timeline import MarkKind, mark_of
from agentdesk.tui.safe import safe_text
from agentdesk.tui.widgets.styles import BAD, BOLD, DIM, INFO, MAGENTA, PLAIN, WARN

ENVELOPE = ("type", "v", "t", "run_id")
MARK_LABELS: dict[MarkKind, tuple[str, Style]] = {
    "error": ("✗ error", BAD),
    "breaker": ("● breaker transition", WARN),
    "budget": ("$ budget exhausted", BAD),
    "fallback": ("⤷ fallback", MAGENTA),
    "retry": ("↻ retry", WARN),
    "step": ("step", INFO),
}
KEY = 12
"""Width of the field names."""
LOUD = frozenset({"error", "reason", "stop_reason", "errors", "error_kind"})
"""Fields drawn in red when they hold something."""


class EventDetail(Widget):
    DEFAULT_CSS = """
    EventDetail { height: auto; }
    """

    event: reactive[AnyEvent | None] = reactive(None, layout=True)
    position: reactive[tuple[int, int]] = reactive((0, 0))
    """(index, total) of the event in the incident."""
    note: reactive[str] = reactive("")
    """A line about the event's place (``first error``, ``first divergence``…)."""

    def render(self) -> Text:
        event = self.event
        if event is None:
            return Text("no event", style=DIM)
        data: dict[str, Any] = msgspec.to_builtins(event)
        index, total = self.position
        head = Text.assemble(
            (f"#{index + 1:,}", BOLD),
            (f"/{total:,} ", DIM),
            (safe_text(data.get("type", "?"), 40), INFO),
            (f"  t={event.t:,.3f}s", PLAIN),
        )
        kind = mark_of(event)
        if kind is not None and kind != "step":
            label, style = MARK_LABELS[kind]
            head.append(f"  {label}", style)
        lines = [head]
        if self.note:
            lines.append(Text(f"» {safe_text(self.note, 80)}", BOLD))
        if event.run_id:
            lines.append(
                Text.assemble((f"{'run':<{KEY}}", DIM), (safe_text(event.run_id, 120), ""))
            )
        for key, value in data.items():
            if key not in ENVELOPE and value not in ("", None, [], {}):
                lines.append(_field(key, value))
        return Text("\n").join(lines)


def _field(key: str, value: Any) -> Text:
    shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    loud = key in LOUD and value not in ("", None, [], 0)
    return Text.assemble(
        (f"{safe_text(key, KEY - 1):<{KEY}}", DIM),
        (safe_text(shown, 300), BAD if loud else PLAIN),
    )
