"""Recording from ``agentdesk run``, and reading it back with ``agentdesk runs``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.support import DEMO, WORKSPACE, Invoke, WriteWorkspace, assert_no_crash

STORM = ("--scenario", "payments-503-storm", "--sessions", "4")


def _listed(agentdesk: Invoke, *args: str) -> list[dict[str, object]]:
    result = agentdesk("runs", "--json", *args)
    assert result.exit_code == 0, result.output
    listed: list[dict[str, object]] = json.loads(result.stdout)
    return listed


def test_run_records_by_default_and_says_where(
    agentdesk: Invoke, write_workspace: WriteWorkspace, store_db: Path
) -> None:
    result = agentdesk("run", "greet", "-w", write_workspace())
    assert result.exit_code == 0, result.output
    last = result.stdout.strip().splitlines()[-1]
    batch = _listed(agentdesk)[0]["batch_id"]
    assert last == f"recorded in {store_db} · batch {batch} · 1 run(s) acknowledged"


def test_no_record_writes_no_store(
    agentdesk: Invoke, write_workspace: WriteWorkspace, store_db: Path
) -> None:
    result = agentdesk("run", "greet", "-w", write_workspace(), "--no-record")
    assert result.exit_code == 0, result.output
    assert "recorded" not in result.stdout
    assert not store_db.exists()


def test_runs_lists_newest_first_and_filters(agentdesk: Invoke) -> None:
    assert agentdesk("run", "support-triage", "-w", DEMO, *STORM, "--runs", "12").exit_code == 1
    assert agentdesk("run", "support-triage", "-w", DEMO, "--runs", "2").exit_code == 0
    listed = _listed(agentdesk, "--limit", "50")
    assert len(listed) == 14
    assert [r["scenario"] for r in listed[:3]] == ["happy", "happy", "payments-503-storm"]
    failed = _listed(agentdesk, "--failed")
    assert failed and all(r["status"] != "ok" for r in failed)
    assert {r["stop_reason"] for r in failed} >= {"breaker_open: refund"}
    assert len(_listed(agentdesk, "--limit", "3")) == 3
    assert _listed(agentdesk, "--pipeline", "doc-reconciliation") == []
    table = agentdesk("runs", "--limit", "3")
    assert table.exit_code == 0
    assert f"{listed[0]['batch_id']}/{listed[0]['run_id']}" in table.stdout


def test_runs_by_scenario_and_release_add_up_the_runs(agentdesk: Invoke) -> None:
    assert agentdesk("run", "support-triage", "-w", DEMO, *STORM, "--runs", "12").exit_code == 1
    assert agentdesk("run", "support-triage", "-w", DEMO, "--runs", "2").exit_code == 0
    listed = _listed(agentdesk, "--limit", "50")
    by_scenario = json.loads(agentdesk("runs", "--by", "scenario", "--json").stdout)
    for row in by_scenario:
        mine = [r for r in listed if r["scenario"] == row["key"]]
        assert row["runs"] == len(mine)
        assert row["failed"] == sum(r["status"] != "ok" for r in mine)
        assert row["cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in mine))
        assert row["prompt_tokens"] == sum(r["prompt_tokens"] for r in mine)
    assert {row["key"] for row in by_scenario} == {"happy", "payments-503-storm"}
    by_release = json.loads(agentdesk("runs", "--by", "release", "--json").stdout)
    assert [(row["key"], row["runs"]) for row in by_release] == [(listed[0]["release_id"], 14)]
    table = agentdesk("runs", "--by", "release")
    assert table.exit_code == 0 and str(listed[0]["release_id"])[:12] in table.stdout


def test_runs_show_prints_what_run_printed(agentdesk: Invoke) -> None:
    """A stored run folds back into the very summary the live run printed, line for line."""
    live = agentdesk("run", "support-triage", "-w", DEMO, "--scenario", "payments-503-storm")
    (run,) = _listed(agentdesk)
    shown = agentdesk("runs", "show", str(run["run_id"]))
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.splitlines()[1:] == live.stdout.splitlines()[:-1]
    assert shown.stdout.splitlines()[0].startswith(f"run {run['batch_id']}/{run['run_id']} ·")


def test_runs_show_json_is_run_json(agentdesk: Invoke) -> None:
    live = agentdesk("run", "support-triage", "-w", DEMO, "--scenario", "llm-429-burst", "--json")
    live_json = json.loads(live.stdout)
    (run,) = _listed(agentdesk)
    assert live_json["recording"]["batch"] == run["batch_id"]
    shown = json.loads(agentdesk("runs", "show", str(run["run_id"])[:10], "--json").stdout)
    assert shown["ref"] == f"{run['batch_id']}/{run['run_id']}"
    for key in ("pipeline", "scenario", "seed", "runs", "steps", "services", "tokens"):
        assert shown[key] == live_json[key], key


def test_the_same_run_recorded_twice_is_shown_latest_first(agentdesk: Invoke) -> None:
    for scenario in ("happy", "payments-503-storm"):
        agentdesk("run", "support-triage", "-w", DEMO, "--scenario", scenario)
    older, newer = reversed(_listed(agentdesk))
    assert older["run_id"] == newer["run_id"]
    latest = agentdesk("runs", "show", str(newer["run_id"]))
    assert "scenario payments-503-storm" in latest.stdout
    pinned = agentdesk("runs", "show", f"{older['batch_id']}/{older['run_id']}")
    assert "scenario happy" in pinned.stdout


def test_unknown_and_ambiguous_ids_exit_2(agentdesk: Invoke) -> None:
    agentdesk("run", "support-triage", "-w", DEMO, "--runs", "3", "--sessions", "3")
    unknown = agentdesk("runs", "show", "run-nope")
    assert unknown.exit_code == 2
    assert unknown.stderr == "error: no recorded run 'run-nope' (agentdesk runs lists them)\n"
    ambiguous = agentdesk("runs", "show", "run-")
    assert ambiguous.exit_code == 2
    assert ambiguous.stderr.startswith("error: 'run-' is ambiguous: it matches 3 runs (run-")
    assert ambiguous.stdout == ""


def test_an_empty_store_says_so(agentdesk: Invoke) -> None:
    result = agentdesk("runs")
    assert result.exit_code == 0 and result.stdout == "no recorded runs\n"


def test_db_option_picks_another_store(agentdesk: Invoke, tmp_path: Path, store_db: Path) -> None:
    other = tmp_path / "other.db"
    assert agentdesk("run", "support-triage", "-w", DEMO, "--db", other).exit_code == 0
    assert other.is_file() and not store_db.exists()
    assert len(_listed(agentdesk, "--db", str(other))) == 1
    assert agentdesk("runs").stdout == "no recorded runs\n"


def test_a_bad_db_is_a_clear_error_and_nothing_runs(agentdesk: Invoke, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    args = ("--db", "nosuchdb://x", "--events", events)
    result = agentdesk("run", "support-triage", "-w", DEMO, *args)
    assert_no_crash(result)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --db nosuchdb://x: Can't load plugin")
    assert result.stdout == "" and not events.exists()


def test_redaction_is_a_workspace_setting(
    agentdesk: Invoke, write_workspace: WriteWorkspace, store_db: Path
) -> None:
    settings = "store:\n  redact: [phone]\n  extra_patterns: ['Ad[a-z]']\n"
    root = write_workspace({"agentdesk.yaml": WORKSPACE + settings})
    args = ("--input", '{"name": "Ada ada@example.com +44 20 7946 0958"}')
    assert agentdesk("run", "greet", "-w", root, *args).exit_code == 0
    stored = b"".join(p.read_bytes() for p in store_db.parent.glob("agentdesk.db*"))
    assert b"[redacted] ada@example.com [redacted:phone]" in stored


def test_a_bad_redaction_pattern_is_reported_with_its_place(
    agentdesk: Invoke, write_workspace: WriteWorkspace, store_db: Path
) -> None:
    root = write_workspace({"agentdesk.yaml": WORKSPACE + "store:\n  extra_patterns: ['(']\n"})
    result = agentdesk("run", "greet", "-w", root)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[1] == (
        "agentdesk.yaml:13:3: extra_patterns: '(' is not a regex: "
        "missing ), unterminated subpattern at position 0"
    )
    assert not store_db.exists()


def test_a_run_cut_short_is_listed_and_shown_as_unfinished(
    agentdesk: Invoke, store_db: Path
) -> None:
    """A recording that ended mid-run (killed, or the store failed) keeps what it committed."""
    from agentdesk.engine.events import RunStarted, StepStarted
    from agentdesk.store import Recorder, locate, new_batch, open_engine
    from agentdesk.store.redaction import Redactor

    engine = open_engine(locate(DEMO, str(store_db)))
    recorder = Recorder(engine, new_batch(DEMO, "greet", "happy", 7, False), Redactor())
    recorder.offer(
        RunStarted(
            t=0.0,
            run_id="run-cut",
            pipeline="greet",
            session=0,
            seed=7,
            scenario="happy",
            input={"name": "Ada"},
        )
    )
    recorder.offer(StepStarted(t=0.5, run_id="run-cut", step="ticket", kind="tool"))
    recorder.close()
    engine.dispose()
    (run,) = _listed(agentdesk)
    assert (run["status"], run["duration"], run["events"]) == ("running", None, 2)
    assert "unfinished" in agentdesk("runs").stdout
    shown = agentdesk("runs", "show", "run-cut")
    assert shown.exit_code == 0, shown.output
    assert "the recording ended before this run finished" in shown.stdout
