"""Shared test setup: offline tiktoken encodings, and a virtual-clock runner for coroutines."""

from __future__ import annotations

import os
from pathlib import Path

_SHARED = Path(__file__).resolve().parents[2] / "shared" / "tiktoken"
if "TIKTOKEN_CACHE_DIR" not in os.environ and _SHARED.is_dir():
    # This machine has no network; the encodings are beside the checkout.
    os.environ["TIKTOKEN_CACHE_DIR"] = str(_SHARED)
