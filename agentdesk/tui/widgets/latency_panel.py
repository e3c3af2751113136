"""Latency per step and per service: recent sparkline and p50/p95/p99 (simulated seconds)."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from agentdesk.tui.models.live import LatencyView
from agentdesk.tui.safe import safe_text
from agentdesk.tui.widgets.styles import BOLD, DIM, INFO, seconds, sparkline

SPARK = 24


class LatencyPanel(Widget):
    DEFAULT_CSS = """
    LatencyPanel { height: auto; }
    """

    series: reactive[tuple[LatencyView, ...]] = reactive(())

    def watch_series(self, old: tuple[LatencyView, ...], new: tuple[LatencyView, ...]) -> None:
        if _height(old) != _height(new):  # a layout only when the panel's height changes
            self.refresh(layout=True)

    def render(self) -> Text:
        header = Text(f"{'':<18}{'n':>6} {'p50':>7} {'p95':>7} {'p99':>7}  recent", style=BOLD)
        rows = [header]
        kind = ""
        for s in self.series:
            if s.kind != kind:
                kind = s.kind
                rows.append(Text(f"{kind}s", style=DIM))
            rows.append(
                Text.assemble(
                    (f" {safe_text(s.name, 17):<17}", ""),
                    (f"{s.count:>6} ", DIM),
                    (f"{seconds(s.p50):>7} {seconds(s.p95):>7} {seconds(s.p99):>7}  ", ""),
                    (sparkline(s.recent, max(4, min(SPARK, self.size.width - 48))), INFO),
                )
            )
        text = Text("\n").join(rows)
        return text


def _height(series: tuple[LatencyView, ...]) -> int:
    """Lines drawn: the header, one per series and one per kind."""
    return 1 + len(series) + len({s.kind for s in series})
