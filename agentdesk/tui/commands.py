"""agentdesk's own commands in the command palette (ctrl+p)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from agentdesk.control import FAULTS
from agentdesk.tui.incident_catalog import IncidentEntry
from agentdesk.tui.safe import safe_text

if TYPE_CHECKING:
    from agentdesk.tui.app import AgentdeskApp

INCIDENTS_LISTED = 30


class AgentdeskCommands(Provider):
    """Run pipeline, switch scenario, inject or clear a fault, open run, pause, pace, and the
    artifacts: open the screen, roll a file back to its previous valid version, label one;
    open an incident (listed on a thread when the palette opens: files and the store)."""

    incidents: tuple[IncidentEntry, ...] = ()

    async def startup(self) -> None:
        from agentdesk.tui.screens.incidents import catalog_for

        catalog = catalog_for(cast("AgentdeskApp", self.app))
        try:
            self.incidents = tuple(await asyncio.to_thread(catalog.entries))
        finally:
            await asyncio.to_thread(catalog.close)

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
        commands.append(("Open artifacts", partial(app.action_show_mode, "artifacts"), "a"))
        commands.extend(_artifact_commands(app))
        commands.append(("Open incidents", partial(app.action_show_mode, "incidents"), "i"))
        for entry in self.incidents[:INCIDENTS_LISTED]:
            label = f"Open incident: {safe_text(entry.title, 100)}"
            commands.append((label, partial(open_incident, app, entry), ""))
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


def _artifact_commands(app: AgentdeskApp) -> list[tuple[str, Callable[[], object], str]]:
    """Per file with versions: roll back to the valid version before the active one, label the
    active one (both ask first; read from the snapshot in memory, never the store)."""
    if app.hot is None:
        return []
    commands: list[tuple[str, Callable[[], object], str]] = []
    for row in app.hot.snapshot.files:
        active = row.active_version
        if active is None:
            continue
        older = [v for v in row.versions if v.status == "valid" and v.number < active.number]
        path = safe_text(row.path, 80)
        if older:
            label = f"Roll back {path} to v{older[0].number} ({older[0].short})"
            commands.append((label, partial(app.confirm_rollback, older[0]), "r"))
        label = f"Label {path} v{active.number} (active)"
        commands.append((label, partial(app.ask_label, active), "t"))
    return commands


def open_incident(app: AgentdeskApp, entry: IncidentEntry) -> None:
    """Show the Incidents screen with ``entry`` open on its timeline."""
    from agentdesk.tui.screens.incidents import IncidentsScreen

    app.action_show_mode("incidents")

    def open_it() -> None:
        screen = app.screen
        if isinstance(screen, IncidentsScreen):
            screen.open_entry(entry)

    app.call_after_refresh(open_it)
