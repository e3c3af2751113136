"""The help screen: every key, grouped by where it works."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Everywhere",
        (
            ("l / c / a", "Live screen / Chaos screen / Artifacts screen"),
            ("i", "Incidents screen: scrub an incident, replay it with changes"),
            ("e", "Evals screen: stored eval results, gates, trend per release"),
            ("space", "pause or resume simulated time"),
            ("] / [", "faster / slower: 1×, 5×, 20×, max"),
            (
                "ctrl+p",
                "command palette: run pipeline, switch scenario, inject fault, open run, "
                "open artifacts, roll back, label",
            ),
            ("? / f1", "this help"),
            ("q", "quit"),
        ),
    ),
    (
        "Live",
        (
            ("↑ ↓ / j k", "move in the runs list (the trace follows the cursor)"),
            ("home / g", "follow the newest finished run again"),
            ("tab", "next panel (runs, trace)"),
            ("mouse", "click a run; scroll the trace with the wheel"),
        ),
    ),
    (
        "Chaos",
        (
            ("↑ ↓ / j k", "choose a service"),
            (
                "1 … 6",
                "inject: 503 storm, 429 burst, latency spike, malformed JSON, schema drift, hang",
            ),
            ("0", "clear the service's injected faults"),
            ("x", "clear every injected fault"),
            ("s", "switch scenario"),
        ),
    ),
    (
        "Artifacts",
        (
            ("↑ ↓ / j k", "pick a version; the diff shows it against the version before it"),
            ("m", "mark a version; then the diff shows the marked one against the one picked"),
            ("d", "diff the picked version against the active one"),
            ("enter / A", "activate the picked version (used live; the file is not touched)"),
            ("r", "roll back: write the picked version to its file (asks first)"),
            ("t", "label the picked version (production, candidate…)"),
            ("u", "remove a label from the picked version"),
            ("tab", "next panel (versions, diff, effect of the last change)"),
            ("", "saving a file in your editor makes a new version at once; a broken one"),
            ("", "is shown in red on every screen until fixed, and never runs"),
        ),
    ),
    (
        "Evals",
        (
            ("↑ ↓ / tab", "pick a scenario, then a case (failing cases first)"),
            ("enter", "open the highlighted case's recorded run: its trace"),
            ("f", "failing cases only / every case"),
            ("n / p", "older / newer stored eval"),
            ("r", "read the store again"),
        ),
    ),
    (
        "Incidents",
        (
            ("↑ ↓ / enter", "pick an incident and open it (escape: back to the list)"),
            ("← → / home end", "the timeline's cursor: one event back or on; start, end"),
            ("[ ] / shift+← →", "the previous / next step start"),
            ("e", "the first error; again: the next error"),
            ("b / B", "the next / previous breaker transition"),
            ("x", "where a budget was exhausted; again: the next time"),
            ("w", "what-if: replay with changed retries, timeouts, breaker, fallbacks, budget"),
            ("", "or prompt version; the result opens side by side (g: to the divergence,"),
            ("", "t: scrub the replay). Trace, breakers, budgets and totals follow the cursor."),
        ),
    ),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,f1", "dismiss", "Close")
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Static(_keys_table(), id="help-keys")

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)


def _keys_table() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(justify="right", style="bold cyan")
    table.add_column()
    for group, keys in KEYS:
        table.add_row(Text(group, style="bold underline"), "")
        for key, what in keys:
            table.add_row(key, what)
        table.add_row("", "")
    table.add_row("", Text("Escape closes this screen.", style="dim"))
    return table
