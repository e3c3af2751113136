"""What a load test is: how many users, for how long, how they arrive and how long they think.

A **session** is one user: it joins at a moment the arrival pattern gives it, sends a request
(one run of the pipeline), thinks, sends the next, and stops at the first turn that would
start after it leaves. Think times are exponential around ``think`` (users are not
metronomes), drawn from the seed, the session and the turn — never from a shared stream — so
the same plan gives the same traffic whatever order the loop runs things in.

Arrival patterns (N sessions over a duration D):

- ``constant``: all N for the whole run, their first requests spread over the first think
  time (no thundering herd at 0 s);
- ``ramp``: session *i* joins at i/N × D — from none to N, linearly;
- ``spike``: a fifth of them for the whole run; the other four fifths join within a minute
  (or 5 % of D, if shorter) of 40 % of D and leave at 60 % of D.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from agentdesk.engine.rng import derive_seed

Arrival = Literal["constant", "ramp", "spike"]
ARRIVALS: tuple[Arrival, ...] = ("constant", "ramp", "spike")
SPIKE_BASE = 0.2
"""The share of sessions a spike starts from and falls back to."""
SPIKE_START, SPIKE_END = 0.4, 0.6


@dataclass(frozen=True, slots=True)
class LoadPlan:
    sessions: int
    duration: float
    """Simulated seconds during which sessions start turns (runs in flight then finish)."""
    think: float = 60.0
    """Mean seconds a user waits between receiving an answer and sending the next request."""
    arrival: Arrival = "constant"
    windows: int = 60
    """How many equal slices of the duration the report charts."""
    canary: float | None = None
    """The share of sessions sent to the candidate (canary mode), or None."""
    shadow: bool = False
    """Every request also runs on the candidate, in a world of its own (shadow mode)."""

    def traffic_json(self) -> dict[str, Any]:
        """What decides the traffic (who sends what when), as recorded beside a load's runs so
        that a replay sends the same; the report's windows and the candidate are not in it."""
        return {
            "sessions": self.sessions,
            "duration": self.duration,
            "think": self.think,
            "arrival": self.arrival,
        }

    @classmethod
    def from_traffic(cls, data: Mapping[str, Any]) -> LoadPlan:
        """The plan ``traffic_json`` wrote; raises ValueError saying what is wrong."""
        sessions, duration, think = data.get("sessions"), data.get("duration"), data.get("think")
        arrival = data.get("arrival")
        if not isinstance(sessions, int) or isinstance(sessions, bool) or sessions < 1:
            raise ValueError(f"load 'sessions': expected a whole number ≥ 1, got {sessions!r}")
        for key, value in (("duration", duration), ("think", think)):
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"load {key!r}: expected seconds > 0, got {value!r}")
        if arrival not in ARRIVALS:
            raise ValueError(
                f"load 'arrival': expected one of {', '.join(ARRIVALS)}, got {arrival!r}"
            )
        return cls(sessions, float(duration), float(think), arrival)  # type: ignore[arg-type]

    @property
    def window(self) -> float:
        return self.duration / self.windows

    def window_of(self, t: float) -> int:
        """The chart slice ``t`` falls in; runs that finish after the end count in the last."""
        return min(self.windows - 1, max(0, int(t / self.window)))

    def presence(self, session: int, seed: int) -> tuple[float, float]:
        """When ``session`` sends its first request and when it leaves (simulated seconds)."""
        n, d = self.sessions, self.duration
        if self.arrival == "ramp":
            return session / n * d, d
        if self.arrival == "spike" and session >= math.ceil(n * SPIKE_BASE):
            spread = min(60.0, 0.05 * d)
            return SPIKE_START * d + spread * unit(seed, "arrival", session), SPIKE_END * d
        return min(self.think, d) * unit(seed, "arrival", session), d

    def think_time(self, seed: int, session: int, turn: int) -> float:
        """Exponential around ``think``, from (seed, session, turn)."""
        return -self.think * math.log(1.0 - unit(seed, "think", session, turn))

    def on_candidate(self, seed: int, session: int) -> bool:
        """Canary routing: a session stays on the release it was given (sticky sessions)."""
        return self.canary is not None and unit(seed, "canary", session) < self.canary

    def active(self, seed: int) -> list[int]:
        """Sessions present at the middle of each chart slice (for the arrival chart)."""
        counts = [0] * self.windows
        for session in range(self.sessions):
            join, leave = self.presence(session, seed)
            for w in range(self.windows):
                if join <= (w + 0.5) * self.window < leave:
                    counts[w] += 1
        return counts


def unit(seed: int, *keys: object) -> float:
    """A uniform draw in [0, 1) from (seed, keys)."""
    return (derive_seed(seed, *keys) >> 11) * 2.0**-53
