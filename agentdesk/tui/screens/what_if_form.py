"""The what-if form: which policies, budgets, fallbacks or prompt to change before replaying.

Each field is one change; a blank field changes nothing. Retry, backoff, timeout and breaker
changes apply to every step, or to one step when ``step`` names it (a fallback chain always
needs a step). ``more`` takes any other ``key=value`` settings ``agentdesk replay --set``
takes, separated by spaces. Enter checks every change (``WhatIf.parse``) and closes the form
with them; a bad one is shown here, in the form's own words, and nothing runs. A change that
only the replay can judge (a step or model the pipeline lacks, a value its policy refuses)
reopens the form with the replay's reason. Escape cancels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from agentdesk.incidents.whatif import WhatIf, WhatIfError
from agentdesk.tui.safe import safe_text

WHERE = "what-if form"


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    key: str
    """The what-if key the field sets (``steps.<step>.`` is put in front when scoped)."""
    example: str
    per_step: bool = True


FIELDS = (
    Field("attempts", "retry attempts", "retry.max_attempts", "5"),
    Field("base", "backoff base", "retry.backoff.base", "1s"),
    Field("cap", "backoff cap", "retry.backoff.cap", "10s"),
    Field("timeout", "timeout", "timeout", "15s"),
    Field("failure_rate", "breaker fail rate", "breaker.failure_rate", "0.8"),
    Field("min_calls", "breaker min calls", "breaker.min_calls", "20"),
    Field("fallback", "fallback chain", "fallback", "gpt-4o,gpt-4.1-mini"),
    Field("tokens", "budget tokens", "budget.run.tokens", "2000", per_step=False),
    Field("usd", "budget $", "budget.run.usd", "0.02", per_step=False),
    Field("prompt", "prompt version", "prompt", "prompts/triage.user.md@2", per_step=False),
)


def settings_from(values: dict[str, str]) -> list[str]:
    """The form's fields as ``key=value`` settings (raises ``WhatIfError`` on a fallback
    chain without a step)."""
    step = values.get("step", "").strip()
    scope = f"steps.{step}." if step else ""
    settings = []
    for field in FIELDS:
        value = values.get(field.name, "").strip()
        if not value:
            continue
        if field.name == "fallback" and not step:
            raise WhatIfError(f"{WHERE}: a fallback chain belongs to one step: name it in step")
        settings.append(f"{scope if field.per_step else ''}{field.key}={value}")
    settings += values.get("more", "").split()
    return settings


class WhatIfForm(ModalScreen[WhatIf | None]):
    CSS_PATH = "what_if_form.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+r", "submit", "Replay", show=False),
    ]

    def __init__(self, title: str, values: dict[str, str] | None = None, error: str = "") -> None:
        super().__init__()
        self.incident_title = title
        self.values = dict(values or {})
        self.error = error
        """Why the last replay with these values failed (shown until the next try)."""

    def compose(self) -> ComposeResult:
        with Vertical(id="what-if-box"):
            yield Static(
                Text.assemble(("What if… ", "bold"), (safe_text(self.incident_title, 120), "")),
                id="what-if-title",
            )
            with Grid(id="what-if-fields"):
                yield from self._field("step", "step", "blank: every step")
                for field in FIELDS:
                    yield from self._field(field.name, field.label, field.example)
            yield Label("more", classes="what-if-label")
            yield Input(
                self.values.get("more", ""),
                placeholder="KEY=VALUE … (agentdesk replay --set keys)",
                id="what-if-more",
                compact=True,
            )
            yield Static(Text(safe_text(self.error, 300), "red"), id="what-if-error")
            yield Static(
                Text("enter: replay with these changes · tab: next field · escape: cancel", "dim")
            )

    def _field(self, name: str, label: str, example: str) -> ComposeResult:
        yield Label(label, classes="what-if-label")
        yield Input(
            self.values.get(name, ""), placeholder=example, id=f"what-if-{name}", compact=True
        )

    def on_mount(self) -> None:
        self.query_one("#what-if-attempts", Input).focus()

    def form_values(self) -> dict[str, str]:
        return {
            str(box.id).removeprefix("what-if-"): box.value
            for box in self.query(Input)
            if box.id is not None
        }

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def action_submit(self) -> None:
        values = self.form_values()
        try:
            changes = WhatIf.parse(settings_from(values), where=WHERE)
        except WhatIfError as exc:
            self.query_one("#what-if-error", Static).update(Text(safe_text(exc, 300), "red"))
            return
        if not changes.changes:
            self.query_one("#what-if-error", Static).update(
                Text("nothing to change: fill in at least one field", "yellow")
            )
            return
        self.values = values
        self.dismiss(changes)

    def action_cancel(self) -> None:
        self.dismiss(None)
