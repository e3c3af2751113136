"""The one-line status: what runs, where, how fast, which faults are live, and narration."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from agentdesk.tui.safe import safe_text
from agentdesk.tui.widgets.styles import BAD, BOLD, DIM, INFO, OK, WARN


def pace_label(pace: float | None) -> str:
    return "max" if pace is None else f"{pace:g}×"


class StatusLine(Widget):
    DEFAULT_CSS = """
    StatusLine { height: auto; }
    """

    pipeline: reactive[str] = reactive("")
    scenario: reactive[str] = reactive("")
    now: reactive[float] = reactive(0.0)
    pace: reactive[float | None] = reactive(5.0)
    paused: reactive[bool] = reactive(False)
    faults: reactive[int] = reactive(0)
    narration: reactive[str] = reactive("", layout=True)
    live: reactive[bool] = reactive(True)
    problem: reactive[str] = reactive("", layout=True)
    """A rejected edit, shown until a valid edit fixes it (hot reload)."""
    alerts: reactive[tuple[str, ...]] = reactive((), layout=True)
    """The alert rules firing now (agentdesk.alerts), one line each."""

    def watch_paused(self, paused: bool) -> None:
        self.set_class(paused, "-paused")

    def render(self) -> Text:
        if not self.live:
            state = ("■ RECORDED", DIM)
        elif self.paused:
            state = ("❚❚ PAUSED", WARN)
        else:
            state = (f"▶ {pace_label(self.pace)}", OK)
        text = Text.assemble(
            state,
            ("  ", ""),
            (safe_text(self.pipeline, 40), BOLD),
            (" · scenario ", DIM),
            (safe_text(self.scenario, 40), INFO),
            (f" · t={self.now:,.1f}s", ""),
        )
        if self.faults:
            text.append(f" · {self.faults} fault(s) injected", BAD)
        if self.narration:
            text.append("\n» ", INFO).append(safe_text(self.narration, 200), BOLD)
        if self.problem:
            text.append("\n✗ ", BAD).append(safe_text(self.problem, 300), BAD)
        for alert in self.alerts[:2]:
            text.append("\n▲ alert ", BAD).append(safe_text(alert, 200), BAD)
        return text
