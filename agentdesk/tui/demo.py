"""The scripted show for design reviews (``agentdesk demo``), headless.

Cues run on the simulation's own clock (``LiveControl.call_at``), so the story keeps time
with what it narrates: pausing the simulation pauses the show, and at a faster pace the show
runs faster. Each cue says what happens next in the status line and may inject or clear a fault.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agentdesk.control import LiveControl


@dataclass(frozen=True)
class Cue:
    at: float
    """Simulated seconds since the show started."""
    say: str
    act: Callable[[LiveControl], object] | None = None


SHOW: tuple[Cue, ...] = (
    Cue(0, "Steady load: the support-triage agent, 8 sessions at a time; every service healthy."),
    Cue(
        15,
        "Payments starts answering 503 to almost every refund…",
        lambda c: c.inject("payments", "503"),
    ),
    Cue(22, "Retries back off and run out; the payments breaker opens: refunds now fail fast."),
    Cue(34, "While it is open, calls are rejected; after the cooldown it half-opens to probe."),
    Cue(
        45,
        "Payments recovers. The next probes succeed and the breaker closes again.",
        lambda c: c.clear("payments"),
    ),
    Cue(
        62,
        "The LLM provider rate-limits: 429 with Retry-After. Retries wait as told…",
        lambda c: c.inject("llm", "429"),
    ),
    Cue(72, "…and when they run out, triage falls back along its chain to gpt-4o on the backup."),
    Cue(
        88,
        "The rate limit lifts; the primary model serves triage again.",
        lambda c: c.clear("llm"),
    ),
    Cue(
        104,
        "End of the show. Space pauses · c opens Chaos to try your own faults · q quits.",
    ),
)

DEMO_PACE = 2.0
"""Simulated seconds per real second: the whole show takes under a minute."""


def attach(control: LiveControl, show: tuple[Cue, ...] = SHOW) -> None:
    """Schedule every cue on the running control's clock."""
    start = control.loop_time
    for cue in show:
        control.call_at(start + cue.at, _performer(control, cue))


def _performer(control: LiveControl, cue: Cue) -> Callable[[], None]:
    def perform() -> None:
        control.bridge.note(cue.say)
        if cue.act is not None:
            cue.act(control)

    return perform
