"""Fixtures for the sim tests: everything runs on the virtual clock, nothing sleeps for real."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import httpx
import pytest

from agentdesk.engine.clock import run_virtual
from sims import SimWorld

T = TypeVar("T")


@pytest.fixture
def run() -> Callable[[Coroutine[Any, Any, T]], T]:
    """Run a coroutine to completion on a fresh virtual-clock loop."""
    return run_virtual


def client(world: SimWorld, service: str) -> httpx.AsyncClient:
    """An httpx client talking to one of the world's sims in-process."""
    transport = httpx.ASGITransport(app=world.app(service))
    return httpx.AsyncClient(transport=transport, base_url=f"http://{service}.sim")


def chat(content: str = "Hello there", **extra: Any) -> dict[str, Any]:
    """A minimal chat completions request body."""
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **extra}
