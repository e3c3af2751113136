"""Hot reload inside the TUI: the store, the artifact session, the watcher and the before/after
comparison — every one of them off the UI thread.

``HotReload`` does nothing when built. ``start`` (called once the first frame is painted)
starts one worker thread, which opens the workspace's store (``locate(root)``; when it cannot
be opened, hot reload still works, unrecorded, and the screen says why), scans the workspace
and starts the watcher. From then on every judged edit — from the watcher, or from activate /
roll back asked for on the Artifacts screen — reaches ``_on_outcome`` on the thread that made
it, inside the session's lock:

- an edit that moves the release of the pipeline the Live screen runs: the pipeline is loaded
  from the new active set and handed to the app (``Swap``), which swaps ``LiveControl`` to it;
  then a comparison of the previous active files against the new ones is queued (the newest
  edit wins: a comparison overtaken by another edit is skipped);
- any edit: a new ``ArtifactsSnapshot`` is built for the screen (coalesced).

The worker runs queued tasks one at a time, so the store is written by one thread besides the
watcher. No Textual here: the app turns the ``News`` it is told into messages, and tests drive
the session directly and wait with ``wait_idle``.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import tzinfo
from pathlib import Path
from typing import Any, Literal

from agentdesk.artifacts.compare import Comparison, SideCache, compare
from agentdesk.artifacts.files import artifact_files
from agentdesk.artifacts.session import ArtifactSession, Outcome
from agentdesk.artifacts.watch import Watcher
from agentdesk.errors import AgentdeskError, Problem
from agentdesk.spec.loader import LoadedPipeline, Workspace, load_pipeline, load_workspace
from agentdesk.spec.sources import OverlayFiles
from agentdesk.store.artifacts import Registry, Version
from agentdesk.store.database import locate, open_engine

log = logging.getLogger(__name__)

COMPARED_INPUTS = 8
"""How many of the live inputs a before/after comparison runs (both sides, one at a time)."""


@dataclass(frozen=True)
class LiveTarget:
    """What the Live screen runs, read when an edit lands: what to swap and to compare on."""

    pipeline: str
    scenario: str
    seed: int
    inputs: list[Any]


# --- what the screen shows --------------------------------------------------------------------


@dataclass(frozen=True)
class FileRow:
    """One artifact file: its versions (newest first) and which content is active."""

    path: str
    versions: tuple[Version, ...]
    active: str | None
    """The artifact id the session has active (None: nothing valid yet)."""
    problems: tuple[Problem, ...] = ()
    """Why its newest edit was rejected, until a valid edit replaces it."""

    def is_active(self, version: Version) -> bool:
        """The newest version holding the active content is the one shown as active."""
        holder = next((v for v in self.versions if v.artifact_id == self.active), None)
        return holder is not None and holder.id == version.id

    @property
    def active_version(self) -> Version | None:
        return next((v for v in self.versions if self.is_active(v)), None)


@dataclass(frozen=True)
class Effect:
    """The before/after of the last edit that changed the live pipeline's release."""

    pipeline: str
    path: str
    version: Version | None
    before_release: str
    after_release: str
    comparison: Comparison | None = None
    error: str = ""
    """Why the comparison could not run."""

    @property
    def running(self) -> bool:
        return self.comparison is None and not self.error


@dataclass(frozen=True)
class ArtifactsSnapshot:
    """Everything the Artifacts screen and the status lines show, at one moment."""

    ready: bool = False
    """False until the first scan is done."""
    files: tuple[FileRow, ...] = ()
    store: str = "opening the store…"
    """Where versions are recorded, or why they are not."""
    recording: bool = False
    effect: Effect | None = None

    @property
    def problems(self) -> tuple[Problem, ...]:
        return tuple(p for row in self.files for p in row.problems)

    def row(self, path: str) -> FileRow | None:
        return next((r for r in self.files if r.path == path), None)


# --- what the app is told ---------------------------------------------------------------------


@dataclass(frozen=True)
class Changed:
    """A new snapshot is ready."""


@dataclass(frozen=True)
class Swap:
    """The live pipeline has a new release: run new sessions on it."""

    workspace: Workspace
    pipeline: LoadedPipeline
    outcome: Outcome | None


@dataclass(frozen=True)
class Judged:
    """An edit was judged (activated or rejected)."""

    outcome: Outcome


@dataclass(frozen=True)
class Notice:
    """Something to tell the user once (an action done, or why it could not be)."""

    text: str
    severity: Literal["information", "warning", "error"] = "information"


News = Changed | Swap | Judged | Notice


@dataclass
class HotReload:
    """Hot reload for one workspace, driven by the app (see the module docstring)."""

    root: Path
    live: Callable[[], LiveTarget | None] = lambda: None
    """What the Live screen runs now (None: nothing to swap or compare)."""
    db: str | None = None
    """Where the store is (``--db``); None: the workspace's default store."""
    watch: bool = True
    timezone: tzinfo | None = None
    """Times are shown in this zone (None: the local one); the screenshots pin UTC."""
    emit: Callable[[News], None] = lambda news: None
    """How the app hears news; called from worker threads."""
    session: ArtifactSession | None = None
    registry: Registry | None = None
    snapshot: ArtifactsSnapshot = field(default_factory=ArtifactsSnapshot)
    _tasks: queue.Queue[Callable[[], None] | None] = field(default_factory=queue.Queue)
    _worker: threading.Thread | None = None
    _watcher: Watcher | None = None
    _files: OverlayFiles | None = None
    """The active set as of the last activation: the "before" of the next comparison."""
    _comparisons: int = 0
    _refresh_queued: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _cache: SideCache = field(default_factory=SideCache)
    _engine: Any = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker (which opens the store, scans, then watches); returns at once."""
        if self._worker is not None:
            return
        if self.session is None:
            self.submit(self.open)
        if self.watch:
            self.submit(self._start_watching)
        self._worker = threading.Thread(target=self._work, name="agentdesk-reload", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
        if self._worker is not None:
            self._tasks.put(None)
            self._worker.join(5.0)
        if self._engine is not None:
            self._engine.dispose()

    def open(self) -> None:
        """Open the store, scan the workspace, listen to the session (blocking)."""
        store = self._open_store()
        session = ArtifactSession(self.root, self.registry)
        try:
            session.scan()
        except AgentdeskError as exc:  # the store failed under the scan: go on unrecorded
            self.registry = None
            store = f"versions are not recorded: {exc}"
            session = ArtifactSession(self.root, None)
            session.scan()
        self._files = session.files()
        session.listeners.append(self._on_outcome)
        self.session = session
        self.snapshot = replace(self.snapshot, store=store, recording=self.registry is not None)
        self._check_live(session)
        self._refresh()

    def _open_store(self) -> str:
        try:
            location = locate(self.root, self.db)
            self._engine = open_engine(location)
        except (AgentdeskError, OSError) as exc:
            return f"versions are not recorded: {exc}"
        self.registry = Registry(self._engine)
        where = location.describe()
        with contextlib.suppress(ValueError):  # inside the workspace: say it short
            where = Path(where).resolve().relative_to(self.root.resolve()).as_posix()
        note = f" ({location.note})" if location.note else ""
        return f"versions recorded in {where}{note}"

    def _start_watching(self) -> None:
        if self.session is None:
            return
        self._watcher = Watcher(self.session, on_error=self._watch_failed)
        self._watcher.start()

    def _watch_failed(self, exc: BaseException) -> None:
        self.emit(Notice(f"hot reload: {exc}", "error"))

    # --- the worker -------------------------------------------------------------------------

    def submit(self, task: Callable[[], None]) -> None:
        self._tasks.put(task)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until every queued task (and what it queued) is done; False on timeout."""
        done = self._tasks.all_tasks_done
        with done:
            return done.wait_for(lambda: not self._tasks.unfinished_tasks, timeout)

    def run_pending(self) -> None:
        """Run the queued tasks now and wait for them (screenshots, before ``start``); on a
        thread of their own, since a comparison runs its own event loop and the caller may
        be inside one."""
        drain = threading.Thread(target=self._drain, name="agentdesk-reload-now")
        drain.start()
        drain.join()

    def _drain(self) -> None:
        while True:
            try:
                task = self._tasks.get_nowait()
            except queue.Empty:
                return
            self._run(task)

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            if task is None:
                self._tasks.task_done()
                return
            self._run(task)

    def _run(self, task: Callable[[], None] | None) -> None:
        try:
            if task is not None:
                task()
        except Exception as exc:  # the worker outlives any one task
            log.exception("hot reload task failed")
            self.emit(Notice(f"hot reload: {type(exc).__name__}: {exc}", "error"))
        finally:
            self._tasks.task_done()

    # --- what the screen asks for -------------------------------------------------------------

    def activate(self, version: Version) -> None:
        self.submit(lambda: self._act("activate", version))

    def rollback(self, version: Version) -> None:
        self.submit(lambda: self._act("rollback", version))

    def label(self, version: Version, name: str) -> None:
        def run() -> None:
            if self.registry is None:
                raise AgentdeskError("labels need the store")
            self.registry.set_label(name, version)
            self.emit(Notice(f"{version.ref} labelled {name}"))
            self._refresh()

        self.submit(lambda: self._reported(run))

    def unlabel(self, version: Version, name: str) -> None:
        def run() -> None:
            if self.registry is None:
                raise AgentdeskError("labels need the store")
            if self.registry.remove_label(name, version.path):
                self.emit(Notice(f"label {name} removed from {version.path}"))
            else:
                self.emit(Notice(f"{version.path} has no label {name}", "warning"))
            self._refresh()

        self.submit(lambda: self._reported(run))

    def content(self, version: Version) -> bytes:
        """A version's content (called from a worker thread of the screen)."""
        if self.registry is None:
            raise AgentdeskError("versions are not recorded")
        return self.registry.content(version)

    def _act(self, what: str, version: Version) -> None:
        def run() -> None:
            session = self.session
            if session is None:
                raise AgentdeskError("hot reload is still starting")
            done = session.activate(version) if what == "activate" else session.rollback(version)
            if done.status == "rejected":
                raise AgentdeskError(f"{version.ref} does not load now: {_first(done.problems)}")
            verb = "active" if what == "activate" else "rolled back (file rewritten)"
            self.emit(Notice(f"{version.ref} ({version.short}) {verb}"))

        self._reported(run)

    def _reported(self, action: Callable[[], None]) -> None:
        try:
            action()
        except AgentdeskError as exc:
            self.emit(Notice(str(exc), "error"))

    # --- edits ------------------------------------------------------------------------------

    def _on_outcome(self, outcome: Outcome) -> None:
        """Called by the session (inside its lock) on the thread that judged the edit."""
        if outcome.status == "unchanged":
            return
        if outcome.status == "activated" and self.session is not None:
            before, self._files = self._files, self.session.files()
            target = self.live()
            if target is not None and target.pipeline in outcome.releases and before is not None:
                self._swap(target, outcome, before, self._files)
        if outcome.status in ("activated", "rejected"):
            self.emit(Judged(outcome))
        self._queue_refresh()

    def _swap(
        self, target: LiveTarget, outcome: Outcome, before: OverlayFiles, after: OverlayFiles
    ) -> None:
        try:
            workspace = load_workspace(self.root, strict=False, files=after)
            loaded = load_pipeline(workspace, target.pipeline)
        except AgentdeskError as exc:
            self.emit(Notice(f"{target.pipeline} not reloaded: {exc}", "error"))
            return
        self.emit(Swap(workspace, loaded, outcome))
        old, new = outcome.releases[target.pipeline]
        effect = Effect(target.pipeline, outcome.path, outcome.version, old, new)
        with self._lock:
            self._comparisons += 1
            number = self._comparisons
            self.snapshot = replace(self.snapshot, effect=effect)
        self.submit(lambda: self._compare(number, effect, target, before, after))

    def _check_live(self, session: ArtifactSession) -> None:
        """After the scan: if the active set differs from what the Live screen started on
        (a file on disk was rejected and an earlier valid version stands in), swap to it."""
        target = self.live()
        if target is None or self._files is None:
            return
        release = session.release(target.pipeline)
        if release:
            workspace = load_workspace(self.root, strict=False, files=self._files)
            loaded = load_pipeline(workspace, target.pipeline)
            self.emit(Swap(workspace, loaded, None))

    def _compare(
        self,
        number: int,
        effect: Effect,
        target: LiveTarget,
        before: OverlayFiles,
        after: OverlayFiles,
    ) -> None:
        if number != self._comparisons:
            return  # a newer edit has its own comparison queued
        try:
            found = compare(
                self.root,
                before,
                after,
                target.pipeline,
                scenario=target.scenario,
                seed=target.seed,
                inputs=target.inputs[:COMPARED_INPUTS],
                cache=self._cache,
            )
            done = replace(effect, comparison=found)
        except AgentdeskError as exc:
            done = replace(effect, error=str(exc))
        with self._lock:
            if number == self._comparisons:
                self.snapshot = replace(self.snapshot, effect=done)
        self.emit(Changed())

    # --- snapshots ----------------------------------------------------------------------------

    def _queue_refresh(self) -> None:
        with self._lock:
            if self._refresh_queued:
                return
            self._refresh_queued = True
        self.submit(self._refresh)

    def _refresh(self) -> None:
        with self._lock:
            self._refresh_queued = False
        session = self.session
        if session is None:
            return
        paths = set(artifact_files(self.root))
        histories: dict[str, tuple[Version, ...]] = {}
        if self.registry is not None:
            for history in self.registry.files():
                paths.add(history.path)
            histories = {path: tuple(self.registry.history(path)) for path in paths}
        problems = dict(session.problems)
        rows = tuple(
            FileRow(path, histories.get(path, ()), session.active_id(path), problems.get(path, ()))
            for path in sorted(paths, key=_file_order)
        )
        with self._lock:
            self.snapshot = replace(self.snapshot, ready=True, files=rows)
        self.emit(Changed())


def _file_order(path: str) -> tuple[int, str]:
    """agentdesk.yaml, pipelines and prompts first: what a developer edits most."""
    folders = ("agentdesk.yaml", "pipelines", "prompts", "schemas", "scenarios", "golden")
    top = path.split("/", 1)[0]
    return (folders.index(top) if top in folders else len(folders), path)


def _first(problems: tuple[Problem, ...]) -> str:
    return str(problems[0]) if problems else "it has problems"


def last_valid_files(root: Path, db: str | None = None) -> OverlayFiles | None:
    """The workspace with each file at its newest valid stored version where the disk's does
    not validate: what the TUI starts on when a file is broken on disk (the broken edit is then
    shown as rejected, like any other). None when there is no store to ask."""
    try:
        engine = open_engine(locate(root, db))
    except (AgentdeskError, OSError):
        return None
    try:
        session = ArtifactSession(root, Registry(engine))
        session.scan()
        return session.files()
    except AgentdeskError:
        return None
    finally:
        engine.dispose()
