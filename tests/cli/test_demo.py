"""The bundled demo workspace through the command line: what a first-time user sees."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from agentdesk import __version__
from tests.cli.support import DEMO, Invoke, assert_no_crash, flat

SCENARIOS = sorted(p.stem for p in (DEMO / "scenarios").glob("*.yaml"))
PIPELINES = sorted(p.stem for p in (DEMO / "pipelines").glob("*.yaml"))


def test_the_demo_has_what_the_readme_lists() -> None:
    assert SCENARIOS == [
        "crm-latency-spike",
        "happy",
        "llm-429-burst",
        "malformed-json",
        "payments-503-storm",
        "prompt-injection",
        "schema-drift",
    ]
    assert PIPELINES == ["doc-reconciliation", "support-triage"]


def test_one_run_completes(agentdesk: Invoke) -> None:
    result = agentdesk("run", "support-triage", "-w", DEMO)
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "support-triage · scenario happy · seed 42 · virtual clock" in out
    assert re.search(r"completed\W*1\b", out)  # the outcomes table's one row


def test_the_demo_is_the_default_workspace(
    agentdesk: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no agentdesk.yaml here
    result = agentdesk("run", "support-triage")
    assert result.exit_code == 0, result.output
    assert "completed" in result.stdout


def test_schema_drift_is_caught_by_the_validate_step(agentdesk: Invoke) -> None:
    result = agentdesk("run", "support-triage", "-w", DEMO, "--scenario", "schema-drift")
    assert result.exit_code == 1, result.output
    assert "validation_failed: ticket_shape" in flat(result.stdout)


def test_json_has_every_section(agentdesk: Invoke) -> None:
    args = ("--scenario", "payments-503-storm", "--runs", "20", "--sessions", "5", "--json")
    result = agentdesk("run", "support-triage", "-w", DEMO, *args)
    assert result.exit_code in (0, 1), result.output
    summary = json.loads(result.stdout)
    assert {"runs", "steps", "services", "breakers", "stop_reasons"} <= set(summary)
    assert (summary["pipeline"], summary["scenario"], summary["seed"]) == (
        "support-triage",
        "payments-503-storm",
        42,
    )
    assert summary["runs"] == 20 == sum(summary["stop_reasons"].values())
    assert {step["step"] for step in summary["steps"]} >= {"ticket", "triage", "gate"}
    assert {service["service"] for service in summary["services"]} >= {"crm", "llm"}
    assert result.stderr == ""  # no progress bar, nothing else mixed in


def _events(agentdesk: Invoke, path: Path, *extra: str) -> bytes:
    args = ("--scenario", "payments-503-storm", "--runs", "12", "--sessions", "4")
    result = agentdesk("run", "support-triage", "-w", DEMO, *args, "--events", path, *extra)
    assert result.exit_code in (0, 1), result.output
    return path.read_bytes()


def test_the_same_seed_writes_the_same_bytes(agentdesk: Invoke, tmp_path: Path) -> None:
    first = _events(agentdesk, tmp_path / "first.jsonl")
    second = _events(agentdesk, tmp_path / "second.jsonl")
    assert first and first == second
    assert all(json.loads(line)["type"] for line in first.splitlines())


def test_another_seed_writes_other_bytes(agentdesk: Invoke, tmp_path: Path) -> None:
    default = _events(agentdesk, tmp_path / "default.jsonl")
    seeded = _events(agentdesk, tmp_path / "seeded.jsonl", "--seed", "43")
    assert default != seeded
    assert json.loads(seeded.splitlines()[0])["seed"] == 43


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("pipeline", PIPELINES)
def test_every_scenario_runs_on_every_pipeline(
    pipeline: str, scenario: str, agentdesk: Invoke
) -> None:
    result = agentdesk(
        "run", pipeline, "-w", DEMO, "--scenario", scenario, "--runs", "4", "--sessions", "2"
    )
    assert_no_crash(result)
    assert result.exit_code in (0, 1), result.output
    assert f"{pipeline} · scenario {scenario} · seed 42" in flat(result.stdout)


def test_check_passes_on_the_demo(agentdesk: Invoke) -> None:
    result = agentdesk("check", "-w", DEMO)
    assert result.exit_code == 0, result.output
    checked = 1 + len(PIPELINES) + len(SCENARIOS)
    assert f"ok {DEMO}: {checked} file(s) checked, no problems" in flat(result.stdout)


def test_version(agentdesk: Invoke) -> None:
    result = agentdesk("--version")
    assert result.exit_code == 0
    assert result.stdout == f"agentdesk, version {__version__}\n"


class _Opened:
    """Stands in for ``App.run``: records the app the command built instead of opening it."""

    def __init__(self) -> None:
        self.apps: list[object] = []

    def __call__(self, app: object, *_: object, **__: object) -> None:
        self.apps.append(app)


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> _Opened:
    from agentdesk.tui.app import AgentdeskApp

    record = _Opened()

    def run(app: AgentdeskApp, *args: object, **kwargs: object) -> None:
        record(app, *args, **kwargs)

    monkeypatch.setattr(AgentdeskApp, "run", run)
    return record


def test_bare_agentdesk_opens_the_tui_on_the_demo(
    agentdesk: Invoke, opened: _Opened, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no workspace here, bare ``agentdesk`` opens the control panel on the bundled demo,
    live, running support-triage at 5 simulated seconds per second."""
    monkeypatch.chdir(tmp_path)
    result = agentdesk()
    assert result.exit_code == 0, result.output
    (app,) = opened.apps
    assert app.live and not app.demo  # type: ignore[attr-defined]
    state = app.control.state  # type: ignore[attr-defined]
    assert (state.pipeline, state.scenario, state.pace) == ("support-triage", "happy", 5.0)
    assert app.control.sim.workspace.root == DEMO  # type: ignore[attr-defined]


def test_demo_opens_the_scripted_show(agentdesk: Invoke, opened: _Opened) -> None:
    """``agentdesk demo`` opens the same app with the narrated script, at 2× pace."""
    result = agentdesk("demo")
    assert result.exit_code == 0, result.output
    (app,) = opened.apps
    assert app.demo and app.control.state.pace == 2.0  # type: ignore[attr-defined]


def test_tui_on_a_broken_workspace_lists_its_problems(
    agentdesk: Invoke, opened: _Opened, write_workspace: Callable[..., Path]
) -> None:
    """A workspace with problems reports them all and opens nothing (exit 2)."""
    root = write_workspace({"pipelines/greet.yaml": "name: greet\nsteps: [{id: x, kind: nope}]\n"})
    result = agentdesk("tui", "greet", "-w", root)
    assert result.exit_code == 2, result.output
    assert opened.apps == []
    assert "greet.yaml" in result.stderr
