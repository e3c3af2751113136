"""Least privilege for tool steps: what a rendered request may address, decided before sending.

A tool step's path is a template, and its placeholders are often filled from a model's answer
— text an attacker may have steered. So the runner renders the request, then asks ``check``
whether the step may send it; a refusal becomes a ``call_refused`` event and nothing is sent.

Two layers, in this order:

1. Hygiene that holds for every rule: the path is a plain origin-relative path — no scheme or
   ``//host``, no ``.``/``..`` segments (also when percent-encoded, once or several times),
   no encoded ``/`` or ``\\``, no backslashes, no control characters, no empty segments.
2. The rules: the service by exact name, the method, and the path against glob patterns where
   ``*`` matches within one segment and a ``**`` segment matches any number of segments.
   Neither wildcard matches ``?`` or ``#``: a query or fragment smuggled in through a
   placeholder value never matches, while one written literally in the pattern still can.

By default a step may call only its own service and method, on its own path shape, each
``{{ … }}`` placeholder standing for exactly one (non-empty) segment; ``allow`` widens that.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from urllib.parse import unquote

from agentdesk.spec.models import AllowRule, ToolStep

_PLACEHOLDER = re.compile(r"\{\{.*?\}\}", re.DOTALL)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SHOWN_MAX = 80
_MAX_DECODES = 4
"""Enough rounds of percent-decoding to see through double and triple encoding."""


def default_rules(step: ToolStep) -> list[AllowRule]:
    """The step's own service, method and path shape, one segment per placeholder."""
    pattern = _PLACEHOLDER.sub("*", step.path)
    return [AllowRule(service=step.service, methods=[step.method], paths=[pattern])]


def rules_for(step: ToolStep) -> list[AllowRule]:
    """The rules a step is held to: its explicit ``allow``, else its default rules."""
    return list(step.allow) if step.allow is not None else default_rules(step)


class Allowlist:
    """One step's rules, with the verdict on every request it has judged remembered: a
    pipeline sends the same few paths over and over, and a verdict depends only on them."""

    REMEMBERED = 4096

    def __init__(self, rules: Iterable[AllowRule]) -> None:
        self.rules = tuple(rules)
        self._verdicts: dict[tuple[str, str, str], str | None] = {}

    def check(self, service: str, method: str, path: str) -> str | None:
        """None when a rule allows this call; otherwise the reason it is refused."""
        key = (service, method, path)
        if key in self._verdicts:
            return self._verdicts[key]
        verdict = check(self.rules, service, method, path)
        if len(self._verdicts) >= self.REMEMBERED:
            self._verdicts.clear()
        self._verdicts[key] = verdict
        return verdict


def check(rules: Iterable[AllowRule], service: str, method: str, path: str) -> str | None:
    """None when a rule allows this call; otherwise the reason it is refused."""
    problem = path_problem(path)
    if problem is not None:
        return problem
    for_service = [rule for rule in rules if rule.service == service]
    if not for_service:
        return f"service '{_shown(service)}' not allowed for this step"
    for_method = [rule for rule in for_service if method.upper() in _upper(rule.methods)]
    if not for_method:
        return f"method {_shown(method)} not allowed for service '{service}'"
    patterns = [pattern for rule in for_method for pattern in rule.paths]
    if any(_compiled(pattern).fullmatch(path) for pattern in patterns):
        return None
    return _mismatch(path, patterns)


def path_problem(path: str) -> str | None:
    """Why this path is unsafe to send whatever the rules say, or None when it is safe."""
    if _CONTROL.search(path):
        return "control character in path refused"
    if _SCHEME.match(path) or path.startswith("//") or "://" in path:
        return "absolute URL refused"
    if "\\" in path:
        return "backslash in path refused"
    if not path.startswith("/"):
        return f"path '{_shown(path)}' must start with '/'"
    return _segments_problem(path.split("/")[1:])


def _segments_problem(segments: list[str]) -> str | None:
    for index, segment in enumerate(segments):
        decoded = _fully_unquoted(segment)
        if decoded in (".", "..") or "/" in decoded or "\\" in decoded:
            return "path traversal refused"
        if _CONTROL.search(decoded):
            return "control character in path refused"
        if not segment and index < len(segments) - 1:
            return "empty path segment refused"
    return None


def _fully_unquoted(segment: str) -> str:
    for _ in range(_MAX_DECODES):
        decoded = unquote(segment)
        if decoded == segment:
            break
        segment = decoded
    return segment


def _mismatch(path: str, patterns: list[str]) -> str:
    if ("?" in path and not any("?" in p for p in patterns)) or (
        "#" in path and not any("#" in p for p in patterns)
    ):
        return f"query or fragment inside path '{_shown(path)}' refused"
    return f"path '{_shown(path)}' does not match {', '.join(patterns)}"


@functools.lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    """``/a/*/b/**``: ``*`` within one segment (a whole-segment ``*`` needs one character or
    more), a ``**`` segment spans zero or more segments; neither matches ``?`` or ``#``."""
    first, *rest = pattern.split("/")
    regex = _segment_regex(first)
    for segment in rest:
        regex += r"(?:/[^/?#]*)*" if segment == "**" else "/" + _segment_regex(segment)
    return re.compile(regex)


def _segment_regex(segment: str) -> str:
    if segment == "*":
        return r"[^/?#]+"
    return r"[^/?#]*".join(re.escape(part) for part in re.split(r"\*+", segment))


def _upper(methods: list[str]) -> set[str]:
    return {method.upper() for method in methods}


def _shown(text: str) -> str:
    """Untrusted text made safe and short enough for an event's reason."""
    text = _CONTROL.sub("?", text)
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 1] + "…"
