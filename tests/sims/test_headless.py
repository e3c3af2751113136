"""The sims and token counting stay headless: importing them pulls in no UI and no store."""

from __future__ import annotations

import subprocess
import sys

import pytest

FORBIDDEN = ("textual", "rich", "sqlmodel", "sqlalchemy", "agentdesk.store", "agentdesk.cli")


@pytest.mark.parametrize(
    "module", ["sims", "sims.world", "sims.serve", "sims.llm", "agentdesk.tokens.counting"]
)
def test_importing_pulls_in_no_ui_or_store(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        f"forbidden = {FORBIDDEN!r}\n"
        "print(','.join(m for m in sys.modules if m.startswith(forbidden)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
