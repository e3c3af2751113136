"""``agentdesk incidents import TRACE.json`` → a stored incident that ``agentdesk replay``
replays exactly and with what-ifs; traces made with the official OpenTelemetry SDK
(``tests/incidents/sdk_traces.py``: a chat call, a weather GET answered 503 then 200 on a
retry, a second chat call).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from click.testing import Result

from tests.cli.support import DEMO, Invoke, flat
from tests.incidents.sdk_traces import FIRST_ANSWER, SECOND_ANSWER, weather_trace


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _imported(agentdesk: Invoke, path: Path) -> dict[str, Any]:
    found: dict[str, Any] = _json(agentdesk("incidents", "import", path, "--json", "-w", DEMO))
    return found


def _listed(agentdesk: Invoke) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = _json(agentdesk("incidents", "list", "--json", "-w", DEMO))
    return found


def test_an_sdk_trace_imports_replays_and_answers_what_ifs(
    agentdesk: Invoke, tmp_path: Path
) -> None:
    incident = _imported(agentdesk, weather_trace(tmp_path / "trace.json"))
    assert incident["source"] == "otlp" and incident["new"]
    assert incident["tape"] == 4  # chat, GET 503, GET 200, chat
    assert [i["id"] for i in _listed(agentdesk)] == [incident["id"]]
    assert _listed(agentdesk)[0]["source"] == "otlp"

    shown = agentdesk("incidents", "show", incident["id"], "-w", DEMO)
    assert shown.exit_code == 0, shown.output
    assert "retries recorded: get_forecast" in flat(shown.stdout)

    exact = agentdesk("replay", incident["id"], "--json", "-w", DEMO)
    assert exact.exit_code == 0, exact.output
    result = json.loads(exact.stdout)
    assert result["equal"] and result["tape_answered"] == 4

    fewer = _json(
        agentdesk("replay", incident["id"], "--set", "retry.max_attempts=1", "--json", "-w", DEMO)
    )
    assert fewer["original"]["outcome"] == "1 ok" and fewer["changed"]["outcome"] == "1 failed"
    assert fewer["changed"]["stop reason"] == "retries_exhausted: get_forecast"
    assert fewer["divergence"]["recorded"]["type"] == "retry_scheduled"
    assert fewer["divergence"]["replayed"]["type"] == "retry_gave_up"
    table = agentdesk("replay", incident["id"], "--set", "retry.max_attempts=1", "-w", DEMO)
    assert "by the trace's stand-in" in flat(table.stdout)


def test_what_if_a_timeout_is_shorter_than_a_recorded_slow_call(
    agentdesk: Invoke, tmp_path: Path
) -> None:
    """The first chat call took 1.2 s: with a 1 s timeout and three attempts, every attempt
    times out — the two the trace never made are answered like the one it did (the stand-in)."""
    incident = _imported(agentdesk, weather_trace(tmp_path / "trace.json"))
    changes = ["--set", "steps.chat.timeout=1s", "--set", "steps.chat.retry.max_attempts=3"]
    result = _json(agentdesk("replay", incident["id"], *changes, "--json", "-w", DEMO))
    assert result["changed"]["stop reason"] == "retries_exhausted: chat"
    assert (result["changed"]["attempts"], result["changed"]["retries"]) == ("3", "2")
    assert (result["tape_answered"], result["sims_answered"]) == (1, 2)


def test_what_if_a_token_budget(agentdesk: Invoke, tmp_path: Path) -> None:
    incident = _imported(agentdesk, weather_trace(tmp_path / "trace.json"))
    result = _json(
        agentdesk("replay", incident["id"], "--set", "budget.tokens=40", "--json", "-w", DEMO)
    )
    assert result["changed"]["stop reason"] == "budget_exhausted: tokens"


def test_an_imported_incident_exports_as_otlp_and_imports_again(
    agentdesk: Invoke, tmp_path: Path
) -> None:
    first = _imported(agentdesk, weather_trace(tmp_path / "trace.json"))
    out = tmp_path / "again.json"
    exported = agentdesk("incidents", "export", first["id"], "--otlp", out, "-w", DEMO)
    assert exported.exit_code == 0, exported.output
    second = _imported(agentdesk, out)
    assert second["id"] != first["id"] and second["events"] == first["events"]
    assert second["tape"] == 4
    assert agentdesk("replay", second["id"], "-w", DEMO).exit_code == 0
    changed = agentdesk(
        "replay", second["id"], "--set", "retry.max_attempts=1", "--json", "-w", DEMO
    )
    assert _json(changed)["changed"]["outcome"] == "1 failed"


def test_a_trace_without_content_replays_with_placeholders(
    agentdesk: Invoke, tmp_path: Path
) -> None:
    incident = _imported(agentdesk, weather_trace(tmp_path / "bare.json", content=False))
    notes = " ".join(incident["notes"])
    assert "content absent: the trace kept no model answer for chat, chat_2" in notes
    assert "placeholder completions carry the recorded token counts" in notes
    assert agentdesk("replay", incident["id"], "-w", DEMO).exit_code == 0
    exported = agentdesk("incidents", "export", incident["id"], "-", "-w", DEMO)
    assert "[completion not recorded in the trace: 9 output tokens]" in exported.stdout
    assert FIRST_ANSWER not in exported.stdout


def test_hex_and_base64_ids_give_the_same_incident(agentdesk: Invoke, tmp_path: Path) -> None:
    base64_ids = weather_trace(tmp_path / "b64.json")
    hex_ids = tmp_path / "hex.json"
    from tests.incidents.sdk_traces import as_hex_ids

    hex_ids.write_text(as_hex_ids(base64_ids.read_text()))
    first, second = _imported(agentdesk, base64_ids), _imported(agentdesk, hex_ids)
    assert first["id"] == second["id"] and not second["new"]  # same content, kept once


def test_unknown_attributes_are_kept_and_credentials_are_not(
    agentdesk: Invoke, tmp_path: Path
) -> None:
    key = f"sk-canary-{uuid.uuid4().hex}"
    trace = weather_trace(
        tmp_path / "trace.json",
        **{
            "app.tenant": "acme",
            "http.request.header.authorization": f"Bearer {key}",
            "llm.api_key": "plain-secret-value",
        },
    )
    incident = _imported(agentdesk, trace)
    bundle = agentdesk("incidents", "export", incident["id"], "-", "-w", DEMO).stdout
    assert key not in bundle and "plain-secret-value" not in bundle
    spans = json.loads(
        next(
            json.loads(line)["file"]["text"]
            for line in bundle.splitlines()
            if "imported/trace.json" in line
        )
    )["spans"]
    chat = next(s for s in spans if s.get("step") == "chat")
    assert chat["attributes"]["app.tenant"] == "acme"
    assert chat["attributes"]["http.request.header.authorization"] == "[redacted]"
    assert SECOND_ANSWER in bundle  # the recorded answer is on the tape


def test_dry_run_checks_and_stores_nothing(agentdesk: Invoke, tmp_path: Path) -> None:
    checked = agentdesk("incidents", "import", weather_trace(tmp_path / "t.json"), "--dry-run")
    assert checked.exit_code == 0, checked.output
    assert "checked; nothing stored (--dry-run)" in flat(checked.stdout)
    assert _listed(agentdesk) == []


def test_bad_trace_files_are_refused_naming_file_and_line_and_nothing_is_stored(
    agentdesk: Invoke, tmp_path: Path
) -> None:
    whole = weather_trace(tmp_path / "whole.json").read_text()
    cut = tmp_path / "cut.json"
    cut.write_text(whole[: len(whole) // 2])
    refused = agentdesk("incidents", "import", cut, "-w", DEMO)
    assert refused.exit_code == 2
    assert flat(refused.stderr).startswith(f"error: {cut}:")
    assert "the file ends in the middle of a JSON value" in flat(refused.stderr)

    wrong = tmp_path / "wrong.json"
    wrong.write_text(whole.replace('"spanId": "', '"spanId": "!!', 1))
    refused = agentdesk("incidents", "import", wrong, "-w", DEMO)
    assert refused.exit_code == 2 and "spanId" in refused.stderr and f"{wrong}:" in refused.stderr

    empty_of_calls = tmp_path / "no-calls.json"
    request = json.loads(whole)
    for resource in request["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            scope["spans"] = [s for s in scope["spans"] if s["name"] == "answer question"]
    empty_of_calls.write_text(json.dumps(request))
    refused = agentdesk("incidents", "import", empty_of_calls, "-w", DEMO)
    assert refused.exit_code == 2
    assert f"{empty_of_calls}: nothing to replay" in flat(refused.stderr)
    assert _listed(agentdesk) == []
