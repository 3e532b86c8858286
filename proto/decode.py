"""Decode OTLP ExportTraceServiceRequest bodies (protobuf or OTLP-JSON) into SpanRecords.

OTLP-JSON is the proto3 JSON mapping with two differences: trace and span ids are hex
(not base64) and enums may be integers. We rewrite the ids to base64 and let
protobuf's own json_format parse the rest, so both encodings share one decoder.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError as ProtobufDecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from proto.records import Attributes, SpanEvent, SpanLink, SpanRecord

SPAN_KINDS = ("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
STATUS_CODES = ("UNSET", "OK", "ERROR")
# Deeper nesting than this in an AnyValue is cut off (and marked), so a hostile
# request cannot make us recurse without bound.
MAX_VALUE_DEPTH = 32
TRUNCATED_DEPTH = "[truncated: nested too deep]"
ZERO_TRACE_ID = bytes(16)
ZERO_SPAN_ID = bytes(8)


class DecodeError(ValueError):
    """The request body as a whole could not be decoded."""


@dataclass(slots=True)
class DecodedRequest:
    spans: list[SpanRecord] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # one message per rejected span


def decode_protobuf(body: bytes) -> DecodedRequest:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except (ProtobufDecodeError, RecursionError) as exc:
        raise DecodeError(f"invalid OTLP protobuf: {exc}") from None
    return decode_request(request)


def decode_json(body: bytes) -> DecodedRequest:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"invalid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise DecodeError("invalid OTLP-JSON: the body must be a JSON object")
    try:
        _hex_ids_to_base64(document)
        request = json_format.ParseDict(document, ExportTraceServiceRequest(), ignore_unknown_fields=True)
    except (json_format.ParseError, RecursionError, TypeError, ValueError) as exc:
        raise DecodeError(f"invalid OTLP-JSON: {exc}") from None
    return decode_request(request)


def decode_request(request: ExportTraceServiceRequest) -> DecodedRequest:
    decoded = DecodedRequest()
    for resource_spans in request.resource_spans:
        resource = attributes_to_dict(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope
            for span in scope_spans.spans:
                problem = _span_problem(span)
                if problem:
                    decoded.rejected.append(problem)
                    continue
                decoded.spans.append(
                    SpanRecord(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex() or None,
                        name=span.name,
                        kind=SPAN_KINDS[span.kind] if 0 <= span.kind < len(SPAN_KINDS) else "UNSPECIFIED",
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        status_code=STATUS_CODES[span.status.code] if 0 <= span.status.code < 3 else "UNSET",
                        status_message=span.status.message,
                        attributes=attributes_to_dict(span.attributes),
                        events=[
                            SpanEvent(e.name, e.time_unix_nano, attributes_to_dict(e.attributes))
                            for e in span.events
                        ],
                        links=[
                            SpanLink(link.trace_id.hex(), link.span_id.hex(), attributes_to_dict(link.attributes))
                            for link in span.links
                        ],
                        resource=resource,
                        scope_name=scope.name,
                        scope_version=scope.version,
                        trace_state=span.trace_state,
                    )
                )
    return decoded


def _span_problem(span: Any) -> str | None:
    """Why this span cannot be stored, or None. A bad span is rejected alone."""
    trace_id, span_id, parent_span_id = span.trace_id, span.span_id, span.parent_span_id
    if len(trace_id) != 16 or trace_id == ZERO_TRACE_ID:
        problem = f"trace_id must be 16 non-zero bytes, got {len(trace_id)} bytes"
    elif len(span_id) != 8 or span_id == ZERO_SPAN_ID:
        problem = f"span_id must be 8 non-zero bytes, got {len(span_id)} bytes"
    elif parent_span_id and len(parent_span_id) != 8:
        problem = f"parent_span_id must be empty or 8 bytes, got {len(parent_span_id)} bytes"
    elif span.end_time_unix_nano < span.start_time_unix_nano:
        problem = "end time is before start time"
    else:
        return None
    return f"span {span_id.hex() or '<empty>'} ({span.name!r}): {problem}"


def attributes_to_dict(attributes: Any) -> Attributes:
    # The hot loop of ingest (every attribute of every span): strings, by far the most
    # common kind, are read inline without a function call.
    out: Attributes = {}
    for kv in attributes:
        value = kv.value
        if value.WhichOneof("value") == "string_value":
            out[kv.key] = value.string_value
        else:
            out[kv.key] = any_value_to_python(value)
    return out


def any_value_to_python(value: AnyValue, depth: int = 0) -> Any:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bool_value":
        return value.bool_value
    if depth >= MAX_VALUE_DEPTH:
        return TRUNCATED_DEPTH
    if kind == "array_value":
        return [any_value_to_python(v, depth + 1) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value_to_python(kv.value, depth + 1) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return None


_ID_KEYS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    """Rewrite OTLP-JSON hex ids in place into the base64 that json_format expects.

    An id that is not valid hex becomes empty bytes, so that span alone is rejected
    by `_span_problem` instead of failing the whole request.
    """
    for resource_spans in _list(document.get("resourceSpans", document.get("resource_spans"))):
        for scope_spans in _list(_get(resource_spans, "scopeSpans", "scope_spans")):
            for span in _list(_get(scope_spans, "spans")):
                if not isinstance(span, dict):
                    continue
                _rewrite_ids(span)
                for link in _list(span.get("links")):
                    if isinstance(link, dict):
                        _rewrite_ids(link)


def _rewrite_ids(obj: dict[str, Any]) -> None:
    for key in _ID_KEYS:
        value = obj.get(key)
        if isinstance(value, str):
            try:
                raw = bytes.fromhex(value)
            except ValueError:
                raw = b""
            obj[key] = base64.b64encode(raw).decode("ascii")


def _get(obj: Any, *keys: str) -> Any:
    if not isinstance(obj, dict):
        return None
    for key in keys:
        if key in obj:
            return obj[key]
    return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
