"""Incident bundles: stable bytes, exact replay, and every way a bad file is refused.

A bad bundle is refused whole with ``file:line: problem`` (``BundleError``); the command line
turns that into exit code 2 and stores nothing (tests/cli/test_incidents_store.py).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from agentdesk.incidents.bundle import BundleError, bundle_lines, is_bundle, read_bundle
from agentdesk.incidents.whatif import replay_exact
from agentdesk.simulation import demo_workspace
from agentdesk.store.incidents import bundle_redactor

FIXTURE = demo_workspace() / "incidents" / "payments-503-storm.incident.jsonl"


def _lines() -> list[bytes]:
    return FIXTURE.read_bytes().splitlines(keepends=True)


def _refused(tmp_path: Path, lines: list[bytes]) -> str:
    path = tmp_path / "bad.incident.jsonl"
    path.write_bytes(b"".join(lines))
    with pytest.raises(BundleError) as caught:
        read_bundle(path)
    return str(caught.value).removeprefix(f"{path}:")


def test_a_bundle_reads_back_to_the_same_bytes_and_id() -> None:
    bundle = read_bundle(FIXTURE)
    assert b"".join(bundle_lines(bundle)) == FIXTURE.read_bytes()
    assert bundle.id.startswith("inc-") and is_bundle(FIXTURE.read_bytes()[:200])
    assert len(bundle.focus) == 2 and len(bundle.runs) == 12


def test_an_edited_event_is_the_first_divergence(tmp_path: Path) -> None:
    bundle = read_bundle(FIXTURE)
    events = list(bundle.events)
    events[100] = events[100].replace(b'"t":', b'"t":1', 1)
    edited = dataclasses.replace(bundle, events=tuple(events))
    result = replay_exact(edited, redactor=bundle_redactor(bundle, {}))
    assert result.divergence is not None and result.divergence.index == 100
    assert result.divergence.recorded == events[100]
    assert result.divergence.replayed == bundle.events[100]


def test_a_truncated_bundle_is_refused(tmp_path: Path) -> None:
    lines = _lines()
    message = _refused(tmp_path, lines[:-5])
    assert "the header promises 66 tape lines, the file has 61 (truncated or edited?)" in message


def test_broken_json_names_its_line(tmp_path: Path) -> None:
    lines = _lines()
    lines[20] = lines[20][:40] + b"\n"
    assert _refused(tmp_path, lines).startswith("21: invalid JSON")


def test_a_wrongly_typed_event_field_names_line_and_field(tmp_path: Path) -> None:
    lines = _lines()
    index = next(i for i, line in enumerate(lines) if line.startswith(b'{"event":'))
    lines[index] = lines[index].replace(b'"seed":42', b'"seed":"42"')
    message = _refused(tmp_path, lines)
    assert message.startswith(f"{index + 1}: Expected `int`, got `str` - at `event.seed`")


def test_another_format_version_is_refused(tmp_path: Path) -> None:
    lines = _lines()
    lines[0] = lines[0].replace(b'"agentdesk_incident":1', b'"agentdesk_incident":7')
    assert _refused(tmp_path, lines).startswith(
        "1: bundle format version 7; this agentdesk reads version 1"
    )


def test_content_edited_after_export_no_longer_matches_its_id(tmp_path: Path) -> None:
    lines = _lines()
    index = next(i for i, line in enumerate(lines) if b'"status":503' in line)
    lines[index] = lines[index].replace(b'"status":503', b'"status":200')
    assert "does not match the id" in _refused(tmp_path, lines)


def test_a_file_path_outside_the_workspace_is_refused(tmp_path: Path) -> None:
    lines = _lines()
    lines[1] = lines[1].replace(b'"path":"agentdesk.yaml"', b'"path":"../../etc/passwd"')
    assert _refused(tmp_path, lines) == "2: file '../../etc/passwd': not a relative workspace path"


def test_lines_out_of_order_are_refused(tmp_path: Path) -> None:
    lines = _lines()
    lines.insert(len(lines) - 1, lines[1])
    assert "a 'file' line after the 'tape' lines" in _refused(tmp_path, lines)


def test_an_otlp_trace_is_not_a_bundle() -> None:
    assert not is_bundle(b'{"resourceSpans": []}')


LOAD_FIXTURE = FIXTURE.with_name("load-crm-latency-spike.incident.jsonl")


def test_a_load_bundle_keeps_its_traffic_and_reads_back_to_the_same_bytes() -> None:
    bundle = read_bundle(LOAD_FIXTURE)
    assert bundle.load is not None and bundle.load["sessions"] == 40
    assert b"".join(bundle_lines(bundle)) == LOAD_FIXTURE.read_bytes()


def test_the_traffic_is_part_of_a_load_bundles_id(tmp_path: Path) -> None:
    lines = LOAD_FIXTURE.read_bytes().splitlines(keepends=True)
    lines[0] = lines[0].replace(b'"arrival":"constant"', b'"arrival":"ramp"')
    assert "(edited after export?)" in _refused(tmp_path, lines)


def test_a_bad_load_header_names_the_problem(tmp_path: Path) -> None:
    lines = LOAD_FIXTURE.read_bytes().splitlines(keepends=True)
    lines[0] = lines[0].replace(b'"sessions":40', b'"sessions":0')
    message = _refused(tmp_path, lines)
    assert message.startswith("1: header load 'sessions': expected a whole number ≥ 1, got 0")
