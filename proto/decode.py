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

from otelite.proto.records import Attributes, SpanEvent, SpanLink, SpanRecord

SPAN_KINDS = ("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
STATUS_CODES = ("UNSET", "OK", "ERROR")
# Deeper nesting than this in an AnyValue is cut off (and marked), so a hostile
# request cannot make us recurse without bound.
MAX_VALUE_DEPTH = 32
TRUNCATED_DEPTH = "[truncated: nested too deep]"
ZERO_TRACE_ID = bytes(16)
ZERO_SPAN_ID = bytes(8)
# Timestamps are stored as SQLite INTEGER (signed 64-bit); OTLP's fixed64 can exceed it.
MAX_TIME_NS = 2**63 - 1
# Span attributes that say what otelite cut (see docs/security.md).
TRUNCATED_ATTRIBUTE = "otelite.truncated"
DROPPED_ATTRIBUTE = "otelite.dropped_attributes_count"


@dataclass(frozen=True, slots=True)
class ValueLimits:
    """Caps on what one span may carry; anything cut is marked on the span, never silent.

    A string (or bytes) value longer than `max_attribute_bytes` UTF-8 bytes keeps its
    first `max_attribute_bytes` bytes and ends with `...[truncated N bytes]`; attributes
    past the first `max_attributes_per_span` of a list are dropped and counted.
    """

    max_attribute_bytes: int
    max_attributes_per_span: int


class DecodeError(ValueError):
    """The request body as a whole could not be decoded."""


@dataclass(slots=True)
class DecodedRequest:
    spans: list[SpanRecord] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # one message per rejected span


def decode_protobuf(body: bytes, limits: ValueLimits) -> DecodedRequest:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except (ProtobufDecodeError, RecursionError) as exc:
        raise DecodeError(f"invalid OTLP protobuf: {exc}") from None
    return decode_request(request, limits)


def decode_json(body: bytes, limits: ValueLimits) -> DecodedRequest:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"invalid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise DecodeError("invalid OTLP-JSON: the body must be a JSON object")
    try:
        _hex_ids_to_base64(document)
        request = json_format.ParseDict(document, ExportTraceServiceRequest(), ignore_unknown_fields=True)
    except (json_format.ParseError, RecursionError, TypeError, ValueError, OverflowError) as exc:
        raise DecodeError(f"invalid OTLP-JSON: {exc}") from None
    return decode_request(request, limits)


def decode_request(request: ExportTraceServiceRequest, limits: ValueLimits) -> DecodedRequest:
    decoded = DecodedRequest()
    for resource_spans in request.resource_spans:
        resource_cuts = _Cuts(limits)
        resource = resource_cuts.attributes(resource_spans.resource.attributes, "resource.")
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope
            scope_name, scope_version = scope.name, scope.version
            for span in scope_spans.spans:
                record = _span_record(span, limits, resource, resource_cuts, scope_name, scope_version)
                if isinstance(record, str):
                    decoded.rejected.append(record)
                else:
                    decoded.spans.append(record)
    return decoded


def _span_record(
    span: Any, limits: ValueLimits, resource: Attributes, resource_cuts: _Cuts, scope_name: str, scope_version: str
) -> SpanRecord | str:
    """One span as a SpanRecord, or why it cannot be stored (a bad span is rejected alone).

    Runs once per span: each protobuf field is read once (every read builds a Python
    object)."""
    trace_id, span_id, parent_span_id = span.trace_id, span.span_id, span.parent_span_id
    start_ns, end_ns = span.start_time_unix_nano, span.end_time_unix_nano
    problem = _span_problem(trace_id, span_id, parent_span_id, start_ns, end_ns)
    if problem:
        return f"span {span_id.hex() or '<empty>'} ({span.name!r}): {problem}"
    cuts = _Cuts(limits)
    attributes = cuts.attributes(span.attributes)
    # Most spans have no events or links: not calling for them is measurable at ingest rates.
    events, links = span.events, span.links
    event_records = _events(events, cuts) if events else []
    link_records = _links(links, cuts) if links else []
    name = cuts.string(span.name, "name")
    status = span.status
    status_message = cuts.string(status.message, "status.message")
    status_code = status.code
    kind = span.kind
    cuts.mark(attributes, resource_cuts)
    # Positional, in field order: keyword arguments cost half a microsecond a span.
    return SpanRecord(
        trace_id.hex(),
        span_id.hex(),
        parent_span_id.hex() or None,
        name,
        SPAN_KINDS[kind] if 0 <= kind < len(SPAN_KINDS) else "UNSPECIFIED",
        start_ns,
        end_ns,
        STATUS_CODES[status_code] if 0 <= status_code < 3 else "UNSET",
        status_message,
        attributes,
        event_records,
        link_records,
        resource,
        scope_name,
        scope_version,
        span.trace_state,
    )


def _events(events: Any, cuts: _Cuts) -> list[SpanEvent]:
    return [
        SpanEvent(
            cuts.string(e.name, f"events[{i}].name"), e.time_unix_nano, cuts.attributes(e.attributes, f"events[{i}].")
        )
        for i, e in enumerate(events)
    ]


def _links(links: Any, cuts: _Cuts) -> list[SpanLink]:
    return [
        SpanLink(link.trace_id.hex(), link.span_id.hex(), cuts.attributes(link.attributes, f"links[{i}]."))
        for i, link in enumerate(links)
    ]


class _Cuts:
    """Applies ValueLimits to one span's values and remembers what it cut."""

    __slots__ = ("_cut", "dropped", "limits", "short", "truncated")  # one per span: cheaper to make and read

    def __init__(self, limits: ValueLimits) -> None:
        self.limits = limits
        # A string of at most this many characters cannot be over the byte limit (UTF-8
        # takes at most 4 bytes a character): kept without encoding it.
        self.short = limits.max_attribute_bytes // 4
        self.truncated: list[str] = []
        self.dropped = 0
        self._cut = False  # set when the value being converted was cut

    def attributes(self, attributes: Any, prefix: str = "") -> Attributes:
        kept = attributes[: self.limits.max_attributes_per_span]  # a list: cheaper to walk than the container
        self.dropped += len(attributes) - len(kept)
        out: Attributes = {}
        short = self.short
        for kv in kept:
            value = kv.value
            # The hot loop of ingest: short strings and ints, by far the most common
            # values, are read inline without a call. A non-empty string_value can only
            # be the oneof's string, which spares the (dearer) WhichOneof for most values.
            text = value.string_value
            if text:
                if len(text) <= short:
                    out[kv.key] = text
                    continue
            elif value.WhichOneof("value") == "int_value":
                out[kv.key] = value.int_value
                continue
            self._cut = False
            out[kv.key] = self.value(value)
            if self._cut:
                self.truncated.append(prefix + kv.key)
        return out

    def string(self, text: str, label: str) -> str:
        if len(text) <= self.short:  # names and status messages nearly always are
            return text
        self._cut = False
        out = self._text(text)
        if self._cut:
            self.truncated.append(label)
        return out

    def mark(self, attributes: Attributes, resource: _Cuts) -> None:
        if not (self.truncated or self.dropped or resource.truncated or resource.dropped):
            return  # nothing was cut (nearly every span)
        truncated = self.truncated + resource.truncated
        dropped = self.dropped + resource.dropped
        if truncated:
            attributes[TRUNCATED_ATTRIBUTE] = truncated
        if dropped:
            attributes[DROPPED_ATTRIBUTE] = dropped

    def value(self, value: AnyValue, depth: int = 0) -> Any:
        kind = value.WhichOneof("value")
        if kind == "string_value":
            return self._text(value.string_value)
        if kind == "int_value":
            return value.int_value
        if kind == "double_value":
            return value.double_value
        if kind == "bool_value":
            return value.bool_value
        if kind == "bytes_value":
            return self._bytes(value.bytes_value)
        if depth >= MAX_VALUE_DEPTH:
            self._cut = True
            return TRUNCATED_DEPTH
        if kind == "array_value":
            return [self.value(v, depth + 1) for v in value.array_value.values]
        if kind == "kvlist_value":
            return {kv.key: self.value(kv.value, depth + 1) for kv in value.kvlist_value.values}
        return None

    def _text(self, text: str) -> str:
        if len(text) <= self.short:
            return text
        limit = self.limits.max_attribute_bytes
        encoded = text.encode("utf-8")
        if len(encoded) <= limit:
            return text
        self._cut = True
        kept = encoded[:limit].decode("utf-8", "ignore")
        return f"{kept}...[truncated {len(encoded) - len(kept.encode('utf-8'))} bytes]"

    def _bytes(self, raw: bytes) -> str:
        limit = self.limits.max_attribute_bytes
        if len(raw) <= limit:
            return base64.b64encode(raw).decode("ascii")
        self._cut = True
        return f"{base64.b64encode(raw[:limit]).decode('ascii')}...[truncated {len(raw) - limit} bytes]"


def _span_problem(trace_id: bytes, span_id: bytes, parent_span_id: bytes, start_ns: int, end_ns: int) -> str | None:
    """Why a span with these ids and times cannot be stored, or None."""
    if len(trace_id) != 16 or trace_id == ZERO_TRACE_ID:
        return f"trace_id must be 16 non-zero bytes, got {len(trace_id)} bytes"
    if len(span_id) != 8 or span_id == ZERO_SPAN_ID:
        return f"span_id must be 8 non-zero bytes, got {len(span_id)} bytes"
    if parent_span_id and len(parent_span_id) != 8:
        return f"parent_span_id must be empty or 8 bytes, got {len(parent_span_id)} bytes"
    if end_ns < start_ns:
        return "end time is before start time"
    if end_ns > MAX_TIME_NS:
        return f"end time {end_ns} is beyond the year 2262"
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
