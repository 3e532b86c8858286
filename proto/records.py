"""The plain span record every other layer works with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Attributes = dict[str, Any]


@dataclass(slots=True)
class SpanEvent:
    name: str
    time_ns: int
    attributes: Attributes = field(default_factory=dict)


@dataclass(slots=True)
class SpanLink:
    trace_id: str
    span_id: str
    attributes: Attributes = field(default_factory=dict)


@dataclass(slots=True)
class SpanRecord:
    """One span as decoded from OTLP: hex ids, ns times, attributes as Python values.

    Built with positional arguments by proto/decode.py (the ingest path): keep the field
    order; a new field goes last.
    """

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str  # INTERNAL, SERVER, CLIENT, PRODUCER, CONSUMER, UNSPECIFIED
    start_ns: int
    end_ns: int
    status_code: str  # UNSET, OK, ERROR
    status_message: str
    attributes: Attributes
    events: list[SpanEvent]
    links: list[SpanLink]
    resource: Attributes
    scope_name: str
    scope_version: str
    trace_state: str = ""
