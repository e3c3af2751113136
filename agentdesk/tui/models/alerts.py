"""The alerts the Live screen shows: the workspace's rules judged over the runs as they finish.

``AlertBoard`` folds events into one small record per run in flight (tool calls, failed tool
calls, tokens, cost) and feeds each finished run to an ``alerts.AlertMonitor``; alert events
that arrive on the stream themselves (a recorded session) count too. ``active`` is what is
firing now, in words, for the status line.
"""

from __future__ import annotations

from agentdesk.alerts import DEFAULT_RULES, AlertMonitor, Rules, RunObservation
from agentdesk.engine.events import (
    AlertFired,
    AlertResolved,
    AnyEvent,
    AttemptFinished,
    RunFinished,
    RunStarted,
    TokensCounted,
)


class AlertBoard:
    def __init__(self, rules: Rules = DEFAULT_RULES) -> None:
        self.rules = rules
        self.monitor = AlertMonitor(rules)
        self.fired: list[AlertFired] = []
        self._active: dict[str, AlertFired] = {}
        self._flight: dict[str, list[float]] = {}

    def apply(self, event: AnyEvent) -> None:
        if isinstance(event, RunStarted):
            self._flight[event.run_id] = [0, 0, 0, 0.0]
        elif isinstance(event, AttemptFinished) and not event.model:
            record = self._flight.get(event.run_id)
            if record is not None:
                record[0] += 1
                record[1] += event.outcome == "error"
        elif isinstance(event, TokensCounted):
            record = self._flight.get(event.run_id)
            if record is not None:
                record[2] += event.prompt_tokens + event.completion_tokens
                record[3] += event.usd
        elif isinstance(event, RunFinished):
            calls, errors, tokens, usd = self._flight.pop(event.run_id, [0, 0, 0, 0.0])
            seen = RunObservation(
                event.t, event.duration, int(calls), int(errors), int(tokens), usd
            )
            for alert in self.monitor.observe(seen):
                self._alert(alert)
        elif isinstance(event, AlertFired | AlertResolved):
            self._alert(event)

    def _alert(self, event: AlertFired | AlertResolved) -> None:
        key = f"{event.arm}:{event.rule}"
        if isinstance(event, AlertFired):
            self._active[key] = event
            self.fired.append(event)
            del self.fired[:-50]
        else:
            self._active.pop(key, None)

    def active(self) -> tuple[str, ...]:
        """What is firing now, one line each: ``tool_error_rate: tool-call error rate 9.1% …``."""
        return tuple(f"{a.rule}: {a.message}" for a in self._active.values())
