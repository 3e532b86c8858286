"""What both receivers share: decode, pick the project, normalise, write, wait.

Receivers handle transport only (status codes, headers, compression); this is the one
place a request body becomes stored spans.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from otelite.auth import Principal
from otelite.collector.normalize import normalize
from otelite.proto import DecodedRequest, DecodeError, ValueLimits, decode_json, decode_protobuf
from otelite.store.model import SpanRow

__all__ = [
    "DecodeError",
    "ExportResult",
    "Exporter",
    "Forbidden",
    "Preparer",
    "QueueFull",
    "StorageFailed",
    "TooManySpans",
    "WriterClosed",
]

PROJECT_RESOURCE_ATTRIBUTE = "project.id"
# How many rejection messages are joined into partial_success.error_message.
MAX_ERROR_MESSAGES = 5


class TooManySpans(Exception):
    """The request holds more spans than `max_spans_per_request`."""


class Forbidden(Exception):
    """The caller may not write to a project the request's spans belong to."""


class StorageFailed(Exception):
    """The store could not commit the request (disk full, I/O error...); retry later."""


class QueueFull(Exception):
    """Ingest is behind (too many request bytes waiting); the client should retry later."""


class WriterClosed(Exception):
    """Ingest is shutting down and takes no new requests."""


@dataclass(slots=True)
class ExportResult:
    accepted: int
    rejected: int
    error_message: str


class Exporter(Protocol):
    """What the receivers call (collector.ingest.Ingest)."""

    def export(
        self,
        body: bytes,
        *,
        json: bool,
        project_id: str | None,
        principal: Principal | None = None,
        timeout: float | None = None,
    ) -> ExportResult:
        """Store one export request; returns once every accepted span is committed.

        `principal` is the authenticated caller when auth is on (None: auth is off);
        a request with any span in a project it may not write is refused whole.
        Raises DecodeError (bad body), TooManySpans, Forbidden, QueueFull, WriterClosed
        or StorageFailed.
        """
        ...


@dataclass(slots=True)
class Prepared:
    """A request's rows, ready to write, and what to answer once they are committed."""

    rows: list[SpanRow]
    result: ExportResult


class Preparer:
    """Request body -> normalised rows: decode, pick each span's project, check the
    caller may write there, normalise. Pure work, no storage."""

    def __init__(self, default_project: str, max_spans_per_request: int, value_limits: ValueLimits) -> None:
        self.default_project = default_project
        self.max_spans_per_request = max_spans_per_request
        self.value_limits = value_limits

    def prepare(self, body: bytes, *, json: bool, project_id: str | None, principal: Principal | None) -> Prepared:
        """Raises DecodeError, TooManySpans or Forbidden."""
        decoded = decode_json(body, self.value_limits) if json else decode_protobuf(body, self.value_limits)
        total = len(decoded.spans) + len(decoded.rejected)
        if total > self.max_spans_per_request:
            raise TooManySpans(f"request has {total} spans; the limit is {self.max_spans_per_request}")
        fallback = (principal.default_project if principal else None) or self.default_project
        projects = [self._project(span.resource, project_id, fallback) for span in decoded.spans]
        if principal is not None:
            for project in dict.fromkeys(projects):
                if not principal.may_write(project):
                    raise Forbidden(f"{principal.name} may not write to project {project!r}")
        rows = [normalize(span, project) for span, project in zip(decoded.spans, projects)]
        return Prepared(rows, ExportResult(len(rows), len(decoded.rejected), _error_message(decoded)))

    def _project(self, resource: dict[str, object], header_project: str | None, fallback: str) -> str:
        if header_project:
            return header_project
        from_resource = resource.get(PROJECT_RESOURCE_ATTRIBUTE)
        if isinstance(from_resource, str) and from_resource:
            return from_resource
        return fallback


def _error_message(decoded: DecodedRequest) -> str:
    if not decoded.rejected:
        return ""
    shown = "; ".join(decoded.rejected[:MAX_ERROR_MESSAGES])
    more = len(decoded.rejected) - MAX_ERROR_MESSAGES
    return f"rejected {len(decoded.rejected)} span(s): {shown}" + (f"; and {more} more" if more > 0 else "")
