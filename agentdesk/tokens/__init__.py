"""Token counting and pricing: headless, importable without the UI or the store."""

from agentdesk.tokens.counting import (
    TokenCount,
    TokenCounter,
    count_chat,
    count_text,
    encoding_for,
    shared_counter,
    truncate_text,
)

__all__ = [
    "TokenCount",
    "TokenCounter",
    "count_chat",
    "count_text",
    "encoding_for",
    "shared_counter",
    "truncate_text",
]
