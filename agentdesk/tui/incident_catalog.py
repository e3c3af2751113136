"""Where the Incidents screen's incidents come from, and the what-if replays it asks for —
every call here blocks, so the screen makes them on worker threads, never on the UI thread.

Four sources, listed in this order:

- ``file``: incident bundles in the workspace's ``incidents/`` folder (``*.incident.jsonl``;
  the demo workspace ships four). Listed from their header line; read whole when opened. A
  ``NAME.whatif.yaml`` beside one is its documented fix, offered in the what-if form.
- ``saved``: incidents kept in the store (``agentdesk incidents save`` / ``import``).
- ``recorded``: runs recorded in the store that did not complete (a timeline only: an
  incident needs the tape, which ``agentdesk incidents save RUN`` keeps).
- ``session``: runs this control panel has seen (live or recorded), failed ones first, from
  the Live screen's model (a timeline only, too).

The store is read only when the app uses one (hot reload on); a store that cannot be opened
leaves the other sources listed and says why. No Textual here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from agentdesk.engine.events import AnyEvent
from agentdesk.errors import AgentdeskError
from agentdesk.tui.models.runs import RunRow

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from agentdesk.incidents.bundle import Bundle
    from agentdesk.incidents.whatif import WhatIf, WhatIfResult

Source = Literal["file", "saved", "recorded", "session"]
BUNDLE_SUFFIX = ".incident.jsonl"
WHAT_IF_SUFFIX = ".whatif.yaml"
RECORDED_RUNS = 30
SESSION_RUNS = 60


@dataclass(frozen=True)
class IncidentEntry:
    """One line of the incidents list. Every text field is untrusted (files, the store)."""

    source: Source
    ref: str
    """File path, incident id, ``BATCH/RUN``, or run id, depending on the source."""
    title: str
    pipeline: str = ""
    scenario: str = ""
    runs: int = 1
    failed: int = 0
    events: int = 0
    note: str = ""
    """Stop reasons, or why the entry cannot be opened."""

    @property
    def replayable(self) -> bool:
        """Only bundles (with their tape) replay; runs have a timeline only."""
        return self.source in ("file", "saved")


@dataclass(frozen=True)
class OpenIncident:
    entry: IncidentEntry
    events: tuple[AnyEvent, ...]
    bundle: Bundle | None = None
    suggested: tuple[str, ...] = ()
    """The documented what-if (``key=value`` settings), when the bundle has one."""
    cooldown: float = 30.0
    """The breaker cooldown the incident ran with (the board's time to the next probe)."""


SessionRuns = Callable[[], list[RunRow]]
SessionEvents = Callable[[str], list[AnyEvent]]


@dataclass
class IncidentCatalog:
    root: Path
    """The workspace (its ``incidents/`` folder, and its store)."""
    db: str | None = None
    use_store: bool = False
    session: SessionRuns = lambda: []
    """The runs the app holds (called on a worker thread: it must lock what it reads)."""
    session_events: SessionEvents = lambda run_id: []
    cooldown: float = 30.0
    """The workspace's breaker cooldown (for runs; a bundle carries its own)."""
    problem: str = ""
    """Why a source could not be read (shown under the list)."""
    _engine: Any = field(default=None, repr=False)

    # --- listing ------------------------------------------------------------------------------

    def entries(self) -> list[IncidentEntry]:
        self.problem = ""
        found = self._files()
        if self.use_store:
            found += self._stored()
        found += self._session()
        return found

    def _files(self) -> list[IncidentEntry]:
        folder = self.root / "incidents"
        entries = []
        for path in sorted(folder.glob(f"*{BUNDLE_SUFFIX}")):
            entries.append(_file_entry(path, path.relative_to(self.root).as_posix()))
        return entries

    def _stored(self) -> list[IncidentEntry]:
        from agentdesk.store.incidents import list_incidents
        from agentdesk.store.queries import list_runs

        try:
            engine = self.engine()
            saved = [_saved_entry(info) for info in list_incidents(engine)]
            runs = list_runs(engine, RECORDED_RUNS, failed=True)
        except (AgentdeskError, OSError) as exc:
            self.problem = f"the store cannot be read: {exc}"
            return []
        return saved + [_recorded_entry(run) for run in runs]

    def _session(self) -> list[IncidentEntry]:
        rows = [row for row in self.session() if row.status != "running"]
        rows.sort(key=lambda r: r.status == "ok")  # failed first, newest first within
        return [_session_entry(row) for row in rows[:SESSION_RUNS]]

    def engine(self) -> Engine:
        if self._engine is None:
            from agentdesk.store.database import locate, open_engine

            self._engine = open_engine(locate(self.root, self.db))
        engine: Engine = self._engine
        return engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # --- opening ------------------------------------------------------------------------------

    def open(self, entry: IncidentEntry) -> OpenIncident:
        """The entry's events (and bundle); raises ``AgentdeskError`` saying what is wrong."""
        if entry.source == "file":
            return self._open_file(entry)
        if entry.source == "saved":
            from agentdesk.store.incidents import load_incident

            return _bundle_incident(entry, load_incident(self.engine(), entry.ref))
        if entry.source == "recorded":
            from agentdesk.store.queries import find_run, run_events

            events, _ = run_events(self.engine(), find_run(self.engine(), entry.ref))
            return OpenIncident(entry, tuple(events), cooldown=self.cooldown)
        events = self.session_events(entry.ref)
        if not events:
            raise AgentdeskError(f"run {entry.ref} is no longer held (only recent runs are)")
        return OpenIncident(entry, tuple(events), cooldown=self.cooldown)

    def _open_file(self, entry: IncidentEntry) -> OpenIncident:
        from agentdesk.incidents.bundle import read_bundle

        path = self.root / entry.ref
        incident = _bundle_incident(entry, read_bundle(path, name=entry.ref))
        fix = path.with_name(path.name.removesuffix(BUNDLE_SUFFIX) + WHAT_IF_SUFFIX)
        if fix.is_file():
            from agentdesk.incidents.whatif import WhatIf

            try:
                suggested = WhatIf.from_file(fix)
            except AgentdeskError:
                return incident
            settings = tuple(f"{c['key']}={_value(c['value'])}" for c in suggested.to_json())
            incident = OpenIncident(
                entry, incident.events, incident.bundle, settings, incident.cooldown
            )
        return incident

    # --- what-if ------------------------------------------------------------------------------

    def what_if(self, incident: OpenIncident, changes: WhatIf) -> WhatIfResult:
        """Replay the incident's bundle with ``changes`` (seconds of work at most)."""
        from agentdesk.incidents.whatif import run_what_if
        from agentdesk.store.incidents import bundle_redactor, version_reader

        if incident.bundle is None:
            raise AgentdeskError(
                "a what-if replays an incident's tape: save the run as one first "
                f"(agentdesk incidents save {incident.entry.ref})"
            )
        resolve = None
        if self.use_store:
            try:
                resolve = version_reader(self.engine())
            except (AgentdeskError, OSError):
                resolve = None
        redactor = bundle_redactor(incident.bundle, os.environ)
        return run_what_if(incident.bundle, changes, redactor=redactor, resolve=resolve)


def _bundle_incident(entry: IncidentEntry, bundle: Bundle) -> OpenIncident:
    return OpenIncident(entry, tuple(bundle.decoded_events()), bundle, (), _cooldown(bundle))


def _cooldown(bundle: Bundle) -> float:
    """The breaker cooldown in the bundle's agentdesk.yaml (30 s, the default, if unread)."""
    import yaml

    try:
        spec = yaml.safe_load(bundle.files.get("agentdesk.yaml", b"")) or {}
        return float(spec["policies"]["breaker"]["cooldown"])
    except (yaml.YAMLError, KeyError, TypeError, ValueError):
        return 30.0


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value) if value else "[]"
    return "none" if value is None else str(value)


def _file_entry(path: Path, ref: str) -> IncidentEntry:
    """From the bundle's header line (the rest is read when it is opened)."""
    try:
        with path.open("rb") as handle:
            header = json.loads(handle.readline(1_000_000))
        counts = header.get("counts", {})
        return IncidentEntry(
            "file",
            ref,
            str(header.get("title") or path.name),
            _pipeline_name(str(header.get("pipeline", ""))),
            str(header.get("scenario", "")),
            runs=int(counts.get("runs", 0)),
            events=int(counts.get("events", 0)),
        )
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        return IncidentEntry("file", ref, path.name, note=f"unreadable: {exc}")


def _pipeline_name(path: str) -> str:
    return Path(path).stem if path else ""


def _saved_entry(info: Any) -> IncidentEntry:
    reasons = [r for r in info.stop_reasons if r and r != "completed"]
    return IncidentEntry(
        "saved",
        info.id,
        info.title,
        _pipeline_name(info.pipeline),
        info.scenario,
        info.runs,
        info.failed,
        info.events,
        ", ".join(sorted(set(reasons))),
    )


def _recorded_entry(run: Any) -> IncidentEntry:
    return IncidentEntry(
        "recorded",
        run.ref,
        f"{run.pipeline} session {run.session}: {run.stop_reason or run.status}",
        run.pipeline,
        run.scenario,
        1,
        int(run.status != "ok"),
        run.events,
    )


def _session_entry(row: RunRow) -> IncidentEntry:
    what = row.stop_reason if row.status != "ok" else "completed"
    return IncidentEntry(
        "session",
        row.run_id,
        f"{row.pipeline} session {row.session}: {what}",
        row.pipeline,
        "",
        1,
        int(row.status != "ok"),
        0,
    )
