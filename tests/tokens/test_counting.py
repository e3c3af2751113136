"""Token counts against figures OpenAI published, the cache, and the offline fallback."""

from __future__ import annotations

import math
import warnings
from typing import Any

import pytest
import tiktoken.load
import tiktoken.registry

from agentdesk.tokens import counting
from agentdesk.tokens.counting import TokenCounter, count_chat, count_text, encoding_for

# The example conversation of OpenAI's cookbook "How to count tokens with tiktoken"; the
# notebook shows the API reporting 129 prompt tokens for gpt-3.5-turbo / gpt-4 and 124 for
# gpt-4o / gpt-4o-mini.
JARGON = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates corporate "
        "jargon into plain English.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "New synergies will help drive top-line growth.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on "
        "opportunities for increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the client "
        "deliverable.",
    },
]

# The same notebook's tool example: the API reported 105 prompt tokens (gpt-3.5-turbo, gpt-4)
# and 101 (gpt-4o, gpt-4o-mini).
WEATHER_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_current_weather",
            "description": "Get the current weather in a given location",
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {
                        "type": "string",
                        "description": "The city and state, e.g. San Francisco, CA",
                    },
                    "unit": {
                        "type": "string",
                        "description": "The unit of temperature to return",
                        "enum": ["celsius", "fahrenheit"],
                    },
                },
                "required": ["location"],
            },
        },
    }
]
WEATHER_MESSAGES = [
    {
        "role": "system",
        "content": "You are a helpful assistant that can answer to questions about the weather.",
    },
    {"role": "user", "content": "What's the weather like in San Francisco?"},
]


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4"])
def test_hello_world_is_two_tokens(model: str) -> None:
    count = count_text(model, "hello world")
    assert (count.tokens, count.approximate, count.fallback) == (2, False, False)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-3.5-turbo", 129),
        ("gpt-4", 129),
        ("gpt-4-0613", 129),
        ("gpt-4o", 124),
        ("gpt-4o-mini", 124),
    ],
)
def test_chat_matches_what_the_api_reported_in_the_cookbook(model: str, expected: int) -> None:
    assert count_chat(model, JARGON).tokens == expected


@pytest.mark.parametrize(
    ("model", "expected"),
    [("gpt-3.5-turbo", 105), ("gpt-4", 105), ("gpt-4o", 101), ("gpt-4o-mini", 101)],
)
def test_tools_match_what_the_api_reported_in_the_cookbook(model: str, expected: int) -> None:
    assert count_chat(model, WEATHER_MESSAGES, WEATHER_TOOLS).tokens == expected


@pytest.mark.parametrize(
    ("model", "encoding", "fallback"),
    [
        ("gpt-4o-mini", "o200k_base", False),
        ("gpt-4.1-nano", "o200k_base", False),
        ("o1-preview", "o200k_base", False),
        ("o3-mini", "o200k_base", False),
        ("o4-mini", "o200k_base", False),
        ("gpt-5", "o200k_base", False),
        ("openai/gpt-4o", "o200k_base", False),
        ("gpt-4-turbo", "cl100k_base", False),
        ("gpt-3.5-turbo-0125", "cl100k_base", False),
        ("llama-3-70b", "o200k_base", True),
    ],
)
def test_model_to_encoding(model: str, encoding: str, fallback: bool) -> None:
    assert encoding_for(model) == (encoding, fallback)
    assert count_text(model, "x").fallback is fallback


def test_content_parts_count_like_the_joined_text() -> None:
    parts = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "hello "}, {"type": "text", "text": "world"}],
        }
    ]
    plain = [{"role": "user", "content": "hello world"}]
    assert count_chat("gpt-4o", parts).tokens == count_chat("gpt-4o", plain).tokens


def test_repeated_text_is_encoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = TokenCounter()
    calls: list[str] = []
    real = counter._encode_count

    def spy(encoding: str, text: str) -> int:
        calls.append(text)
        return real(encoding, text)

    monkeypatch.setattr(counter, "_encode_count", spy)
    for _ in range(3):
        counter.count_chat("gpt-4o", WEATHER_MESSAGES)
    assert sorted(calls) == sorted(
        {"system", "user", WEATHER_MESSAGES[0]["content"], WEATHER_MESSAGES[1]["content"]}
    )


def test_cache_is_bounded() -> None:
    counter = TokenCounter(cache_size=4)
    for n in range(10):
        counter.count_text("gpt-4o", f"text number {n}")
    assert len(counter._cache) == 4


def test_truncate_keeps_a_prefix_of_at_most_n_tokens() -> None:
    text = "one two three four five six seven"
    cut = counting.truncate_text("gpt-4o", text, 3)
    assert text.startswith(cut) and count_text("gpt-4o", cut).tokens == 3


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No cached encodings and no network: tiktoken's loader fails."""

    def no_network(blobpath: str) -> bytes:
        raise ConnectionError(f"network blocked in tests: {blobpath}")

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tiktoken.load, "read_file", no_network)
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    monkeypatch.setattr(counting, "_warned", set())


@pytest.mark.usefixtures("offline")
def test_offline_counts_are_approximate_and_warn_once() -> None:
    counter = TokenCounter()
    text = "The quick brown fox jumps over the lazy dog."
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = counter.count_text("gpt-4o", text)
        chat = counter.count_chat("gpt-4o-mini", WEATHER_MESSAGES)
        counter.count_text("gpt-4o", "more text")
    assert first.tokens == math.ceil(len(text) / 4)
    assert first.approximate and chat.approximate and not first.fallback
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "approximate" in message and "TIKTOKEN_CACHE_DIR" in message


@pytest.mark.usefixtures("offline")
def test_the_warning_is_once_per_process_not_per_counter() -> None:
    with pytest.warns(RuntimeWarning):
        TokenCounter().count_text("gpt-4", "x")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert TokenCounter().count_text("gpt-4", "abcdefgh").tokens == 2


@pytest.mark.usefixtures("offline")
def test_offline_truncate_uses_characters() -> None:
    with pytest.warns(RuntimeWarning, match="TIKTOKEN_CACHE_DIR"):
        assert TokenCounter().truncate("gpt-4o", "abcdefghijkl", 2) == "abcdefgh"
