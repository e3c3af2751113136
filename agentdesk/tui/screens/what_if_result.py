"""A what-if's result, side by side: the incident as recorded beside its replay with changes.

Outcome, stop reasons, cost, tokens, latency, attempts, retries, breaker trips and fallbacks
(``WhatIfResult.rows``); for the measures where less is better, ▼ is green and ▲ red. Then
where the two runs first part: the recorded and the replayed event at that index. ``g`` puts
the timeline's cursor there; ``t`` opens the replay itself as a timeline to scrub.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from agentdesk.incidents.whatif import DiffRow, WhatIfResult
from agentdesk.tui.safe import safe_text

LESS_IS_BETTER = frozenset(
    {"cost", "tokens", "latency p50", "latency max", "attempts", "retries", "breaker trips"}
)
_NUMBER = re.compile(r"-?[\d,]*\.?\d+")


class WhatIfComparison(ModalScreen[str | None]):
    """Dismissed with ``divergence`` (go there), ``replay`` (scrub the replay) or None."""

    CSS_PATH = "what_if_result.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("g", "answer('divergence')", "Go to divergence"),
        Binding("t", "answer('replay')", "Scrub the replay"),
        Binding("escape,q", "answer(None)", "Close"),
    ]

    def __init__(self, title: str, result: WhatIfResult) -> None:
        super().__init__()
        self.incident_title = title
        self.result = result

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="comparison-box"):
            yield Static(self._header(), id="comparison-head")
            yield Static(comparison_table(self.result.rows()), id="comparison-table")
            yield Static(self._divergence(), id="comparison-divergence")
        yield Footer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "answer" and parameters and parameters[0] == "divergence":
            return self.result.divergence is not None
        return True

    def _header(self) -> Text:
        result = self.result
        text = Text.assemble(
            ("What if · ", "bold"), (safe_text(self.incident_title, 120), "bold"), "\n"
        )
        for change in result.changes.describe():
            text.append("  ~ ", "cyan").append(safe_text(change, 120)).append("\n")
        text.append(
            f"tape answered {result.tape_answered} call(s); the recorded scenario's sims "
            f"answered {result.sims_answered} the tape could not",
            "dim",
        )
        return text

    def _divergence(self) -> Text:
        divergence = self.result.divergence
        if divergence is None:
            return Text("The replay produced exactly the recorded events.", "green")
        text = Text.assemble(
            ("first divergence at event ", "bold"), (f"#{divergence.index + 1:,}", "bold cyan")
        )
        recorded, replayed = _json(divergence.recorded), _json(divergence.replayed)
        text.append("\n  recorded  ", "dim").append(event_line(recorded))
        text.append("\n  replayed  ", "dim").append(event_line(replayed))
        differs = differing_fields(recorded, replayed)
        if differs:
            text.append("\n  differs   ", "dim").append(safe_text(differs, 300), "yellow")
        text.append("\ng: put the timeline there · t: scrub the replay · escape: close", "dim")
        return text

    def action_answer(self, answer: str | None) -> None:
        self.dismiss(answer)


def comparison_table(rows: list[DiffRow]) -> Table:
    table = Table(box=None, padding=(0, 2), show_edge=False)
    table.add_column("", style="dim")
    table.add_column("recorded", overflow="fold")
    table.add_column("what-if", overflow="fold")
    table.add_column("")
    for row in rows:
        style = "bold" if row.differs else "dim"
        table.add_row(
            row.label,
            Text(safe_text(row.original, 200), style),
            Text(safe_text(row.changed, 200), style),
            change_mark(row),
        )
    return table


def change_mark(row: DiffRow) -> Text:
    if not row.differs:
        return Text("=", "dim")
    if row.label in LESS_IS_BETTER:
        before, after = _number(row.original), _number(row.changed)
        if before is not None and after is not None:
            return Text("▼", "green") if after < before else Text("▲", "red")
    return Text("≠", "yellow")


def _number(text: str) -> float | None:
    found = _NUMBER.search(text)
    return float(found.group().replace(",", "")) if found else None


def _json(raw: bytes | None) -> Any:
    """An event's recorded JSON, decoded (None when the log ended; the text when unreadable)."""
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def event_line(data: Any) -> Text:
    """One event in a line: type, step or breaker, time, what happened."""
    if data is None:
        return Text("(the log ends here)", "dim")
    if not isinstance(data, dict):
        return Text(safe_text(data, 200))
    parts = [str(data.get("type", "?"))]
    for key in ("step", "breaker", "attempt", "outcome", "status", "to_state", "error_kind"):
        if data.get(key) not in (None, ""):
            parts.append(f"{key}={data[key]}")
    if isinstance(data.get("t"), int | float):
        parts.append(f"t={data['t']:.3f}s")
    return Text(safe_text(" ".join(parts), 200))


def differing_fields(recorded: Any, replayed: Any) -> str:
    """``key: recorded → replayed`` for each field the two events disagree on."""
    if not isinstance(recorded, dict) or not isinstance(replayed, dict):
        return ""
    keys = [k for k in {**recorded, **replayed} if recorded.get(k) != replayed.get(k)]
    return "; ".join(f"{k}: {_short(recorded.get(k))} → {_short(replayed.get(k))}" for k in keys)


def _short(value: Any) -> str:
    return safe_text(value if isinstance(value, str) else json.dumps(value, default=str), 60)
