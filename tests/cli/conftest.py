"""The command line, driven through click's runner: small workspaces in tmp_path, one call each.

``write_workspace`` writes a small, valid workspace (one pipeline that fetches a ticket from
the CRM sim and greets the customer through the LLM sim) with any file replaced or added;
``agentdesk`` invokes ``agentdesk.cli.main`` with arguments and returns click's result, with
stdout and stderr kept apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from agentdesk.cli import main
from tests.cli.support import BASE_FILES, Invoke, WriteWorkspace


@pytest.fixture(autouse=True)
def store_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Runs record into a fresh store per test, never into a workspace (or fixtures/)."""
    path = tmp_path / "store" / "agentdesk.db"
    monkeypatch.setenv("AGENTDESK_DB", str(path))
    return path


@pytest.fixture
def write_workspace(tmp_path: Path) -> WriteWorkspace:
    """Writes the base workspace to ``tmp_path/ws``, with files replaced or added."""

    def write(files: Mapping[str, str] | None = None) -> Path:
        root = tmp_path / "ws"
        for name, content in {**BASE_FILES, **(files or {})}.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        return root

    return write


@pytest.fixture
def agentdesk() -> Invoke:
    """``agentdesk ARGS…`` in-process; ``env`` adds (or, with None, removes) variables."""

    def invoke(*args: str | Path, env: Mapping[str, str | None] | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(main, [str(a) for a in args], env=env, catch_exceptions=True)

    return invoke
