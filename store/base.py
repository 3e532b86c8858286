"""The interface every storage backend implements."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from store.model import SpanRow


class Store(Protocol):
    def write_spans(self, rows: Sequence[SpanRow]) -> None:
        """Write rows in one transaction; durable when this returns.

        Idempotent on (project_id, trace_id, span_id): the last write wins.
        Spans without a conversation id join their trace's conversation, whichever
        arrives first.
        """

    def count_spans(self, project_id: str | None = None) -> int: ...

    def iter_spans(self, project_id: str | None = None) -> Iterator[SpanRow]:
        """Every stored span with its details (for `otelite export`)."""
        ...

    def close(self) -> None: ...
