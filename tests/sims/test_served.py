"""The sims on a real loopback socket, driven by the official openai SDK."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import openai
import pytest

from agentdesk.tokens import count_chat, count_text
from sims import SimWorld
from sims.serve import serve

MESSAGES: list[Any] = [
    {"role": "system", "content": "You triage support tickets."},
    {"role": "user", "content": "Ticket T-1001: I was charged twice."},
]
QUICK = {"llm": {"ttft": {"dist": "fixed", "value": 0.01}, "per_token": 0.0}}


@contextmanager
def served(world: SimWorld) -> Iterator[dict[str, str]]:
    """Serve the world on a free port in a background thread; yields the base URLs."""
    loop = asyncio.new_event_loop()
    urls: dict[str, str] = {}
    listening = threading.Event()

    def ready(found: dict[str, str]) -> None:
        urls.update(found)
        listening.set()

    task = loop.create_task(serve(world, port=0, ready=ready))

    def run() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert listening.wait(10), "the sim server did not start"
        yield urls
    finally:
        loop.call_soon_threadsafe(task.cancel)
        thread.join(10)
        loop.close()


def test_the_sdk_parses_a_completion_with_correct_usage() -> None:
    with served(SimWorld(1, None, QUICK)) as urls:
        assert urls["llm"].startswith("http://127.0.0.1:") and urls["llm"].endswith("/llm/v1")
        sdk = openai.OpenAI(base_url=urls["llm"], api_key="test", max_retries=2)
        completion = sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert completion.object == "chat.completion"
    assert completion.choices[0].finish_reason == "stop"
    text = completion.choices[0].message.content or ""
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == count_chat("gpt-4o-mini", MESSAGES).tokens
    assert completion.usage.completion_tokens == count_text("gpt-4o-mini", text).tokens


def test_the_sdk_honours_retry_after_ms_and_succeeds() -> None:
    """Only the first request falls in the fault's window (sim time 0 to 0.05 s): it gets a
    429 with retry-after-ms 100, the SDK waits 0.1 s and the retry succeeds."""
    first_only = {
        "kind": "error",
        "status": 429,
        "retry_after_ms": 100,
        "window": {"start": 0, "end": 0.05},
    }
    world = SimWorld(1, {"services": {"llm": {"faults": [first_only]}}}, QUICK)
    statuses: list[int] = []
    hooks = {"response": [lambda r: statuses.append(r.status_code)]}
    http = openai.DefaultHttpxClient(event_hooks=hooks)
    with served(world) as urls:
        sdk = openai.OpenAI(base_url=urls["llm"], api_key="test", max_retries=2, http_client=http)
        completion = sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert statuses == [429, 200]
    assert completion.choices[0].message.content


def test_the_sdk_sees_openais_error_types() -> None:
    world = SimWorld(
        1, {"services": {"llm": {"faults": [{"kind": "error", "status": 400}]}}}, QUICK
    )
    with served(world) as urls:
        sdk = openai.OpenAI(base_url=urls["llm"], api_key="test", max_retries=0)
        with pytest.raises(openai.BadRequestError) as exc:
            sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert exc.value.type == "invalid_request_error"


def test_a_served_reset_drops_the_connection() -> None:
    world = SimWorld(1, {"services": {"crm": {"faults": [{"kind": "reset", "phase": "after"}]}}})
    with served(world) as urls, httpx.Client() as http:
        with pytest.raises(httpx.RemoteProtocolError):
            http.post(f"{urls['crm']}/tickets/T-1001/replies", json={"body": "hi"})
        tool = http.get(f"{urls['knowledge']}/search", params={"q": "refund"})
    assert len(world.sim("crm").replies["T-1001"]) == 1
    assert tool.status_code == 200


def test_unknown_prefixes_get_a_json_404() -> None:
    with served(SimWorld(1)) as urls, httpx.Client() as http:
        root = urls["crm"].rsplit("/", 1)[0]
        response = http.get(f"{root}/mail/inbox")
    assert response.status_code == 404 and "/llm" in response.json()["error"]["message"]


def test_a_port_in_use_is_an_os_error() -> None:
    async def main() -> None:
        with served(SimWorld(1)) as urls:
            port = int(urls["crm"].split(":")[2].split("/")[0])
            with pytest.raises(OSError):
                await serve(SimWorld(1), port=port)

    asyncio.run(main())
