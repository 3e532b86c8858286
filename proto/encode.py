"""SpanRecords back into OTLP-JSON (the format of `otelite export`, one request a line).

Bytes attributes were stored as base64 text, so they come back as strings.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from otelite.proto.decode import SPAN_KINDS, STATUS_CODES
from otelite.proto.records import SpanRecord


def any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": key_values(value)}}
    return {}


def key_values(attributes: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": any_value(value)} for key, value in attributes.items()]


def span_json(span: SpanRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": span.trace_id,
        "spanId": span.span_id,
        "name": span.name,
        "kind": SPAN_KINDS.index(span.kind) if span.kind in SPAN_KINDS else 0,
        "startTimeUnixNano": str(span.start_ns),
        "endTimeUnixNano": str(span.end_ns),
        "attributes": key_values(span.attributes),
        "events": [
            {"name": e.name, "timeUnixNano": str(e.time_ns), "attributes": key_values(e.attributes)}
            for e in span.events
        ],
        "links": [
            {"traceId": link.trace_id, "spanId": link.span_id, "attributes": key_values(link.attributes)}
            for link in span.links
        ],
        "status": {"code": STATUS_CODES.index(span.status_code), "message": span.status_message},
    }
    if span.parent_span_id:
        out["parentSpanId"] = span.parent_span_id
    if span.trace_state:
        out["traceState"] = span.trace_state
    return out


def export_request_json(spans: list[SpanRecord]) -> dict[str, Any]:
    """One ExportTraceServiceRequest, spans grouped by resource, then by scope."""
    resource_spans = []

    def resource_key(span: SpanRecord) -> str:
        return repr(sorted(span.resource.items()))

    for _, by_resource in groupby(spans, key=resource_key):
        group = list(by_resource)
        scope_spans = [
            {"scope": {"name": name, "version": version}, "spans": [span_json(s) for s in scoped]}
            for (name, version), scoped in groupby(group, key=lambda s: (s.scope_name, s.scope_version))
        ]
        resource_spans.append({"resource": {"attributes": key_values(group[0].resource)}, "scopeSpans": scope_spans})
    return {"resourceSpans": resource_spans}
