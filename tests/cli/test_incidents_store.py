"""``agentdesk incidents save/list/show/export/import`` and ``agentdesk replay``, end to end.

Runs are recorded with ``agentdesk run`` (which keeps the tape) into the per-test store the
conftest points ``AGENTDESK_DB`` at; the demo workspace's files are read, never written.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from agentdesk.cli import main
from agentdesk.incidents.bundle import read_bundle, write_bundle
from agentdesk.simulation import demo_workspace

DEMO = demo_workspace()


def _agentdesk(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _failed_runs() -> list[str]:
    _agentdesk(
        "run",
        "support-triage",
        "-w",
        DEMO,
        "-s",
        "crm-latency-spike",
        "--runs",
        "12",
        "--sessions",
        "4",
    )
    listed = json.loads(_agentdesk("runs", "--failed", "--json", "-w", DEMO).stdout)
    return [run["ref"] for run in listed]


def _saved() -> dict[str, object]:
    saved = _agentdesk("incidents", "save", *_failed_runs(), "--json", "-w", DEMO)
    assert saved.exit_code == 0, saved.output
    found: dict[str, object] = json.loads(saved.stdout)
    return found


def test_recorded_runs_saved_as_an_incident_replay_exactly() -> None:
    incident = _saved()
    runs = incident["runs"]
    assert isinstance(runs, list) and sum(r["focus"] for r in runs) == 2
    listed = json.loads(_agentdesk("incidents", "list", "--json", "-w", DEMO).stdout)
    assert [i["id"] for i in listed] == [incident["id"]] and listed[0]["failed"] == 2
    replayed = _agentdesk("replay", str(incident["id"]), "--json", "-w", DEMO)
    assert replayed.exit_code == 0, replayed.output
    result = json.loads(replayed.stdout)
    assert result["equal"] and result["events"]["recorded"] == incident["events"]


def test_what_if_from_the_command_line_compares_side_by_side() -> None:
    incident = _saved()
    args = ["--set", "steps.ticket.timeout=15s", "--set", "steps.customer.timeout=15s"]
    shown = _agentdesk("replay", str(incident["id"]), *args, "--json", "-w", DEMO)
    assert shown.exit_code == 0, shown.output
    result = json.loads(shown.stdout)
    assert result["original"]["outcome"] == "2 failed" and result["changed"]["outcome"] == "2 ok"
    assert result["divergence"]["index"] == 2
    table = _agentdesk("replay", str(incident["id"]), *args, "-w", DEMO)
    assert "what if: steps.ticket.timeout = 15.0; steps.customer.timeout = 15.0" in " ".join(
        table.stdout.split()
    )


def test_an_exported_bundle_imports_into_another_store_and_replays(
    tmp_path: Path, store_db: Path
) -> None:
    incident = _saved()
    out = tmp_path / "incident.jsonl"
    exported = _agentdesk("incidents", "export", str(incident["id"]), out, "-w", DEMO)
    assert exported.exit_code == 0, exported.output
    other = tmp_path / "other.db"
    imported = _agentdesk("incidents", "import", out, "--db", other, "--json")
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout)["id"] == incident["id"]
    again = _agentdesk("incidents", "export", str(incident["id"]), "-", "--db", other)
    assert again.stdout_bytes == out.read_bytes()
    assert _agentdesk("replay", out).exit_code == 0


def test_a_replay_that_diverges_exits_4_showing_both_events(tmp_path: Path) -> None:
    bundle = read_bundle(DEMO / "incidents" / "payments-503-storm.incident.jsonl")
    events = list(bundle.events)
    at = next(i for i, event in enumerate(events) if b'"service":"crm"' in event)
    events[at] = events[at].replace(b'"service":"crm"', b'"service":"crm2"')
    path = tmp_path / "edited.incident.jsonl"
    write_bundle(dataclasses.replace(bundle, events=tuple(events)), path)
    diverged = _agentdesk("replay", path)
    assert diverged.exit_code == 4
    said = " ".join(diverged.stdout.split())
    assert f"diverged at event {at}:" in said
    assert '"service":"crm2"' in said and '"service":"crm"' in said
    edited = _agentdesk("replay", path, "--json")
    assert json.loads(edited.stdout)["divergence"]["index"] == at


def test_an_edited_bundle_no_longer_matches_its_id(tmp_path: Path) -> None:
    source = DEMO / "incidents" / "payments-503-storm.incident.jsonl"
    path = tmp_path / "edited.incident.jsonl"
    path.write_bytes(source.read_bytes().replace(b'"status":503', b'"status":502', 1))
    refused = _agentdesk("replay", path)
    assert refused.exit_code == 2 and "does not match the id" in refused.stderr


def test_a_bad_bundle_is_refused_naming_file_and_line_and_nothing_is_stored(
    tmp_path: Path,
) -> None:
    source = DEMO / "incidents" / "llm-429-burst.incident.jsonl"
    lines = source.read_bytes().splitlines(keepends=True)
    path = tmp_path / "broken.incident.jsonl"
    path.write_bytes(b"".join(lines[:30]) + b'{"event": {"type": "nope"}}\n')
    refused = _agentdesk("incidents", "import", path)
    assert refused.exit_code == 2
    assert refused.stderr.startswith(f"error: {path}:31: Invalid value 'nope'")
    assert json.loads(_agentdesk("incidents", "list", "--json").stdout) == []


def test_a_run_recorded_without_its_tape_cannot_be_saved(store_db: Path) -> None:
    refs = _failed_runs()
    with sqlite3.connect(store_db) as conn:
        conn.execute("DELETE FROM tape_batches")
    refused = _agentdesk("incidents", "save", refs[0], "-w", DEMO)
    assert refused.exit_code != 0
    assert "was recorded without its tape: record it again with `agentdesk run`" in " ".join(
        refused.stderr.split()
    )


def test_a_request_off_the_tape_exits_5_naming_the_step(tmp_path: Path) -> None:
    source = DEMO / "incidents" / "crm-latency-spike.incident.jsonl"
    changed = _agentdesk("replay", source, "--set", "steps.triage.max_tokens=300")
    assert changed.exit_code == 0  # a what-if: the sims answer what the tape cannot
    bundle = read_bundle(source)
    tape = tuple(e for e in bundle.tape if e.step != "triage")
    path = tmp_path / "short.incident.jsonl"
    write_bundle(dataclasses.replace(bundle, tape=tape), path)
    missed = _agentdesk("replay", path)
    assert missed.exit_code == 5
    said = " ".join(missed.stderr.split())
    assert said.startswith("tape miss: step triage (run-")
    assert "the tape has no call to llm from this step of this run" in said


# --- a load test's failures as one incident ------------------------------------------------------

LOAD = ["-n", "40", "--duration", "15m", "--arrival", "spike", "-s", "crm-latency-spike"]


def _recorded_load() -> dict[str, Any]:
    ran = _agentdesk("load", "support-triage", "-w", DEMO, *LOAD, "--record", "--json")
    assert ran.exit_code in (0, 1), ran.output
    report: dict[str, Any] = json.loads(ran.stdout)
    return report


def test_a_load_tests_failures_saved_as_one_incident_replay_exactly() -> None:
    report = _recorded_load()
    status = report["arms"][0]["status"]
    failed = status["failed"] + status["stopped"]
    assert failed > 10 and report["recording"]["acknowledged"] == report["runs"]
    batch = report["recording"]["batch"]
    saved = _agentdesk("incidents", "save", "--failed", batch, "--json", "-w", DEMO)
    assert saved.exit_code == 0, saved.output
    incident = json.loads(saved.stdout)
    runs = incident["runs"]
    assert sum(r["focus"] for r in runs) == failed
    sessions = [r["session"] for r in runs]
    assert len(set(sessions)) < len(sessions)  # users came back: several turns of one session
    replayed = _agentdesk("replay", incident["id"], "--json", "-w", DEMO)
    assert replayed.exit_code == 0, replayed.output
    result = json.loads(replayed.stdout)
    assert result["equal"] and result["events"]["replayed"] == incident["events"]


def test_a_what_if_on_a_load_incident_sends_the_same_traffic_with_the_change() -> None:
    batch = _recorded_load()["recording"]["batch"]
    saved = _agentdesk("incidents", "save", "--failed", batch, "--json", "-w", DEMO)
    incident = json.loads(saved.stdout)
    args = ["--set", "steps.ticket.timeout=15s", "--set", "steps.customer.timeout=15s"]
    shown = _agentdesk("replay", incident["id"], *args, "--json", "-w", DEMO)
    assert shown.exit_code == 0, shown.output
    result = json.loads(shown.stdout)
    focus = sum(r["focus"] for r in incident["runs"])
    assert result["original"]["outcome"] == f"{focus} failed"
    changed = dict(part.split(" ")[::-1] for part in result["changed"]["outcome"].split(", "))
    assert int(changed["ok"]) > int(changed.get("failed", 0))


def test_first_keeps_the_earliest_failures_and_less_context() -> None:
    batch = _recorded_load()["recording"]["batch"]
    every = json.loads(
        _agentdesk("incidents", "save", "--failed", batch, "--json", "-w", DEMO).stdout
    )
    first = _agentdesk("incidents", "save", "--failed", batch, "--first", "3", "--json", "-w", DEMO)
    assert first.exit_code == 0, first.output
    some = json.loads(first.stdout)
    assert sum(r["focus"] for r in some["runs"]) == 3 and some["events"] < every["events"]
    replayed = json.loads(_agentdesk("replay", some["id"], "--json", "-w", DEMO).stdout)
    assert replayed["equal"]


def test_saving_failures_says_what_is_wrong() -> None:
    nothing = _agentdesk("incidents", "save", "-w", DEMO)
    assert nothing.exit_code == 2 and "--failed BATCH" in nothing.output
    alone = _agentdesk("incidents", "save", "--first", "2", "RUN", "-w", DEMO)
    assert alone.exit_code == 2 and "--first goes with --failed" in alone.output
    unknown = _agentdesk("incidents", "save", "--failed", "ffffff", "-w", DEMO)
    assert unknown.exit_code != 0 and "no recording 'ffffff'" in unknown.output
    ran = _agentdesk(
        "load", "support-triage", "-w", DEMO, "-n", "3", "--duration", "2m", "--record"
    )
    batch = ran.stdout.split(" · batch ")[1].split(" ")[0]
    calm = _agentdesk("incidents", "save", "--failed", batch, "-w", DEMO)
    assert calm.exit_code != 0 and "no failures to save" in calm.output


def test_a_load_with_a_candidate_is_not_recorded() -> None:
    args = ["--candidate", str(DEMO), "--canary", "10%", "--record"]
    refused = _agentdesk("load", "support-triage", "-w", DEMO, "-n", "3", *args)
    assert refused.exit_code == 2 and "--record" in refused.output
