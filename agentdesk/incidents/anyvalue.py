"""OTLP ``AnyValue``s and key/value lists, to and from plain Python values.

OTLP/JSON is protobuf's JSON mapping with two twists the OTLP specification adds (hex ids,
integer enums). For values that means: 64-bit integers travel as decimal strings, doubles may
be ``"NaN"``/``"Infinity"``, bytes are base64, and an empty object is a value that was never
set. Writers differ in the details — field names in camelCase or the proto's snake_case,
integers as strings or numbers — so reading accepts every form protobuf's own parser accepts,
and writing produces the canonical one.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 32
"""Nested arrays and key/value lists deeper than this are refused (no real trace needs it)."""
_URL_SAFE = str.maketrans("-_", "+/")
_INT64 = range(-(2**63), 2**63)
_SPECIAL_DOUBLES = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_KINDS = {
    "stringValue": "stringValue",
    "string_value": "stringValue",
    "boolValue": "boolValue",
    "bool_value": "boolValue",
    "intValue": "intValue",
    "int_value": "intValue",
    "doubleValue": "doubleValue",
    "double_value": "doubleValue",
    "arrayValue": "arrayValue",
    "array_value": "arrayValue",
    "kvlistValue": "kvlistValue",
    "kvlist_value": "kvlistValue",
    "bytesValue": "bytesValue",
    "bytes_value": "bytesValue",
}


class BadValue(ValueError):
    """Part of a file that does not have the shape the OTLP schema gives it."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


# --- writing ----------------------------------------------------------------------------------


def any_value(value: Any) -> dict[str, Any]:
    """A Python value as an ``AnyValue`` (bool before int: ``True`` is an ``int`` too)."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)} if value in _INT64 else {"stringValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value if math.isfinite(value) else _special(value)}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode("ascii")}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [any_value(item) for item in value]}}
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": key_values(value)}}
    if value is None:
        return {}
    raise TypeError(f"no OTLP value for {type(value).__name__}")


def key_values(attributes: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Attributes as an OTLP key/value list, in the mapping's order; ``None`` values left out."""
    return [{"key": k, "value": any_value(v)} for k, v in attributes.items() if v is not None]


def _special(value: float) -> str:
    return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"


# --- reading ----------------------------------------------------------------------------------


def read_attributes(raw: Any, path: str) -> dict[str, Any]:
    """An OTLP key/value list as a dict (a repeated key keeps its last value)."""
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise BadValue(path, f"expected a list of key/values, found {kind_of(raw)}")
    return dict(_key_value(item, f"{path}[{i}]", 0) for i, item in enumerate(raw))


def _key_value(raw: Any, path: str, depth: int) -> tuple[str, Any]:
    if not isinstance(raw, dict):
        raise BadValue(path, f"expected a key/value object, found {kind_of(raw)}")
    key = raw.get("key")
    if not isinstance(key, str):
        raise BadValue(f"{path}.key", f"expected a string, found {kind_of(key)}")
    return key, read_value(raw.get("value"), f"{path}.value", depth)


def read_value(raw: Any, path: str, depth: int = 0) -> Any:
    """An ``AnyValue`` as a Python value: str, bool, int, float, bytes, list, dict or None."""
    if depth > MAX_DEPTH:
        raise BadValue(path, f"values nested more than {MAX_DEPTH} deep")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise BadValue(path, f"expected an AnyValue object, found {kind_of(raw)}")
    set_fields = [(key, item) for key, item in raw.items() if key in _KINDS]
    if not set_fields:
        return None
    if len(set_fields) > 1:
        raise BadValue(path, f"an AnyValue holds one value, found {len(set_fields)}")
    field, item = set_fields[0]
    return _READERS[_KINDS[field]](item, f"{path}.{field}", depth)


def _string(raw: Any, path: str, depth: int) -> str:
    if not isinstance(raw, str):
        raise BadValue(path, f"expected a string, found {kind_of(raw)}")
    return raw


def _bool(raw: Any, path: str, depth: int) -> bool:
    if not isinstance(raw, bool):
        raise BadValue(path, f"expected true or false, found {kind_of(raw)}")
    return raw


def _int(raw: Any, path: str, depth: int) -> int:
    return read_int(raw, path)


def read_int(raw: Any, path: str) -> int:
    """A 64-bit integer written as a JSON number or a decimal string (protobuf writes strings)."""
    if isinstance(raw, bool) or not isinstance(raw, int | str | float):
        raise BadValue(path, f"expected an integer, found {kind_of(raw)}")
    try:
        value = int(raw) if not isinstance(raw, float) or raw.is_integer() else None
    except ValueError:
        value = None
    if value is None:
        raise BadValue(path, f"expected an integer, found {raw!r}")
    return value


def _double(raw: Any, path: str, depth: int) -> float:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    if isinstance(raw, str):
        special = _SPECIAL_DOUBLES.get(raw)
        if special is not None:
            return special
        try:
            return float(raw)
        except ValueError:
            pass
    raise BadValue(path, f"expected a number, found {raw!r}")


def _bytes(raw: Any, path: str, depth: int) -> bytes:
    decoded = decode_base64(raw) if isinstance(raw, str) else None
    if decoded is None:
        raise BadValue(path, f"expected base64 bytes, found {raw!r:.40}")
    return decoded


def decode_base64(text: str) -> bytes | None:
    """Standard or URL-safe base64, padded or not (protobuf's parser takes all four)."""
    try:
        padded = text.translate(_URL_SAFE) + "=" * (-len(text) % 4)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


def _array(raw: Any, path: str, depth: int) -> list[Any]:
    values = _values_of(raw, path)
    return [read_value(item, f"{path}.values[{i}]", depth + 1) for i, item in enumerate(values)]


def _kvlist(raw: Any, path: str, depth: int) -> dict[str, Any]:
    values = _values_of(raw, path)
    pairs = (_key_value(item, f"{path}.values[{i}]", depth + 1) for i, item in enumerate(values))
    return dict(pairs)


def _values_of(raw: Any, path: str) -> list[Any]:
    if not isinstance(raw, dict):
        raise BadValue(path, f"expected an object with values, found {kind_of(raw)}")
    values = raw.get("values", [])
    if not isinstance(values, list):
        raise BadValue(f"{path}.values", f"expected a list, found {kind_of(values)}")
    return values


_READERS = {
    "stringValue": _string,
    "boolValue": _bool,
    "intValue": _int,
    "doubleValue": _double,
    "arrayValue": _array,
    "kvlistValue": _kvlist,
    "bytesValue": _bytes,
}


def kind_of(value: Any) -> str:
    """What a JSON value is, in the words a message should use."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"
