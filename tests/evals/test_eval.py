"""``agentdesk eval`` on the demo workspace: reports, gates, JUnit, the judge, injection."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.evals.conftest import Eval, write_golden

GATES_HAPPY = "scenarios:\n  happy:\n    min_pass_rate: 1.0\n    max_latency_p90: {p90}\n"


def report(result: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_the_demo_golden_set_passes_its_gates_under_happy(run_eval: Eval) -> None:
    result = run_eval("support-triage", "--json")
    assert result.exit_code == 0, result.output
    data = report(result)
    [happy] = data["scenarios"]
    assert (happy["scenario"], happy["cases"], happy["passed"]) == ("happy", 24, 24)
    assert data["gates_passed"] and happy["gates"]
    assert set(happy["latency"]) == {"p50", "p90", "p95"}
    assert 0 < happy["latency"]["p50"] <= happy["latency"]["p90"] <= happy["latency"]["p95"]
    first = happy["results"][0]
    assert first["run_id"].startswith("run-") and first["release"] == happy["release"]
    assert first["tags"] == ["reply"] and first["scenario"] == "happy"
    assert all(a["passed"] for a in first["assertions"])


def test_a_gate_made_to_fail_and_to_pass(run_eval: Eval, tmp_path: Path) -> None:
    gates = tmp_path / "gates.yaml"
    gates.write_text(GATES_HAPPY.format(p90="10ms"))
    failing = run_eval("support-triage", "--gates", gates)
    assert failing.exit_code == 3
    assert "1 of 2 gate(s) failed" in failing.stdout
    gates.write_text(GATES_HAPPY.format(p90="30s"))
    passing = run_eval("support-triage", "--gates", gates)
    assert passing.exit_code == 0
    assert "all 2 gate(s) passed" in passing.stdout


def test_without_gates_every_case_must_pass(run_eval: Eval, tmp_path: Path) -> None:
    golden = write_golden(
        tmp_path / "g.jsonl",
        [
            {"id": "ok", "input": {"ticket_id": "T-1001"}},
            {"id": "no", "input": {"ticket_id": "T-1002"}, "expected": "something else"},
        ],
    )
    result = run_eval("support-triage", "-g", golden, "--no-gates", "--json")
    assert result.exit_code == 1
    cases = {c["case"]: c for c in report(result)["scenarios"][0]["results"]}
    assert cases["ok"]["passed"] and cases["ok"]["assertions"][0]["kind"] == "stop_reason"
    assert not cases["no"]["passed"]
    assert cases["no"]["assertions"][0]["message"].startswith('$.output: expected "something')


def test_junit_has_a_suite_per_scenario_and_a_case_per_case(run_eval: Eval, tmp_path: Path) -> None:
    junit = tmp_path / "results.xml"
    result = run_eval("support-triage", "-s", "happy", "-s", "payments-503-storm", "--junit", junit)
    assert result.exit_code == 0, result.output
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [
        "support-triage.happy",
        "support-triage.payments-503-storm",
    ]
    happy, storm = suites
    assert happy.get("tests") == "24" and happy.get("failures") == "0"
    assert len(storm.findall("testcase")) == 24
    failed = [c for c in storm.findall("testcase") if c.find("failure") is not None]
    assert storm.get("failures") == str(len(failed)) and len(failed) >= 10
    assert {c.get("name", "").split("-")[-1] for c in failed} == {"refund"}
    failure = failed[1].find("failure")
    assert failure is not None and failure.text is not None
    assert "breaker_open: refund" in failure.text
    assert root.get("tests") == "48" and root.get("failures") == str(len(failed))
    gates = {p.get("name"): p.get("value") for p in storm.iter("property")}
    assert gates["gate:max_breaker_trips"].startswith("pass: ")


def test_the_injection_gate_fails_because_the_pipeline_refunds(run_eval: Eval) -> None:
    result = run_eval("support-triage", "-s", "prompt-injection", "--json")
    assert result.exit_code == 3
    [scenario] = report(result)["scenarios"]
    injected = [c for c in scenario["results"] if "injection" in c["tags"]]
    assert len(injected) == 4 and not any(c["passed"] for c in injected)
    failed = [a for c in injected for a in c["assertions"] if not a["passed"]]
    assert all(a["message"].startswith("$.steps.refund: expected nothing") for a in failed)
    [gate] = [g for g in scenario["gates"] if g["gate"] == "min_pass_rate_by_tag[injection]"]
    assert gate == {
        "scenario": "prompt-injection",
        "gate": "min_pass_rate_by_tag[injection]",
        "limit": 1.0,
        "actual": 0.0,
        "passed": False,
    }


def test_injection_cases_only_run_where_they_are_meant_to(run_eval: Eval) -> None:
    data = report(run_eval("support-triage", "--json"))
    assert not any("injection" in c["tags"] for c in data["scenarios"][0]["results"])


def test_the_scripted_judge(run_eval: Eval, tmp_path: Path) -> None:
    def judged(pattern: str) -> dict[str, Any]:
        return {
            "kind": "judge",
            "path": "$.steps.triage.reply",
            "criteria": "The reply says what happens next.",
            "sim_pass_if": pattern,
        }

    golden = write_golden(
        tmp_path / "g.jsonl",
        [
            {"id": "yes", "input": {"ticket_id": "T-1001"}, "assert": [judged("carrier")]},
            {"id": "no", "input": {"ticket_id": "T-1001"}, "assert": [judged("refunded")]},
        ],
    )
    data = report(run_eval("support-triage", "-g", golden, "--no-gates", "--json"))
    yes, no = (c["assertions"][0] for c in data["scenarios"][0]["results"])
    assert yes["passed"] and yes["message"].startswith("ok: score 1 (needs 0.5)")
    assert not no["passed"] and no["message"].startswith("score 0 (needs 0.5): /refunded/ not")


def test_compounding_is_measured_per_step(run_eval: Eval) -> None:
    data = report(run_eval("support-triage", "-s", "payments-503-storm", "--json"))
    compounding = data["scenarios"][0]["compounding"]
    steps = {s["step"]: s for s in compounding["steps"]}
    assert steps["ticket"]["per_case"] == 1.0 and steps["ticket"]["first_time"] == 1.0
    refund = steps["refund"]
    assert refund["first_time"] < refund["in_the_end"] < 1.0
    ends = compounding["end_to_end"]
    assert ends["first_time"] <= ends["with_policies"] <= ends["if_validation_caught_90pct"]
    assert compounding["reference"]["without_validation"] == pytest.approx(0.817, abs=1e-3)
    assert compounding["reference"]["with_validation"] == pytest.approx(0.980, abs=1e-3)


def test_the_same_eval_twice_gives_the_same_report(run_eval: Eval) -> None:
    """Byte for byte, but for where it was recorded (a new eval id and batches each time)."""
    args = ("support-triage", "-s", "llm-429-burst", "--json")
    first, second = report(run_eval(*args)), report(run_eval(*args))
    assert first.pop("recording")["eval"] != second.pop("recording")["eval"]
    assert first == second
    unrecorded = (*args, "--no-record")
    assert run_eval(*unrecorded).stdout == run_eval(*unrecorded).stdout


def test_the_rich_report_names_the_figures(run_eval: Eval) -> None:
    out = " ".join(run_eval("support-triage", "-s", "payments-503-storm").stdout.split())
    for heading in ("Scenarios", "Pass rate by tag", "Error rate per downstream", "Gates"):
        assert heading in out
    assert "Compounding · payments-503-storm" in out
    assert "Failing cases · payments-503-storm" in out
    assert "98% per step over 10 steps is 81.7% end to end" in out


def test_the_evals_package_is_headless() -> None:
    probe = (
        "import sys; sys.modules['httpx._main'] = None\n"
        "import agentdesk.evals.runner, agentdesk.evals.junit\n"
        "bad = [m for m in ('rich', 'textual', 'sqlmodel', 'agentdesk.cli', 'agentdesk.store')"
        " if m in sys.modules]\n"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_junit_survives_control_characters_in_model_output() -> None:
    from agentdesk.evals.junit import clean

    assert clean("ok\x00\x1b[31mred\x07") == "ok\ufffd\ufffd[31mred\ufffd"
    assert ET.fromstring("<a>" + clean("x\x01y") + "</a>").text == "x\ufffdy"


def test_alerts_are_judged_over_each_scenario(run_eval: Eval) -> None:
    """The workspace's alert rules (the demo's alerts.yaml: the four defaults) over the eval's
    results: the CRM spike's timeouts fire the tool-call error rate; happy fires nothing."""
    result = run_eval("support-triage", "-s", "happy", "-s", "crm-latency-spike", "--json")
    alerts = report(result)["alerts"]
    assert [(a["scenario"], a["rule"]) for a in alerts] == [
        ("crm-latency-spike", "tool_error_rate")
    ]
    assert alerts[0]["value"] > alerts[0]["threshold"] == 0.05
    table = " ".join(run_eval("support-triage", "-s", "crm-latency-spike").stdout.split())
    assert "Alerts fired" in table and "tool_error_rate" in table
