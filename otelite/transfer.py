"""`otelite export` and `otelite import`: OTLP-JSON lines, one export request a line.

This is the format of the OpenTelemetry Collector's file exporter, so files move
between otelite, the Collector and other backends. Export puts each span's project in
the resource attribute `project.id`, so an export imports back into the same projects.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import groupby
from typing import IO

import orjson

from otelite.collector.pipeline import PROJECT_RESOURCE_ATTRIBUTE, DecodeError, Exporter, ExportResult
from otelite.proto.encode import export_request_json
from otelite.proto.records import SpanEvent, SpanLink, SpanRecord
from otelite.store.model import SpanRow


def _record(row: SpanRow) -> SpanRecord:
    return SpanRecord(
        trace_id=row.trace_id,
        span_id=row.span_id,
        parent_span_id=row.parent_span_id,
        name=row.name,
        kind=row.kind,
        start_ns=row.start_ns,
        end_ns=row.end_ns,
        status_code=row.status,
        status_message=row.status_message,
        attributes=row.attributes,
        events=[SpanEvent(e["name"], e["time_ns"], e["attributes"]) for e in row.events],
        links=[SpanLink(link["trace_id"], link["span_id"], link["attributes"]) for link in row.links],
        resource={**row.resource, PROJECT_RESOURCE_ATTRIBUTE: row.project_id},
        scope_name=row.scope.get("name", ""),
        scope_version=row.scope.get("version", ""),
    )


def export_lines(rows: Iterable[SpanRow]) -> Iterator[bytes]:
    """One OTLP-JSON line per trace."""
    for _, trace_rows in groupby(rows, key=lambda r: (r.project_id, r.trace_id)):
        yield orjson.dumps(export_request_json([_record(r) for r in trace_rows])) + b"\n"


def import_lines(lines: IO[bytes], pipeline: Exporter, project_id: str | None = None) -> ExportResult:
    """Feed each non-blank line through the ingest pipeline, as if it had been exported to us.

    A line that does not decode is reported and skipped; the others are still imported.
    """
    total = ExportResult(0, 0, "")
    messages: list[str] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            result = pipeline.export(line, json=True, project_id=project_id)
        except DecodeError as exc:
            messages.append(f"line {number}: {exc}")
            continue
        total.accepted += result.accepted
        total.rejected += result.rejected
        if result.error_message:
            messages.append(f"line {number}: {result.error_message}")
    total.error_message = "\n".join(messages)
    return total
