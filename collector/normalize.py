"""Turn a decoded span into a SpanRow: scalar GenAI columns plus normalised content.

Each dialect is one small adapter in `collector.dialects`; they run in order and each
fills only what is still empty, so the OpenTelemetry GenAI conventions win where a
span carries several dialects at once.
"""

from __future__ import annotations

import logging

from otelite.collector.dialects import ADAPTERS
from otelite.collector.genai import GenAI
from otelite.proto.records import SpanRecord
from otelite.store.model import GENAI_COLUMNS, SpanRow, tuple_function

log = logging.getLogger("otelite.normalize")
# _span_row(project_id, span, genai, events, links): the SpanRow of a span and its GenAI
# view, its arguments in SpanRow's field order (the span's own fields, the GenAI columns,
# the bodies). Positional and compiled once: keyword arguments would cost a microsecond
# a span; compiled, it costs what the call written out does (bench/columns.py).
_span_row = tuple_function(
    "_span_row",
    "project_id, span, genai, events, links",
    [
        "project_id", "span.trace_id", "span.span_id", "span.parent_span_id", "span.name", "span.kind",
        "span.start_ns", "span.end_ns", "span.status_code", "span.status_message",
        *(f"genai.{c.name}" for c in GENAI_COLUMNS),
        "span.attributes", "events", "links", "span.resource",
        "{'name': span.scope_name, 'version': span.scope_version}", "genai.content()",
    ],
    into=SpanRow,
)  # fmt: skip


def normalize(span: SpanRecord, project_id: str) -> SpanRow:
    genai = GenAI()
    for adapter in ADAPTERS:
        try:
            adapter(span, genai)
        except Exception:
            # A dialect we misread must never cost the span: it is stored as it came.
            log.exception("adapter %s failed on span %s", adapter.__module__, span.span_id)
    # events and links, built by hand: dataclasses.asdict deep-copies every attribute
    # value. Most spans have none, and an empty comprehension still costs a call.
    return _span_row(
        project_id,
        span,
        genai,
        (
            [{"name": e.name, "time_ns": e.time_ns, "attributes": e.attributes} for e in span.events]
            if span.events
            else []
        ),
        (
            [{"trace_id": k.trace_id, "span_id": k.span_id, "attributes": k.attributes} for k in span.links]
            if span.links
            else []
        ),
    )
