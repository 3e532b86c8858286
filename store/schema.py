"""The SQLite schema and its migrations, all in one place.

`PRAGMA user_version` records how many migrations have run; each migration is a
function applied once, in order. Migrations are written to be safe to re-run
(`if_not_exists`), so a crash half-way through one is repaired by the next start.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils


def _v1_initial(db: sqlite_utils.Database) -> None:
    # Narrow scalar table: everything the mini-map, list and paging queries read.
    # conversation_source: 0 = none known yet (conversation_id is the trace id),
    # 1 = named by the span itself, 2 = inherited from another span of its trace.
    db["spans"].create(
        {
            "project_id": str,
            "trace_id": str,
            "span_id": str,
            "parent_span_id": str,
            "name": str,
            "kind": str,
            "start_ns": int,
            "end_ns": int,
            "duration_ms": int,
            "status": str,
            "conversation_id": str,
            "conversation_source": int,
            "operation_name": str,
            "agent_name": str,
            "provider": str,
            "request_model": str,
            "response_model": str,
            "input_tokens": int,
            "output_tokens": int,
            "reasoning_tokens": int,
            "tool_name": str,
            "tool_call_id": str,
        },
        pk=("project_id", "trace_id", "span_id"),
        not_null={"project_id", "trace_id", "span_id", "name", "start_ns", "end_ns", "status", "conversation_id"},
        if_not_exists=True,
    )
    # Covers the mini-map: every column it returns is in the index.
    db["spans"].create_index(
        ["project_id", "conversation_id", "start_ns", "span_id", "trace_id", "operation_name", "name", "status", "duration_ms"],
        index_name="spans_by_conversation",
        if_not_exists=True,
    )
    # Everything that is not a scalar: only the chat view and export read it.
    db["span_details"].create(
        {
            "project_id": str,
            "trace_id": str,
            "span_id": str,
            "status_message": str,
            "attributes": str,
            "events": str,
            "links": str,
            "resource": str,
            "scope": str,
            "content": str,
        },
        pk=("project_id", "trace_id", "span_id"),
        if_not_exists=True,
    )
    # Which conversation a trace belongs to, once any of its spans has named one.
    db["trace_conversations"].create(
        {"project_id": str, "trace_id": str, "conversation_id": str},
        pk=("project_id", "trace_id"),
        if_not_exists=True,
    )
    db["feedback"].create(
        {
            "id": str,
            "project_id": str,
            "conversation_id": str,
            "trace_id": str,
            "feedback_type": str,
            "tags": str,
            "ratings": str,
            "created_ns": int,
        },
        pk="id",
        not_null={"project_id", "conversation_id", "feedback_type", "created_ns"},
        if_not_exists=True,
    )
    db["feedback"].create_index(["project_id", "conversation_id", "created_ns"], index_name="feedback_by_conversation", if_not_exists=True)


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1_initial]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite_utils.Database) -> int:
    """Bring the database up to SCHEMA_VERSION; returns the version it started at."""
    conn = db.conn
    start = conn.execute("PRAGMA user_version").fetchone()[0]
    if start > SCHEMA_VERSION:
        raise RuntimeError(
            f"database schema version {start} is newer than this otelite ({SCHEMA_VERSION}); upgrade otelite"
        )
    for version in range(start, SCHEMA_VERSION):
        MIGRATIONS[version](db)
        conn.execute(f"PRAGMA user_version = {version + 1}")  # sql-safe: an int we count; PRAGMAs take no parameters
    return start
