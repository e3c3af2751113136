"""The installed ``agentdesk`` console script, as a user's shell runs it (a few smoke tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentdesk import __version__
from tests.cli.support import PIPELINE, WriteWorkspace, flat

SCRIPT = Path(sys.executable).with_name("agentdesk")


def _agentdesk(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "100"}
    return subprocess.run(
        [str(SCRIPT), *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(autouse=True)
def _installed() -> None:
    if not SCRIPT.is_file():
        pytest.skip(f"no console script at {SCRIPT} (package not installed in this venv)")


def test_version(tmp_path: Path) -> None:
    done = _agentdesk("--version", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout == f"agentdesk, version {__version__}\n"


def test_the_demo_storm_trips_and_closes_the_breaker(tmp_path: Path) -> None:
    """What the README promises for the headless run: 600 runs through a payments 503 storm
    that trips the breaker, which closes again once the storm is over. (Bare ``agentdesk``
    opens the TUI: see tests/cli/test_demo.py and tests/tui/.)"""
    args = ("--scenario", "payments-503-storm", "--sessions", "20", "--runs", "600")
    done = _agentdesk("run", "support-triage", *args, cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # some runs stop: the breaker opens
    out = flat(done.stdout)
    assert "support-triage · scenario payments-503-storm · seed 42 · virtual clock" in out
    assert "600 run(s)" in out and "service:payments" in out
    assert "half_open→closed" in out
    assert "Traceback" not in done.stderr


def test_a_broken_workspace_exits_2_with_the_problem_on_stderr(
    write_workspace: WriteWorkspace, tmp_path: Path
) -> None:
    root = write_workspace({"pipelines/greet.yaml": PIPELINE.replace("crm\n", "crn\n", 1)})
    done = _agentdesk("run", "greet", cwd=root)  # the current folder is the workspace
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "1 problem found; nothing ran:",
        "pipelines/greet.yaml:8:14: unknown service 'crn' (did you mean 'crm'?)",
    ]


def test_ctrl_c_during_a_run_exits_130(tmp_path: Path) -> None:
    """A long demo run is interrupted once it has written events; it stops with code 130."""
    events = tmp_path / "events.jsonl"
    args = ["run", "support-triage", "--runs", "100000", "--sessions", "50", "--events", events]
    process = subprocess.Popen(
        [str(SCRIPT), *map(str, args)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (events.exists() and events.stat().st_size > 0):
            assert process.poll() is None, "the run ended before it could be interrupted"
            assert time.monotonic() < deadline, "the run wrote no events in time"
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    assert "Traceback" not in stderr
    assert stdout == ""  # no summary of a run that was cut short
