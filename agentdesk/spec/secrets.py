"""Secrets in workspace files: found at load, so a file holding one is never used.

A prompt, pipeline, scenario or schema is content agentdesk hashes, stores in SQLite,
exports in incident bundles and sends to models; an API key pasted into one would travel
everywhere the file does. So the loader refuses such a file the way it refuses a syntax error
— a problem at the key's line and column — and hot reload keeps the previous version active
and stores nothing of the new one.

Two things count as secrets: the value of any environment variable a workspace service names
in ``api_key_env`` (exact, so never a false alarm), and text shaped like a provider's key
(``sk-…``, ``Bearer …``, GitHub, Slack and AWS formats — the same shapes the store redacts).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

from agentdesk.errors import Problem

SECRET_SHAPES: Final = (
    r"\bsk-[A-Za-z0-9_-]{8,}",
    r"\bBearer\s+[A-Za-z0-9._~+/=-]{8,}",
    r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}",
    r"\bgithub_pat_[A-Za-z0-9_]{20,}",
    r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
    r"\bAKIA[0-9A-Z]{16}\b",
)
"""Text shaped like an API key or a bearer token."""
SECRET_PROBLEM: Final = "holds a secret"
"""How every secret problem's message starts (``is_secret_problem``)."""
_SHORTEST_VALUE = 8
"""An environment value shorter than this is too common to be told from ordinary text."""
_SHAPES = re.compile("|".join(SECRET_SHAPES))


def secret_values(services: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    """The values of the environment variables the workspace's services name in api_key_env."""
    names = {getattr(s, "api_key_env", None) for s in services.values()}
    return [environ[name] for name in sorted(n for n in names if n) if environ.get(name)]


def secret_problems(contents: Mapping[str, bytes], values: Iterable[str] = ()) -> list[Problem]:
    """One problem per file in ``contents`` (path → normalized bytes) that holds a secret,
    at the first one. The message names what kind of secret, never the secret itself."""
    known = dict.fromkeys(
        (v for v in values if len(v) >= _SHORTEST_VALUE), "an API key's value from the environment"
    )
    problems = []
    for path, data in contents.items():
        text = data.decode("utf-8", "replace")
        found = next(_find(text, known), None)
        if found is not None:
            line, column, what = found
            message = (
                f"{SECRET_PROBLEM} ({what}): keep keys in the environment and name the "
                "variable in a service's api_key_env; this version is not used or stored"
            )
            problems.append(Problem(path, line, column, message))
    return problems


def is_secret_problem(problem: Problem) -> bool:
    return problem.message.startswith(SECRET_PROBLEM)


def _find(text: str, known: Mapping[str, str]) -> Iterator[tuple[int, int, str]]:
    hits = [(text.find(value), what) for value, what in known.items()]
    match = _SHAPES.search(text)
    if match is not None:
        hits.append((match.start(), f"text shaped like an API key: {_shape(match.group())}"))
    for offset, what in sorted(hit for hit in hits if hit[0] >= 0):
        line = text.count("\n", 0, offset) + 1
        yield line, offset - (text.rfind("\n", 0, offset) + 1) + 1, what


def _shape(secret: str) -> str:
    """A key's kind without the key: its first four characters and an ellipsis."""
    return f"'{secret[:4]}…'"
