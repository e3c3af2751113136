"""Untrusted text — model output, payloads, errors, names from files — reaches the screen inert.

Hostile strings (Rich markup, ANSI colour and cursor moves, OSC 52 clipboard writes and
hyperlinks, a 100,000-character line, NUL and raw bytes, bidi overrides) are put into every
field that some widget shows: errors and reasons in the trace, stop reasons in the runs list,
breaker names, step names in the latency panel, the demo's narration, a scenario description
on the Chaos screen. The rendered screen must hold none of their control bytes, show markup
literally, and stay within the terminal's width.
"""

from __future__ import annotations

import pytest

from agentdesk.engine.events import (
    AnyEvent,
    AttemptFinished,
    AttemptStarted,
    BreakerTransition,
    FallbackTaken,
    RetryScheduled,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
    ValidationFailed,
)
from agentdesk.tui.safe import safe_text
from tests.tui.conftest import SIZE, recorded_app

HOSTILE = [
    "[bold red]MARKUP[/bold red] [link=http://x]click[/link]",
    "\x1b[31mRED\x1b[0m\x1b[2J\x1b[H",
    "\x1b]52;c;ZXZpbA==\x07clip \x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\",
    "A" * 100_000,
    "nul\x00bel\x07bs\x08del\x7f\x9b31m c1",
    "bidi \u202egnp.exe\u202c",
    "line1\nline2\r\ttab",
]
PANELS = (
    "StatusLine, RunsList, TraceView, BreakerBoard, BudgetMeters, CounterPanel, LatencyPanel, "
    "FaultTable"
)
BAD_BYTES = ("\x1b", "\x07", "\x00", "\x08", "\x7f", "\x9b", "\u202e", "\r")


@pytest.mark.parametrize("payload", HOSTILE)
def test_safe_text_leaves_nothing_a_terminal_acts_on(payload: str) -> None:
    """Escape sequences and control characters are gone; the text is one bounded line."""
    shown = safe_text(payload)
    assert not any(c in shown for c in BAD_BYTES)
    assert "\n" not in shown and len(shown) <= 500


def test_markup_is_kept_literally() -> None:
    """Markup is text, not style: the brackets survive sanitising."""
    assert safe_text(HOSTILE[0]) == HOSTILE[0]


def _hostile_run(text: str, n: int) -> list[AnyEvent]:
    run = f"run-hostile-{n}"
    step = f"step{n}-{text[:40]}"
    return [
        RunStarted(
            t=0, run_id=run, pipeline="p", session=900 + n, seed=1, scenario=text, input=text
        ),
        StepStarted(t=0, run_id=run, step=step, kind="llm"),
        AttemptStarted(
            t=0, run_id=run, step=step, attempt=1, service="llm", target=text, model=text
        ),
        AttemptFinished(
            t=1,
            run_id=run,
            step=step,
            attempt=1,
            service="llm",
            outcome="error",
            latency=1,
            error_kind="malformed",
            error=text,
            model=text,
        ),
        ValidationFailed(t=1, run_id=run, step=step, attempt=1, errors=[text], repair=0),
        RetryScheduled(t=1, run_id=run, step=step, attempt=1, delay=0.5, reason=text),
        FallbackTaken(t=1, run_id=run, step=step, from_model=text, to_model=text, reason=text),
        BreakerTransition(
            t=1,
            run_id=run,
            breaker=f"model:{text}",
            from_state="closed",
            to_state="open",
            failure_rate=1.0,
            calls=6,
            reason=text,
        ),
        StepFinished(
            t=2, run_id=run, step=step, kind="llm", status="failed", duration=2, error=text
        ),
        RunFinished(t=2, run_id=run, status="failed", stop_reason=text, duration=2),
    ]


@pytest.mark.parametrize("payload", HOSTILE)
async def test_every_widget_shows_hostile_text_inert(payload: str) -> None:
    """With hostile text in every field, the Live and Chaos screens paint no control bytes
    and no widget breaks the layout."""
    events = [e for n in range(3) for e in _hostile_run(payload, n)]
    app = recorded_app(events=events)
    app.control.state.description = payload
    app.control.bridge.note(payload)
    async with app.run_test(size=SIZE) as pilot:
        app.bridge.pump()
        app.refresh_view()
        await pilot.pause()
        for screen in ("live", "chaos"):
            await pilot.press(screen[0])
            await pilot.pause()
            painted = app.export_screenshot()
            assert not any(c in painted for c in BAD_BYTES), screen
            for widget in app.screen.query(PANELS):
                assert widget.region.right <= SIZE[0], widget
        if payload.startswith("[bold red]"):
            await pilot.press("l")
            await pilot.pause()
            assert "[bold red]MARKUP[/bold red]" in app.export_screenshot().replace("&#160;", " ")
