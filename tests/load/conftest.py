"""Small load tests on the demo workspace (a few dozen sessions for a few simulated minutes),
and a candidate workspace whose triage prompt is bloated: its runs cost far more tokens."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

DEMO = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.fixture(scope="session")
def tickets() -> list[Any]:
    lines = (DEMO / "inputs" / "tickets.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="session")
def bloated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo workspace with a triage system prompt ~20× longer."""
    root = tmp_path_factory.mktemp("candidate") / "ws"
    shutil.copytree(DEMO, root, ignore=shutil.ignore_patterns(".agentdesk"))
    prompt = root / "prompts" / "triage.system.md"
    prompt.write_text(prompt.read_text() + "\n" + "Weigh every policy detail. " * 600)
    return root


@pytest.fixture(autouse=True)
def store_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A candidate looked up in the store reads a fresh store, never the demo's."""
    path = tmp_path / "store" / "agentdesk.db"
    monkeypatch.setenv("AGENTDESK_DB", str(path))
    return path
