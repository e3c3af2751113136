"""Seeded random generators derived from (seed, *keys), never from global state.

Concurrent sessions draw in whatever order the loop schedules them; deriving each generator
from a stable key (the seed, the service, the request) instead of sharing one stream keeps
every draw independent of that order, which is what makes "same seed, same log" hold.
"""

from __future__ import annotations

import hashlib
import random


def derive_seed(seed: int, *keys: object) -> int:
    """A 64-bit integer that depends only on the seed and the keys' string forms."""
    material = "\x1f".join([str(seed), *(str(k) for k in keys)]).encode()
    return int.from_bytes(hashlib.blake2b(material, digest_size=8).digest(), "big")


def rng_for(seed: int, *keys: object) -> random.Random:
    """A generator for one (seed, keys) combination; the same inputs give the same stream."""
    return random.Random(derive_seed(seed, *keys))
