"""Token counts the way OpenAI bills them, with tiktoken, and a visible fallback when offline.

Counting sits on hot paths (every simulated completion counts its prompt and its answer), so
encoders load lazily and once, and counts are memoised by a hash of (encoding, text): a prompt
template rendered a thousand times costs one encode. When an encoding cannot be loaded (no
network and no ``TIKTOKEN_CACHE_DIR``), counting never fails: it falls back to about four
characters per token, marks the result ``approximate`` and warns once, saying how to fix it.

The chat formula (3 tokens per message, +1 per ``name``, +3 to prime the reply) and the tool
formula come from OpenAI's cookbook notebook "How to count tokens with tiktoken"
(github.com/openai/openai-cookbook, examples/How_to_count_tokens_with_tiktoken.ipynb), whose
functions ``num_tokens_from_messages`` and ``num_tokens_for_tools`` were checked there against
the usage the API reported (129 / 124 prompt tokens for its jargon example on gpt-4 / gpt-4o,
105 / 101 with its weather tool). The same constants are used by the tiktoken-based estimators
that copied it.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

O200K = "o200k_base"
CL100K = "cl100k_base"
CHARS_PER_TOKEN = 4
"""The approximate path's ratio: OpenAI's own rule of thumb for English text."""

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
    """True when tiktoken could not load the encoding and ~4 characters per token was used."""
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


class _Encoder(Protocol):
    def encode_ordinary(self, text: str) -> list[int]: ...
    def decode(self, tokens: Sequence[int]) -> str: ...


def encoding_for(model: str) -> tuple[str, bool]:
    """The encoding a model uses, and whether that was a guess (unknown model)."""
    name = model.rsplit("/", 1)[-1].removeprefix("ft:").lower()
    if name.startswith(_O200K_PREFIXES):
        return O200K, False
    if name.startswith(_CL100K_PREFIXES):
        return CL100K, False
    return O200K, True


def _load_encoder(name: str) -> _Encoder:
    import tiktoken  # lazily: the import and the first load cost 20 ms and 130-250 ms

    encoder: _Encoder = tiktoken.get_encoding(name)
    return encoder


class TokenCounter:
    """Counts tokens with lazily loaded encoders and a bounded cache of counts by content."""

    def __init__(self, cache_size: int = 8192) -> None:
        self._cache: OrderedDict[bytes, int] = OrderedDict()
        self._cache_size = cache_size
        self._encoders: dict[str, _Encoder | None] = {}
        self._lock = threading.Lock()

    def count_text(self, model: str, text: str) -> TokenCount:
        """Tokens in a plain text, as a completion's ``completion_tokens`` counts them."""
        encoding, fallback = encoding_for(model)
        tokens = self._tokens(encoding, text)
        return TokenCount(tokens, encoding, self._encoder(encoding) is None, fallback)

    def count_chat(
        self,
        model: str,
        messages: Iterable[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> TokenCount:
        """Prompt tokens of a chat request (messages, then tool definitions) as billed."""
        encoding, fallback = encoding_for(model)
        total = sum(self._message_tokens(encoding, m) for m in messages) + REPLY_PRIMER
        if tools:
            total += self._tools_tokens(encoding, tools)
        return TokenCount(total, encoding, self._encoder(encoding) is None, fallback)

    def truncate(self, model: str, text: str, max_tokens: int) -> str:
        """The longest prefix of ``text`` that fits in ``max_tokens`` tokens."""
        encoder = self._encoder(encoding_for(model)[0])
        if encoder is None:
            return text[: max_tokens * CHARS_PER_TOKEN]
        return encoder.decode(encoder.encode_ordinary(text)[:max_tokens])

    def _message_tokens(self, encoding: str, message: Mapping[str, Any]) -> int:
        total = TOKENS_PER_MESSAGE
        for key, value in message.items():
            total += self._tokens(encoding, _message_text(value))
            if key == "name":
                total += TOKENS_PER_NAME
        return total

    def _tools_tokens(self, encoding: str, tools: Sequence[Mapping[str, Any]]) -> int:
        costs = _TOOL_COSTS[encoding]
        total = sum(self._function_tokens(encoding, costs, tool) for tool in tools)
        return total + costs.func_end

    def _function_tokens(self, encoding: str, costs: _ToolCosts, tool: Mapping[str, Any]) -> int:
        function = tool.get("function", tool)
        line = f"{function.get('name', '')}:{_strip_dot(function.get('description', ''))}"
        total = costs.func_init + self._tokens(encoding, line)
        properties = (function.get("parameters") or {}).get("properties") or {}
        if properties:
            total += costs.prop_init
            for key, prop in properties.items():
                total += costs.prop_key + self._property_tokens(encoding, costs, key, prop)
        return total

    def _property_tokens(
        self, encoding: str, costs: _ToolCosts, key: str, prop: Mapping[str, Any]
    ) -> int:
        total = 0
        if "enum" in prop:
            total += costs.enum_init
            for item in prop["enum"]:
                total += costs.enum_item + self._tokens(encoding, str(item))
        line = f"{key}:{prop.get('type', '')}:{_strip_dot(prop.get('description', ''))}"
        return total + self._tokens(encoding, line)

    def _tokens(self, encoding: str, text: str) -> int:
        if not text:
            return 0
        key = hashlib.blake2b(f"{encoding}\x00{text}".encode(), digest_size=16).digest()
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        count = self._encode_count(encoding, text)
        self._remember(key, count)
        return count

    def _encode_count(self, encoding: str, text: str) -> int:
        encoder = self._encoder(encoding)
        if encoder is None:
            return math.ceil(len(text) / CHARS_PER_TOKEN)
        return len(encoder.encode_ordinary(text))

    def _remember(self, key: bytes, count: int) -> None:
        self._cache[key] = count
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _encoder(self, encoding: str) -> _Encoder | None:
        if encoding in self._encoders:
            return self._encoders[encoding]
        with self._lock:
            if encoding not in self._encoders:
                self._encoders[encoding] = _try_load(encoding)
        return self._encoders[encoding]


_warned: set[str] = set()
"""Encodings already reported as unavailable: one warning per encoding and process."""


def _try_load(encoding: str) -> _Encoder | None:
    try:
        return _load_encoder(encoding)
    except Exception as exc:  # any failure (network, hash, missing plugin) means: approximate
        if encoding not in _warned:
            _warned.add(encoding)
            _warn(encoding, exc)
        return None


def _warn(encoding: str, exc: Exception) -> None:
    warnings.warn(
        f"tiktoken could not load the {encoding} encoding ({type(exc).__name__}); "
        "token counts are approximate (about 4 characters per token). To count exactly, "
        "set TIKTOKEN_CACHE_DIR to a folder holding the tiktoken encoding files, or allow "
        "network access so tiktoken can download them.",
        RuntimeWarning,
        stacklevel=2,
    )


def _message_text(value: Any) -> str:
    """The billable text of a message field (content parts joined; other values as JSON)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = [p.get("text", "") for p in value if isinstance(p, dict) and "text" in p]
        if len(parts) == len(value):
            return "".join(str(p) for p in parts)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


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
    """The longest prefix of ``text`` within ``max_tokens`` tokens for ``model``."""
    return _default.truncate(model, text, max_tokens)
