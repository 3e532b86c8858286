"""The interface every storage backend implements."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from store.model import ConversationPage, ProjectSummary, SpanRow


class Store(Protocol):
    def write_spans(self, rows: Sequence[SpanRow]) -> None:
        """Write rows in one transaction; durable when this returns.

        Idempotent on (project_id, trace_id, span_id): the last write wins.
        Spans without a conversation id join their trace's conversation, whichever
        arrives first.
        """

    def count_spans(self, project_id: str | None = None) -> int: ...

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

    def close(self) -> None: ...
