"""Token counts the way OpenAI bills them, with tiktoken, and a visible fallback when offline.

Counting sits on hot paths (every simulated completion counts its prompt and its answer), so
encoders load lazily and once, and counts are memoised per encoding by a hash of the text: a
prompt template rendered a thousand times costs one encode. The key is Python's own string hash
(SipHash, keyed per process), not a cryptographic digest: it is three to five times cheaper
than blake2b on a 1 KB prompt, and with at most ``cache_size`` entries the chance that a new
text collides with a cached one is about ``cache_size / 2**64`` — never in practice.

When an encoding cannot be loaded (no network and no ``TIKTOKEN_CACHE_DIR``), counting never
fails: it falls back to about four bytes of UTF-8 per token (OpenAI's "four characters" rule of
thumb for English, and closer than it for other scripts), marks the result ``approximate`` and
warns once per process, saying how to fix it.

The chat formula (3 tokens per message, +1 per ``name``, +3 to prime the reply) and the tool
formula come from OpenAI's cookbook notebook "How to count tokens with tiktoken"
(github.com/openai/openai-cookbook, examples/How_to_count_tokens_with_tiktoken.ipynb), whose
functions ``num_tokens_from_messages`` and ``num_tokens_for_tools`` were checked there against
the usage the API reported; ``tests/tokens/test_counting.py`` holds those published figures.
Content parts other than text (images, audio, files) are billed by rules the request body does
not carry (an image's size), so they are not counted; ``non_text_parts`` finds them so callers
can say so.
"""

from __future__ import annotations

import json
import math
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

O200K = "o200k_base"
CL100K = "cl100k_base"
BYTES_PER_TOKEN = 4
"""The approximate path's ratio: OpenAI's rule of thumb (4 characters of English per token)."""

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMER = 3
"""Every reply is primed with ``<|start|>assistant<|message|>``."""

_O200K_PREFIXES = ("gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4")
_CL100K_PREFIXES = ("gpt-4", "gpt-3.5", "gpt-35", "text-embedding-3", "text-embedding-ada-002")


@dataclass(frozen=True, slots=True)
class TokenCount:
    """How many tokens, counted with which encoding, and how much to trust the figure."""

    tokens: int
    encoding: str
    approximate: bool = False
    """True when tiktoken could not load the encoding and ~4 bytes per token was used."""
    fallback: bool = False
    """True when the model was unknown and the default encoding (o200k_base) was assumed."""


@dataclass(frozen=True, slots=True)
class _ToolCosts:
    """The cookbook's per-encoding constants for counting tool (function) definitions."""

    func_init: int
    prop_init: int = 3
    prop_key: int = 3
    enum_init: int = -3
    enum_item: int = 3
    func_end: int = 12


_TOOL_COSTS = {O200K: _ToolCosts(func_init=7), CL100K: _ToolCosts(func_init=10)}


class Encoder(Protocol):
    """What the counter needs of a tiktoken ``Encoding`` (tests pass fakes that count calls)."""

    def encode_ordinary(self, text: str) -> list[int]: ...
    def decode_bytes(self, tokens: Sequence[int]) -> bytes: ...


TextCounter = Callable[[str], int]


@lru_cache(maxsize=4096)
def encoding_for(model: str) -> tuple[str, bool]:
    """The encoding a model uses, and whether that was a guess (unknown model)."""
    name = model.rsplit("/", 1)[-1].removeprefix("ft:").lower()
    if name.startswith(_O200K_PREFIXES):
        return O200K, False
    if name.startswith(_CL100K_PREFIXES):
        return CL100K, False
    return O200K, True


def load_encoder(name: str) -> Encoder:
    """tiktoken's encoding ``name`` (from ``TIKTOKEN_CACHE_DIR``, else downloaded)."""
    import tiktoken  # lazily: the import and the first load cost 20 ms and 130-250 ms

    encoder: Encoder = tiktoken.get_encoding(name)
    return encoder


class _Encoding:
    """One encoding as a counter uses it: its encoder (None: approximate) and its cache."""

    __slots__ = ("_cache", "_cache_size", "encoder", "name")

    def __init__(self, name: str, encoder: Encoder | None, cache_size: int) -> None:
        self.name = name
        self.encoder = encoder
        self._cache: OrderedDict[int, int] = OrderedDict()
        self._cache_size = cache_size

    def tokens(self, text: str) -> int:
        """Tokens in ``text``; a text seen before is not encoded again."""
        if not text:
            return 0
        key = hash(text)
        # pop and put back: marks the entry recently used, and cannot fail halfway the way
        # get-then-move_to_end can when another thread evicts the key in between.
        count = self._cache.pop(key, None)
        if count is None:
            count = self._encode_count(text)
            self._remember(key, count)
        else:
            self._cache[key] = count
        return count

    def truncate(self, text: str, max_tokens: int) -> str:
        """A prefix of ``text`` that re-encodes to at most ``max_tokens`` tokens."""
        limit = max(max_tokens, 0)
        if self.tokens(text) <= limit:  # most texts fit, and their count is often cached
            return text
        if self.encoder is None:
            return _approximate_prefix(text, limit)
        tokens = self.encoder.encode_ordinary(text)
        keep = limit
        while len(tokens) > limit:
            # Cut at whole characters: a token prefix may end inside a multi-byte character,
            # and the U+FFFD that decode() puts there can re-encode to more tokens. A cut text
            # can also split differently from the whole, so re-encode until it fits.
            cut = self.encoder.decode_bytes(tokens[:keep]).decode("utf-8", errors="ignore")
            tokens = self.encoder.encode_ordinary(cut)
            text, keep = cut, max(0, keep - max(1, len(tokens) - limit))
        return text

    def _encode_count(self, text: str) -> int:
        if self.encoder is None:
            return _approximate_count(text)
        return len(self.encoder.encode_ordinary(text))

    def _remember(self, key: int, count: int) -> None:
        self._cache[key] = count
        if len(self._cache) > self._cache_size:
            with suppress(KeyError):  # emptied by another thread meanwhile
                self._cache.popitem(last=False)


class TokenCounter:
    """Counts tokens with lazily loaded encoders and a bounded cache of counts per encoding."""

    def __init__(
        self, cache_size: int = 8192, load: Callable[[str], Encoder] = load_encoder
    ) -> None:
        self._cache_size = cache_size
        self._load = load
        self._encodings: dict[str, _Encoding] = {}
        self._lock = threading.Lock()

    def count_text(self, model: str, text: str) -> TokenCount:
        """Tokens in a plain text, as a completion's ``completion_tokens`` counts them."""
        name, fallback = encoding_for(model)
        encoding = self._encoding(name)
        return TokenCount(encoding.tokens(text), name, encoding.encoder is None, fallback)

    def count_chat(
        self,
        model: str,
        messages: Iterable[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> TokenCount:
        """Prompt tokens of a chat request (messages, then tool definitions) as billed."""
        name, fallback = encoding_for(model)
        encoding = self._encoding(name)
        count = encoding.tokens
        total = sum(_message_tokens(count, message) for message in messages) + REPLY_PRIMER
        if tools:
            total += _tools_tokens(count, _TOOL_COSTS[name], tools)
        return TokenCount(total, name, encoding.encoder is None, fallback)

    def load(self, models: Iterable[str]) -> None:
        """Load the encodings these models use now, not in the first call that counts (a
        simulation would stop there for the 0.2-0.5 s tiktoken takes to read its tables)."""
        for model in models:
            self._encoding(encoding_for(model)[0])

    def truncate(self, model: str, text: str, max_tokens: int) -> str:
        """A prefix of ``text`` that counts at most ``max_tokens`` tokens for ``model``.

        It is the text of the first ``max_tokens`` tokens, cut back to whole characters (and
        shortened further in the rare case where the cut text encodes differently), so what a
        caller bounds by tokens really is within the bound when counted again.
        """
        return self._encoding(encoding_for(model)[0]).truncate(text, max_tokens)

    def _encoding(self, name: str) -> _Encoding:
        found = self._encodings.get(name)
        if found is not None:
            return found
        with self._lock:
            if name not in self._encodings:
                encoder = _try_load(self._load, name)
                self._encodings[name] = _Encoding(name, encoder, self._cache_size)
            return self._encodings[name]


def _message_tokens(count: TextCounter, message: Mapping[str, Any]) -> int:
    total = TOKENS_PER_MESSAGE
    for key, value in message.items():
        total += count(_message_text(value))
        if key == "name":
            total += TOKENS_PER_NAME
    return total


def _tools_tokens(count: TextCounter, costs: _ToolCosts, tools: Sequence[Mapping[str, Any]]) -> int:
    total = sum(_function_tokens(count, costs, tool.get("function", tool)) for tool in tools)
    return total + costs.func_end


def _function_tokens(count: TextCounter, costs: _ToolCosts, function: Mapping[str, Any]) -> int:
    line = f"{function.get('name', '')}:{_strip_dot(function.get('description', ''))}"
    total = costs.func_init + count(line)
    properties = (function.get("parameters") or {}).get("properties") or {}
    if properties:
        total += costs.prop_init
        for key, prop in properties.items():
            total += costs.prop_key + _property_tokens(count, costs, key, prop)
    return total


def _property_tokens(
    count: TextCounter, costs: _ToolCosts, key: str, prop: Mapping[str, Any]
) -> int:
    total = 0
    if "enum" in prop:
        total += costs.enum_init
        for item in prop["enum"]:
            total += costs.enum_item + count(str(item))
    line = f"{key}:{prop.get('type', '')}:{_strip_dot(prop.get('description', ''))}"
    return total + count(line)


_warned: set[str] = set()
"""Encodings that could not be loaded; the first one warns, once per process."""


def _try_load(load: Callable[[str], Encoder], name: str) -> Encoder | None:
    try:
        return load(name)
    except Exception as exc:  # any failure (network, hash, missing plugin) means: approximate
        if not _warned:
            _warn(name, exc)
        _warned.add(name)
        return None


def _warn(encoding: str, exc: Exception) -> None:
    warnings.warn(
        f"tiktoken could not load the {encoding} encoding ({type(exc).__name__}); token "
        "counts are approximate (about 4 bytes of text per token) and marked ~. To count "
        "exactly, set TIKTOKEN_CACHE_DIR to a folder holding tiktoken's encoding files (copy "
        "them from data-gym-cache in the temporary folder of a machine that has run tiktoken "
        "online), or allow network access so tiktoken can download them.",
        RuntimeWarning,
        stacklevel=5,
    )


def _approximate_count(text: str) -> int:
    return math.ceil(len(text.encode("utf-8", "surrogatepass")) / BYTES_PER_TOKEN)


def _approximate_prefix(text: str, limit: int) -> str:
    data = text.encode("utf-8", "surrogatepass")[: limit * BYTES_PER_TOKEN]
    return data.decode("utf-8", errors="ignore")


def _message_text(value: Any) -> str:
    """The billable text of a message field (text parts joined; other values as JSON)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(part, dict) for part in value):
        return "".join(str(part["text"]) for part in value if "text" in part)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def non_text_parts(messages: Iterable[Mapping[str, Any]]) -> int:
    """How many content parts are not text (images, audio, files): they are not counted."""
    return sum(
        1
        for message in messages
        if isinstance(content := message.get("content"), list)
        for part in content
        if not (isinstance(part, dict) and "text" in part)
    )


def _strip_dot(text: str) -> str:
    return text[:-1] if text.endswith(".") else text


_default = TokenCounter()


def shared_counter() -> TokenCounter:
    """The process-wide counter (its encoders and cache serve every caller)."""
    return _default


def count_text(model: str, text: str) -> TokenCount:
    """Tokens in ``text`` for ``model`` (see ``TokenCounter.count_text``)."""
    return _default.count_text(model, text)


def count_chat(
    model: str,
    messages: Iterable[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]] | None = None,
) -> TokenCount:
    """Prompt tokens of a chat request for ``model`` (see ``TokenCounter.count_chat``)."""
    return _default.count_chat(model, messages, tools)


def truncate_text(model: str, text: str, max_tokens: int) -> str:
    """A prefix of ``text`` within ``max_tokens`` tokens for ``model``."""
    return _default.truncate(model, text, max_tokens)
