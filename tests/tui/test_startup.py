"""Starting the control panel on a workspace whose files are broken on disk."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agentdesk.artifacts.session import ArtifactSession
from agentdesk.errors import SpecError
from agentdesk.simulation import Simulation
from agentdesk.store.artifacts import Registry
from agentdesk.store.database import locate, open_engine
from agentdesk.tui.app import make_app

DEMO = Path(__file__).resolve().parents[2] / "fixtures"
PROMPT = "prompts/triage.user.md"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    copy = tmp_path / "ws"
    shutil.copytree(DEMO, copy, ignore=shutil.ignore_patterns(".agentdesk"))
    return copy


def test_a_broken_file_starts_on_its_last_valid_version(root: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "store.db")
    engine = open_engine(locate(root, db))
    ArtifactSession(root, Registry(engine)).scan()  # v1 of every file, valid
    engine.dispose()
    valid = Simulation.prepare(root, "support-triage").pipeline.release
    with (root / PROMPT).open("a") as prompt:
        prompt.write("{{ broken\n")
    app = make_app(root, "support-triage", db=db)
    assert app.control.sim.pipeline.release == valid


def test_a_broken_file_with_no_valid_version_is_reported(root: Path, tmp_path: Path) -> None:
    with (root / PROMPT).open("a") as prompt:
        prompt.write("{{ broken\n")
    with pytest.raises(SpecError) as caught:
        make_app(root, "support-triage", db=str(tmp_path / "store.db"))
    assert any(p.file == PROMPT for p in caught.value.problems)
