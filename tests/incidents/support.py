"""What the OTLP tests share: reading spans out of an export, and protobuf's view of it."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from agentdesk.incidents.anyvalue import read_attributes

ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def spans_of(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        span
        for resource in request["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    ]


def attributes(span_or_event: dict[str, Any]) -> dict[str, Any]:
    return read_attributes(span_or_event.get("attributes"), "attributes")


def with_base64_ids(request: dict[str, Any]) -> dict[str, Any]:
    """The request with its ids as protobuf's JSON mapping writes bytes (base64), which is what
    an OTLP/JSON receiver turns hex ids into before handing the JSON to protobuf."""
    converted = copy.deepcopy(request)
    for span in spans_of(converted):
        for field in ID_FIELDS:
            if span.get(field):
                span[field] = base64.b64encode(bytes.fromhex(span[field])).decode()
    return converted


def parse_with_protobuf(request: dict[str, Any]) -> ExportTraceServiceRequest:
    """Protobuf's own parser, strict: an unknown field or a wrongly typed value fails."""
    message = ExportTraceServiceRequest()
    json_format.Parse(json.dumps(request), message, ignore_unknown_fields=False)
    return message


def protobuf_json(request: dict[str, Any], proto_names: bool = False) -> str:
    """The request as protobuf itself writes JSON: base64 ids, enum names, int64 strings."""
    message = parse_with_protobuf(with_base64_ids(request))
    return json_format.MessageToJson(message, preserving_proto_field_name=proto_names)
