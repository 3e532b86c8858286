"""Turn a decoded span into a SpanRow: scalar GenAI columns plus normalised content.

Each dialect is one small adapter in `collector.dialects`; they run in order and each
fills only what is still empty, so the OpenTelemetry GenAI conventions win where a
span carries several dialects at once.
"""

from __future__ import annotations

import logging

from collector.dialects import ADAPTERS
from collector.genai import GenAI
from proto.records import SpanRecord
from store.model import SpanRow

log = logging.getLogger("otelite.normalize")


def normalize(span: SpanRecord, project_id: str) -> SpanRow:
    genai = GenAI()
    for adapter in ADAPTERS:
        try:
            adapter(span, genai)
        except Exception:
            # A dialect we misread must never cost the span: it is stored as it came.
            log.exception("adapter %s failed on span %s", adapter.__module__, span.span_id)
    return SpanRow(
        project_id=project_id,
        trace_id=span.trace_id,
        span_id=span.span_id,
        parent_span_id=span.parent_span_id,
        name=span.name,
        kind=span.kind,
        start_ns=span.start_ns,
        end_ns=span.end_ns,
        status=span.status_code,
        status_message=span.status_message,
        conversation_id=genai.conversation_id,
        operation_name=genai.operation_name,
        agent_name=genai.agent_name,
        provider=genai.provider,
        request_model=genai.request_model,
        response_model=genai.response_model,
        input_tokens=genai.input_tokens,
        output_tokens=genai.output_tokens,
        reasoning_tokens=genai.reasoning_tokens,
        tool_name=genai.tool_name,
        tool_call_id=genai.tool_call_id,
        attributes=span.attributes,
        # Built by hand: dataclasses.asdict deep-copies every attribute value. Most spans
        # have no events or links, and an empty comprehension still costs a call.
        events=(
            [{"name": e.name, "time_ns": e.time_ns, "attributes": e.attributes} for e in span.events]
            if span.events
            else []
        ),
        links=(
            [{"trace_id": k.trace_id, "span_id": k.span_id, "attributes": k.attributes} for k in span.links]
            if span.links
            else []
        ),
        resource=span.resource,
        scope={"name": span.scope_name, "version": span.scope_version},
        content=genai.content(),
    )
