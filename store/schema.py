"""The SQLite schema and its migrations, all in one place.

`PRAGMA user_version` records how many migrations have run; each migration is a
function applied once, in order. Migrations are written to be safe to re-run
(`if_not_exists`, or one transaction and a check that it is done), so a crash
half-way through one is repaired by the next start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import orjson
import sqlite_utils

from otelite.store import conversation_stats
from otelite.store.model import SCALAR_COLUMNS

log = logging.getLogger("otelite.store")


# v1's spans columns (v3 copies them into today's table).
_V1_SPANS = {
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
}


def _v1_initial(db: sqlite_utils.Database) -> None:
    # Narrow scalar table: everything the mini-map, list and paging queries read.
    db["spans"].create(
        _V1_SPANS,
        pk=("project_id", "trace_id", "span_id"),
        not_null={"project_id", "trace_id", "span_id", "name", "start_ns", "end_ns", "status", "conversation_id"},
        if_not_exists=True,
    )
    # Covers the mini-map: every column it returns is in the index.
    db["spans"].create_index(
        [
            "project_id",
            "conversation_id",
            "start_ns",
            "span_id",
            "trace_id",
            "operation_name",
            "name",
            "status",
            "duration_ms",
        ],
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
    db["feedback"].create_index(
        ["project_id", "conversation_id", "created_ns"], index_name="feedback_by_conversation", if_not_exists=True
    )


# v2's search text: a key row in `span_text` (whose INTEGER PRIMARY KEY is the FTS
# rowid), then the text in the FTS5 index under that rowid. v3 keys it by spans.id.
_V2_INSERT_SPAN_TEXT_KEY = "INSERT OR IGNORE INTO span_text (project_id, trace_id, span_id) VALUES (?, ?, ?)"
_V2_INSERT_SPAN_TEXT = """
INSERT OR REPLACE INTO span_text_fts (rowid, text)
VALUES ((SELECT id FROM span_text WHERE project_id = ? AND trace_id = ? AND span_id = ?), ?)
"""


def _v2_conversation_list(db: sqlite_utils.Database) -> None:
    """Per-conversation stats kept at ingest, and full-text search.

    `SQLiteStore.commit` adds what it inserts and moves; the delete trigger takes
    out whatever is deleted: a re-export (INSERT OR REPLACE deletes the old row first; the
    store turns on `recursive_triggers` so that delete is seen) or a prune. All of it is
    store/conversation_stats.py. The list route reads these tables and never scans spans.
    """
    db["conversation_stats"].create(
        {
            "project_id": str,
            "conversation_id": str,
            "turns": int,
            "spans": int,
            "errors": int,
            "input_tokens": int,
            "output_tokens": int,
            "first_ns": int,
            "last_ns": int,
        },
        pk=("project_id", "conversation_id"),
        if_not_exists=True,
    )
    db.execute(
        "CREATE INDEX IF NOT EXISTS conversation_stats_by_activity "
        "ON conversation_stats (project_id, last_ns DESC, conversation_id)"
    )
    # Spans per (conversation, trace): a turn is counted while it has any span.
    db["conversation_traces"].create(
        {"project_id": str, "conversation_id": str, "trace_id": str, "spans": int},
        pk=("project_id", "conversation_id", "trace_id"),
        if_not_exists=True,
    )
    # Spans per distinct agent name / model of a conversation.
    db["conversation_facets"].create(
        {"project_id": str, "conversation_id": str, "facet": str, "value": str, "spans": int},
        pk=("project_id", "conversation_id", "facet", "value"),
        if_not_exists=True,
    )
    # The searchable text of each span (see store.search_text) in an FTS5 table that
    # holds its own copy of the text, keyed through `span_text`. Written directly by
    # SQLiteStore.commit, not by triggers: an FTS5 insert inside a trigger flushes the index
    # at every row and cost 4x more (measured). The search joins back to `spans` for
    # the conversation, so a trace moving into its named conversation needs no update.
    db["span_text"].create(
        {"id": int, "project_id": str, "trace_id": str, "span_id": str},
        pk="id",
        not_null={"project_id", "trace_id", "span_id"},
        if_not_exists=True,
    )
    db["span_text"].create_index(
        ["project_id", "trace_id", "span_id"], index_name="span_text_by_span", unique=True, if_not_exists=True
    )
    db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS span_text_fts USING fts5(text)")
    _backfill_span_text(db)
    conversation_stats.rebuild(db.conn)
    db.executescript(
        """CREATE TRIGGER IF NOT EXISTS spans_text_ad AFTER DELETE ON spans BEGIN
DELETE FROM span_text_fts WHERE rowid = (
  SELECT id FROM span_text WHERE project_id = OLD.project_id AND trace_id = OLD.trace_id AND span_id = OLD.span_id);
DELETE FROM span_text WHERE project_id = OLD.project_id AND trace_id = OLD.trace_id AND span_id = OLD.span_id;
END;
"""
    )


def _backfill_span_text(db: sqlite_utils.Database) -> None:
    from otelite.store.search_text import searchable_text

    rows = db.execute("SELECT project_id, trace_id, span_id, content FROM span_details").fetchall()
    texts = [(p, t, s, searchable_text(orjson.loads(c or "{}"))) for p, t, s, c in rows]
    texts = [row for row in texts if row[3]]
    db.conn.execute("BEGIN")
    db.conn.executemany(_V2_INSERT_SPAN_TEXT_KEY, [row[:3] for row in texts])
    db.conn.executemany(_V2_INSERT_SPAN_TEXT, texts)
    db.conn.execute("COMMIT")


# A deleted span's details and search text go with it.
_DETAILS_TRIGGER = """CREATE TRIGGER IF NOT EXISTS spans_details_ad AFTER DELETE ON spans BEGIN
DELETE FROM span_details WHERE id = OLD.id;
DELETE FROM span_text_fts WHERE rowid = OLD.id;
END"""


def spans_table_sql(name: str) -> str:
    """CREATE TABLE for today's spans table: an integer id, then store/model.py's SCALAR_COLUMNS."""
    columns = "".join(f",\n  {column.name} {column.sqlite}" for column in SCALAR_COLUMNS)
    return f"CREATE TABLE {name} (\n  id INTEGER PRIMARY KEY{columns})"


def add_new_columns(db: sqlite_utils.Database) -> None:
    """Scalar columns described (SCALAR_COLUMNS) after the spans table was made are added
    to it when the store opens; spans stored before have NULL there. Runs at every open:
    one PRAGMA when nothing is missing."""
    present = db["spans"].columns_dict
    for column in SCALAR_COLUMNS:
        if column.name not in present:
            if "NOT NULL" in column.sqlite:
                raise RuntimeError(f"spans.{column.name}: a column added to existing tables must be nullable")
            log.info("adding the column spans.%s", column.name)
            db.execute(
                f"ALTER TABLE spans ADD COLUMN {column.name} {column.sqlite}"
            )  # sql-safe: names and types from SCALAR_COLUMNS


# v3 rebuilds spans, span_details and the search index around an integer span id, in
# one transaction. Old rows keep their rowid as their id. Today's spans table is made
# here, from SCALAR_COLUMNS (a v1 table has v1's columns; any described since are NULL).
_V3_REBUILD = [
    spans_table_sql("spans_v3"),
    f"INSERT INTO spans_v3 (id, {', '.join(_V1_SPANS)}) SELECT rowid, {', '.join(_V1_SPANS)} FROM spans",
    """CREATE TABLE span_details_v3 (
  id INTEGER PRIMARY KEY,
  status_message TEXT, attributes TEXT, events TEXT, links TEXT, resource TEXT, scope TEXT, content TEXT)""",
    """INSERT INTO span_details_v3
SELECT s.rowid, d.status_message, d.attributes, d.events, d.links, d.resource, d.scope, d.content
FROM span_details d JOIN spans s USING (project_id, trace_id, span_id)""",
    """CREATE TEMP TABLE span_text_v3 AS
SELECT s.rowid AS id, f.text FROM span_text_fts f
JOIN span_text t ON t.id = f.rowid
JOIN spans s ON s.project_id = t.project_id AND s.trace_id = t.trace_id AND s.span_id = t.span_id""",
    "DROP TRIGGER IF EXISTS spans_stats_ad",
    "DROP TRIGGER IF EXISTS spans_text_ad",
    "DROP TABLE span_text_fts",
    "DROP TABLE span_text",
    "DROP TABLE span_details",
    "DROP TABLE spans",
    "ALTER TABLE spans_v3 RENAME TO spans",
    "ALTER TABLE span_details_v3 RENAME TO span_details",
    # Exporters retry: (project, trace, span) is stored once, the last write winning.
    "CREATE UNIQUE INDEX spans_by_key ON spans (project_id, trace_id, span_id)",
    # Covers the mini-map: every column it returns is in the index.
    """CREATE INDEX spans_by_conversation
ON spans (project_id, conversation_id, start_ns, span_id, trace_id, operation_name, name, status, duration_ms)""",
    "CREATE VIRTUAL TABLE span_text_fts USING fts5(text)",
    "INSERT INTO span_text_fts (rowid, text) SELECT id, text FROM temp.span_text_v3",
    "DROP TABLE temp.span_text_v3",
    _DETAILS_TRIGGER,
    conversation_stats.TRIGGER,
]


def _v3_integer_span_ids(db: sqlite_utils.Database) -> None:
    """Each span gets an integer id (`spans.id`, an INTEGER PRIMARY KEY, stable across
    VACUUM) that keys its `span_details` row and its FTS5 rowid.

    Before, span_details and the search key table `span_text` were each keyed by
    (project, trace, span): two more B-trees with random keys, each a page written to the
    WAL per span of a small transaction. Keyed by an id given in insert order, both
    append; the span's delete trigger takes its details and text with it. Ingest of
    100-span requests writes ~27 % fewer bytes to disk per span (docs/performance.md).

    Rebuilding takes about 4 s per 100,000 spans, and the old tables' pages stay in the
    file as free pages that new spans reuse (`VACUUM` gives them back to the disk).
    """
    if "id" in db["spans"].columns_dict:
        return  # rebuilt already; the crash came before user_version was set
    conn = db.conn
    spans = conn.execute("SELECT count(*) FROM spans").fetchone()[0]
    if spans:
        log.warning(
            "upgrading the database: rebuilding %d spans around integer ids (about 4 s per 100,000 spans)", spans
        )
    conn.execute("BEGIN")
    try:
        for statement in _V3_REBUILD:
            conn.execute(
                statement
            )  # sql-safe: constants, column names from SCALAR_COLUMNS, and conversation_stats.TRIGGER (generated from its constants)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _v4_stats_trigger(db: sqlite_utils.Database) -> None:
    """The conversation stats' delete trigger (spans_stats_ad) generated from their one
    definition in store/conversation_stats.py; v3's hand-written one also deleted the
    span's details and text, which spans_details_ad does now. The stats are recomputed."""
    db.executescript(f"BEGIN; {_DETAILS_TRIGGER}; COMMIT;")
    conversation_stats.rebuild(db.conn)  # replaces spans_stats_ad


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _v1_initial,
    _v2_conversation_list,
    _v3_integer_span_ids,
    _v4_stats_trigger,
]
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
    add_new_columns(db)
    return start
