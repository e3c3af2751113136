"""The Artifacts screen: every prompt and config with its versions, a diff between any two,
activate / roll back / label from the keyboard, and the effect of the last change.

The screen only shows what ``HotReload`` hands it (an ``ArtifactsSnapshot``) and asks it to
act; it never touches the store on the UI thread: a diff's two contents are read and diffed
in a thread worker, the newest request wins.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import get_current_worker

from agentdesk.control import ControlState
from agentdesk.errors import AgentdeskError
from agentdesk.store.artifacts import LATEST, Version
from agentdesk.tui.hot_reload import ArtifactsSnapshot, Effect, FileRow
from agentdesk.tui.models.diff import DiffLine, unified
from agentdesk.tui.models.live import LiveView
from agentdesk.tui.safe import safe_text
from agentdesk.tui.screens.label_input import LabelInput
from agentdesk.tui.screens.live import show_status
from agentdesk.tui.widgets.diff_view import DiffView
from agentdesk.tui.widgets.effect_panel import EffectPanel
from agentdesk.tui.widgets.status_line import StatusLine
from agentdesk.tui.widgets.version_list import VersionList

if TYPE_CHECKING:
    from agentdesk.tui.app import AgentdeskApp

VERSIONS_TITLE = "versions · ↑↓ pick · ▶ active · * marked"


class ArtifactsScreen(Screen[None]):
    CSS_PATH = "artifacts.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "diff_active", "Diff active"),
        Binding("m", "mark", "Mark"),
        Binding("enter,A", "activate", "Activate"),
        Binding("r", "rollback", "Rollback"),
        Binding("t", "label", "Label"),
        Binding("u", "unlabel", "Unlabel"),
        Binding("escape", "app.show_mode('live')", "Live", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.snapshot = ArtifactsSnapshot()
        self.diffed: tuple[Version | None, Version | None] = (None, None)
        """The two versions the diff view shows (old, new)."""

    @property
    def desk(self) -> AgentdeskApp:
        return cast("AgentdeskApp", self.app)

    def compose(self) -> ComposeResult:
        yield StatusLine()
        with Horizontal(id="artifacts-body"):
            versions = VersionList(id="versions")
            versions.border_title = VERSIONS_TITLE
            yield versions
            with Vertical(id="artifacts-right"):
                diff = DiffView(id="diff")
                diff.border_title = "diff"
                yield diff
                effect = EffectPanel(id="effect")
                effect.border_title = "effect of the last change on the live pipeline"
                yield effect
        yield Footer()

    def on_mount(self) -> None:
        hot = self.desk.hot
        self.query_one(VersionList).timezone = hot.timezone if hot else None
        self.query_one(VersionList).focus()

    # --- attributes down ----------------------------------------------------------------------

    def show(self, view: LiveView, state: ControlState, live: bool) -> None:
        show_status(self.query_one(StatusLine), view, state, live)

    def show_artifacts(self, snapshot: ArtifactsSnapshot) -> None:
        self.snapshot = snapshot
        versions = self.query_one(VersionList)
        versions.border_subtitle = safe_text(snapshot.store, 200)
        if not snapshot.ready:
            versions.border_title = "versions · scanning the workspace…"
        else:
            versions.border_title = VERSIONS_TITLE
        first = snapshot.ready and not versions.entries
        versions.update_files(snapshot.files)
        newest = _newest(snapshot)
        if first and newest is not None and newest.number > 1:  # where the last edit was
            versions.select(newest.path, newest.number)
        self.query_one(EffectPanel).show(snapshot.effect, _effect_label(snapshot.effect))

    # --- messages up --------------------------------------------------------------------------

    def on_version_list_highlighted(self, message: VersionList.Highlighted) -> None:
        if message.version is not None:
            self._diff_default(message.version)

    # --- keys ---------------------------------------------------------------------------------

    def action_mark(self) -> None:
        versions = self.query_one(VersionList)
        versions.toggle_mark()
        if versions.version is not None:
            self._diff_default(versions.version)

    def action_diff_active(self) -> None:
        version, row = self._selected()
        if version is None or row is None:
            return
        active = row.active_version
        if active is None:
            self.notify(f"{row.path} has no active version recorded", severity="warning")
            return
        if active.id == version.id:
            self.notify(f"v{version.number} is the active version", timeout=2)
            return
        self._diff(version, active)

    def action_activate(self) -> None:
        version, row = self._selected()
        hot = self.desk.hot
        if version is None or row is None or hot is None:
            return
        if version.status != "valid":
            self.notify(_rejected(version), title="not activated", severity="error")
            return
        if row.is_active(version):
            self.notify(f"{version.ref} is already active", timeout=2)
            return
        hot.activate(version)

    def action_rollback(self) -> None:
        version, row = self._selected()
        if version is None or row is None:
            return
        self.desk.confirm_rollback(version)

    def action_label(self) -> None:
        version, _ = self._selected()
        if version is not None:
            self.desk.ask_label(version)

    def action_unlabel(self) -> None:
        version, _ = self._selected()
        hot = self.desk.hot
        if version is None or hot is None:
            return
        names = [name for name in version.labels if name != LATEST]
        if not names:
            self.notify(f"{version.ref} has no label to remove", timeout=2, markup=False)
            return
        question = Text.assemble(
            "Remove which label from ",
            (safe_text(version.ref, 80), "bold"),
            f"? ({safe_text(', '.join(names), 200)})",
        )

        def answered(name: str | None) -> None:
            if name:
                hot.unlabel(version, name)

        self.app.push_screen(LabelInput(question, value=names[0]), answered)

    # --- inside -------------------------------------------------------------------------------

    def _selected(self) -> tuple[Version | None, FileRow | None]:
        versions = self.query_one(VersionList)
        if versions.version is None:
            self.notify("no version selected (versions are recorded in the store)", timeout=2)
        return versions.version, versions.file

    def _diff_default(self, version: Version) -> None:
        """The marked version against this one; else this version against its parent."""
        marked = self.query_one(VersionList).marked
        if marked is not None and marked.id != version.id:
            self._diff(marked, version)
            return
        row = self.snapshot.row(version.path)
        parent = None
        if row is not None:
            parent = next((v for v in row.versions if v.id == version.parent_id), None)
        self._diff(parent, version)

    def _diff(self, old: Version | None, new: Version) -> None:
        self.diffed = (old, new)
        row = self.snapshot.row(new.path)
        view = self.query_one(DiffView)
        view.border_title = safe_text(_diff_title(old, new, row), 200)
        self.run_worker(
            partial(self._diff_worker, old, new), thread=True, exclusive=True, group="diff"
        )

    def _diff_worker(self, old: Version | None, new: Version) -> None:
        hot = self.desk.hot
        try:
            if hot is None:
                raise AgentdeskError("hot reload is off")
            before = hot.content(old) if old is not None else b""
            after = hot.content(new)
            lines = unified(before, after, _name(old), _name(new))
        except AgentdeskError as exc:
            lines = [DiffLine("error", safe_text(exc, 300))]
        if new.status != "valid":
            errors = [DiffLine("error", safe_text(e, 300)) for e in new.error.splitlines()]
            lines = [DiffLine("error", "✗ rejected, never active:"), *errors, *lines]
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.query_one(DiffView).show, lines)


def _newest(snapshot: ArtifactsSnapshot) -> Version | None:
    recorded = [v for row in snapshot.files for v in row.versions]
    return max(recorded, key=lambda v: (v.created, v.id), default=None)


def _name(version: Version | None) -> str:
    return "(nothing)" if version is None else f"{version.path}@{version.number}"


def _diff_title(old: Version | None, new: Version, row: FileRow | None) -> str:
    def tag(version: Version | None) -> str:
        if version is None:
            return "∅"
        active = " (active)" if row is not None and row.is_active(version) else ""
        return f"v{version.number}{active}"

    return f"diff · {new.path} {tag(old)} → {tag(new)}"


def _effect_label(effect: Effect | None) -> str:
    if effect is None:
        return ""
    if effect.version is None:
        return f"{effect.path} activated"
    return f"{effect.path} v{effect.version.number} ({effect.version.short})"


def _rejected(version: Version) -> str:
    first = version.error.splitlines()[0] if version.error else "it has problems"
    return f"{version.ref} was rejected: {first}"


def rollback_question(version: Version) -> Text:
    return Text.assemble(
        "Roll back ",
        (safe_text(version.path, 80), "bold"),
        f" to v{version.number} ({version.short})?\n",
        ("This rewrites the file on disk with that version's content.", "dim"),
    )
