"""Personal data and secrets, taken out of payloads before they are stored or exported.

Two kinds of thing are removed, with different rules:

- **secrets** are always removed, wherever they appear: the value of every environment
  variable a workspace service names in ``api_key_env``, and anything shaped like an API key
  (``sk-…``, ``Bearer …``, GitHub, Slack and AWS key formats). They become ``[secret]``.
- **personal data** is removed by default and configurable per workspace (``store.redact``,
  ``store.extra_patterns``): email addresses, phone numbers, and card numbers that pass the
  Luhn check (a 16-digit number that fails it is an id, not a card, and is left alone).
  They become ``[redacted:email]`` and the like.

Redaction works on values, never on raw JSON text: an event's string fields and JSON payloads
are redacted before it is encoded, so a replacement can never break the JSON, and a secret
containing a quote is found as the user wrote it. Numbers are only redacted inside payloads (a
card number sent as a JSON integer), never in an event's own fields (a seed, a token count).
Each distinct string is checked once and remembered — step names, statuses and ticket subjects
repeat thousands of times — which keeps the writer fast.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from types import UnionType
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import msgspec

from agentdesk.spec.secrets import SECRET_SHAPES, secret_values

SECRET = "[secret]"
EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
PHONE = (
    r"(?<![\w+.-])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]\d{2,4}){1,4}(?![\w])"
    r"|(?<![\w+])\+\d{8,15}\b"
)
CARD = r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])"
DETECTORS = ("email", "phone", "card")
"""The personal-data detectors, all enabled by default."""

_ENVELOPE = frozenset({"v", "t", "run_id", "release", "artifacts"})
"""Event fields the engine derives itself (ids and content hashes): never user data, never
redacted."""
_SHORTEST = 4
"""No secret, email, phone or card fits in fewer characters."""
_CACHE_SIZE = 16_384
_CACHED_BYTES = 4_096
"""Payloads larger than this are redacted every time rather than remembered."""
_CARD_FLOOR = 10**12
"""Integers below this have too few digits to be a card number."""
_UNSEEN = object()
_encode = msgspec.json.Encoder().encode
_PLAIN = frozenset({float, bool, type(None)})
"""JSON values that can never hold anything to redact."""
E = TypeVar("E", bound=msgspec.Struct)


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum every payment card number satisfies."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _phone(match: re.Match[str]) -> str:
    """A phone number has 7-15 digits with a + or ( in front, else 10-15 (not a date)."""
    digits = sum(c.isdigit() for c in match.group())
    least = 7 if match.group().startswith(("+", "(")) else 10
    return "[redacted:phone]" if least <= digits <= 15 else match.group()


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[redacted:card]" if luhn_ok(digits) else match.group()


class Redactor:
    """Removes secrets and the enabled kinds of personal data from strings and JSON values."""

    def __init__(
        self,
        secrets: Iterable[str] = (),
        detectors: Iterable[str] = DETECTORS,
        extra_patterns: Iterable[str] = (),
    ) -> None:
        values = sorted({s for s in secrets if len(s) >= _SHORTEST}, key=len, reverse=True)
        self._secrets = re.compile("|".join([*map(re.escape, values), *SECRET_SHAPES]))
        self._steps = _pii_steps(set(detectors), list(extra_patterns))
        # A string holds nothing to redact unless this finds a secret, an @, or a run of digits
        # long enough for a phone or a card; most strings fail it at C speed.
        hints = [*map(re.escape, values), *SECRET_SHAPES, "@", r"\d[\d\s().+-]{6,}"]
        self._hint = re.compile("|".join([*hints, *extra_patterns]))
        self._cache: dict[str, str | None] = {}
        self._payloads: dict[bytes, Any] = {}
        self._json: dict[bytes, bytes] = {}
        self._fields: dict[type, tuple[str, ...]] = {}

    def text(self, value: str) -> str:
        """One string with secrets and personal data replaced (remembered: strings repeat)."""
        found = self._cache.get(value, _UNSEEN)
        if found is _UNSEEN:
            found = self._redact(value) if len(value) >= _SHORTEST else None
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            self._cache[value] = found
        return value if found is None else found  # type: ignore[return-value]

    def secrets_only(self, value: str) -> str:
        """Secrets replaced, personal data kept."""
        return self._secrets.sub(SECRET, value)

    def value(self, value: Any, numbers: bool = True) -> Any:
        """A JSON value redacted throughout; the very same object when nothing changed."""
        kind = type(value)
        if kind is str:
            return self.text(value)
        if kind is dict:
            return self._dict(value)
        if kind is list:
            return self._list(value)
        if numbers and kind is int and value >= _CARD_FLOOR:
            redacted = self.text(str(value))
            return value if redacted == str(value) else redacted
        return value

    def _dict(self, value: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] | None = None
        for index, (key, item) in enumerate(value.items()):
            new_key = self.text(key)
            new = item if type(item) in _PLAIN else self.value(item)
            if out is None and (new is not item or new_key is not key):
                out = dict(list(value.items())[:index])
            if out is not None:
                out[new_key] = new
        return value if out is None else out

    def _list(self, value: list[Any]) -> list[Any]:
        out = [item if type(item) in _PLAIN else self.value(item) for item in value]
        return value if all(a is b for a, b in zip(out, value, strict=True)) else out

    def event_json(self, event: msgspec.Struct) -> bytes:
        """The event encoded as JSON, redacted."""
        return _encode(self.event(event))

    def event(self, event: E) -> E:
        """The event with every string and payload redacted; its own numbers are kept."""
        changes = {}
        strings = self._cache
        for name in self._payload_fields(type(event)):
            old = getattr(event, name)
            kind = type(old)
            if kind is str:
                found = strings.get(old, _UNSEEN)  # text(), inlined: the hottest line here
                new = self.text(old) if found is _UNSEEN else old if found is None else found
            elif kind is dict or kind is list:
                new = self._payload(old)
            else:
                continue
            if new is not old:
                changes[name] = new
        return msgspec.structs.replace(event, **changes) if changes else event

    def json(self, value: Any) -> bytes:
        """A JSON value encoded, redacted (remembered by its encoding: payloads repeat too)."""
        data = _encode(value)
        found = self._json.get(data)
        if found is None:
            redacted = self.value(value)
            found = data if redacted is value else _encode(redacted)
            self._remember(self._json, data, found)
        return found

    def _payload(self, value: Any) -> Any:
        key = _encode(value)
        found = self._payloads.get(key, _UNSEEN)
        if found is _UNSEEN:
            found = self.value(value)
            self._remember(self._payloads, key, None if found is value else found)
        return value if found is None else found

    @staticmethod
    def _remember(cache: dict[bytes, Any], key: bytes, value: Any) -> None:
        if len(key) <= _CACHED_BYTES:
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
            cache[key] = value

    def _payload_fields(self, kind: type) -> tuple[str, ...]:
        """The fields of an event type that can hold text: not numbers, flags or enums."""
        fields = self._fields.get(kind)
        if fields is None:
            fields = self._fields[kind] = tuple(
                f.name
                for f in msgspec.structs.fields(kind)
                if f.name not in _ENVELOPE and _may_hold_text(f.type)
            )
        return fields

    def _redact(self, value: str) -> str | None:
        if self._hint.search(value) is None:
            return None
        redacted = self._secrets.sub(SECRET, value)
        for pattern, replacement in self._steps:
            redacted = pattern.sub(replacement, redacted)
        return None if redacted == value else redacted


def _may_hold_text(annotation: Any) -> bool:
    if annotation in (int, float, bool, type(None)) or get_origin(annotation) is Literal:
        return False
    if get_origin(annotation) in (Union, UnionType):
        return any(_may_hold_text(arg) for arg in get_args(annotation))
    return True


def _pii_steps(
    enabled: set[str], extra: list[str]
) -> list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]]:
    """(pattern, replacement) in a safe order: cards before phones (a card looks like one)."""
    known: dict[str, tuple[str, str | Callable[[re.Match[str]], str]]] = {
        "email": (EMAIL, "[redacted:email]"),
        "card": (CARD, _card),
        "phone": (PHONE, _phone),
    }
    steps = [(re.compile(known[name][0]), known[name][1]) for name in known if name in enabled]
    steps += [(re.compile(pattern), "[redacted]") for pattern in extra]
    return steps


workspace_secrets = secret_values
"""The values of the environment variables the workspace's services name in api_key_env."""
