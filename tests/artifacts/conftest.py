"""A copy of the demo workspace in tmp_path, a store beside it, and a session on both."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from agentdesk.artifacts.session import ArtifactSession
from agentdesk.store.artifacts import Registry
from agentdesk.store.database import locate, open_engine

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """The demo workspace, copied (tests edit it; fixtures/ itself is never touched)."""
    root = tmp_path / "ws"
    shutil.copytree(FIXTURES, root)
    return root


@pytest.fixture
def engine(tmp_path: Path, workspace: Path) -> Iterator[Engine]:
    engine = open_engine(locate(workspace, str(tmp_path / "a.db")))
    yield engine
    engine.dispose()


@pytest.fixture
def registry(engine: Engine) -> Registry:
    return Registry(engine)


@pytest.fixture
def session(workspace: Path, registry: Registry) -> ArtifactSession:
    """A session that has scanned the (valid) workspace."""
    session = ArtifactSession(workspace, registry)
    session.scan()
    return session
