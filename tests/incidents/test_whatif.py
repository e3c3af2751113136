"""What-if changes: how keys and values are read, and the errors a bad one gets.

Every error names where the change came from (``--set`` or ``file:line``), the key, and what
is wrong; nothing runs. The fixes themselves are tested on the demo incidents
(test_fixtures.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agentdesk.incidents.bundle import read_bundle
from agentdesk.incidents.whatif import WhatIf, WhatIfError, apply, run_what_if
from agentdesk.simulation import demo_workspace
from agentdesk.store.incidents import bundle_redactor

FIXTURE = demo_workspace() / "incidents" / "crm-latency-spike.incident.jsonl"


def test_values_are_typed_and_durations_are_seconds() -> None:
    changes = WhatIf.parse(
        [
            "retry.max_attempts=5",
            "steps.charge.timeout=3s",
            "breaker.cooldown=500ms",
            "steps.triage.fallback=gpt-4o,gpt-4.1-mini",
            "budget.usd=0.05",
            "budget.session.steps=none",
        ]
    )
    assert [(c.key, c.value) for c in changes.changes] == [
        ("retry.max_attempts", 5),
        ("steps.charge.timeout", 3.0),
        ("breaker.cooldown", 0.5),
        ("steps.triage.fallback", ["gpt-4o", "gpt-4.1-mini"]),
        ("budget.run.usd", 0.05),
        ("budget.session.steps", None),
    ]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("retries=5", "--set: retries: unknown key"),
        ("timeout=soon", "--set: timeout: 'soon' is not a duration (3s, 500ms, 2m, or none)"),
        ("budget.dollars=1", "--set: budget.dollars: expected budget.[run.|session.]KIND"),
        ("steps.triage.fallback=[1, 2]", "--set: steps.triage.fallback: expected a list"),
        ("prompt=prompts/triage.user.md", "--set: prompt: expected PATH@VERSION"),
        ("retry.max_attempts", "--set: 'retry.max_attempts': expected KEY=VALUE"),
    ],
)
def test_a_bad_setting_says_what_is_wrong(setting: str, message: str) -> None:
    with pytest.raises(WhatIfError) as caught:
        WhatIf.parse([setting])
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            "retry.max_attempts=0",
            "--set: retry.max_attempts: Input should be greater than or equal to 1",
        ),
        ("steps.charge.timeout=3s", "--set: steps.charge: the pipeline has no step 'charge'"),
        ("steps.triage.fallback=[gpt-5]", "--set: steps.triage.fallback: unknown model 'gpt-5'"),
        ("steps.ticket.model=gpt-4o", "--set: steps.ticket.model: step 'ticket' is a tool step"),
        ("prompt=prompts/nope.md@2", "--set: prompt: the incident's release has no file"),
    ],
)
def test_a_change_the_incident_cannot_take_is_refused(setting: str, message: str) -> None:
    bundle = read_bundle(FIXTURE)
    with pytest.raises(WhatIfError) as caught:
        apply(bundle, WhatIf.parse([setting]))
    assert str(caught.value).startswith(message.replace("steps.charge:", "steps.charge.timeout:"))


def test_a_file_error_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "fix.whatif.yaml"
    path.write_text("steps:\n  ticket:\n    timeout: 15s\n    retry: {max_attemps: 4}\n")
    with pytest.raises(WhatIfError) as caught:
        WhatIf.from_file(path)
    assert str(caught.value).startswith(f"{path}:4: steps.ticket.retry.max_attemps: unknown key")


def test_a_prompt_version_comes_from_the_resolver_and_changes_the_requests() -> None:
    bundle = read_bundle(FIXTURE)
    asked: list[tuple[str, str]] = []

    def resolve(path: str, ref: str) -> bytes:
        asked.append((path, ref))
        return bundle.files[path] + b"\nKeep the reply under 50 words."

    changes = WhatIf.parse(["prompt=prompts/triage.user.md@2"])
    result = run_what_if(bundle, changes, resolve=resolve)
    assert asked == [("prompts/triage.user.md", "2")]
    assert result.sims_answered > 0  # every triage request is new: the sims answer them
    assert result.divergence is not None


def test_no_change_is_no_difference() -> None:
    """Calls the original gave up waiting for go to the sims (a what-if may wait longer);
    with the same timeouts the sims stall past them again, and the logs are equal."""
    bundle = read_bundle(FIXTURE)
    result = run_what_if(bundle, WhatIf.parse(["repair=2"]), redactor=bundle_redactor(bundle, {}))
    hangs = sum(1 for entry in bundle.tape if entry.outcome == "hang")
    assert result.divergence is None and result.sims_answered == hangs > 0
    assert result.tape_answered == len(bundle.tape) - hangs
    assert all(not row.differs for row in result.rows())
