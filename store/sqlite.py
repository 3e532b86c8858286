"""The embedded SQLite store: one writer connection, one reader connection per thread.

WAL mode lets readers run while the writer commits. `synchronous` defaults to NORMAL,
which in WAL mode keeps every committed transaction across a process crash
(`kill -9`); `FULL` also survives power loss, at an fsync per commit.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import orjson
import sqlite_utils

from otelite.store import conversation_stats as stats
from otelite.store.base import exported_span
from otelite.store.model import (
    EXPORT_FIELDS,
    SCALAR_COLUMNS,
    SCALAR_NAMES,
    CommittedSpan,
    ConversationPage,
    ConversationSummary,
    DetailedSpan,
    Feedback,
    MiniMapSpan,
    ProjectSummary,
    PruneResult,
    SpanRow,
    Turn,
    tuple_function,
)
from otelite.store.schema import migrate
from otelite.store.search_text import searchable_text

log = logging.getLogger("otelite.store")
# Between the checkpointer's passes: the fewer passes, the fewer times a page written
# again and again (index and FTS pages) is copied and the database synced. 0.2 s with a
# 128 MiB WAL bound served 7% more spans/s than 0.05 s with 64 MiB (docs/performance.md).
CHECKPOINT_PAUSE_SECONDS = 0.2

# The spans table's columns after its id, in _span_params' order (store/model.py).
SPAN_COLUMNS = ", ".join(SCALAR_NAMES)
# A batch's spans take the ids from NEXT_SPAN_ID on, in order, inside the write
# transaction; the id keys the span's details and its search text (store/schema.py, v3).
NEXT_SPAN_ID = "SELECT COALESCE(max(id), 0) + 1 FROM spans"
# conversation_id / conversation_source: guessed by encode_spans from the batch, checked
# by commit with one look-up per project of the batch (see _in_conversations).
# A re-exported span replaces its row (spans_by_key); the delete trigger takes the old
# row's details, text and stats with it.
INSERT_SPAN = f"""
INSERT OR REPLACE INTO spans (id, {SPAN_COLUMNS})
VALUES (?{", ?" * len(SCALAR_NAMES)})
"""
INSERT_DETAILS = """
INSERT INTO span_details (id, status_message, attributes, events, links, resource, scope, content)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
"""
INSERT_SPAN_TEXT = "INSERT INTO span_text_fts (rowid, text) VALUES (?, ?)"
NAME_TRACE_CONVERSATION = """
INSERT OR IGNORE INTO trace_conversations (project_id, trace_id, conversation_id) VALUES (?, ?, ?)
"""
TRACE_CONVERSATIONS_OF = """
SELECT trace_id, conversation_id FROM trace_conversations
WHERE project_id = ? AND trace_id IN (SELECT value FROM json_each(?))
"""
# Spans that arrived before any span of their trace named the conversation join it now.
ADOPT_EARLIER_SPANS = """
UPDATE spans
SET conversation_id = (SELECT conversation_id FROM trace_conversations tc
                       WHERE tc.project_id = spans.project_id AND tc.trace_id = spans.trace_id),
    conversation_source = 2
WHERE project_id = ? AND trace_id = ? AND conversation_source = 0
"""

# Retention. A trace's age is its newest span's end; these read the whole spans table
# once per prune (through the primary key, on a reader connection, so ingest goes on).
EXPIRED_TRACES = """
SELECT project_id, trace_id, max(end_ns) AS newest FROM spans
GROUP BY project_id, trace_id HAVING newest < ?
"""
OLDEST_TRACES = """
SELECT project_id, trace_id, max(end_ns) AS newest, count(*) AS spans FROM spans
GROUP BY project_id, trace_id ORDER BY newest LIMIT ?
"""
TRACE_NEWEST = "SELECT max(end_ns) FROM spans WHERE project_id = ? AND trace_id = ?"
TRACE_CONVERSATIONS = "SELECT DISTINCT conversation_id FROM spans WHERE project_id = ? AND trace_id = ?"
DELETE_TRACE_SPANS = "DELETE FROM spans WHERE project_id = ? AND trace_id = ?"
DELETE_TRACE_CONVERSATION = "DELETE FROM trace_conversations WHERE project_id = ? AND trace_id = ?"
DELETE_TRACE_FEEDBACK = "DELETE FROM feedback WHERE project_id = ? AND trace_id = ?"
# Conversation-level feedback outlives a pruned turn while any turn of its conversation is left.
DELETE_ORPHAN_CONVERSATION_FEEDBACK = """
DELETE FROM feedback WHERE project_id = ?1 AND conversation_id = ?2 AND trace_id IS NULL
  AND NOT EXISTS (SELECT 1 FROM spans WHERE project_id = ?1 AND conversation_id = ?2)
"""
# Traces deleted per transaction: short enough that the writer never waits long.
PRUNE_BATCH_TRACES = 100

LIST_PROVISIONAL_SPANS = """
INSERT OR IGNORE INTO temp.stat_spans (id)
SELECT id FROM spans WHERE project_id = ? AND trace_id = ? AND conversation_source = 0
"""

# Conversations with a span whose text matches :word. The conversation is read from
# `spans`, so a trace adopted into its named conversation is found there. CROSS JOIN
# fixes the join order: the full-text match is the outer loop. With plain JOINs the
# planner walked every span of the project and re-ran the match for each one (2 s for
# a 10,000-span store, bench/query.py).
CONVERSATIONS_MATCHING = """
SELECT DISTINCT s.conversation_id
FROM span_text_fts
CROSS JOIN spans s ON s.id = span_text_fts.rowid
WHERE span_text_fts MATCH :word AND s.project_id = :project_id
"""
# Words of a search used at most (each is one full-text lookup).
MAX_SEARCH_WORDS = 16


def fts_words(search: str) -> list[str]:
    """A user's words as FTS5 queries, one per word, each matching as a word prefix.

    Each word is quoted, so FTS syntax a user types (AND, NOT, *, ", :) is searched
    for as text, never parsed. A NUL separates words: FTS5 would read the query only
    up to it and fail on the open quote ("unterminated string").
    """
    words = search.replace("\0", " ").split()
    return ['"' + word.replace('"', '""') + '"*' for word in words[:MAX_SEARCH_WORDS]]


# The mini-map: scalar columns only, all in the covering index spans_by_conversation,
# so neither span_details nor the table rows are read. The id list is one JSON
# parameter (json_each) because 10000 ids exceed SQLite's bound-variable limit.
MINIMAP = """
SELECT conversation_id, trace_id, span_id, COALESCE(operation_name, name), status, duration_ms, start_ns
FROM spans
WHERE project_id = :project_id
  AND conversation_id IN (SELECT value FROM json_each(:conversation_ids))
  AND (:started_after IS NULL OR start_ns >= :started_after)
  AND (:started_before IS NULL OR start_ns < :started_before)
ORDER BY conversation_id, start_ns, span_id
"""
# The same walk of the covering index, with SQLite writing the route's JSON: one row
# per conversation. The GROUP BY is served by that index scan, so each array is in
# (start_ns, span_id) order, the mini-map order (SQLite < 3.44 has no ORDER BY inside
# an aggregate; tests/test_minimap_rendering.py checks the order).
MINIMAP_JSON = """
SELECT conversation_id,
       json_group_array(json_object('operation_name', COALESCE(operation_name, name), 'trace_id', trace_id,
                                    'span_id', span_id, 'status', status, 'duration_ms', duration_ms))
FROM spans INDEXED BY spans_by_conversation
WHERE project_id = :project_id
  AND conversation_id IN (SELECT value FROM json_each(:conversation_ids))
  AND (:started_after IS NULL OR start_ns >= :started_after)
  AND (:started_before IS NULL OR start_ns < :started_before)
GROUP BY conversation_id
"""
# Without INDEXED BY the planner may pick the primary key to serve GROUP BY trace_id and
# scan the whole project; the conversation index covers this query.
CONVERSATION_TURNS = """
SELECT trace_id, min(start_ns) AS first_start_ns
FROM spans INDEXED BY spans_by_conversation
WHERE project_id = :project_id AND conversation_id = :conversation_id
GROUP BY trace_id
ORDER BY first_start_ns, trace_id
"""
# What iter_spans reads back of a span's scalars: the span's own fields (SpanRow's
# first ones) and the conversation it named; export leaves the GenAI columns to the
# importer's adapters.
_EXPORT_COLUMNS = ", ".join("d.status_message" if name == "status_message" else f"s.{name}" for name in EXPORT_FIELDS)
# The select list is DetailedSpan's fields in order, the details' from span_details.
_TRACE_SPAN_COLUMNS = ", ".join(
    f"d.{f.name}" if f.name in ("status_message", "content") else f"s.{f.name}" for f in fields(DetailedSpan)
)
TRACE_SPANS = f"""
SELECT {_TRACE_SPAN_COLUMNS}
FROM spans s
JOIN span_details d ON d.id = s.id
WHERE s.project_id = :project_id AND s.trace_id IN (SELECT value FROM json_each(:trace_ids))
ORDER BY s.start_ns, s.span_id
"""
INSERT_FEEDBACK = """
INSERT INTO feedback (id, project_id, conversation_id, trace_id, feedback_type, tags, ratings, created_ns)
VALUES (:id, :project_id, :conversation_id, :trace_id, :feedback_type, :tags, :ratings, :created_ns)
"""
LIST_FEEDBACK = """
SELECT id, project_id, conversation_id, trace_id, feedback_type, tags, ratings, created_ns
FROM feedback
WHERE project_id = :project_id AND conversation_id IN (SELECT value FROM json_each(:conversation_ids))
ORDER BY created_ns, id
"""
DELETE_FEEDBACK = "DELETE FROM feedback WHERE project_id = :project_id AND id = :id"


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


def _json_list(value: list[Any]) -> str:
    """_json for the lists most spans leave empty (events, links): no encoder call for those."""
    return "[]" if value == [] else _json(value)


def _minimap_params(
    project_id: str, conversation_ids: Sequence[str], started_after_ns: int | None, started_before_ns: int | None
) -> dict[str, object]:
    return {
        "project_id": project_id,
        "conversation_ids": _json(list(conversation_ids)),
        "started_after": started_after_ns,
        "started_before": started_before_ns,
    }


# What _span_params puts in a column that is not the SpanRow field of its name.
_SPAN_PARAMS_OF = {
    "duration_ms": "(row.end_ns - row.start_ns) // 1_000_000",
    "conversation_id": "conversation_id",
    "conversation_source": "conversation_source",
}
# _span_params(row, conversation_id, conversation_source): the spans row's parameters
# after its id, in SPAN_COLUMNS order (one tuple of `row.<column>` compiled once).
_span_params = tuple_function(
    "_span_params",
    "row, conversation_id, conversation_source",
    [_SPAN_PARAMS_OF.get(c.name, f"row.{c.name}") for c in SCALAR_COLUMNS],
)
assert {c.name for c in SCALAR_COLUMNS if c.source == "store"} <= _SPAN_PARAMS_OF.keys()


def _conversations_matching(conn: sqlite3.Connection, project_id: str, words: list[str]) -> set[str]:
    """The project's conversations with a span matching each of `words` (each word may
    sit in a different span). Found once, for both the count and the page: a common
    word's matches are most of the search's time (its FTS5 doclist alone is ~120 ms for
    500,000 spans)."""
    found: set[str] | None = None
    for word in words:
        matches = {row[0] for row in conn.execute(CONVERSATIONS_MATCHING, {"word": word, "project_id": project_id})}
        found = matches if found is None else found & matches
        if not found:
            break
    return found or set()


def _trace_names(conn: sqlite3.Connection, traces: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The conversation each (project, trace) was named into (trace_conversations, names
    given earlier in this transaction included); traces with none are left out."""
    by_project: dict[str, set[str]] = {}
    for project_id, trace_id in traces:
        by_project.setdefault(project_id, set()).add(trace_id)
    named: dict[tuple[str, str], str] = {}
    for project_id, trace_ids in by_project.items():
        for trace_id, conversation_id in conn.execute(TRACE_CONVERSATIONS_OF, (project_id, _json(list(trace_ids)))):
            named[(project_id, trace_id)] = conversation_id
    return named


# Positions in _span_params' tuple; the first three are the span's key (project, trace, span).
_POSITION = {name: i for i, name in enumerate(SCALAR_NAMES)}
_CONVERSATION, _SOURCE = _POSITION["conversation_id"], _POSITION["conversation_source"]
assert _SOURCE == _CONVERSATION + 1  # _in_conversations sets the two as one slice


def _in_conversations(
    span_params: Iterable[tuple[object, ...]], trace_names: dict[tuple[str, str], str]
) -> list[tuple[object, ...]]:
    """The spans rows' parameters, each span in its conversation.

    A span that names a conversation is in it (conversation_source 1); else it takes
    the one its trace was named into (2); else, for now, the trace id (0).
    """
    placed = []
    for params in span_params:
        if params[_SOURCE] != 1:
            trace = (params[0], params[1])
            named = trace_names.get(trace)  # type: ignore[call-overload]
            conversation, source = (named, 2) if named is not None else (params[1], 0)
            params = (*params[:_CONVERSATION], conversation, source, *params[_SOURCE + 1 :])
        placed.append(params)
    return placed


@dataclass(slots=True)
class EncodedSpans:
    """A batch's SQL parameters, built without the database: the spans rows placed in
    the conversations the batch itself names for its traces (the
    writer checks that guess against trace_conversations and redoes it when an earlier
    batch named a trace), the details' JSON and the search text ('' for none). One
    entry per span in each of the three lists, in the same order: the writer gives the
    i-th span its id and keys its details and text by it."""

    span_params: list[tuple[object, ...]]
    details: list[tuple[object, ...]]
    texts: list[str]
    named: list[tuple[str, str, str]]  # (project, trace, conversation) named by a span
    trace_names: dict[tuple[str, str], str]
    # What commit listeners hear of these spans: each distinct (project, trace, named
    # conversation) once, in order (the events name traces and conversations, not spans).
    committed: list[CommittedSpan]


def encode_spans(rows: Sequence[SpanRow]) -> EncodedSpans:
    return _encoded(
        [
            _span_params(row, row.conversation_id or row.trace_id, 1 if row.conversation_id is not None else 0)
            for row in rows
        ],
        [_details_params(row) for row in rows],
        [searchable_text(row.content) for row in rows],
        list(dict.fromkeys(CommittedSpan(row.project_id, row.trace_id, row.conversation_id) for row in rows)),
    )


def _encoded(
    span_params: list[tuple[object, ...]],
    details: list[tuple[object, ...]],
    texts: list[str],
    committed: list[CommittedSpan],
) -> EncodedSpans:
    # The same span twice in one batch (two requests, one a retry): the last wins.
    last = {p[:3]: i for i, p in enumerate(span_params)}
    if len(last) < len(span_params):
        kept = sorted(last.values())
        span_params = [span_params[i] for i in kept]
        details = [details[i] for i in kept]
        texts = [texts[i] for i in kept]
    named = sorted({(p[0], p[1], p[_CONVERSATION]) for p in span_params if p[_SOURCE] == 1})  # type: ignore[misc]
    # What trace_conversations will say once this batch named its traces, if no earlier
    # batch did (INSERT OR IGNORE, in this order: the first name given wins).
    trace_names: dict[tuple[str, str], str] = {}
    for project_id, trace_id, conversation_id in named:
        trace_names.setdefault((project_id, trace_id), conversation_id)
    return EncodedSpans(_in_conversations(span_params, trace_names), details, texts, named, trace_names, committed)


def merge_encoded(parts: Sequence[EncodedSpans]) -> EncodedSpans:
    """Several requests' encoded batches as one: their rows placed again together, so a
    trace named by one request and with spans in another lands in one conversation."""
    if len(parts) == 1:
        return parts[0]
    return _encoded(
        [p for part in parts for p in part.span_params],
        [d for part in parts for d in part.details],
        [t for part in parts for t in part.texts],
        list(dict.fromkeys(c for part in parts for c in part.committed)),
    )


def _details_params(row: SpanRow) -> tuple[object, ...]:
    """span_details' columns after the id."""
    return (
        row.status_message,
        _json(row.attributes),
        _json_list(row.events),
        _json_list(row.links),
        _json(row.resource),
        _json(row.scope),
        _json(row.content),
    )


# The writer connection's page cache: index pages of a big store stay in memory.
WRITER_CACHE_KIB = 32 * 1024
# Above this many WAL frames (pages, 4 KiB) the writer checkpoints itself.
MAX_WAL_FRAMES = 32_768


def _checkpoint(conn: sqlite3.Connection) -> tuple[int, int]:
    """A PASSIVE checkpoint; returns (frames in the WAL, frames copied to the database)."""
    _busy, log, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return log, copied


class _Checkpointer:
    """Copies committed WAL frames into the database file on its own thread.

    A PASSIVE checkpoint never blocks the writer or readers, and sqlite3 releases the
    GIL while it runs, so it uses the second core. It runs after commits (`poke`), at
    most one at a time; durability is unchanged (a committed transaction is in the WAL).
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.wal_frames = 0
        self._wake = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="otelite-checkpoint", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._closing:
                return
            try:
                self.wal_frames = _checkpoint(self.conn)[0]
            except sqlite3.Error:
                log.exception("checkpoint failed; the writer will retry")
            # Let commits accumulate: a checkpoint per commit would copy hot pages twice.
            time.sleep(CHECKPOINT_PAUSE_SECONDS)

    def close(self) -> None:
        self._closing = True
        self._wake.set()
        self._thread.join()
        self.conn.close()


class SQLiteStore:
    def __init__(self, path: str | Path, synchronous: str = "NORMAL") -> None:
        self.path = str(path)
        if synchronous.upper() not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")
        self._synchronous = synchronous.upper()
        self._write_conn = self._connect()
        self._write_conn.execute("PRAGMA journal_mode = WAL")
        migrate(sqlite_utils.Database(self._write_conn))
        # The writer never checkpoints on COMMIT (SQLite's default would copy the WAL back
        # into the database inside every ~1000th commit, on the writer's clock); a
        # checkpointer thread does it on its own connection, outside the GIL, while the
        # writer goes on. See _Checkpointer.
        self._write_conn.execute(
            f"PRAGMA cache_size = {-WRITER_CACHE_KIB}"
        )  # sql-safe: a module constant; PRAGMAs take no parameters
        self._write_conn.execute("PRAGMA wal_autocheckpoint = 0")
        self._checkpointer = _Checkpointer(self._connect())
        self._write_conn.executescript(stats.CREATE_TEMP)
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, nothing implicit.
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")  # sql-safe: NORMAL or FULL, checked in __init__
        conn.execute("PRAGMA foreign_keys = ON")
        # The conversation stats triggers must see the delete that INSERT OR REPLACE
        # does on a re-exported span; SQLite fires it only with recursive triggers on.
        conn.execute("PRAGMA recursive_triggers = ON")
        return conn

    def reader(self) -> sqlite3.Connection:
        """This thread's read-only connection."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only = ON")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def prepare(self, rows: Sequence[SpanRow]) -> EncodedSpans:
        return encode_spans(rows)

    def commit(self, batches: Sequence[EncodedSpans]) -> list[CommittedSpan]:
        """Store.commit: the batches placed again together (merge_encoded), so a trace
        named by one and with spans in another lands in one conversation."""
        encoded = merge_encoded(batches)
        if not encoded.span_params:
            return []
        named_traces = {(p, t) for p, t, _ in encoded.named}
        with self._write_lock:
            conn = self._write_conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(NAME_TRACE_CONVERSATION, encoded.named)
                # Spans stored before their trace named its conversation move into it,
                # and their stats with them.
                stats.move(conn, LIST_PROVISIONAL_SPANS, ADOPT_EARLIER_SPANS, named_traces)
                # This batch, in the conversations its traces now have: as encode_spans
                # guessed from the batch alone, unless an earlier batch named one.
                span_params = encoded.span_params
                trace_names = _trace_names(conn, {(p[0], p[1]) for p in span_params})  # type: ignore[misc]
                if trace_names != encoded.trace_names:
                    span_params = _in_conversations(span_params, trace_names)
                # A replaced span's old details, text and stats leave with its old row
                # (triggers spans_stats_ad and spans_details_ad); its new ones are added below.
                first_id = conn.execute(NEXT_SPAN_ID).fetchone()[0]
                ids = range(first_id, first_id + len(span_params))
                conn.executemany(
                    INSERT_SPAN, [(span_id, *p) for span_id, p in zip(ids, span_params)]
                )  # sql-safe: column names from SCALAR_COLUMNS
                conn.executemany(INSERT_DETAILS, [(span_id, *d) for span_id, d in zip(ids, encoded.details)])
                stats.add_inserted(conn, first_id)
                conn.executemany(INSERT_SPAN_TEXT, [(span_id, t) for span_id, t in zip(ids, encoded.texts) if t])
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            if self._checkpointer.wal_frames > MAX_WAL_FRAMES:
                # The checkpointer could not keep up (the WAL only restarts once a
                # checkpoint has caught up with it): catch up here, between transactions.
                self._checkpointer.wal_frames = _checkpoint(conn)[0]
        self._checkpointer.poke()
        return encoded.committed

    def write_spans(self, rows: Sequence[SpanRow]) -> None:
        self.commit([self.prepare(rows)])

    def iter_spans(self, project_id: str | None = None) -> Iterator[SpanRow]:
        """Every stored span with its details, by project, trace and start time.

        `conversation_id` is set only where the span named it itself, as on ingest.
        """
        sql = f"""
            SELECT {_EXPORT_COLUMNS},
                   CASE WHEN s.conversation_source = 1 THEN s.conversation_id END,
                   d.attributes, d.events, d.links, d.resource, d.scope
            FROM spans s JOIN span_details d ON d.id = s.id
            {"WHERE s.project_id = ?" if project_id is not None else ""}
            ORDER BY s.project_id, s.trace_id, s.start_ns, s.span_id
        """
        for row in self.reader().execute(
            sql, () if project_id is None else (project_id,)
        ):  # sql-safe: column names from SCALAR_COLUMNS
            yield exported_span(row)

    def count_spans(self, project_id: str | None = None) -> int:
        if project_id is None:
            return self.reader().execute("SELECT count(*) FROM spans").fetchone()[0]
        return self.reader().execute("SELECT count(*) FROM spans WHERE project_id = ?", (project_id,)).fetchone()[0]

    def used_bytes(self) -> int:
        conn = self.reader()
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0] - conn.execute("PRAGMA freelist_count").fetchone()[0]
        return pages * page_size

    def prune(
        self, older_than_ns: int | None = None, max_bytes: int | None = None, max_traces: int | None = None
    ) -> PruneResult:
        result = PruneResult()
        budget = max_traces if max_traces is not None else 2**62
        if older_than_ns is not None:
            expired = self.reader().execute(EXPIRED_TRACES, (older_than_ns,)).fetchall()
            result.add(self._delete_traces(expired[:budget]))
        if max_bytes is not None:
            # Deleting rows frees pages only as B-tree pages empty, so estimate how many
            # spans to drop from the average span size, delete, measure again.
            while result.traces < budget and (used := self.used_bytes()) > max_bytes:
                spans = self.count_spans()
                if spans == 0:
                    break
                excess = int((used - max_bytes) / (used / spans) * 1.1) + 1
                oldest = self.reader().execute(OLDEST_TRACES, (min(excess, budget - result.traces),)).fetchall()
                chosen, total = [], 0
                for project, trace, newest, count in oldest:
                    if total >= excess:
                        break
                    chosen.append((project, trace, newest))
                    total += count
                deleted = self._delete_traces(chosen)
                result.add(deleted)
                if deleted.traces == 0:
                    break
        return result

    def _delete_traces(self, traces: Sequence[tuple[str, str, int]]) -> PruneResult:
        """Delete (project, trace, newest_end_ns) traces unless a newer span came since."""
        result = PruneResult()
        for start in range(0, len(traces), PRUNE_BATCH_TRACES):
            with self._write_lock:
                conn = self._write_conn
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for project, trace, newest in traces[start : start + PRUNE_BATCH_TRACES]:
                        current = conn.execute(TRACE_NEWEST, (project, trace)).fetchone()[0]
                        if current is None or current > newest:
                            continue  # gone already, or a span arrived since: judge it next time
                        conversations = [r[0] for r in conn.execute(TRACE_CONVERSATIONS, (project, trace))]
                        result.spans += conn.execute(DELETE_TRACE_SPANS, (project, trace)).rowcount
                        conn.execute(DELETE_TRACE_CONVERSATION, (project, trace))
                        result.traces += 1
                        result.feedback += conn.execute(DELETE_TRACE_FEEDBACK, (project, trace)).rowcount
                        for conversation in conversations:
                            result.feedback += conn.execute(
                                DELETE_ORPHAN_CONVERSATION_FEEDBACK, (project, conversation)
                            ).rowcount
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        return result

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
        where = ["project_id = :project_id"]
        params: dict[str, object] = {"project_id": project_id, "limit": limit, "offset": offset}
        if started_after_ns is not None:
            where.append("first_ns >= :after")
            params["after"] = started_after_ns
        if started_before_ns is not None:
            where.append("first_ns < :before")
            params["before"] = started_before_ns
        words = fts_words(search or "")
        if words:
            where.append("conversation_id IN (SELECT value FROM json_each(:matching))")
        conn = self.reader()
        # One read transaction, so the matches, the count and the page agree.
        conn.execute("BEGIN")
        try:
            if words:
                params["matching"] = _json(list(_conversations_matching(conn, project_id, words)))
            # sql-safe (both queries): `where` holds constant text only; values are bound.
            total = conn.execute(
                f"SELECT count(*) FROM conversation_stats WHERE {' AND '.join(where)}", params
            ).fetchone()[0]  # sql-safe: see above
            rows = conn.execute(  # sql-safe: see above
                f"""
                SELECT conversation_id, turns, spans, errors, input_tokens, output_tokens, first_ns, last_ns
                FROM conversation_stats WHERE {" AND ".join(where)}
                ORDER BY last_ns DESC, conversation_id
                LIMIT :limit OFFSET :offset
                """,
                params,
            ).fetchall()
            summaries = [ConversationSummary(*row) for row in rows]
            by_id = {summary.conversation_id: summary for summary in summaries}
            for conversation_id, facet, value in conn.execute(
                """
                SELECT conversation_id, facet, value FROM conversation_facets
                WHERE project_id = ? AND conversation_id IN (SELECT value FROM json_each(?))
                ORDER BY conversation_id, facet, value
                """,
                (project_id, _json(list(by_id))),
            ):
                summary = by_id[conversation_id]
                (summary.agents if facet == "agent" else summary.models).append(value)
        finally:
            conn.execute("COMMIT")
        return ConversationPage(total=total, conversations=summaries)

    def list_projects(self) -> list[ProjectSummary]:
        rows = (
            self.reader()
            .execute(
                """
            SELECT project_id, count(*), sum(spans), max(last_ns) FROM conversation_stats
            GROUP BY project_id ORDER BY max(last_ns) DESC, project_id
            """
            )
            .fetchall()
        )
        return [ProjectSummary(*row) for row in rows]

    def conversation_minimap(
        self,
        project_id: str,
        conversation_ids: Sequence[str],
        started_after_ns: int | None = None,
        started_before_ns: int | None = None,
    ) -> list[MiniMapSpan]:
        params = _minimap_params(project_id, conversation_ids, started_after_ns, started_before_ns)
        return [MiniMapSpan(*row) for row in self.reader().execute(MINIMAP, params)]

    def conversation_minimap_json(
        self,
        project_id: str,
        conversation_ids: Sequence[str],
        started_after_ns: int | None = None,
        started_before_ns: int | None = None,
    ) -> dict[str, str]:
        params = _minimap_params(project_id, conversation_ids, started_after_ns, started_before_ns)
        return dict(self.reader().execute(MINIMAP_JSON, params).fetchall())

    def conversation_turns(self, project_id: str, conversation_id: str) -> list[Turn]:
        params = {"project_id": project_id, "conversation_id": conversation_id}
        return [Turn(*row) for row in self.reader().execute(CONVERSATION_TURNS, params)]

    def trace_spans(self, project_id: str, trace_ids: Sequence[str]) -> list[DetailedSpan]:
        params = {"project_id": project_id, "trace_ids": _json(list(trace_ids))}
        spans = []
        for *scalars, content in self.reader().execute(
            TRACE_SPANS, params
        ):  # sql-safe: column names from SCALAR_COLUMNS
            span = DetailedSpan(*scalars)
            span.content = orjson.loads(content) if content else {}
            spans.append(span)
        return spans

    def add_feedback(self, feedback: Feedback) -> None:
        params = {
            "id": feedback.id,
            "project_id": feedback.project_id,
            "conversation_id": feedback.conversation_id,
            "trace_id": feedback.trace_id,
            "feedback_type": feedback.feedback_type,
            "tags": _json(feedback.tags),
            "ratings": _json(feedback.ratings),
            "created_ns": feedback.created_ns,
        }
        with self._write_lock:
            self._write_conn.execute(INSERT_FEEDBACK, params)

    def list_feedback(self, project_id: str, conversation_ids: Sequence[str]) -> list[Feedback]:
        params = {"project_id": project_id, "conversation_ids": _json(list(conversation_ids))}
        return [
            Feedback(id_, project, conversation, trace, kind, orjson.loads(tags), orjson.loads(ratings), created)
            for id_, project, conversation, trace, kind, tags, ratings, created in self.reader().execute(
                LIST_FEEDBACK, params
            )
        ]

    def delete_feedback(self, project_id: str, feedback_id: str) -> bool:
        with self._write_lock:
            cursor = self._write_conn.execute(DELETE_FEEDBACK, {"project_id": project_id, "id": feedback_id})
        return cursor.rowcount > 0

    def close(self) -> None:
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        self._checkpointer.close()
        with self._write_lock:
            self._write_conn.close()
