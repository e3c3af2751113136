"""Shadow comparison: the same request on two releases, compared run by run.

Both arms run with the same seed, session and turn, so a request has the same run id on both
and meets the same fault draws; the candidate runs in a world of its own, so its writes
(refunds, replies) never touch what the baseline sees. Each pair is compared as soon as both
halves have finished — the first half waits in a dict of runs in flight, nothing else is
kept — into counts, sums of deltas and the first few differences as examples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from agentdesk.load.fold import FinishedRun

EXAMPLES = 10
"""Differing pairs kept as examples."""


@dataclass(frozen=True, slots=True)
class Difference:
    run_id: str
    baseline: str
    """The baseline's stop reason (or ``completed, other output``)."""
    candidate: str
    usd_delta: float
    latency_delta: float


@dataclass
class ShadowComparison:
    pairs: int = 0
    same: int = 0
    """Pairs with the same status, stop reason and output."""
    other_output: int = 0
    """Both completed, with different outputs."""
    candidate_worse: int = 0
    """The baseline completed and the candidate did not."""
    candidate_better: int = 0
    """The candidate completed and the baseline did not."""
    other_failure: int = 0
    """Neither completed, for different reasons."""
    usd: list[float] = field(default_factory=lambda: [0.0, 0.0])
    """Total spend of the paired runs: baseline, candidate."""
    latency: list[float] = field(default_factory=lambda: [0.0, 0.0])
    """Total duration of the paired runs: baseline, candidate."""
    examples: list[Difference] = field(default_factory=list)
    _waiting: dict[str, tuple[str, FinishedRun]] = field(default_factory=dict, repr=False)

    def add(self, arm: str, run: FinishedRun) -> None:
        other = self._waiting.pop(run.run_id, None)
        if other is None:
            self._waiting[run.run_id] = (arm, run)
            return
        if arm == "baseline":
            self._compare(run, other[1])
        else:
            self._compare(other[1], run)

    @property
    def unpaired(self) -> int:
        return len(self._waiting)

    def _compare(self, base: FinishedRun, cand: FinishedRun) -> None:
        self.pairs += 1
        b, c = base.observation, cand.observation
        self.usd[0] += b.usd
        self.usd[1] += c.usd
        self.latency[0] += b.duration
        self.latency[1] += c.duration
        kind = _kind(base, cand)
        if kind == "same":
            self.same += 1
            return
        setattr(self, kind, getattr(self, kind) + 1)
        if len(self.examples) < EXAMPLES:
            self.examples.append(
                Difference(
                    base.run_id,
                    _outcome(base, kind),
                    _outcome(cand, kind),
                    round(c.usd - b.usd, 9),
                    round(c.duration - b.duration, 6),
                )
            )

    def to_json(self) -> dict[str, Any]:
        pairs = self.pairs or 1
        return {
            "pairs": self.pairs,
            "same": self.same,
            "other_output": self.other_output,
            "candidate_worse": self.candidate_worse,
            "candidate_better": self.candidate_better,
            "other_failure": self.other_failure,
            "usd": {"baseline": self.usd[0], "candidate": self.usd[1]},
            "mean_usd_delta": (self.usd[1] - self.usd[0]) / pairs,
            "mean_latency_delta": (self.latency[1] - self.latency[0]) / pairs,
            "examples": [
                {
                    "run_id": d.run_id,
                    "baseline": d.baseline,
                    "candidate": d.candidate,
                    "usd_delta": d.usd_delta,
                    "latency_delta": d.latency_delta,
                }
                for d in self.examples
            ],
        }


def _kind(base: FinishedRun, cand: FinishedRun) -> str:
    b_ok, c_ok = base.stop_reason == "completed", cand.stop_reason == "completed"
    if b_ok and c_ok:
        return "same" if _same_output(base.output, cand.output) else "other_output"
    if b_ok:
        return "candidate_worse"
    if c_ok:
        return "candidate_better"
    return "same" if base.stop_reason == cand.stop_reason else "other_failure"


def _same_output(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # an output type without equality: compare its JSON
        return msgspec.json.encode(a) == msgspec.json.encode(b)


def _outcome(run: FinishedRun, kind: str) -> str:
    return "completed, other output" if kind == "other_output" else run.stop_reason
