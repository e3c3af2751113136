"""``agentdesk incidents export`` and ``import``, driven through click like the other commands.

The group is invoked directly (``agentdesk.cli.incidents.incidents``); runs are recorded with
``agentdesk run`` into the per-test store the conftest points ``AGENTDESK_DB`` at.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from agentdesk.cli import main
from agentdesk.cli.incidents import incidents
from agentdesk.simulation import demo_workspace
from tests.incidents.support import parse_with_protobuf, spans_of, with_base64_ids

DEMO = demo_workspace()


def _incidents(*args: str | Path) -> Result:
    return CliRunner().invoke(incidents, [str(a) for a in args], catch_exceptions=False)


def _record(scenario: str = "llm-429-burst") -> dict[str, object]:
    """One recorded run of the demo, as ``runs show --json`` describes it."""
    runner = CliRunner()
    runner.invoke(main, ["run", "support-triage", "-w", str(DEMO), "--scenario", scenario])
    listed = json.loads(runner.invoke(main, ["runs", "--json"]).stdout)
    shown = runner.invoke(main, ["runs", "show", listed[0]["ref"], "--json", "-w", str(DEMO)])
    report: dict[str, object] = json.loads(shown.stdout)
    return report


def test_export_writes_a_recorded_run_as_otlp_json(tmp_path: Path) -> None:
    run = _record()
    out = tmp_path / "run.otlp.json"
    result = _incidents("export", str(run["ref"]), "--otlp", out, "-w", DEMO)
    assert result.exit_code == 0, result.output
    request = json.loads(out.read_text())
    spans = spans_of(request)
    said = " ".join(result.stdout.split())  # Rich wraps at the console's width
    assert said == f"exported run {run['ref']} ({len(spans)} spans) to {out} as OTLP JSON"
    parse_with_protobuf(with_base64_ids(request))
    root = spans[0]
    assert root["name"] == "support-triage" and "parentSpanId" not in root


def test_import_dry_run_prints_what_the_file_holds(tmp_path: Path) -> None:
    run = _record()
    out = tmp_path / "run.otlp.json"
    _incidents("export", str(run["ref"]), "--otlp", out, "-w", DEMO)
    shown = _incidents("import", out, "--dry-run", "--json")
    assert shown.exit_code == 0, shown.output
    held = json.loads(shown.stdout)
    tokens = run["tokens"]
    assert isinstance(tokens, dict)
    assert (held["input_tokens"], held["output_tokens"]) == (tokens["prompt"], tokens["completion"])
    assert held["runs"] == 1 and held["roots"][0]["name"] == "support-triage"
    table = _incidents("import", out, "--dry-run")
    assert table.exit_code == 0
    assert f"{out}: 1 trace(s)" in " ".join(table.stdout.split())


def test_export_to_stdout_without_content(tmp_path: Path) -> None:
    run = _record()
    result = _incidents("export", str(run["ref"]), "--otlp", "-", "--no-content", "-w", DEMO)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "agentdesk.step.output" not in text and "gen_ai.usage.input_tokens" in text
    assert len(text.splitlines()) == 1


def test_a_bad_trace_file_is_exit_2_with_where(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text('{"resourceSpans": [\n{"scopeSpans": [{"spans": [\n{"traceId": "ab')
    result = CliRunner().invoke(incidents, ["import", str(path)])
    assert result.exit_code == 2
    assert f"error: {path}:3: the file ends in the middle of a JSON value" in " ".join(
        result.stderr.split()
    )


def test_an_unknown_run_is_named(tmp_path: Path) -> None:
    _record("happy")
    result = CliRunner().invoke(
        incidents, ["export", "no-such-run", "--otlp", str(tmp_path / "x.json"), "-w", str(DEMO)]
    )
    assert result.exit_code != 0
    assert "no recorded run 'no-such-run'" in result.stderr
    assert not (tmp_path / "x.json").exists()
