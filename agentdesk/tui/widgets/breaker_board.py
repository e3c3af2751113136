"""The breaker board: one row per service and model breaker, open ones first."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from agentdesk.tui.models.live import BreakerView
from agentdesk.tui.safe import safe_text
from agentdesk.tui.widgets.styles import BAD, BREAKER, DIM, OK, WARN, seconds

ARROWS = {"open": ("open", BAD), "half_open": ("half", WARN), "closed": ("closed", OK)}


class BreakerBoard(Widget):
    """State, time to the next probe, failure rate over the window, recent transitions."""

    DEFAULT_CSS = """
    BreakerBoard { height: auto; }
    """

    breakers: reactive[tuple[BreakerView, ...]] = reactive(())
    any_open: reactive[bool] = reactive(False)

    def watch_breakers(
        self, old: tuple[BreakerView, ...], breakers: tuple[BreakerView, ...]
    ) -> None:
        if len(old) != len(breakers):  # one line a breaker: a layout only for a new height
            self.refresh(layout=True)
        self.any_open = any(b.state == "open" for b in breakers)

    def watch_any_open(self, value: bool) -> None:
        self.set_class(value, "-open")

    def render(self) -> Text:
        if not self.breakers:
            return Text("no calls yet", style=DIM)
        text = Text("\n").join(self._row(b) for b in self.breakers)
        return text

    def _row(self, b: BreakerView) -> Text:
        glyph, style = BREAKER.get(b.state, ("?", DIM))
        state = b.state.replace("_", "-").upper() if b.state != "closed" else "closed"
        probe = f"⟳{seconds(b.probe_in)}" if b.probe_in is not None else ""
        text = Text.assemble(
            (f"{glyph} ", style),
            (f"{safe_text(b.name, 40):<19}", ""),
            (f"{state:<10}", style),
            (f"{b.failure_rate:>4.0%} ", BAD if b.failure_rate >= 0.5 else DIM),
            (f"{probe:<7}", WARN),
            (f" opened {b.opened}×" if b.opened else "", DIM),
        )
        for transition in b.recent[-3:]:
            word, tone = ARROWS.get(transition.to_state, ("?", DIM))
            text.append(" →", DIM).append(word, tone)
        return text
