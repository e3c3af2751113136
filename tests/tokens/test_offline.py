"""Offline: no cached encodings and no network. Counts are approximate, marked, warned about once.

In-process tests empty tiktoken's registry and make its loader fail; the subprocess test does it
for real — ``TIKTOKEN_CACHE_DIR`` pointing at an empty folder, sockets refused — in a fresh
interpreter, so nothing this test process has already loaded can hide a failure.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import tiktoken.load
import tiktoken.registry

from agentdesk.tokens import counting
from agentdesk.tokens.counting import TokenCounter

ROOT = Path(__file__).resolve().parents[2]
TEXT = "The quick brown fox jumps over the lazy dog."


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def no_network(blobpath: str) -> bytes:
        raise ConnectionError(f"network blocked in tests: {blobpath}")

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tiktoken.load, "read_file", no_network)
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    monkeypatch.setattr(counting, "_warned", set())


def test_counts_are_approximate_marked_and_warned_about_once() -> None:
    counter = TokenCounter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = counter.count_text("gpt-4o", TEXT)
        chat = counter.count_chat("gpt-4o-mini", [{"role": "user", "content": TEXT}])
        other = counter.count_text("gpt-4", "another encoding, still no second warning")
        TokenCounter().count_text("gpt-4o", "a second counter, still no second warning")
    assert first.tokens == math.ceil(len(TEXT) / 4)
    assert first.approximate and chat.approximate and other.approximate
    assert not first.fallback
    assert [w.category for w in caught] == [RuntimeWarning]
    message = str(caught[0].message)
    assert "approximate" in message and "TIKTOKEN_CACHE_DIR" in message


def test_approximate_counts_go_by_bytes_so_other_scripts_are_not_undercounted() -> None:
    with pytest.warns(RuntimeWarning):
        count = TokenCounter().count_text("gpt-4o", "お誕生日おめでとう")  # 9 chars, 27 bytes
    assert count.tokens == 7  # tiktoken's o200k_base says 8; four characters a token says 3


def test_truncate_still_keeps_within_the_approximate_bound() -> None:
    counter = TokenCounter()
    with pytest.warns(RuntimeWarning, match="TIKTOKEN_CACHE_DIR"):
        cut = counter.truncate("gpt-4o", "abcdefghijkl", 2)
    assert cut == "abcdefgh" and counter.count_text("gpt-4o", cut).tokens == 2
    assert counter.truncate("gpt-4o", "東京都庁", 1) == "東"  # whole characters only


PROBE = """
import json, socket, sys, warnings

def refuse(*args, **kwargs):
    raise OSError("network blocked by the test")

socket.socket.connect = refuse
socket.getaddrinfo = refuse

from agentdesk.tokens.counting import count_chat, count_text, truncate_text

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    chat = count_chat("gpt-4o", [{"role": "user", "content": "hello world"}])
    text = count_text("gpt-4", "hello world")
    cut = truncate_text("gpt-4o", "hello world", 1)
print(json.dumps({
    "chat": [chat.tokens, chat.approximate],
    "text": [text.tokens, text.approximate],
    "cut": cut,
    "warnings": [str(w.message) for w in caught],
}))
"""


def test_a_fresh_process_without_cache_or_network_counts_approximately(tmp_path: Path) -> None:
    empty = tmp_path / "empty-cache"
    empty.mkdir()
    env = {"TIKTOKEN_CACHE_DIR": str(empty), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["chat"] == [3 + 1 + 3 + 3, True]  # "user" 1, "hello world" 3, +3 +3
    assert result["text"] == [3, True]
    assert result["cut"] == "hell"
    assert len(result["warnings"]) == 1
    assert "TIKTOKEN_CACHE_DIR" in result["warnings"][0]
    assert list(empty.iterdir()) == []
