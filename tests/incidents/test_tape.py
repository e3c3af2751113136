"""The tape: what a recording keeps of each call, and how a replay answers or refuses.

A recorder wraps an httpx ``MockTransport`` here (or the demo's sims in the bundle tests),
on the virtual clock, so hangs and durations are simulated seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib

import httpx
import pytest

from agentdesk.engine.clock import run_virtual
from agentdesk.incidents.bundle import read_bundle
from agentdesk.incidents.tape import (
    ReplayTransport,
    TapeDeck,
    TapeEntry,
    TapeMiss,
    TapeRecorder,
    play,
)
from agentdesk.incidents.whatif import replay_exact
from agentdesk.simulation import demo_workspace
from agentdesk.store.incidents import bundle_redactor
from agentdesk.store.redaction import Redactor

FIXTURE = demo_workspace() / "incidents" / "crm-latency-spike.incident.jsonl"
HEADERS = {
    "authorization": "Bearer sk-live-0123456789abcdef",
    "api-key": "abc123secret",
    "x-agentdesk-key": "run-1/ticket#2",
    "x-agentdesk-step": "ticket",
}


def _recorded(handler: httpx.MockTransport, timeout: float | None = None) -> list[TapeEntry]:
    entries: list[TapeEntry] = []
    counter = iter(range(100))
    recorder = TapeRecorder(
        "crm", "http://crm.sim/v1", handler, entries.append, Redactor(), counter.__next__
    )
    request = httpx.Request(
        "POST",
        "http://crm.sim/v1/tickets/T-1/replies?x=1",
        headers=HEADERS,
        json={"body": "mail me at ada@example.com"},
    )

    async def send() -> None:
        async with asyncio.timeout(timeout):
            await recorder.handle_async_request(request)

    with contextlib.suppress(TimeoutError, httpx.HTTPError):
        run_virtual(send())
    return entries


async def _answer(request: httpx.Request) -> httpx.Response:
    await asyncio.sleep(0.25)
    return httpx.Response(201, json={"to": "ada@example.com"}, headers={"set-cookie": "s=1"})


def test_a_call_is_kept_with_its_match_key_and_without_credentials() -> None:
    (entry,) = _recorded(httpx.MockTransport(_answer))
    kept = dict(entry.request_headers)
    assert "authorization" not in kept and "api-key" not in kept
    assert "sk-live" not in repr(entry) and "abc123secret" not in repr(entry)
    assert (entry.service, entry.method, entry.path, entry.key, entry.step) == (
        "crm",
        "POST",
        "/tickets/T-1/replies?x=1",
        "run-1/ticket#2",
        "ticket",
    )
    assert entry.request_body == '{"body":"mail me at [redacted:email]"}'
    assert entry.body_hash == hashlib.sha256(entry.request_body.encode()).hexdigest()
    assert (entry.outcome, entry.status, entry.duration) == ("response", 201, 0.25)
    assert entry.body == '{"to":"[redacted:email]"}'
    assert "set-cookie" not in dict(entry.headers)


def test_a_call_the_engine_gave_up_on_is_a_hang_of_the_time_it_waited() -> None:
    async def stall(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(200)

    (entry,) = _recorded(httpx.MockTransport(stall), timeout=8)
    assert (entry.outcome, entry.duration, entry.status) == ("hang", 8.0, None)


def test_a_dropped_connection_is_kept_as_that_error_and_replayed_as_it() -> None:
    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected", request=request)

    (entry,) = _recorded(httpx.MockTransport(drop))
    assert (entry.outcome, entry.error_type) == ("error", "RemoteProtocolError")
    request = httpx.Request("GET", "http://crm.sim/tickets/T-1")
    with pytest.raises(httpx.RemoteProtocolError, match="Server disconnected"):
        run_virtual(play(entry, request))


def test_a_replay_answers_after_the_recorded_time_with_the_recorded_answer() -> None:
    (entry,) = _recorded(httpx.MockTransport(_answer))
    deck = TapeDeck([entry])
    transport = ReplayTransport("crm", "http://crm.sim/v1", deck, Redactor())
    request = httpx.Request(
        "POST",
        "http://crm.sim/v1/tickets/T-1/replies?x=1",
        headers=HEADERS,
        json={"body": "mail me at ada@example.com"},
    )

    async def send() -> tuple[float, httpx.Response]:
        response = await transport.handle_async_request(request)
        return asyncio.get_running_loop().time(), response

    took, response = run_virtual(send())
    assert took == 0.25 and response.status_code == 201
    assert response.json() == {"to": "[redacted:email]"} and deck.answered == 1


def test_a_request_not_on_the_tape_names_the_step_and_the_difference() -> None:
    bundle = read_bundle(FIXTURE)
    files = dict(bundle.files)
    files["prompts/triage.user.md"] += b"\nAnswer in French."
    changed = dataclasses.replace(bundle, files=files)
    with pytest.raises(TapeMiss) as caught:
        replay_exact(changed, redactor=bundle_redactor(bundle, {}))
    message = str(caught.value)
    assert message.startswith("step triage (run-")
    assert "POST llm/chat/completions is not on the tape" in message
    assert "differs in body: $.messages[1].content" in message


def test_a_request_from_a_step_the_tape_never_saw_says_so() -> None:
    deck = TapeDeck([])
    transport = ReplayTransport("crm", "http://crm.sim", deck, Redactor())
    request = httpx.Request("GET", "http://crm.sim/tickets/T-9", headers=HEADERS)
    with pytest.raises(TapeMiss, match="the tape has no call to crm from this step of this run"):
        run_virtual(transport.handle_async_request(request))
