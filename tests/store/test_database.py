"""Where the store lives, how it is opened, and the errors a user can reach doing so."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from agentdesk.store import StoreError, locate, open_engine
from agentdesk.store.artifacts import Registry
from agentdesk.store.database import StoreLocation


def test_the_default_store_is_in_the_workspace(tmp_path: Path) -> None:
    location = locate(tmp_path, environ={})
    assert location.describe() == str(tmp_path.resolve() / ".agentdesk" / "agentdesk.db")
    assert (location.origin, location.note) == ("workspace", "")


def test_db_wins_over_the_environment_which_wins_over_the_workspace(tmp_path: Path) -> None:
    env = {"AGENTDESK_DB": str(tmp_path / "env.db")}
    assert locate(tmp_path, str(tmp_path / "flag.db"), env).describe().endswith("flag.db")
    assert locate(tmp_path, None, env).describe().endswith("env.db")
    url = "postgresql+psycopg://agent:pw@db.example/runs"
    assert locate(tmp_path, url, env).describe() == "postgresql+psycopg://agent:***@db.example/runs"


def test_an_unwritable_workspace_falls_back_to_the_state_folder(tmp_path: Path) -> None:
    workspace = tmp_path / "demo_workspace"
    workspace.mkdir()
    (workspace / ".agentdesk").write_text("a file where the folder should be")
    location = locate(workspace, environ={"XDG_STATE_HOME": str(tmp_path / "state")})
    digest = hashlib.sha256(str(workspace.resolve()).encode()).hexdigest()[:8]
    expected = tmp_path / "state" / "agentdesk" / f"demo_workspace-{digest}" / "agentdesk.db"
    assert location.describe() == str(expected.resolve())
    assert location.note == f"the workspace folder {workspace} is not writable"
    open_engine(location).dispose()
    assert expected.is_file()


def test_sqlite_is_opened_in_wal_mode_with_normal_sync(store: Engine) -> None:
    with store.connect() as conn:
        pragmas = [
            conn.execute(text(f"PRAGMA {p}")).scalar()
            for p in ("journal_mode", "synchronous", "busy_timeout")
        ]
    assert pragmas == ["wal", 1, 5000]


def test_a_store_from_another_schema_version_is_refused(db_path: Path, store: Engine) -> None:
    with store.begin() as conn:
        conn.execute(text("UPDATE store_meta SET value = '99' WHERE key = 'schema_version'"))
    with pytest.raises(StoreError, match="has schema version 99, this agentdesk reads version 2"):
        open_engine(locate(db_path.parent, str(db_path)))


def test_a_version_1_store_is_migrated_keeping_what_it_recorded(
    db_path: Path, store: Engine
) -> None:
    """Version 1 had no ``number``/``error`` on versions and labels keyed by name alone."""
    with store.begin() as conn:
        conn.execute(text("DROP TABLE labels"))
        conn.execute(text("DROP TABLE artifact_versions"))
        conn.execute(
            text(
                "CREATE TABLE artifact_versions (id INTEGER PRIMARY KEY, path VARCHAR, "
                "artifact_id VARCHAR, kind VARCHAR, size INTEGER, created DATETIME, "
                "parent_id INTEGER, status VARCHAR)"
            )
        )
        conn.execute(text("CREATE TABLE labels (name VARCHAR PRIMARY KEY, version_id INTEGER)"))
        conn.execute(text("UPDATE store_meta SET value = '1' WHERE key = 'schema_version'"))
        conn.execute(
            text(
                "INSERT INTO batches (id, created, workspace, pipeline, scenario, seed, "
                "real_clock, agentdesk_version) "
                "VALUES ('b1', '2026-01-01', 'w', 'p', 's', 1, 0, '')"
            )
        )
    migrated = open_engine(locate(db_path.parent, str(db_path)))
    with migrated.begin() as conn:
        version = conn.execute(
            text("SELECT value FROM store_meta WHERE key = 'schema_version'")
        ).scalar_one()
        batches = conn.execute(text("SELECT id FROM batches")).scalars().all()
    registry = Registry(migrated)
    recorded = registry.record("prompts/a.md", b"hello\n").version
    registry.set_label("production", recorded)
    assert version == "2"
    assert batches == ["b1"]
    assert registry.resolve("prompts/a.md@production") == registry.resolve("prompts/a.md@1")
    migrated.dispose()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nosuchdb://x/y", "--db nosuchdb://x/y: Can't load plugin: sqlalchemy.dialects:nosuchdb"),
        ("://", "--db '://': not a database URL"),
    ],
)
def test_bad_urls_are_clear_errors(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(StoreError) as caught:
        open_engine(locate(tmp_path, url))
    assert str(caught.value).startswith(message)


def test_a_store_that_cannot_be_created_names_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match=rf"{blocker}/agentdesk.db: cannot create the store's"):
        open_engine(locate(tmp_path, str(blocker / "agentdesk.db")))


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database " * 100)
    with pytest.raises(StoreError, match=rf"{path}: cannot open the store: file is not a database"):
        open_engine(StoreLocation(f"sqlite:///{path}", "--db"))
    assert path.read_text().startswith("these are my notes")  # changed nothing
