"""Totals: runs and outcomes, tokens (approximate counts marked ~), dollars, retries…"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from agentdesk.tui.models.live import Counters
from agentdesk.tui.widgets.styles import BAD, DIM, INFO, OK, WARN, count, money, sparkline


class CounterPanel(Widget):
    DEFAULT_CSS = """
    CounterPanel { height: auto; }
    """

    counters: reactive[Counters] = reactive(Counters)
    cost: reactive[tuple[float, ...]] = reactive(())

    def watch_counters(self, old: Counters, new: Counters) -> None:
        if old.approximate != new.approximate:  # the warning line comes or goes
            self.refresh(layout=True)

    def render(self) -> Text:
        c = self.counters
        mark = "~" if c.approximate else ""
        unpriced = f" +{c.unpriced} unpriced" if c.unpriced else ""
        lines = [
            Text.assemble(
                ("runs ", DIM),
                (count(c.runs), ""),
                (" ✔", OK),
                (count(c.ok), OK),
                (" ✗", BAD),
                (count(c.failed + c.stopped), BAD if c.failed else ""),
                (" live ", DIM),
                (str(c.running), INFO),
            ),
            Text.assemble(
                ("tok ", DIM),
                (mark + count(c.prompt_tokens), ""),
                (" in ", DIM),
                (mark + count(c.completion_tokens), ""),
                (" out", DIM),
            ),
            Text.assemble(
                ("cost ", DIM),
                (money(c.usd), ""),
                (unpriced, WARN),
                (" ", ""),
                (sparkline(self.cost, 16), INFO),
            ),
            Text.assemble(
                ("retry ", DIM),
                (count(c.retries), WARN if c.retries else ""),
                (" fallbk ", DIM),
                (count(c.fallbacks), ""),
                (" fix ", DIM),
                (count(c.repairs), ""),
            ),
            Text.assemble(
                ("trips ", DIM),
                (str(c.breaker_opens), BAD if c.breaker_opens else ""),
                (" events ", DIM),
                (count(c.events), ""),
                (f" lost {count(c.dropped)}" if c.dropped else "", WARN),
            ),
        ]
        if c.approximate:
            lines.append(Text("~ approximate: tiktoken encodings unavailable", style=WARN))
        text = Text("\n").join(lines)
        return text
