"""Redaction: what is removed from payloads before they are stored, and what is left alone."""

from __future__ import annotations

import json

import pytest

from agentdesk.engine.events import RunStarted, StepFinished, encode
from agentdesk.store.redaction import Redactor, luhn_ok, workspace_secrets

VISA = "4111 1111 1111 1111"
"""A test card number that passes the Luhn check."""
NOT_A_CARD = "4111 1111 1111 1112"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail ada.lovelace+x@example.co.uk now", "mail [redacted:email] now"),
        ("call +44 20 7946 0958", "call [redacted:phone]"),
        ("call (555) 123-4567 or 555-987-6543", "call [redacted:phone] or [redacted:phone]"),
        ("support line +1-555-1087", "support line [redacted:phone]"),
        (f"card {VISA} ok", "card [redacted:card] ok"),
        ("card 4111-1111-1111-1111", "card [redacted:card]"),
        ("card 4111111111111111", "card [redacted:card]"),
    ],
)
def test_personal_data_is_replaced(text: str, expected: str) -> None:
    assert Redactor().text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        f"order {NOT_A_CARD.replace(' ', '')}",  # 16 digits that fail Luhn: an id, not a card
        "on 2025-05-02 at 10:30",
        "ticket T-1001, v1.2.3, 192.168.1.10",
        "555-1234",  # seven digits, no country code: too short to be sure
        "latency 0.070425 s, 1767225600",
    ],
)
def test_look_alikes_are_left_alone(text: str) -> None:
    assert Redactor().text(text) == text


def test_luhn() -> None:
    assert luhn_ok("4111111111111111") and luhn_ok("79927398713")
    assert not luhn_ok("4111111111111112") and not luhn_ok("79927398710")


def test_secrets_are_always_removed_even_with_detectors_off() -> None:
    redactor = Redactor(secrets=["hunter2-canary"], detectors=())
    text = "key hunter2-canary, sk-proj-abcdefgh12345678, Bearer abc.def-ghi_123, a@b.example"
    assert redactor.text(text) == "key [secret], [secret], [secret], a@b.example"


def test_detectors_and_extra_patterns_are_configurable() -> None:
    redactor = Redactor(detectors=["card"], extra_patterns=[r"C-\d{5}"])
    assert redactor.text(f"C-63993 a@b.example {VISA}") == "[redacted] a@b.example [redacted:card]"


def test_payload_numbers_are_redacted_but_an_events_own_numbers_are_not() -> None:
    event = RunStarted(
        t=0.0,
        run_id="run-1",
        pipeline="p",
        session=4111111111111111,  # absurd, but the engine's own field: kept
        seed=4111111111111111,
        scenario="happy",
        input={"card": 4111111111111111, "email": "ada@example.com", "n": [1, 2.5, True]},
    )
    stored = json.loads(Redactor().event_json(event))
    assert stored["seed"] == stored["session"] == 4111111111111111
    assert stored["input"] == {
        "card": "[redacted:card]",
        "email": "[redacted:email]",
        "n": [1, 2.5, True],
    }


def test_redacted_events_stay_valid_json_with_quotes_and_escapes() -> None:
    secret = 'pa"ss\\word\n42'
    event = StepFinished(
        t=1.0,
        run_id="run-1",
        step="reply",
        kind="llm",
        status="failed",
        duration=0.1,
        output={"text": f'use {secret} or mail "x"@example.com'},
        error=f"upstream said {secret}",
    )
    data = Redactor(secrets=[secret]).event_json(event)
    stored = json.loads(data)
    assert secret.encode() not in data and json.dumps(secret)[1:-1].encode() not in data
    assert stored["error"] == "upstream said [secret]"
    assert stored["output"]["text"].startswith("use [secret] or mail")


def test_an_event_with_nothing_to_redact_is_stored_exactly_as_encoded() -> None:
    event = StepFinished(
        t=1.0, run_id="run-1", step="a", kind="tool", status="ok", duration=0.5, output={"x": 1}
    )
    redactor = Redactor(secrets=["sk-canary-0000"])
    assert redactor.event_json(event) == encode(event)
    assert redactor.event(event) is event


def test_workspace_secrets_are_the_values_of_named_variables() -> None:
    class Service:
        def __init__(self, env: str | None) -> None:
            self.api_key_env = env

    services = {"a": Service("A_KEY"), "b": Service(None), "c": Service("MISSING")}
    assert workspace_secrets(services, {"A_KEY": "value-a", "OTHER": "x"}) == ["value-a"]
