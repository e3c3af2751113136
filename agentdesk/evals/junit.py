"""An eval as JUnit XML, the format CI systems read: one testsuite per scenario, one testcase
per case, a ``failure`` element per failing case listing every assertion that failed.

Times are simulated seconds (a case's run duration), the figure that matters and the one
that does not change from one machine to the next. Gates are not cases, so they go in each
suite's ``properties`` (``gate:max_latency_p90`` → ``pass: 0.21 (must be <= 0.25)``) and
failed ones in its ``system-err``. With a baseline (``--baseline``) each suite names the
baseline release in its properties, a regressed case's failure says that it passed there,
and the suite's ``system-out`` lists the regressions and improvements. Model output can
hold characters XML 1.0 forbids (control characters), which would make the whole file
unreadable to the parser: they are replaced.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from agentdesk.evals.baseline import Comparison, ScenarioComparison
from agentdesk.evals.report import CaseResult, EvalReport, ScenarioReport

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def junit_xml(report: EvalReport, comparison: Comparison | None = None) -> bytes:
    root = ET.Element("testsuites", name=f"agentdesk eval {report.pipeline}")
    root.extend(
        _suite(report, scenario, comparison.of(scenario.scenario) if comparison else None)
        for scenario in report.scenarios
    )
    _totals(root)
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


def write_junit(report: EvalReport, path: Path, comparison: Comparison | None = None) -> None:
    path.write_bytes(junit_xml(report, comparison))


def _suite(
    report: EvalReport, scenario: ScenarioReport, compared: ScenarioComparison | None
) -> ET.Element:
    suite = ET.Element("testsuite", name=f"{report.pipeline}.{scenario.scenario}")
    properties = ET.SubElement(suite, "properties")
    for name, value in (("scenario", scenario.scenario), ("release", scenario.release)):
        ET.SubElement(properties, "property", name=name, value=value)
    ET.SubElement(properties, "property", name="seed", value=str(scenario.seed))
    if compared is not None:
        _baseline_properties(properties, compared)
    for gate in scenario.gates:
        verdict = "skip" if gate.skipped else "pass" if gate.passed else "FAIL"
        value = f"{verdict}: {gate.describe()}"
        ET.SubElement(properties, "property", name=f"gate:{gate.gate}", value=value)
    regressed = {c.case_id: c.before.release for c in compared.regressions} if compared else {}
    suite.extend(_case(report, scenario, case, regressed) for case in scenario.cases)
    if compared is not None and compared.changes:
        lines = [f"{c.change}: {c.case_id}" for c in compared.changes]
        ET.SubElement(suite, "system-out").text = clean("\n".join(lines))
    failed_gates = [gate.describe() for gate in scenario.gates if not gate.passed]
    if failed_gates:
        ET.SubElement(suite, "system-err").text = "gates failed:\n" + "\n".join(failed_gates)
    _totals(suite)
    return suite


def _baseline_properties(properties: ET.Element, compared: ScenarioComparison) -> None:
    figures = compared.figures
    ET.SubElement(properties, "property", name="baseline:compared", value=str(compared.compared))
    for name, delta in figures.items():
        value = f"{delta.now} (baseline {delta.before})"
        ET.SubElement(properties, "property", name=f"baseline:{name}", value=value)
    counts = (("regressions", compared.regressions), ("improvements", compared.improvements))
    for name, changes in counts:
        ET.SubElement(properties, "property", name=f"baseline:{name}", value=str(len(changes)))


def _case(
    report: EvalReport, scenario: ScenarioReport, case: CaseResult, regressed: dict[str, str]
) -> ET.Element:
    element = ET.Element(
        "testcase",
        name=clean(case.case_id),
        classname=f"{report.pipeline}.{scenario.scenario}",
        time=f"{case.duration:.6f}",
        file=report.golden,
        line=str(case.line),
    )
    failures = case.failures
    if failures:
        first = failures[0]
        failure = ET.SubElement(
            element, "failure", message=clean(first.message), type=clean(first.kind)
        )
        lines = [f"{o.kind}: {o.message}" for o in failures]
        lines.append(f"run {case.run_id} · {case.stop_reason}")
        if case.case_id in regressed:
            lines.append(f"regressed: it passed in the baseline release {regressed[case.case_id]}")
        failure.text = clean("\n".join(lines))
    return element


def _totals(element: ET.Element) -> None:
    """Counts of the testcases under ``element`` (a suite, or all of them)."""
    cases = list(element.iter("testcase"))
    element.set("tests", str(len(cases)))
    element.set("failures", str(sum(case.find("failure") is not None for case in cases)))
    element.set("errors", "0")
    element.set("skipped", "0")
    element.set("time", f"{sum(float(case.get('time', '0')) for case in cases):.6f}")
