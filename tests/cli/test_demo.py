"""The bundled demo workspace through the command line: what a first-time user sees."""

from __future__ import annotations

import json
import re
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
