"""Spans — run → step → attempt — rebuilt from the event log alone."""

from __future__ import annotations

from typing import Any

import pytest

from agentdesk.engine.events import (
    AnyEvent,
    AttemptFinished,
    AttemptStarted,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
    decode_lines,
    encode_lines,
)
from agentdesk.projections.spans import Span, SpanTree
from tests.projections.conftest import demo_events


def tree_of(events: list[AnyEvent]) -> SpanTree:
    tree = SpanTree()
    for event in events:
        tree.apply(event)
    return tree


def shape(span: Span) -> dict[str, Any]:
    """Everything about a span and its subtree, for comparing trees."""
    return {
        "id": span.span_id,
        "parent": span.parent_id,
        "kind": span.kind,
        "name": span.name,
        "start": span.start,
        "end": span.end,
        "status": span.status,
        "attributes": span.attributes,
        "children": [shape(child) for child in span.children],
    }


def test_one_root_span_per_run(demo_log: list[AnyEvent]) -> None:
    tree = tree_of(demo_log)
    runs = [e for e in demo_log if isinstance(e, RunStarted)]
    assert [(r.span_id, r.kind, r.name) for r in tree.roots] == [
        (e.run_id, "run", e.pipeline) for e in runs
    ]


def test_every_span_is_closed_with_a_status(demo_log: list[AnyEvent]) -> None:
    tree = tree_of(demo_log)
    statuses = {"run": {"ok", "failed", "stopped"}, "step": {"ok", "failed", "skipped"}}
    statuses["attempt"] = {"ok", "error"}
    for span in tree.spans.values():
        assert span.end is not None, span.span_id
        assert span.end >= span.start
        assert span.status in statuses[span.kind], span.span_id


def test_span_times_and_statuses_are_the_events(demo_log: list[AnyEvent]) -> None:
    spans = tree_of(demo_log).spans
    for event in demo_log:
        if isinstance(event, RunFinished):
            span = spans[event.run_id]
            assert (span.end, span.status) == (event.t, event.status)
            assert span.attributes["stop_reason"] == event.stop_reason
        elif isinstance(event, StepStarted):
            assert spans[f"{event.run_id}/{event.step}"].start == event.t
        elif isinstance(event, StepFinished):
            span = spans[f"{event.run_id}/{event.step}"]
            assert (span.end, span.status) == (event.t, event.status)
        elif isinstance(event, AttemptFinished):
            span = spans[f"{event.run_id}/{event.step}#{event.attempt}"]
            assert (span.end, span.status) == (event.t, event.outcome)
            assert span.end is not None
            assert span.end - span.start == pytest.approx(event.latency, abs=2e-6)


def test_attempts_hang_under_their_step(demo_log: list[AnyEvent]) -> None:
    tree = tree_of(demo_log)
    attempts = [e for e in demo_log if isinstance(e, AttemptStarted)]
    attempt_spans = [s for s in tree.spans.values() if s.kind == "attempt"]
    assert len(attempt_spans) == len(attempts)
    for event in attempts:
        step = tree.spans[f"{event.run_id}/{event.step}"]
        (span,) = [c for c in step.children if c.span_id.endswith(f"#{event.attempt}")]
        assert (span.kind, span.name, span.parent_id) == ("attempt", event.target, step.span_id)
        assert span.attributes["service"] == event.service


def test_steps_hang_under_the_run_or_their_enclosing_step(demo_log: list[AnyEvent]) -> None:
    tree = tree_of(demo_log)
    for span in tree.spans.values():
        if span.kind != "step":
            continue
        assert span.parent_id is not None
        parent = tree.spans[span.parent_id]
        assert span in parent.children
        if "/" in span.name:
            assert parent.kind == "step"
            assert parent.attributes["kind"] in ("parallel", "loop")
            assert span.name.startswith(parent.name)
        else:
            assert parent.kind == "run"


def test_parallel_children_are_under_the_parallel_step() -> None:
    tree = tree_of(list(demo_events("triage@crm-latency-spike")))
    enrich = [s for s in tree.spans.values() if s.name == "enrich"]
    assert enrich
    for span in enrich:
        names = sorted(c.name for c in span.children)
        assert names in (["enrich/customer", "enrich/kb"], ["enrich/customer"], ["enrich/kb"])


def test_loop_iterations_are_under_the_loop_step() -> None:
    tree = tree_of(list(demo_events("reconciliation@malformed-json")))
    loops = [s for s in tree.spans.values() if s.name == "reconcile"]
    assert any(len(s.children) >= 4 for s in loops), "some run needed a second iteration"
    for span in loops:
        for child in span.children:
            assert child.name.split("/")[0] in {f"reconcile[{i}]" for i in (1, 2, 3)}


def test_nested_loop_parallel_spans(nested_log: list[AnyEvent]) -> None:
    """rounds[i]/gather under rounds; rounds[i]/gather/ticket and …/kb under that gather."""
    tree = tree_of(nested_log)
    for root in tree.roots:
        assert [c.name for c in root.children] == ["rounds", "done"]
        (rounds, _) = root.children
        assert [c.name for c in rounds.children] == ["rounds[1]/gather", "rounds[2]/gather"]
        for i, gather in enumerate(rounds.children, start=1):
            assert sorted(c.name for c in gather.children) == [
                f"rounds[{i}]/gather/kb",
                f"rounds[{i}]/gather/ticket",
            ]
            for leaf in gather.children:
                assert [a.kind for a in leaf.children] == ["attempt"]
                assert leaf.end is not None and gather.end is not None
                assert leaf.end <= gather.end


def test_a_replayed_log_gives_the_same_tree(demo_log: list[AnyEvent]) -> None:
    live = tree_of(demo_log)
    replayed = tree_of(decode_lines(encode_lines(demo_log)))
    assert [shape(r) for r in replayed.roots] == [shape(r) for r in live.roots]
