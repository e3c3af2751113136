"""agentdesk's own commands in the command palette (ctrl+p)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from agentdesk.control import FAULTS

if TYPE_CHECKING:
    from agentdesk.tui.app import AgentdeskApp


class AgentdeskCommands(Provider):
    """Run pipeline, switch scenario, inject or clear a fault, open run, pause, pace."""

    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        app = cast("AgentdeskApp", self.app)
        commands: list[tuple[str, Callable[[], object], str]] = []
        for name in app.pipelines():
            commands.append((f"Run pipeline: {name}", partial(app.run_pipeline, name), ""))
        for name in app.control.scenarios():
            commands.append((f"Switch scenario: {name}", partial(app.switch_scenario, name), ""))
        for service in app.control.services:
            for preset in FAULTS:
                label = f"Inject fault: {preset.label} on {service}"
                commands.append((label, partial(app.inject, service, preset.key), ""))
        commands.append(("Clear all injected faults", partial(app.clear_faults, None), ""))
        commands.append(("Pause / resume", app.action_pause, "space"))
        for row in app.model.view().runs[:50]:
            label = f"Open run: session {row.session} ({row.status}) {row.run_id}"
            commands.append((label, partial(app.open_run, row.run_id), ""))
        return commands

    async def discover(self) -> Hits:
        for label, action, help_text in self._commands()[:12]:
            yield DiscoveryHit(label, action, help=help_text or None)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for label, action, help_text in self._commands():
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), action, help=help_text or None)
