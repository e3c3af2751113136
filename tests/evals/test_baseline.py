"""Results stored per release, baselines, and the faithfulness gate relative to a baseline.

Each test works on a copy of the demo workspace: an eval of it is recorded as the baseline,
then a change to what the model answers (the sim's scripted refund reply) makes a new release
whose refund replies no longer say the money was refunded: unfaithful, so the judged
faithfulness drops, the refund cases regress, and ``max_drop: {faithfulness: 5%}`` fails.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from agentdesk.cli import main
from agentdesk.store import locate, open_engine
from agentdesk.store.evals import EvalStore
from tests.evals.conftest import DEMO

REFUND_REPLY = "Sorry about the double charge. We have refunded the duplicate payment."


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(DEMO, root, ignore=shutil.ignore_patterns(".agentdesk"))
    return root


def agentdesk(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def evaluate(root: Path, *args: str | Path) -> tuple[int, dict[str, Any]]:
    result = agentdesk("eval", "support-triage", "-w", root, "--json", *args)
    return result.exit_code, json.loads(result.stdout)


def unfaithful(root: Path) -> None:
    """The model's refund reply stops saying the money was refunded: a new release."""
    config = root / "agentdesk.yaml"
    text = config.read_text()
    assert REFUND_REPLY in text
    config.write_text(text.replace(REFUND_REPLY, "Thanks, we are looking into your payment."))


def gate(data: dict[str, Any], name: str, scenario: str = "happy") -> dict[str, Any]:
    [found] = [
        g
        for s in data["scenarios"]
        for g in s["gates"]
        if g["gate"] == name and g["scenario"] == scenario
    ]
    return found


def test_an_eval_is_stored_with_its_release_cases_and_runs(workspace: Path) -> None:
    code, data = evaluate(workspace, "-s", "happy", "-s", "payments-503-storm")
    assert code == 0
    recording = data["recording"]
    engine = open_engine(locate(workspace))
    try:
        store = EvalStore(engine)
        [stored] = store.evals("support-triage")
        assert stored.id == recording["eval"]
        assert stored.release_id == data["scenarios"][0]["release"]
        assert (stored.cases, stored.passed) == (48, 24 + data["scenarios"][1]["passed"])
        happy, storm = store.scenarios(stored.id)
        assert (happy.scenario, storm.scenario) == ("happy", "payments-503-storm")
        assert happy.batch_id == recording["batches"]["happy"]
        assert storm.scores["faithfulness"] == pytest.approx(  # --json rounds to 6 places
            data["scenarios"][1]["scores"]["faithfulness"], abs=1e-6
        )
        cases = store.cases(stored.id, "payments-503-storm")
        failing = [c for c in cases if not c.result.passed]
        reported = [c for c in data["scenarios"][1]["results"] if not c["passed"]]
        assert [c.result.case_id for c in failing] == [c["case"] for c in reported]
        first = failing[0]
        assert first.result.to_json() == reported[0]  # every field read back as reported
        assert first.run_ref == f"{storm.batch_id}/{first.result.run_id}"
    finally:
        engine.dispose()
    # The failing case's run was recorded: its trace opens by the reference the store gives.
    shown = agentdesk("runs", "show", first.run_ref, "-w", workspace, "--json")
    assert shown.exit_code == 0, shown.output
    run = json.loads(shown.stdout)
    assert run["ref"] == first.run_ref and run["scenario"] == "payments-503-storm"
    assert run["stop_reasons"] == {reported[0]["stop_reason"]: 1}


def test_no_record_stores_nothing(workspace: Path) -> None:
    code, data = evaluate(workspace, "-s", "happy", "--no-record")
    assert code == 0 and data["recording"] is None
    engine = open_engine(locate(workspace))
    try:
        assert EvalStore(engine).evals() == []
    finally:
        engine.dispose()


def test_without_a_baseline_relative_gates_are_skipped_and_say_why(workspace: Path) -> None:
    code, data = evaluate(workspace, "-s", "happy")
    assert code == 0 and data["baseline"] is None
    drop = gate(data, "max_drop[faithfulness]")
    assert drop["skipped"] and drop["passed"] and drop["actual"] is None
    assert drop["note"] == "no baseline (run with --baseline LABEL|RELEASE)"
    text = agentdesk("eval", "support-triage", "-w", workspace, "-s", "happy").stdout
    assert "(3 skipped: no baseline)" in " ".join(text.split())


def test_a_faithfulness_drop_fails_the_gate_and_shows_the_regressions(
    workspace: Path, tmp_path: Path
) -> None:
    _, before = evaluate(workspace, "-s", "happy")
    release = before["scenarios"][0]["release"]
    unfaithful(workspace)
    junit = tmp_path / "results.xml"
    code, after = evaluate(workspace, "-s", "happy", "--baseline", release[:8], "--junit", junit)
    assert after["scenarios"][0]["release"] != release
    assert code == 3
    drop = gate(after, "max_drop[faithfulness]")
    assert not drop["passed"] and not drop["skipped"]
    assert drop["baseline"] == 1.0 and drop["value"] < 0.95
    assert drop["actual"] == pytest.approx(1 - drop["value"])
    baseline = after["baseline"]
    assert baseline["release"] == release and baseline["ref"] == release[:8]
    [happy] = baseline["scenarios"]
    regressed = {c["case"] for c in happy["regressions"]}
    assert regressed and all(case.endswith("-refund") for case in regressed)
    assert happy["improvements"] == [] and happy["new"] == happy["gone"] == []
    assert happy["figures"]["faithfulness"]["baseline"] == 1.0
    assert happy["figures"]["pass_rate"]["change"] < 0
    failure = next(c for c in happy["regressions"])["failures"]
    assert any(f.startswith("judge: score 0") for f in failure)
    # JUnit: the suite names the baseline; a regressed case's failure says it passed there.
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["baseline:regressions"] == str(len(regressed))
    assert properties["gate:max_drop[faithfulness]"].startswith("FAIL: ")
    texts = [f.text or "" for f in suite.iter("failure")]
    assert sum(f"passed in the baseline release {release}" in t for t in texts) == len(regressed)
    # The table says the same.
    out = agentdesk("eval", "support-triage", "-w", workspace, "-s", "happy", "--baseline", release)
    flat = " ".join(out.stdout.split())
    assert f"Against baseline {release} (release {release[:12]})" in flat
    assert f"{len(regressed)} regressed" in flat and "✗ regressed T-1009-refund" in flat


def test_a_label_names_the_baseline_release(workspace: Path) -> None:
    _, before = evaluate(workspace, "-s", "happy")
    release = before["scenarios"][0]["release"]
    labelled = agentdesk("artifacts", "label", "production", "agentdesk.yaml", "-w", workspace)
    assert labelled.exit_code == 0, labelled.output
    unfaithful(workspace)
    evaluate(workspace, "-s", "happy")  # the new release is evaluated too: newer, not labelled
    code, after = evaluate(workspace, "-s", "happy", "--baseline", "production")
    assert code == 3
    assert after["baseline"]["release"] == release
    assert after["baseline"]["ref"] == "production"


def test_a_baseline_without_results_for_a_scenario_skips_its_relative_gates(
    workspace: Path,
) -> None:
    _, before = evaluate(workspace, "-s", "happy")
    release = before["scenarios"][0]["release"]
    code, data = evaluate(workspace, "-s", "payments-503-storm", "--baseline", release)
    assert code == 0
    [storm] = data["baseline"]["scenarios"]
    assert storm["compared"] is False
    drop = gate(data, "max_drop[faithfulness]", "payments-503-storm")
    assert drop["skipped"]
    assert drop["note"] == f"baseline {release[:12]} has no results under payments-503-storm"


@pytest.mark.parametrize(
    ("baseline", "message"),
    [
        ("nosuch", "--baseline nosuch: neither an evaluated release of support-triage nor a label"),
        ("0000", "--baseline 0000: neither an evaluated release"),
    ],
)
def test_a_baseline_that_names_nothing_is_bad_input(
    workspace: Path, baseline: str, message: str
) -> None:
    evaluate(workspace, "-s", "happy")
    result = agentdesk("eval", "support-triage", "-w", workspace, "--baseline", baseline)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in " ".join(result.stderr.split())
    engine = open_engine(locate(workspace))
    try:
        assert len(EvalStore(engine).evals()) == 1  # nothing ran, nothing was recorded
    finally:
        engine.dispose()


def test_a_baseline_in_an_empty_store_says_so(workspace: Path) -> None:
    result = agentdesk("eval", "support-triage", "-w", workspace, "--baseline", "production")
    assert result.exit_code == 2
    assert "no eval of support-triage is recorded in this store yet" in result.stderr
