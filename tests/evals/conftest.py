"""Evals are driven through the ``eval`` command object itself (click's runner), on the demo
workspace, with golden and gates files written to ``tmp_path`` when a test needs its own."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from agentdesk.cli.eval import eval_command

DEMO = Path(__file__).resolve().parents[2] / "fixtures"

Eval = Callable[..., Result]


@pytest.fixture(autouse=True)
def store_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Evals record into a fresh store per test, never into fixtures/."""
    path = tmp_path / "store" / "agentdesk.db"
    monkeypatch.setenv("AGENTDESK_DB", str(path))
    return path


@pytest.fixture
def run_eval() -> Eval:
    """``agentdesk eval ARGS…`` on the demo workspace, in-process."""

    def invoke(*args: str | Path) -> Result:
        argv = [str(a) for a in args]
        return CliRunner().invoke(eval_command, ["-w", str(DEMO), *argv], catch_exceptions=False)

    return invoke


def write_golden(path: Path, cases: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(case) + "\n" for case in cases), encoding="utf-8")
    return path
