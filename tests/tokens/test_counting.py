"""Token counts against figures OpenAI published, the model → encoding map, the cache, truncation.

The published figures come from OpenAI's cookbook notebook "How to count tokens with tiktoken"
(github.com/openai/openai-cookbook, examples/How_to_count_tokens_with_tiktoken.ipynb): the
cells that call the API print "N prompt tokens counted by the OpenAI API." for each model, and
those N are copied below. Revision c81359cdc6744f001e40c08a192604c5113fdab3 ran the chat
example on gpt-3.5-turbo, gpt-4-0613, gpt-4, gpt-4o, gpt-4o-mini and the tools example on
gpt-3.5-turbo, gpt-4, gpt-4o, gpt-4o-mini; revision 06d9feb5e21e6fdc85f3ddce7731e05892758cd7
ran the chat example on gpt-3.5-turbo-0613, gpt-4-0314 and gpt-4-0613. (The older revision's
127 for gpt-3.5-turbo-0301, a retired model with its own per-message overhead, is left out.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agentdesk.tokens.counting import (
    TokenCounter,
    count_chat,
    count_text,
    encoding_for,
    non_text_parts,
    truncate_text,
)

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
"""The notebook's chat example (section 6)."""

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
"""The notebook's tools example (section 7)."""

API_REPORTED_CHAT = [
    ("gpt-3.5-turbo", 129),
    ("gpt-3.5-turbo-0613", 129),
    ("gpt-4-0314", 129),
    ("gpt-4-0613", 129),
    ("gpt-4", 129),
    ("gpt-4o", 124),
    ("gpt-4o-mini", 124),
]
API_REPORTED_TOOLS = [("gpt-3.5-turbo", 105), ("gpt-4", 105), ("gpt-4o", 101), ("gpt-4o-mini", 101)]


@pytest.mark.parametrize(("model", "prompt_tokens"), API_REPORTED_CHAT)
def test_chat_matches_what_the_api_reported(model: str, prompt_tokens: int) -> None:
    count = count_chat(model, JARGON)
    assert (count.tokens, count.approximate, count.fallback) == (prompt_tokens, False, False)


@pytest.mark.parametrize(("model", "prompt_tokens"), API_REPORTED_TOOLS)
def test_tools_match_what_the_api_reported(model: str, prompt_tokens: int) -> None:
    assert count_chat(model, WEATHER_MESSAGES, WEATHER_TOOLS).tokens == prompt_tokens


def test_legacy_functions_count_like_tools() -> None:
    functions = [tool["function"] for tool in WEATHER_TOOLS]
    assert count_chat("gpt-4o", WEATHER_MESSAGES, functions).tokens == 101


@pytest.mark.parametrize(
    ("text", "o200k", "cl100k"),
    [
        ("tiktoken is great!", 6, 6),
        ("antidisestablishmentarianism", 6, 6),
        ("2 + 2 = 4", 7, 7),
        ("お誕生日おめでとう", 8, 9),
    ],
)
def test_text_counts_match_the_notebook(text: str, o200k: int, cl100k: int) -> None:
    """The notebook's section 5 (its own tiktoken output): the Japanese line tells the two
    encodings apart, so it also proves which one each model family gets."""
    assert count_text("gpt-4o", text).tokens == o200k
    assert count_text("gpt-4", text).tokens == cl100k


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("chatgpt-4o-latest", "o200k_base"),
        ("gpt-4.1", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("o1", "o200k_base"),
        ("o1-preview", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-5-mini", "o200k_base"),
        ("GPT-4o", "o200k_base"),
        ("openai/gpt-4o", "o200k_base"),
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-32k", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-3.5-turbo-0125", "cl100k_base"),
        ("gpt-35-turbo", "cl100k_base"),
        ("ft:gpt-3.5-turbo:acme::xyz", "cl100k_base"),
    ],
)
def test_model_families_get_their_encoding(model: str, encoding: str) -> None:
    assert encoding_for(model) == (encoding, False)
    assert count_text(model, "x").fallback is False


@pytest.mark.parametrize("model", ["llama-3-70b", "claude-3-5-sonnet", "my-finetune", ""])
def test_unknown_models_fall_back_visibly(model: str) -> None:
    count = count_chat(model, JARGON)
    assert (count.encoding, count.fallback) == ("o200k_base", True)
    assert count.tokens == count_chat("gpt-4o", JARGON).tokens


def test_a_name_costs_one_token_more_than_its_text() -> None:
    plain = [{"role": "user", "content": "hi"}]
    named = [{"role": "user", "name": "ada", "content": "hi"}]
    ada = count_text("gpt-4o", "ada").tokens
    assert count_chat("gpt-4o", named).tokens == count_chat("gpt-4o", plain).tokens + ada + 1


def test_an_empty_conversation_is_the_reply_primer() -> None:
    assert count_chat("gpt-4o", []).tokens == 3


def test_content_parts_count_like_the_joined_text() -> None:
    parts = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "hello "}, {"type": "text", "text": "world"}],
        }
    ]
    plain = [{"role": "user", "content": "hello world"}]
    assert count_chat("gpt-4o", parts).tokens == count_chat("gpt-4o", plain).tokens


def test_image_parts_are_not_counted_as_text_but_are_found() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 4000}}
    with_image = [{"role": "user", "content": [{"type": "text", "text": "hi"}, image]}]
    plain = [{"role": "user", "content": "hi"}]
    assert count_chat("gpt-4o", with_image).tokens == count_chat("gpt-4o", plain).tokens
    assert (non_text_parts(with_image), non_text_parts(plain)) == (1, 0)


class CountingEncoder:
    """One token per UTF-8 byte; remembers every text it was asked to encode."""

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def encode_ordinary(self, text: str) -> list[int]:
        self.encoded.append(text)
        return list(text.encode())

    def decode_bytes(self, tokens: Sequence[int]) -> bytes:
        return bytes(tokens)


def counter_with(encoder: CountingEncoder, cache_size: int = 8192) -> TokenCounter:
    return TokenCounter(cache_size, load=lambda name: encoder)


def test_a_repeated_prompt_is_not_encoded_again() -> None:
    encoder = CountingEncoder()
    counter = counter_with(encoder)
    first = counter.count_chat("gpt-4o", WEATHER_MESSAGES)
    encoded_once = list(encoder.encoded)
    # Equal texts built anew (as a template renders them), not the same objects.
    again = [{k: "".join(list(v)) for k, v in m.items()} for m in WEATHER_MESSAGES]
    for _ in range(3):
        assert counter.count_chat("gpt-4o", again) == first
    assert encoder.encoded == encoded_once
    assert sorted(encoded_once) == sorted({t for m in WEATHER_MESSAGES for t in m.values()})


def test_each_encoding_has_its_own_counts() -> None:
    encoder = CountingEncoder()
    counter = counter_with(encoder)
    counter.count_text("gpt-4o", "same text")
    counter.count_text("gpt-4", "same text")
    assert encoder.encoded == ["same text", "same text"]


def test_the_cache_is_bounded_and_forgets_the_least_recently_used() -> None:
    encoder = CountingEncoder()
    counter = counter_with(encoder, cache_size=2)
    for text in ["a", "b", "a", "c", "a", "b"]:
        counter.count_text("gpt-4o", text)
    # "a" stayed in use, so "b" was the one forgotten when "c" came and is encoded again.
    assert encoder.encoded == ["a", "b", "c", "b"]


def test_encoders_load_once_per_counter() -> None:
    loaded: list[str] = []

    def load(name: str) -> CountingEncoder:
        loaded.append(name)
        return CountingEncoder()

    counter = TokenCounter(load=load)
    for model in ["gpt-4o", "gpt-4o-mini", "gpt-4", "o3"]:
        counter.count_text(model, "x")
    assert loaded == ["o200k_base", "cl100k_base"]


# ---- truncation -----------------------------------------------------------------------------


def test_truncate_keeps_a_prefix_of_exactly_n_tokens_when_it_can() -> None:
    text = "one two three four five six seven"
    cut = truncate_text("gpt-4o", text, 3)
    assert cut == "one two three"


def test_truncate_never_returns_a_split_character() -> None:
    """Decoding the first 2 of these 3 o200k tokens gives '֡\ufffd', which is 3 tokens."""
    text = "֡խ𧒾"
    cut = truncate_text("gpt-4o", text, 2)
    assert "\ufffd" not in cut and text.startswith(cut)
    assert count_text("gpt-4o", cut).tokens <= 2


def test_truncate_leaves_short_text_alone_and_handles_zero() -> None:
    assert truncate_text("gpt-4", "short", 100) == "short"
    assert truncate_text("gpt-4", "short", 0) == ""
    assert truncate_text("gpt-4", "short", -5) == ""


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(max_size=60),
    max_tokens=st.integers(min_value=0, max_value=40),
    model=st.sampled_from(["gpt-4o", "gpt-4"]),
)
@example(text="֡խ𧒾", max_tokens=2, model="gpt-4o")
@example(text="Ġ헽ɇ🗄", max_tokens=2, model="gpt-4")
def test_truncated_text_counts_within_the_bound(text: str, max_tokens: int, model: str) -> None:
    cut = truncate_text(model, text, max_tokens)
    assert text.startswith(cut)
    assert count_text(model, cut).tokens <= max_tokens
    if count_text(model, text).tokens <= max_tokens:
        assert cut == text
