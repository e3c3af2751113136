"""Shared test setup: offline tiktoken encodings, Ctrl-C for child processes, and a
virtual-clock runner for coroutines."""

from __future__ import annotations

import os
import signal
from pathlib import Path

_SHARED = Path(__file__).resolve().parents[2] / "shared" / "tiktoken"
if "TIKTOKEN_CACHE_DIR" not in os.environ and _SHARED.is_dir():
    # This machine has no network; the encodings are beside the checkout.
    os.environ["TIKTOKEN_CACHE_DIR"] = str(_SHARED)


def pytest_configure() -> None:
    """Tests that press Ctrl-C on a child ``agentdesk`` (SIGINT) need the child to hear it. A
    shell starting the suite as a background job (``bash .ci/run &``) ignores SIGINT, and an
    ignored signal stays ignored across exec: the child would never stop. A handled one is
    reset to the default on exec, so handling it here gives every child Python's usual
    Ctrl-C, however the suite was started."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
