"""Budget meters for the selected run: fill as it spends; warn, then show exhausted."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from agentdesk.tui.models.budgets import Meter
from agentdesk.tui.widgets.styles import BAD, DIM, OK, WARN, money, seconds

LEVEL_STYLE = {"none": DIM, "ok": OK, "warning": WARN, "exhausted": BAD}
WIDTH = 16


class BudgetMeters(Widget):
    DEFAULT_CSS = """
    BudgetMeters { height: auto; }
    """

    meters: reactive[tuple[Meter, ...]] = reactive(())
    level: reactive[str] = reactive("none")

    def watch_meters(self, old: tuple[Meter, ...], meters: tuple[Meter, ...]) -> None:
        if len(old) != len(meters):  # one line a meter: a layout only when the height changes
            self.refresh(layout=True)
        levels = {m.level for m in meters}
        self.level = next((lv for lv in ("exhausted", "warning", "ok") if lv in levels), "none")

    def watch_level(self, old: str, new: str) -> None:
        self.remove_class(f"-{old}")
        self.add_class(f"-{new}")

    def render(self) -> Text:
        if not self.meters:
            return Text("no run selected", style=DIM)
        text = Text("\n").join(self._row(m) for m in self.meters)
        return text

    def _row(self, meter: Meter) -> Text:
        style = LEVEL_STYLE[meter.level]
        name = (
            f"{meter.kind:<8}" if meter.scope == "run" else f"{meter.scope[:4]}·{meter.kind[:3]} "
        )
        used = _amount(meter.kind, meter.used)
        if meter.limit is None:
            return Text.assemble((name, ""), (f"{used} (no limit)", DIM))
        width = max(4, min(WIDTH, self.size.width - 26))
        filled = round(meter.fraction * width)
        tail = " EXHAUSTED" if meter.level == "exhausted" else ""
        return Text.assemble(
            (name, ""),
            ("█" * filled, style),
            ("░" * (width - filled), DIM),
            (f" {used}/{_amount(meter.kind, meter.limit)}{tail}", style),
        )


def _amount(kind: str, value: float) -> str:
    if kind == "usd":
        return money(value)
    if kind == "seconds":
        return seconds(value)
    return f"{value:,.0f}"
