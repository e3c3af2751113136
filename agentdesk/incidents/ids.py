"""Trace and span ids: derived from agentdesk's own ids on export, hex or base64 on import.

agentdesk's span ids are readable paths (``run-…``, ``run-…/triage``, ``run-…/triage#2``);
OpenTelemetry's are 16-byte trace ids and 8-byte span ids. Export derives them with a hash, so
the same run exports to the same ids every time (golden files hold, and a trace sent twice is
the same trace); the readable id travels beside them as ``agentdesk.*`` attributes.

On import, the OTLP specification says ids are hex, but protobuf's JSON mapping (which some
SDKs and gateways use) writes bytes as base64. Both are accepted: an id is hex when it has
exactly twice as many characters as bytes and all of them are hex digits, else it must be
base64 of exactly the right number of bytes. The two cannot be confused: hex of 16 bytes is
32 characters, which as base64 would be 24 bytes.
"""

from __future__ import annotations

import hashlib
import string

from agentdesk.incidents.anyvalue import decode_base64

TRACE_ID_BYTES = 16
SPAN_ID_BYTES = 8
_HEX = frozenset(string.hexdigits)


def trace_id_for(run_id: str) -> str:
    """The trace id of a run: one trace per run."""
    return _derive("trace", run_id, TRACE_ID_BYTES)


def span_id_for(span_id: str) -> str:
    """The OpenTelemetry span id of one of agentdesk's derived span ids."""
    return _derive("span", span_id, SPAN_ID_BYTES)


def _derive(kind: str, name: str, size: int) -> str:
    digest = hashlib.sha256(f"agentdesk {kind}\0{name}".encode()).digest()[:size]
    # An all-zero id means "no id" in OpenTelemetry; a hash that lands there is nudged off it.
    return (digest if any(digest) else digest[:-1] + b"\x01").hex()


def parse_id(text: str, size: int) -> str | None:
    """A trace or span id of ``size`` bytes, written in hex or base64, as lowercase hex.

    None when ``text`` is neither; an all-zero id (which means "none") comes back as ``""``."""
    if len(text) == 2 * size and _HEX.issuperset(text):
        raw = bytes.fromhex(text)
    else:
        decoded = decode_base64(text)
        if decoded is None or len(decoded) != size:
            return None
        raw = decoded
    return raw.hex() if any(raw) else ""
