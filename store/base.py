"""The interface every storage backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from store.model import PruneResult, SpanRow


class Store(Protocol):
    def write_spans(self, rows: Sequence[SpanRow]) -> None:
        """Write rows in one transaction; durable when this returns.

        Idempotent on (project_id, trace_id, span_id): the last write wins.
        Spans without a conversation id join their trace's conversation, whichever
        arrives first.
        """

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

    def close(self) -> None: ...
