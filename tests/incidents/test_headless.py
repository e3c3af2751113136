"""The incidents package is headless: importing it pulls in no UI, store or command line.

``tests/test_layers.py`` proves this for the core packages; until ``agentdesk.incidents`` is
listed there (and in the import-linter contract), this test holds the line for it.
"""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("textual", "rich", "sqlmodel", "sqlalchemy", "agentdesk.cli", "agentdesk.store")
PROBE = """
import json, sys
import agentdesk.incidents.otlp, agentdesk.incidents.trace
print(json.dumps(sorted(sys.modules)))
"""


def test_importing_incidents_loads_no_ui_store_or_cli() -> None:
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-c", PROBE], check=True, capture_output=True, text=True
        ).stdout
    )
    found = [m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert found == []
