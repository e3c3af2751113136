"""``agentdesk load`` from the command line: the report, --json, exit codes, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from agentdesk.cli import main
from tests.load.conftest import DEMO

SMALL = ["-n", "10", "--duration", "2m", "--think", "20s", "--windows", "4"]


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_report_draws_totals_charts_breakers_and_alerts() -> None:
    code, out, _ = invoke(
        "load", "support-triage", "-w", str(DEMO), "-s", "payments-503-storm", *SMALL
    )
    assert code in (0, 1)
    flat = " ".join(out.split())
    for part in ("Totals", "Over time", "Breakers", "service:payments", "Latency over time"):
        assert part in flat
    assert "Alerts" in flat and "tool-call error rate > 5% over 5m" in flat


def test_json_is_the_whole_report() -> None:
    code, out, _ = invoke("load", "support-triage", "-w", str(DEMO), *SMALL, "--json")
    data = json.loads(out)
    assert code == 0
    assert data["plan"]["sessions"] == 10 and data["plan"]["duration"] == 120
    [arm] = data["arms"]
    assert arm["runs"] == sum(w["runs"] for w in arm["windows"]) == data["runs"] > 10
    assert set(arm["latency"]) == {"p50", "p95", "p99", "max", "mean"}
    assert len(data["alert_rules"]) == 4 and data["alerts"] == []


def test_options_that_do_not_fit_are_refused_before_anything_runs() -> None:
    code, _, err = invoke("load", "support-triage", "-w", str(DEMO), "--canary", "10%")
    assert code == 2 and "needs --candidate REF" in err
    code, _, err = invoke("load", "support-triage", "-w", str(DEMO), "--duration", "an hour")
    assert code == 2 and "expected a duration" in err
    code, _, err = invoke(
        "load", "support-triage", "-w", str(DEMO), "--candidate", str(DEMO), "--canary", "150%"
    )
    assert code == 2 and "between 0% and 100%" in err
    code, _, err = invoke(
        "load", "support-triage", "-w", str(DEMO), "--candidate", "no-such-label", "--shadow"
    )
    assert code == 2 and "no-such-label" in err


def test_a_bad_alerts_file_is_reported_with_its_place(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    shutil.copytree(DEMO, root, ignore=shutil.ignore_patterns(".agentdesk", "alerts.yaml"))
    (root / "alerts.yaml").write_text("rules:\n  tool_error_rate: {above: 2}\n")
    code, out, err = invoke("load", "support-triage", "-w", str(root), *SMALL)
    assert code == 2 and out == ""
    assert "alerts.yaml:2:" in err and "above" in err


def test_workers_split_the_sessions_and_say_so() -> None:
    code, out, _ = invoke("load", "support-triage", "-w", str(DEMO), *SMALL, "--workers", "2")
    assert code == 0
    assert "2 workers (replicas with their own breakers)" in " ".join(out.split())
    code, out, _ = invoke(
        "load", "support-triage", "-w", str(DEMO), *SMALL, "--workers", "2", "--json"
    )
    assert json.loads(out)["workers"] == 2


def test_workers_refuse_a_recording() -> None:
    code, _, err = invoke(
        "load", "support-triage", "-w", str(DEMO), *SMALL, "--workers", "2", "--record"
    )
    assert code == 2 and "--workers" in err and "use --workers 1" in " ".join(err.split())
