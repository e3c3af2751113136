"""The artifact registry: every version of every workspace file, labels, and releases.

A file's history is a chain of versions (``number`` 1, 2, 3…, each pointing at its parent);
each version names its content by artifact id, and content is stored once however many
versions or files share it. A version is ``valid`` or ``rejected`` (an edit that failed
validation, kept with the problems that rejected it, never active).

Saving the same content again is not a new version: ``record`` returns the newest version
when it already holds that content with that status, so re-scanning a workspace, recording
the same release twice or an editor saving without changes leave the history as it was.

A version is named by a reference (``resolve``): ``PATH`` (its newest version), ``PATH@3``
(its third), ``PATH@production`` (a label), ``PATH@latest`` (newest valid), or
``PATH@1a2b3c`` (a prefix of the content's artifact id, at least 4 hex digits).

Releases (``spec.sources`` says what a release id hashes) are recorded with their manifest
when a run names them; recording a release records every file in it as a valid version.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from agentdesk.spec.sources import artifact_id, normalize
from agentdesk.store.database import StoreError, reading, writing
from agentdesk.store.tables import Artifact, ArtifactVersion, Label, Release, table

LATEST = "latest"
"""The label every file has without asking: its newest valid version."""
_LABEL_NAME = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,63}")
_HEX = re.compile(r"[0-9a-f]{4,64}")
_FOLDER_KINDS = {
    "pipelines": "pipeline",
    "prompts": "prompt",
    "schemas": "schema",
    "scenarios": "scenario",
    "golden": "golden",
}


class UnknownArtifact(StoreError):
    """A reference that names no version (or a label that cannot be set)."""


def kind_of(path: str) -> str:
    """What a workspace file is, from where it lives."""
    parts = PurePosixPath(path).parts
    if parts == ("agentdesk.yaml",):
        return "workspace"
    return _FOLDER_KINDS.get(parts[0], "file") if len(parts) > 1 else "file"


@dataclass(frozen=True)
class Version:
    id: int
    path: str
    number: int
    artifact_id: str
    kind: str
    size: int
    created: datetime
    parent_id: int | None
    status: str
    error: str
    labels: tuple[str, ...] = ()

    @property
    def short(self) -> str:
        return self.artifact_id[:8]

    @property
    def ref(self) -> str:
        return f"{self.path}@{self.number}"

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "path": self.path,
            "number": self.number,
            "artifact": self.artifact_id,
            "kind": self.kind,
            "size": self.size,
            "created": self.created.isoformat(),
            "status": self.status,
            "error": self.error,
            "labels": list(self.labels),
        }


@dataclass(frozen=True)
class Recorded:
    version: Version
    new: bool
    """False when the file's newest version already held this content with this status."""


@dataclass(frozen=True)
class FileHistory:
    """One file: its newest version, the version that is active (newest valid), how many."""

    path: str
    kind: str
    versions: int
    newest: Version
    active: Version | None


@dataclass(frozen=True)
class ReleaseRecord:
    id: str
    pipeline: str
    created: datetime
    manifest: dict[str, Any]

    @property
    def files(self) -> dict[str, str]:
        """path → artifact id."""
        return {path: artifact for path, artifact in self.manifest.get("files", [])}


class Registry:
    """Reads and writes the registry; each call is its own transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- writing -----------------------------------------------------------------------------

    def record(
        self,
        path: str,
        content: bytes,
        *,
        status: str = "valid",
        error: str = "",
        when: datetime | None = None,
    ) -> Recorded:
        """Store ``content`` as the newest version of ``path`` (unless it already is)."""
        with self._writing() as conn:
            return _record(conn, path, normalize(content), status, error, when or _now())

    def record_release(
        self,
        release: str,
        pipeline: str,
        manifest: Mapping[str, Any],
        contents: Mapping[str, bytes],
    ) -> bool:
        """Record a release and every file in it (as valid versions); False if already known."""
        with self._writing() as conn:
            releases = table(Release)
            if conn.execute(select(releases.c.id).where(releases.c.id == release)).first():
                return False
            now = _now()
            for path in sorted(contents):
                _record(conn, path, normalize(contents[path]), "valid", "", now)
            row = {"id": release, "pipeline": pipeline, "created": now}
            conn.execute(insert(releases), [{**row, "manifest": json.dumps(dict(manifest))}])
            return True

    def set_label(self, name: str, version: Version) -> None:
        """Point ``name`` at ``version`` (moving it if it pointed elsewhere in that file)."""
        if name == LATEST:
            raise UnknownArtifact(f"'{LATEST}' moves by itself (the newest valid version)")
        if not _LABEL_NAME.fullmatch(name):
            raise UnknownArtifact(
                f"label '{name}': use a letter then letters, digits, '.', '_' or '-'"
            )
        if version.status != "valid":
            raise UnknownArtifact(f"{version.ref} was rejected; only a valid version is labelled")
        labels = table(Label)
        with self._writing() as conn:
            where = (labels.c.name == name) & (labels.c.path == version.path)
            conn.execute(labels.delete().where(where))
            row = {"name": name, "path": version.path, "version_id": version.id, "created": _now()}
            conn.execute(insert(labels), [row])

    def remove_label(self, name: str, path: str) -> bool:
        labels = table(Label)
        with self._writing() as conn:
            where = (labels.c.name == name) & (labels.c.path == path)
            return bool(conn.execute(labels.delete().where(where)).rowcount)

    # --- reading -----------------------------------------------------------------------------

    def history(self, path: str) -> list[Version]:
        """Every version of a file, newest first."""
        versions = table(ArtifactVersion)
        query = select(versions).where(versions.c.path == path).order_by(versions.c.number.desc())
        with self._reading() as conn:
            rows = conn.execute(query).mappings().all()
            labels = _labels(conn, [path])
        return _versions(rows, labels)

    def files(self) -> list[FileHistory]:
        """Every file with a history, by path."""
        versions = table(ArtifactVersion)
        with self._reading() as conn:
            rows = conn.execute(select(versions).order_by(versions.c.path, versions.c.number))
            by_path: dict[str, list[Any]] = {}
            for row in rows.mappings():
                by_path.setdefault(row["path"], []).append(row)
            labels = _labels(conn, list(by_path))
        found = []
        for path, rows_of in by_path.items():
            history = _versions(reversed(rows_of), labels)
            active = next((v for v in history if v.status == "valid"), None)
            found.append(FileHistory(path, history[0].kind, len(history), history[0], active))
        return found

    def resolve(self, ref: str) -> Version:
        """The version a reference names (see the module docstring); UnknownArtifact if none."""
        path, _, which = ref.partition("@")
        history = self.history(path)
        if not history:
            known = [f.path for f in self.files()]
            hint = _close(path, known)
            raise UnknownArtifact(f"no versions of '{path}' are recorded{hint}")
        if not which:
            return history[0]
        if which == LATEST:
            valid = [v for v in history if v.status == "valid"]
            if not valid:
                raise UnknownArtifact(f"{path} has no valid version")
            return valid[0]
        if which.isdigit() and 1 <= int(which) <= len(history):
            return next(v for v in history if v.number == int(which))
        labelled = [v for v in history if which in v.labels]
        if labelled:
            return labelled[0]
        if _HEX.fullmatch(which):
            # Oldest first, so that each content keeps its newest version.
            found = reversed(history)
            matches = {v.artifact_id: v for v in found if v.artifact_id.startswith(which)}
            if len(matches) == 1:
                return next(iter(matches.values()))
            if len(matches) > 1:
                raise UnknownArtifact(f"{ref}: the hash prefix matches {len(matches)} versions")
        numbers = f"1–{len(history)}"
        labels = sorted({label for v in history for label in v.labels} | {LATEST})
        raise UnknownArtifact(
            f"{ref}: no such version (versions {numbers}, labels {', '.join(labels)}, "
            "or a prefix of a content hash)"
        )

    def content(self, version: Version) -> bytes:
        artifacts = table(Artifact)
        query = select(artifacts.c.content).where(artifacts.c.id == version.artifact_id)
        with self._reading() as conn:
            found = conn.execute(query).scalar_one_or_none()
        if found is None:
            raise StoreError(f"{version.ref}: its content ({version.short}) is missing")
        return bytes(found)

    def release(self, prefix: str) -> ReleaseRecord:
        releases = table(Release)
        query = select(releases).where(releases.c.id.startswith(prefix)).limit(2)
        with self._reading() as conn:
            rows = conn.execute(query).mappings().all()
        if len(rows) != 1:
            what = "no release" if not rows else "several releases"
            raise UnknownArtifact(f"{what} with an id starting '{prefix}'")
        return _release(rows[0])

    def releases(self, pipeline: str | None = None) -> list[ReleaseRecord]:
        """Recorded releases, newest first."""
        releases = table(Release)
        query = select(releases).order_by(releases.c.created.desc())
        if pipeline is not None:
            query = query.where(releases.c.pipeline == pipeline)
        with self._reading() as conn:
            return [_release(row) for row in conn.execute(query).mappings()]

    # --- connections -------------------------------------------------------------------------

    def _writing(self) -> AbstractContextManager[Connection]:
        return writing(self.engine, "the artifact registry")

    def _reading(self) -> AbstractContextManager[Connection]:
        return reading(self.engine, "the artifact registry")


def _record(
    conn: Connection, path: str, content: bytes, status: str, error: str, when: datetime
) -> Recorded:
    versions, artifacts = table(ArtifactVersion), table(Artifact)
    newest = (
        conn.execute(
            select(versions)
            .where(versions.c.path == path)
            .order_by(versions.c.number.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    digest = artifact_id(content)
    unchanged = newest is not None and (
        (newest["artifact_id"], newest["status"], newest["error"]) == (digest, status, error)
    )
    if newest is not None and unchanged:
        return Recorded(_versions([newest], {})[0], new=False)
    kind = kind_of(path)
    if conn.execute(select(artifacts.c.id).where(artifacts.c.id == digest)).first() is None:
        row = {"id": digest, "kind": kind, "size": len(content), "content": content}
        conn.execute(insert(artifacts), [row])
    values = {
        "path": path,
        "number": 1 if newest is None else newest["number"] + 1,
        "artifact_id": digest,
        "kind": kind,
        "size": len(content),
        "created": when,
        "parent_id": None if newest is None else newest["id"],
        "status": status,
        "error": error,
    }
    new_id = conn.execute(insert(versions).values(values)).inserted_primary_key
    assert new_id is not None
    return Recorded(_versions([{**values, "id": new_id[0]}], {})[0], new=True)


def _labels(conn: Connection, paths: list[str]) -> dict[int, list[str]]:
    labels = table(Label)
    query = select(labels.c.version_id, labels.c.name).order_by(labels.c.name)
    if len(paths) == 1:
        query = query.where(labels.c.path == paths[0])
    found: dict[int, list[str]] = {}
    for version_id, name in conn.execute(query):
        found.setdefault(version_id, []).append(name)
    return found


def _versions(rows: Iterable[Any], labels: Mapping[int, list[str]]) -> list[Version]:
    found = [
        Version(
            id=row["id"],
            path=row["path"],
            number=row["number"],
            artifact_id=row["artifact_id"],
            kind=row["kind"],
            size=row["size"],
            created=_utc(row["created"]),
            parent_id=row["parent_id"],
            status=row["status"],
            error=row["error"] or "",
            labels=tuple(labels.get(row["id"], ())),
        )
        for row in rows
    ]
    # ``rows`` come newest first: the first valid one is what ``latest`` names.
    newest_valid = next((v for v in found if v.status == "valid"), None)
    if newest_valid is not None:
        found[found.index(newest_valid)] = _with_label(newest_valid, LATEST)
    return found


def _with_label(version: Version, label: str) -> Version:
    return replace(version, labels=(label, *version.labels))


def _release(row: Any) -> ReleaseRecord:
    return ReleaseRecord(
        row["id"], row["pipeline"], _utc(row["created"]), json.loads(row["manifest"])
    )


def _utc(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were written in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


def _close(name: str, known: list[str]) -> str:
    match = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean '{match[0]}'?)" if match else ""
