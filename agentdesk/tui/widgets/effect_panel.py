"""The effect of the last change: the deltas a developer weighs, then the outputs side by side.

Every measure here is better lower (tokens, dollars, seconds, retries, fallbacks, failures),
so ▼ is green and ▲ is red. Outputs are untrusted (model output): one line each, inert.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from textual.binding import Binding, BindingType

from agentdesk.artifacts.compare import Comparison, Delta, OutputPair
from agentdesk.tui.hot_reload import Effect
from agentdesk.tui.safe import safe_text
from agentdesk.tui.widgets.lines_view import Line, LinesView
from agentdesk.tui.widgets.styles import BAD, BOLD, DIM, INFO, OK, PLAIN, WARN, money, seconds

NAME_WIDTH = 18


def measure(name: str, value: float) -> str:
    if "USD" in name:
        return f"${value:.6f}" if value < 0.01 else money(value)
    if "latency" in name:
        return seconds(value)
    return f"{value:,.0f}"


def change_line(delta: Delta) -> Line:
    if delta.change == 0:
        return [("=", DIM)]
    style = BAD if delta.change > 0 else OK
    arrow = "▲" if delta.change > 0 else "▼"
    sign = "+" if delta.change > 0 else "-"
    amount = measure(delta.name, abs(delta.change))
    ratio = f" ({delta.ratio:+.1%})" if delta.ratio is not None else ""
    return [(f"{arrow} {sign}{amount}{ratio}", style)]


def short_input(value: Any) -> str:
    if isinstance(value, dict) and len(value) == 1:
        return safe_text(next(iter(value.values())), 14)
    return safe_text(json.dumps(value, default=str), 14)


def short_output(value: Any, status: str) -> str:
    if status != "completed":
        return f"✗ {status}"
    return json.dumps(value, default=str, ensure_ascii=False)


class EffectPanel(LinesView, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "scroll_by(-1)", show=False),
        Binding("down,j", "scroll_by(1)", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.effect: Effect | None = None
        self.version_label = ""
        self._lines: list[Line | OutputPair] = self._build(None)

    def show(self, effect: Effect | None, version_label: str) -> None:
        if effect == self.effect and version_label == self.version_label:
            return
        self.effect, self.version_label = effect, version_label
        self._lines = self._build(effect)
        self.lines_changed()

    def line_count(self) -> int:
        return len(self._lines)

    def draw(self, index: int, width: int) -> Line:
        line = self._lines[index]
        if isinstance(line, OutputPair):
            return self._output(line, width)
        return line

    def _build(self, effect: Effect | None) -> list[Line | OutputPair]:
        if effect is None:
            return [
                [("No change yet. Save a prompt or config in your editor: the new version", DIM)],
                [("runs at once, and its effect on outputs, tokens, cost, latency and", DIM)],
                [("failures against the previous version shows here.", DIM)],
            ]
        head: Line = [
            (safe_text(effect.pipeline, 40), BOLD),
            (" · ", DIM),
            (safe_text(self.version_label, 60), INFO),
        ]
        if effect.error:
            return [head, [("comparison failed: ", BAD), (safe_text(effect.error, 300), BAD)]]
        comparison = effect.comparison
        if comparison is None:
            return [head, [("comparing before and after…", WARN)]]
        return [head, *self._deltas(comparison), *self._outputs(comparison)]

    def _deltas(self, comparison: Comparison) -> list[Line | OutputPair]:
        """Measures that moved, one per line; the ones that did not, together on one line."""
        moved = [d for d in comparison.deltas if d.change]
        same = [d.name for d in comparison.deltas if not d.change]
        lines: list[Line | OutputPair] = []
        if moved:
            lines.append([(f"{'':<{NAME_WIDTH}}{'before':>10}{'after':>10}  change", BOLD)])
        for delta in moved:
            before, after = measure(delta.name, delta.before), measure(delta.name, delta.after)
            row = f"{delta.name:<{NAME_WIDTH}}{before:>10}{after:>10}  "
            lines.append([(row, PLAIN), *change_line(delta)])
        if same:
            lines.append([("= ", DIM), (f"unchanged: {', '.join(same)}", DIM)])
        return lines

    def _outputs(self, comparison: Comparison) -> list[Line | OutputPair]:
        pairs = sorted(comparison.outputs, key=lambda p: not p.changed)
        changed = sum(p.changed for p in pairs)
        title = f"outputs · {changed} of {len(pairs)} changed · before │ after"
        about = f" · {comparison.scenario} · seed {comparison.seed}"
        return [[(title, BOLD), (safe_text(about, 100), DIM)], *pairs]

    def _output(self, pair: OutputPair, width: int) -> Line:
        side = max(8, (width - 18) // 2)
        before = safe_text(short_output(pair.before, pair.before_status), side)
        after = safe_text(short_output(pair.after, pair.after_status), side)
        marker = ("≠ ", WARN) if pair.changed else ("= ", DIM)
        return [
            marker,
            (f"{short_input(pair.input):<15}", DIM),
            (f"{before:<{side}}", PLAIN if pair.changed else DIM),
            (" │ ", DIM),
            (after, BOLD if pair.changed else DIM),
        ]

    def action_scroll_by(self, delta: int) -> None:
        self.scroll_to(y=max(0, self.scroll_offset.y + delta), animate=False)
