"""Benchmark: tokens counted per second by agentdesk's counter next to bare tiktoken.

Measured in the same process, on the same texts, interleaved over several rounds (the best
round of each counts, which filters out the noise of other work on the machine):

- **bare** — ``tiktoken`` ``encode_ordinary`` on each text, nothing else: the ceiling;
- **new text** — ``TokenCounter.count_text`` on texts it has never seen (a fresh counter each
  round): what hashing and caching add to a real encode (target ≥ 0.8× bare);
- **repeated text** — the same counter counting the same texts again: a cache hit, which should
  cost a small fraction of an encode ("near-free", many times faster than bare);
- **chat, new / repeated** — ``count_chat`` on two-message requests (system prompt + question),
  against bare encodes of the same contents.

    python bench/tokens.py [--texts 2000] [--chars 1100] [--rounds 5] [--model gpt-4o]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import _common  # noqa: F401  (sets up the path and tiktoken)
import tiktoken

from agentdesk.tokens.counting import TokenCounter, encoding_for

VOCABULARY = (
    "the customer reports a refund that never arrived for order with card ending payment "
    "invoice shipping delayed agent please summarise ticket priority urgent billing account "
    "password reset résumé naïve 東京 données 1234 5.75 % $19.99 — «quoted» {json: true}"
)


def prompts(count: int, chars: int, seed: int) -> list[str]:
    """Distinct prompts of about ``chars`` characters, like rendered templates with data."""
    rng = random.Random(seed)
    vocabulary = VOCABULARY.split()
    texts = []
    for n in range(count):
        words = [f"Ticket T-{n}:"]
        while sum(len(w) + 1 for w in words) < chars:
            words.append(rng.choice(vocabulary))
        texts.append(" ".join(words))
    return texts


def timed(work: Callable[[], int]) -> tuple[int, float]:
    started = time.perf_counter()
    tokens = work()
    return tokens, time.perf_counter() - started


def renewed(texts: Sequence[str]) -> list[str]:
    """Equal texts as new objects, as a template renders them: no hash cached on the object."""
    return [text[:1] + text[1:] for text in texts]


def one_round(encoder: Any, model: str, texts: list[str], system: str) -> dict[str, float]:
    """Seconds for each way of counting the same texts; counters start empty."""
    requests = [
        [{"role": "system", "content": system}, {"role": "user", "content": t}] for t in texts
    ]
    again = [[{**m, "content": renewed([m["content"]])[0]} for m in r] for r in requests]
    counter, chat_counter = TokenCounter(4 * len(texts)), TokenCounter(4 * len(texts))
    for warm in (counter, chat_counter):  # load the encoder outside the timing
        warm.count_text(model, "warm up")
    contents = [m["content"] for r in requests for m in r]
    work: dict[str, Callable[[], int]] = {
        "bare": lambda: sum(len(encoder.encode_ordinary(t)) for t in texts),
        "new text": lambda: sum(counter.count_text(model, t).tokens for t in texts),
        "repeated text": lambda: sum(counter.count_text(model, t).tokens for t in renewed(texts)),
        "bare chat": lambda: sum(len(encoder.encode_ordinary(t)) for t in contents),
        "chat, new": lambda: sum(chat_counter.count_chat(model, r).tokens for r in requests),
        "chat, repeated": lambda: sum(chat_counter.count_chat(model, r).tokens for r in again),
    }
    return {name: timed(job)[1] for name, job in work.items()}


ROWS = [
    ("bare", "bare"),
    ("new text", "bare"),
    ("repeated text", "bare"),
    ("bare chat", "bare chat"),
    ("chat, new", "bare chat"),
    ("chat, repeated", "bare chat"),
]
"""Each row and the row it is compared with (same texts, bare tiktoken)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000, help="distinct prompts per round")
    parser.add_argument("--chars", type=int, default=1100, help="characters per prompt")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--model", default="gpt-4o")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    encoding, _ = encoding_for(args.model)
    encoder = tiktoken.get_encoding(encoding)
    system = prompts(1, args.chars, args.seed)[0]
    best: dict[str, float] = {}
    tokens = 0
    for round_ in range(args.rounds):
        # New texts every round, so "new" really is new.
        texts = prompts(args.texts, args.chars, args.seed + round_ + 1)
        tokens = sum(len(encoder.encode_ordinary(t)) for t in texts)
        for name, seconds in one_round(encoder, args.model, texts, system).items():
            best[name] = min(best.get(name, float("inf")), seconds)

    print(
        f"{args.texts:,} distinct prompts × {args.rounds} rounds, ~{args.chars:,} characters "
        f"(~{tokens // args.texts} tokens) each, {args.model} ({encoding}); best round of each"
    )
    print(f"{'':<16}{'prompts/s':>12}{'µs/prompt':>12}{'tokens/s':>14}{'× bare':>9}")
    for name, ceiling in ROWS:
        seconds = best[name]
        print(
            f"{name:<16}{args.texts / seconds:>12,.0f}{seconds / args.texts * 1e6:>12.1f}"
            f"{tokens / seconds:>14,.0f}{best[ceiling] / seconds:>9.2f}"
        )
    print(
        "chat: a system prompt shared by every request + a distinct user message; tokens/s "
        "counts the user messages' tokens"
    )
    print("targets: new text ≥ 0.8× bare; repeated text many times faster than bare")


if __name__ == "__main__":
    main()
