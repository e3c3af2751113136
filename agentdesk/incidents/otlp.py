"""OTLP JSON, both ways: agentdesk runs out to any trace backend, production traces in.

- ``export_otlp(events, redactor=…)`` → an ``ExportTraceServiceRequest`` as a dict;
  ``write_otlp`` writes it the way collectors read it (one JSON document, UTF-8).
- ``import_otlp(file)`` → ``ImportedTrace``, from one request or JSON Lines of them, with
  hex or base64 ids; a bad file raises ``TraceFileError`` naming the file, line and JSON path.

The mapping between agentdesk's events and OpenTelemetry's conventions is documented in
``docs/otlp.md``; the attribute names live in ``semconv``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from agentdesk.incidents.otlp_export import Redaction, export_otlp
from agentdesk.incidents.otlp_import import ImportLimits, TraceFileError, import_otlp

__all__ = [
    "ImportLimits",
    "Redaction",
    "TraceFileError",
    "export_otlp",
    "import_otlp",
    "otlp_bytes",
    "write_otlp",
]


def otlp_bytes(request: dict[str, Any]) -> bytes:
    """The request as compact UTF-8 JSON with a final newline: stable bytes for golden files,
    and a valid one-line file for readers of JSON Lines."""
    text = json.dumps(request, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode() + b"\n"


def write_otlp(request: dict[str, Any], target: Path | IO[bytes]) -> None:
    """Write the request to a file (replaced whole, never left half-written) or a stream."""
    data = otlp_bytes(request)
    if not isinstance(target, Path):
        target.write(data)
        return
    partial = target.with_name(f".{target.name}.partial")
    partial.write_bytes(data)
    partial.replace(target)
