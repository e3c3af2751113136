"""Alerts: the production thresholds, judged over runs, eval results and load results.

Headless (no UI, no store). The API other code calls::

    from agentdesk.alerts import Baseline, Figures, evaluate, load_rules

    rules = load_rules(workspace_root)          # alerts.yaml, or the four defaults
    verdicts = evaluate(rules, Figures(runs=28, tool_calls=90, tool_errors=7,
                                       latency_p95=1.9, usd=0.03, tokens=52_000),
                        Baseline(latency_p95=0.8, usd_per_run=0.0009, tokens_per_task=1700))
    for v in verdicts:                           # one per enabled rule
        if v.fired: print(v.rule, v.message)     # or v.judged is False: v.message says why

and, for a stream of runs in virtual time (``agentdesk load``, a live session)::

    monitor = AlertMonitor(rules)
    events = monitor.observe(RunObservation(t=312.4, duration=1.7, tool_calls=4, tool_errors=1,
                                            tokens=1800, usd=0.0011))
    events += monitor.advance(now)               # AlertFired / AlertResolved engine events

- ``rules`` — the file format and its checks (``load_rules``, ``Rules``, ``DEFAULT_RULES``);
- ``evaluate`` — ``Figures`` + ``Baseline`` → ``Verdict`` per rule (pure);
- ``monitor`` — ``AlertMonitor``: sliding windows over a run stream, alert events.
"""

from agentdesk.alerts.durations import parse_duration
from agentdesk.alerts.evaluate import Baseline, Figures, Verdict, evaluate, fired
from agentdesk.alerts.monitor import AlertEvent, AlertMonitor, RunObservation
from agentdesk.alerts.rules import ALERTS_FILE, DEFAULT_RULES, RULE_NAMES, Rules, load_rules

__all__ = [
    "ALERTS_FILE",
    "DEFAULT_RULES",
    "RULE_NAMES",
    "AlertEvent",
    "AlertMonitor",
    "Baseline",
    "Figures",
    "Rules",
    "RunObservation",
    "Verdict",
    "evaluate",
    "fired",
    "load_rules",
    "parse_duration",
]
