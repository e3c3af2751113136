"""The active version of every workspace file, and what an edit does to it.

``ArtifactSession`` holds, for each artifact file, the content that is *active*: what
pipelines are loaded from. On disk a file may hold something else — an edit that does not
validate, a half-written save, nothing at all for a moment while an editor swaps files —
and none of that ever replaces the active content. Loading goes through an
``OverlayFiles``: active files from memory, everything else from disk.

An edit (``apply``) is judged by what it does to the pipelines that read the file: they are
loaded with the candidate in place of the active content, and the edit is **activated** when
that introduces no new problem, **rejected** otherwise (the problems are kept, and shown,
until a later edit fixes them). Either way the content is recorded in the registry as a
version, marked ``valid`` or ``rejected``. A deleted file keeps its active content (editors
delete and recreate); a save that changes nothing is ``unchanged``.

What a file affects: ``agentdesk.yaml`` every pipeline; a pipeline file itself; a prompt or
schema the pipelines whose last load read it (a file no pipeline reads yet is checked on its
own: a prompt compiles, a schema is a valid JSON Schema); a scenario its own validation.
Pipelines are reloaded with one shared template engine, so only what changed is compiled.

Thread-safe: the watcher thread applies edits while the UI may activate or roll back.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from agentdesk.artifacts.files import WORKSPACE_FILE, artifact_files
from agentdesk.errors import AgentdeskError, Problem, RunError, SpecError
from agentdesk.spec.loader import (
    LoadedPipeline,
    Workspace,
    check_file,
    load_pipeline,
    load_scenario,
    load_workspace,
)
from agentdesk.spec.secrets import is_secret_problem
from agentdesk.spec.sources import OverlayFiles, artifact_id, normalize
from agentdesk.spec.templates import TemplateEngine
from agentdesk.store.artifacts import Registry, Version, kind_of

Status = Literal["activated", "rejected", "unchanged", "deleted"]


@dataclass(frozen=True)
class Outcome:
    """What one edit of one file did."""

    path: str
    status: Status
    version: Version | None = None
    """The version recorded for the edit (None when nothing was recorded)."""
    problems: tuple[Problem, ...] = ()
    """Why it was rejected (rejected), or what is still wrong elsewhere (activated)."""
    active: str | None = None
    """The artifact id active for this path afterwards."""
    releases: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Pipelines whose release changed: name → (release before, release after)."""
    seconds: float = 0.0
    """How long validating and recording took."""

    @property
    def short(self) -> str:
        return (self.active or "")[:8]


Listener = Callable[[Outcome], None]


class ArtifactSession:
    """The active set of one workspace (see the module docstring)."""

    def __init__(self, root: Path, registry: Registry | None = None) -> None:
        self.root = root.resolve()
        self.registry = registry
        self.templates = TemplateEngine()
        self.problems: dict[str, tuple[Problem, ...]] = {}
        """Per file: the problems of its rejected edit, shown until a valid edit replaces it."""
        self.listeners: list[Listener] = []
        self._active: dict[str, bytes] = {}
        self._readers: dict[str, set[str]] = {}
        """path → the pipelines whose last load read it."""
        self._releases: dict[str, str] = {}
        self._baseline: dict[str, frozenset[Problem]] = {}
        """pipeline → its problems with the active set (empty when it loads)."""
        self._candidates: dict[str, LoadedPipeline] = {}
        """Pipelines loaded while judging an edit, kept for when it is activated."""
        self._workspace_of: tuple[bytes, Workspace] | None = None
        """The last agentdesk.yaml content loaded, and what it loaded to."""
        self._lock = threading.RLock()

    # --- the active set ----------------------------------------------------------------------

    def files(self) -> OverlayFiles:
        """The workspace as loading should see it: active content first, then the disk."""
        with self._lock:
            return OverlayFiles(self.root, dict(self._active))

    def active_id(self, path: str) -> str | None:
        with self._lock:
            content = self._active.get(path)
        return None if content is None else artifact_id(content)

    def release(self, pipeline: str) -> str | None:
        with self._lock:
            return self._releases.get(pipeline)

    def readers(self, path: str) -> list[str]:
        """The pipelines whose last load read ``path``."""
        with self._lock:
            return sorted(self._readers.get(path, ()))

    def load(self, pipeline: str) -> LoadedPipeline:
        """The pipeline as the active set has it."""
        with self._lock:
            return self._load(pipeline, self.files())

    def pipelines(self) -> list[str]:
        names = {p.stem for p in (self.root / "pipelines").glob("*.y*ml")}
        with self._lock:
            names |= {Path(p).stem for p in self._active if kind_of(p) == "pipeline"}
        return sorted(names)

    # --- edits ---------------------------------------------------------------------------

    def scan(self) -> list[Outcome]:
        """Take the workspace as it is on disk: every artifact file judged and recorded.

        Every pipeline and scenario is loaded from disk; a file that a problem names is
        rejected, and its newest valid version in the registry (from an earlier session),
        if there is one, is what stays active. The others become active as they are."""
        with self._lock:
            started = time.perf_counter()
            disk = OverlayFiles(self.root, {})
            blamed: dict[str, list[Problem]] = {}
            for problem in self._everything_problems(disk):
                blamed.setdefault(problem.file, []).append(problem)
            outcomes = [
                self._take(path, blamed.get(path, [])) for path in artifact_files(self.root)
            ]
            files = self.files()
            for name in self.pipelines():
                self._baseline[name] = frozenset(self._problems_of(name, files))
                if not self._baseline[name]:
                    self._load(name, files)
            seconds = time.perf_counter() - started
            return [self._emit(replace(o, seconds=seconds)) for o in outcomes]

    def _everything_problems(self, files: OverlayFiles) -> list[Problem]:
        found: set[Problem] = set()
        for name in self.pipelines():
            found.update(self._problems_of(name, files))
        for scenario in sorted((self.root / "scenarios").glob("*.y*ml")):
            path = scenario.relative_to(self.root).as_posix()
            found.update(self._scenario_problems(path, files))
        return sorted(found)

    def _take(self, path: str, problems: list[Problem]) -> Outcome:
        """One file as the scan found it."""
        try:
            content = normalize((self.root / path).read_bytes())
        except OSError as exc:
            problems = [Problem(path, 0, 0, f"cannot read: {exc.strerror}")]
            content = b""
        if problems:
            self.problems[path] = tuple(problems)
            self._restore_previous(path)
        else:
            self._active[path] = content
        version = None
        if self.registry is not None and not _holds_secret(problems):
            status = "rejected" if problems else "valid"
            error = "\n".join(str(p) for p in problems)
            version = self.registry.record(path, content, status=status, error=error).version
        status_: Status = "rejected" if problems else "activated"
        return Outcome(path, status_, version, tuple(problems), self.active_id(path))

    def apply(self, paths: Iterable[str]) -> list[Outcome]:
        """Judge the current disk content of each path (workspace-relative)."""
        with self._lock:
            return [self._apply_one(path) for path in dict.fromkeys(paths)]

    def activate(self, version: Version) -> Outcome:
        """Make a recorded version active without touching the file (until the file changes)."""
        if self.registry is None:
            raise RunError("activating a stored version needs the store")
        content = self.registry.content(version)
        with self._lock:
            return self._judge(version.path, content, record=False, started=time.perf_counter())

    def rollback(self, version: Version) -> Outcome:
        """Write a recorded version's content back to its file (atomically) and apply it."""
        if self.registry is None:
            raise RunError("rolling back needs the store")
        content = self.registry.content(version)
        with self._lock:
            write_atomically(self.root / version.path, content)
            return self._apply_one(version.path)

    # --- judging -------------------------------------------------------------------------

    def _apply_one(self, path: str) -> Outcome:
        started = time.perf_counter()
        try:
            data = (self.root / path).read_bytes()
        except FileNotFoundError:
            if path not in self._active and path not in self.problems:
                return Outcome(path, "unchanged")  # never seen: a file that came and went
            return self._emit(Outcome(path, "deleted", active=self.active_id(path)))
        except OSError as exc:
            problem = Problem(path, 0, 0, f"cannot read: {exc.strerror}")
            active = self.active_id(path)
            return self._emit(Outcome(path, "rejected", problems=(problem,), active=active))
        content = normalize(data)
        if self._active.get(path) == content and path not in self.problems:
            return self._emit(Outcome(path, "unchanged", active=artifact_id(content)))
        return self._judge(path, content, record=True, started=started)

    def _judge(self, path: str, content: bytes, *, record: bool, started: float) -> Outcome:
        candidate = OverlayFiles(self.root, {**self._active, path: content})
        new_problems, after = self._check(path, candidate)
        status: Status = "rejected" if new_problems else "activated"
        version = None
        if record and self.registry is not None and not _holds_secret(new_problems):
            error = "\n".join(str(p) for p in new_problems)
            recorded = self.registry.record(path, content, status=status_of(status), error=error)
            version = recorded.version
        if status == "rejected":
            self.problems[path] = tuple(new_problems)
            outcome = Outcome(path, status, version, tuple(new_problems), self.active_id(path))
        else:
            releases = self._activate(path, content, after)
            still = tuple(sorted({p for found in after.values() for p in found}))
            outcome = Outcome(path, status, version, still, artifact_id(content), releases)
        seconds = time.perf_counter() - started
        return self._emit(replace(outcome, seconds=seconds))

    def _check(
        self, path: str, files: OverlayFiles
    ) -> tuple[list[Problem], dict[str, frozenset[Problem]]]:
        """Problems the candidate brings that the active set did not have, and every affected
        pipeline's problems with the candidate."""
        kind = kind_of(path)
        if kind == "scenario":
            return self._scenario_problems(path, files), {}
        affected = self._affected(path)
        if not affected:
            return self._standalone_problems(path, files), {}
        after = {}
        for name in affected:
            found, loaded = self._try_load(name, files)
            after[name] = frozenset(found)
            if loaded is not None:
                self._candidates[name] = loaded
        new = {
            problem
            for name, found in after.items()
            for problem in found - self._baseline.get(name, frozenset())
        }
        return sorted(new), after

    def _affected(self, path: str) -> list[str]:
        if path == WORKSPACE_FILE:
            return self.pipelines()
        if kind_of(path) == "pipeline":
            return [Path(path).stem]
        return sorted(self._readers.get(path, ()))

    def _activate(
        self, path: str, content: bytes, after: dict[str, frozenset[Problem]]
    ) -> dict[str, tuple[str, str]]:
        self._active[path] = content
        self.problems.pop(path, None)
        changed = {}
        for name, found in after.items():
            self._baseline[name] = found
            before = self._releases.get(name, "")
            loaded = self._candidates.pop(name, None)
            if loaded is not None:
                self._remember(name, loaded)
            now = self._releases.get(name, "")
            if now != before:
                changed[name] = (before, now)
        self._candidates.clear()
        return changed

    def _problems_of(self, pipeline: str, files: OverlayFiles) -> list[Problem]:
        return self._try_load(pipeline, files)[0]

    def _try_load(
        self, pipeline: str, files: OverlayFiles
    ) -> tuple[list[Problem], LoadedPipeline | None]:
        try:
            return [], load_pipeline(self._workspace(files), pipeline)
        except SpecError as exc:
            return exc.problems, None
        except AgentdeskError as exc:
            return [Problem(f"pipelines/{pipeline}.yaml", 0, 0, str(exc))], None

    def _load(self, pipeline: str, files: OverlayFiles) -> LoadedPipeline:
        loaded = load_pipeline(self._workspace(files), pipeline)
        self._remember(pipeline, loaded)
        return loaded

    def _workspace(self, files: OverlayFiles) -> Workspace:
        """The workspace as ``files`` have it. agentdesk.yaml is the only file a workspace is
        read from, so one content is loaded once (a prompt's edit reuses it, ~1 ms saved) and
        handed the edit's files to read the rest through."""
        content = files.overrides.get(WORKSPACE_FILE)
        if content is None:
            return load_workspace(self.root, strict=False, files=files, templates=self.templates)
        if self._workspace_of is None or self._workspace_of[0] != content:
            loaded = load_workspace(self.root, strict=False, files=files, templates=self.templates)
            self._workspace_of = (content, loaded)
        return replace(self._workspace_of[1], files=files)

    def _remember(self, pipeline: str, loaded: LoadedPipeline) -> None:
        self._releases[pipeline] = loaded.release
        for read in loaded.sources:
            self._readers.setdefault(read, set()).add(pipeline)

    def _scenario_problems(self, path: str, files: OverlayFiles) -> list[Problem]:
        try:
            workspace = load_workspace(self.root, strict=False, files=files)
            load_scenario(workspace, path)
        except SpecError as exc:
            return [p for p in exc.problems if p.file == path]
        return []

    def _standalone_problems(self, path: str, files: OverlayFiles) -> list[Problem]:
        """A prompt or schema no pipeline reads yet: checked on its own."""
        return check_file(self.root, path, files, self.templates)

    def _restore_previous(self, path: str) -> None:
        """Start from the newest valid version the registry has (if the disk's is rejected,
        that one stays active)."""
        if self.registry is None:
            return
        history = [v for v in self.registry.history(path) if v.status == "valid"]
        if history:
            self._active[path] = self.registry.content(history[0])

    def _emit(self, outcome: Outcome) -> Outcome:
        for listener in list(self.listeners):
            listener(outcome)
        return outcome


def _holds_secret(problems: Iterable[Problem]) -> bool:
    """A version holding a secret is judged but never stored (not even as rejected)."""
    return any(is_secret_problem(p) for p in problems)


def status_of(status: Status) -> str:
    """The registry's word for an outcome: ``rejected`` or ``valid``."""
    return "rejected" if status == "rejected" else "valid"


def write_atomically(path: Path, content: bytes) -> None:
    """Replace a file's content so that no reader ever sees half of it: write a temporary
    file beside it, flush it to disk, rename it over the original (keeping its mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
