"""The interface every storage backend implements."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import orjson

from otelite.store.model import (
    EXPORT_FIELDS,
    CommittedSpan,
    ConversationPage,
    DetailedSpan,
    Feedback,
    MiniMapSpan,
    ProjectSummary,
    PruneResult,
    SpanRow,
    Turn,
)

# What `Store.prepare` returns and `Store.commit` takes: opaque to callers, built by the
# same backend (SQLite: EncodedSpans; ClickHouse: the insert bodies). It pickles, so an
# ingest worker process can prepare and commit in its own process.
Batch = Any


class Store(Protocol):
    def prepare(self, rows: Sequence[SpanRow]) -> Batch:
        """The rows in the form `commit` writes (SQL parameters, insert bodies).

        Pure work: no I/O and no state of this store, so it runs on any thread before
        the caller takes its turn to commit.
        """
        ...

    def commit(self, batches: Sequence[Batch]) -> list[CommittedSpan]:
        """Write prepared batches together, in one transaction; durable when this returns.

        Idempotent on (project_id, trace_id, span_id): the last write wins (the later
        batch, the later row of a batch). Spans without a conversation id join their
        trace's conversation, whichever arrives first. Returns what commit listeners
        hear: each distinct (project, trace, conversation the span named) once.
        """
        ...

    def write_spans(self, rows: Sequence[SpanRow]) -> None:
        """`commit([prepare(rows)])`."""

    def count_spans(self, project_id: str | None = None) -> int: ...

    def prune(
        self, older_than_ns: int | None = None, max_bytes: int | None = None, max_traces: int | None = None
    ) -> PruneResult:
        """Delete whole traces, never part of one, in small transactions.

        `older_than_ns`: every trace whose newest span ended before it. `max_bytes`: then
        the oldest traces (by their newest span) until the store uses at most that many
        bytes. A trace goes with its span details, its conversation link and its
        feedback; conversation-level feedback goes when no span of its conversation is
        left. At most `max_traces` traces per call (None: no cap), so a caller can stop
        between calls.
        """
        ...

    def used_bytes(self) -> int:
        """Bytes the data takes (for SQLite: pages in use, free pages excluded)."""
        ...

    def list_conversations(
        self,
        project_id: str,
        *,
        limit: int,
        offset: int = 0,
        started_after_ns: int | None = None,
        started_before_ns: int | None = None,
        search: str | None = None,
    ) -> ConversationPage:
        """A project's conversations, most recent activity first (then by id).

        `started_after_ns` (inclusive) and `started_before_ns` (exclusive) filter on the
        conversation's first span start; `search` keeps conversations whose user or
        assistant text holds every word of it (word prefixes match). Reads the stats
        kept at ingest, never the spans themselves.
        """

    def list_projects(self) -> list[ProjectSummary]:
        """Every project that has spans, most recent activity first."""

    def iter_spans(self, project_id: str | None = None) -> Iterator[SpanRow]:
        """Every stored span with its details (for `otelite export`)."""
        ...

    def conversation_minimap(
        self,
        project_id: str,
        conversation_ids: Sequence[str],
        started_after_ns: int | None = None,
        started_before_ns: int | None = None,
    ) -> list[MiniMapSpan]:
        """Scalar spans of these conversations, by conversation then start time then span id.

        `started_after_ns` is inclusive, `started_before_ns` exclusive. Reads no content.
        """

    def conversation_minimap_json(
        self,
        project_id: str,
        conversation_ids: Sequence[str],
        started_after_ns: int | None = None,
        started_before_ns: int | None = None,
    ) -> dict[str, str]:
        """The spans of `conversation_minimap`, rendered as the mini-map route sends them.

        For each conversation that has spans, a JSON array (text) of
        `{"operation_name", "trace_id", "span_id", "status", "duration_ms"}` objects in
        mini-map order. A mini-map of 1,000 conversations is about 100,000 spans: built
        as Python objects they take most of a second, so a backend that can render JSON
        itself does (SQLite: json_group_array); others may `return
        render_minimap(self.conversation_minimap(...))`.
        """

    def conversation_turns(self, project_id: str, conversation_id: str) -> list[Turn]:
        """Every trace of the conversation with its first start, oldest first (then trace id)."""

    def trace_spans(self, project_id: str, trace_ids: Sequence[str]) -> list[DetailedSpan]:
        """The spans of these traces with their content, by start time then span id."""

    def add_feedback(self, feedback: Feedback) -> None: ...

    def list_feedback(self, project_id: str, conversation_ids: Sequence[str]) -> list[Feedback]:
        """Feedback on these conversations, oldest first."""

    def delete_feedback(self, project_id: str, feedback_id: str) -> bool:
        """Delete one feedback of this project; False when there was none."""

    def close(self) -> None: ...


def render_minimap(spans: Sequence[MiniMapSpan]) -> dict[str, str]:
    """`conversation_minimap_json` for a backend that has only `conversation_minimap`."""
    grouped: dict[str, list[dict[str, object]]] = {}
    for span in spans:
        grouped.setdefault(span.conversation_id, []).append(
            {
                "operation_name": span.operation_name,
                "trace_id": span.trace_id,
                "span_id": span.span_id,
                "status": span.status,
                "duration_ms": span.duration_ms,
            }
        )
    return {conversation: orjson.dumps(items).decode() for conversation, items in grouped.items()}


def exported_span(row: Sequence[Any]) -> SpanRow:
    """A SpanRow from a row of a backend's `iter_spans` query: the EXPORT_FIELDS, the
    conversation the span named itself (or None), then the attributes, events, links,
    resource and scope JSON."""
    n = len(EXPORT_FIELDS)
    return SpanRow(
        *row[:n],
        conversation_id=row[n],
        attributes=orjson.loads(row[n + 1]),
        events=orjson.loads(row[n + 2]),
        links=orjson.loads(row[n + 3]),
        resource=orjson.loads(row[n + 4]),
        scope=orjson.loads(row[n + 5]),
    )
