"""Where the store lives and how it is opened.

By default the store is SQLite at ``<workspace>/.agentdesk/agentdesk.db``. ``--db URL`` (or the
``AGENTDESK_DB`` environment variable, which tests use) selects another SQLite file or a
PostgreSQL database with the same tables. A workspace whose folder cannot be written (the
bundled demo installed inside site-packages) falls back to a per-user state folder, and the
location says so, so the command can tell the user where their runs went.

SQLite is opened in WAL mode with ``synchronous=NORMAL`` and a busy timeout: the writer commits
without waiting for readers, readers never block the run, and a commit survives the process
being killed (WAL with NORMAL syncs at checkpoints: power loss may lose the last commits, a
crash does not). Opening creates missing tables and checks the schema version.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlmodel import SQLModel

from agentdesk.errors import AgentdeskError
from agentdesk.store.tables import SCHEMA_VERSION, ArtifactVersion, Label, StoreMeta, table

DB_ENV = "AGENTDESK_DB"
STORE_FOLDER = ".agentdesk"
DB_FILE = "agentdesk.db"
BUSY_TIMEOUT_MS = 5_000
WAL_AUTOCHECKPOINT = 16_384
"""Pages (4 KiB) the WAL may grow to before a commit checkpoints it into the database. SQLite's
default (1,000) made the writer spend a fifth of its time checkpointing; readers are not slowed
by a larger WAL, and closing the last connection checkpoints and removes it."""


class StoreError(AgentdeskError):
    """The store cannot be opened or read as asked (bad URL, unwritable file, newer schema)."""

    exit_code = 2


@dataclass(frozen=True)
class StoreLocation:
    url: str
    """A SQLAlchemy URL."""
    origin: str
    """Where the URL came from: ``--db``, ``AGENTDESK_DB``, ``workspace`` or ``state folder``."""
    note: str = ""
    """Why the store is not where the user would expect it (empty when it is)."""

    def describe(self) -> str:
        """The location for people: a file path for SQLite, the URL without password otherwise."""
        url = make_url(self.url)
        if url.get_backend_name() == "sqlite" and url.database:
            return url.database
        return url.render_as_string(hide_password=True)


def locate(
    workspace: Path, db: str | None = None, environ: Mapping[str, str] | None = None
) -> StoreLocation:
    """The store for ``workspace``: ``--db``, else ``AGENTDESK_DB``, else the workspace's own."""
    env = os.environ if environ is None else environ
    if db:
        return StoreLocation(database_url(db, "--db"), "--db")
    if env.get(DB_ENV):
        return StoreLocation(database_url(env[DB_ENV], DB_ENV), DB_ENV)
    folder = workspace.resolve() / STORE_FOLDER
    if _writable(folder):
        return StoreLocation(_sqlite_url(folder / DB_FILE), "workspace")
    state = _state_folder(workspace.resolve(), env)
    note = f"the workspace folder {workspace} is not writable"
    return StoreLocation(_sqlite_url(state / DB_FILE), "state folder", note)


def database_url(value: str, origin: str) -> str:
    """A SQLAlchemy URL, or a plain file path taken as a SQLite file."""
    if "://" not in value:
        return _sqlite_url(Path(value).expanduser())
    try:
        make_url(value)
    except ArgumentError as exc:
        raise StoreError(f"{origin} {value!r}: not a database URL ({exc})") from exc
    return value


def _sqlite_url(path: Path) -> str:
    return URL.create("sqlite", database=str(path.resolve())).render_as_string()


def _writable(folder: Path) -> bool:
    """True when ``folder`` exists (or can be made) and accepts new files."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def _state_folder(workspace: Path, env: Mapping[str, str]) -> Path:
    """``$XDG_STATE_HOME/agentdesk/<name>-<hash>`` (or ``~/.local/state/…``): one per workspace."""
    base = Path(env["XDG_STATE_HOME"]) if env.get("XDG_STATE_HOME") else None
    base = base or Path(env.get("HOME") or Path.home()) / ".local" / "state"
    digest = hashlib.sha256(str(workspace).encode()).hexdigest()[:8]
    return base / "agentdesk" / f"{workspace.name}-{digest}"


def open_engine(location: StoreLocation) -> Engine:
    """An SQLAlchemy engine on the store, with every table present and the schema checked."""
    engine = _create(location)
    try:
        SQLModel.metadata.create_all(engine)
        _check_version(engine, location)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(f"{location.describe()}: cannot open the store: {reason(exc)}") from exc
    return engine


def _create(location: StoreLocation) -> Engine:
    url = make_url(location.url)
    if url.get_backend_name() == "sqlite" and url.database:
        _make_parent(Path(url.database), location)
    try:
        engine = create_engine(url, **_engine_options(url))
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise StoreError(f"{location.origin} {location.describe()}: {exc}") from exc
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _engine_options(url: URL) -> dict[str, Any]:
    if url.get_backend_name() == "sqlite":
        # One connection per thread that asks (the writer, each reader); never shared.
        return {
            "connect_args": {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
            "hide_parameters": True,  # payloads never reach error messages or logs
        }
    return {"pool_pre_ping": True, "hide_parameters": True}


def _make_parent(path: Path, location: StoreLocation) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"{path}: cannot create the store's folder ({exc.strerror}); "
            f"choose another place with --db or {DB_ENV}"
        ) from exc


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
    cursor.close()


def _check_version(engine: Engine, location: StoreLocation) -> None:
    with engine.begin() as conn:
        meta = table(StoreMeta)
        row = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version"))
        found = row.scalar_one_or_none()
        if found is None:
            values = {"key": "schema_version", "value": str(SCHEMA_VERSION)}
            conn.execute(meta.insert().values(values))
        elif int(found) < SCHEMA_VERSION and _migrate(conn, int(found)):
            conn.execute(
                meta.update()
                .where(meta.c.key == "schema_version")
                .values(value=str(SCHEMA_VERSION))
            )
        elif int(found) != SCHEMA_VERSION:
            raise StoreError(
                f"{location.describe()}: the store has schema version {found}, this agentdesk "
                f"reads version {SCHEMA_VERSION}; use a matching agentdesk or another --db"
            )


def _migrate(conn: Connection, found: int) -> bool:
    """Bring an older store up to this schema, keeping everything recorded; False when it
    cannot be done in place.

    1 → 2: ``artifact_versions`` gained ``number`` and ``error`` and ``labels`` gained ``path``
    and ``created``. Version 1 never wrote either table, so they are empty: drop and recreate.
    """
    if found != 1:
        return False
    changed = [table(ArtifactVersion), table(Label)]
    for old in changed:
        if conn.execute(select(func.count()).select_from(old)).scalar_one():
            return False
    for old in reversed(changed):
        conn.execute(text(f"DROP TABLE {old.name}"))
    SQLModel.metadata.create_all(conn, tables=changed)
    return True


def reason(exc: BaseException) -> str:
    """The driver's own words (``no such table: spans``): never the SQL or its parameters."""
    original = getattr(exc, "orig", None)
    lines = str(original or exc).splitlines()
    return lines[0] if lines else exc.__class__.__name__


@contextmanager
def writing(engine: Engine, what: str) -> Iterator[Connection]:
    """One transaction; a database error becomes ``StoreError("{what}: {reason}")``."""
    with _reported(what), engine.begin() as conn:
        yield conn


@contextmanager
def reading(engine: Engine, what: str) -> Iterator[Connection]:
    """A connection for reads; a database error becomes ``StoreError("{what}: {reason}")``."""
    with _reported(what), engine.connect() as conn:
        yield conn


@contextmanager
def _reported(what: str) -> Iterator[None]:
    try:
        yield
    except SQLAlchemyError as exc:
        raise StoreError(f"{what}: {reason(exc)}") from exc
