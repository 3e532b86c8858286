"""The conversation stats the store keeps at ingest always equal a scan of the spans.

Store-level: a real SQLiteStore on a real file, written the way the writer writes
(batches of SpanRows), with the awkward cases exporters produce: retries that change
nothing, re-exports that change a span, children before the root that names the
conversation, and conversations met in several batches.
"""

from __future__ import annotations

import dataclasses
import random
import sqlite3
from pathlib import Path

import sqlite_utils

from otelite.store.model import SpanRow
from otelite.store.schema import MIGRATIONS
from otelite.store.sqlite import SQLiteStore

SCAN = """
SELECT project_id, conversation_id, count(DISTINCT trace_id), count(*), sum(status = 'ERROR'),
       sum(COALESCE(input_tokens, 0)), sum(COALESCE(output_tokens, 0)), min(start_ns), max(end_ns)
FROM spans GROUP BY project_id, conversation_id ORDER BY project_id, conversation_id
"""
KEPT = """
SELECT project_id, conversation_id, turns, spans, errors, input_tokens, output_tokens, first_ns, last_ns
FROM conversation_stats ORDER BY project_id, conversation_id
"""
FACETS_SCAN = """
SELECT DISTINCT project_id, conversation_id, 'agent', agent_name FROM spans WHERE agent_name IS NOT NULL
UNION
SELECT DISTINCT project_id, conversation_id, 'model', COALESCE(response_model, request_model) FROM spans
WHERE COALESCE(response_model, request_model) IS NOT NULL
ORDER BY 1, 2, 3, 4
"""
FACETS_KEPT = "SELECT project_id, conversation_id, facet, value FROM conversation_facets ORDER BY 1, 2, 3, 4"
# The counts behind turns and facets, which the upkeep adds to and subtracts from.
TRACES_SCAN = "SELECT project_id, conversation_id, trace_id, count(*) FROM spans GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
TRACES_KEPT = "SELECT project_id, conversation_id, trace_id, spans FROM conversation_traces ORDER BY 1, 2, 3"
FACET_COUNTS_SCAN = """
SELECT project_id, conversation_id, 'agent', agent_name, count(*) FROM spans WHERE agent_name IS NOT NULL
GROUP BY 1, 2, 4
UNION ALL
SELECT project_id, conversation_id, 'model', COALESCE(response_model, request_model), count(*) FROM spans
WHERE COALESCE(response_model, request_model) IS NOT NULL GROUP BY 1, 2, 4
ORDER BY 1, 2, 3, 4
"""
FACET_COUNTS_KEPT = (
    "SELECT project_id, conversation_id, facet, value, spans FROM conversation_facets ORDER BY 1, 2, 3, 4"
)


def random_span(rng: random.Random, trace: int, span: int) -> SpanRow:
    start = rng.randrange(0, 10_000) * 1_000_000
    return SpanRow(
        project_id="p0" if trace < 6 else "p1",
        trace_id=f"{trace:032x}",
        span_id=f"{span:016x}",
        parent_span_id=None,
        name="span",
        kind="INTERNAL",
        start_ns=start,
        end_ns=start + rng.randrange(0, 5_000) * 1_000_000,
        status=rng.choice(["UNSET", "OK", "ERROR"]),
        status_message="",
        # Only some spans name the conversation (as roots do), several traces share
        # one; traces 0, 5 and 10 never name one.
        conversation_id=f"c{trace % 2}" if trace % 5 and rng.random() < 0.3 else None,
        agent_name=rng.choice([None, "planner", "writer"]),
        request_model=rng.choice([None, "gpt-4o", "claude"]),
        response_model=rng.choice([None, "gpt-4o-2024-08-06"]),
        input_tokens=rng.choice([None, rng.randrange(1000)]),
        output_tokens=rng.choice([None, rng.randrange(1000)]),
        content={"output_messages": [{"role": "assistant", "parts": [{"type": "text", "content": f"word{span}"}]}]},
    )


def assert_stats_match_a_scan(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute(KEPT).fetchall() == conn.execute(SCAN).fetchall()
        assert conn.execute(FACETS_KEPT).fetchall() == conn.execute(FACETS_SCAN).fetchall()
        assert conn.execute(TRACES_KEPT).fetchall() == conn.execute(TRACES_SCAN).fetchall()
        assert conn.execute(FACET_COUNTS_KEPT).fetchall() == conn.execute(FACET_COUNTS_SCAN).fetchall()
        # Every stored span has its details and its text indexed once, under its id; nothing else is left.
        spans = conn.execute("SELECT count(*) FROM spans").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM span_details JOIN spans USING (id)").fetchone()[0] == spans
        assert conn.execute("SELECT count(*) FROM span_details").fetchone()[0] == spans
        assert (
            conn.execute("SELECT count(*) FROM span_text_fts f JOIN spans s ON s.id = f.rowid").fetchone()[0] == spans
        )
        assert conn.execute("SELECT count(*) FROM span_text_fts").fetchone()[0] == spans
    finally:
        conn.close()


def test_stats_survive_retries_rewrites_and_adoption(tmp_path: Path) -> None:
    rng = random.Random(7)
    store = SQLiteStore(tmp_path / "otelite.db")
    written: list[SpanRow] = []
    try:
        for _ in range(60):
            batch = []
            for _ in range(rng.randrange(1, 12)):
                roll = rng.random()
                if written and roll < 0.25:
                    batch.append(rng.choice(written))  # a retry: the very same span
                elif written and roll < 0.4:
                    old = rng.choice(written)  # a re-export with other values: last write wins
                    batch.append(random_span(rng, int(old.trace_id, 16), int(old.span_id, 16)))
                else:
                    batch.append(random_span(rng, rng.randrange(12), rng.randrange(10**6)))
            store.write_spans(batch)
            written.extend(batch)
            assert_stats_match_a_scan(tmp_path / "otelite.db")
    finally:
        store.close()
    # The random walk did reach the cases this test is about.
    assert any(r.conversation_id for r in written) and any(r.conversation_id is None for r in written)


def test_pruning_spans_keeps_the_stats_right(tmp_path: Path) -> None:
    rng = random.Random(3)
    store = SQLiteStore(tmp_path / "otelite.db")
    store.write_spans([random_span(rng, t, s) for t in range(12) for s in range(6)])
    store.close()
    conn = sqlite3.connect(tmp_path / "otelite.db")
    conn.execute("PRAGMA recursive_triggers = ON")
    with conn:  # whole turns go, as retention by trace would do it
        conn.execute("DELETE FROM spans WHERE trace_id IN (?, ?)", (f"{3:032x}", f"{8:032x}"))
    conn.close()
    assert_stats_match_a_scan(tmp_path / "otelite.db")
    conn = sqlite3.connect(tmp_path / "otelite.db")
    conn.execute("PRAGMA recursive_triggers = ON")
    with conn:  # and single spans, as retention by time would
        conn.execute("DELETE FROM spans WHERE start_ns < 5000000000")
    conn.close()
    assert_stats_match_a_scan(tmp_path / "otelite.db")


def test_children_before_their_root_move_with_their_stats(tmp_path: Path) -> None:
    """A turn's children committed before the root that names the conversation (each in
    its own batch, or several turns' children together), then the roots: the children
    move, stats and all, out of their trace's provisional conversation and into the named
    one; then some of the moved spans are re-exported and pruned."""
    rng = random.Random(11)

    def turn(trace: int, conversation: str) -> list[SpanRow]:
        spans = [random_span(rng, trace, trace * 10 + i) for i in range(4)]
        return [
            dataclasses.replace(span, project_id="p0", conversation_id=conversation if i == 3 else None)
            for i, span in enumerate(spans)
        ]

    turns = {trace: turn(trace, f"c{trace % 3}") for trace in range(20, 32)}
    store = SQLiteStore(tmp_path / "otelite.db")
    try:
        for trace in range(20, 24):  # one turn's children per batch, its root in the next batch
            store.write_spans(turns[trace][:3])
            assert_stats_match_a_scan(tmp_path / "otelite.db")
            store.write_spans(turns[trace][3:])
            assert_stats_match_a_scan(tmp_path / "otelite.db")
        store.write_spans([span for trace in range(24, 32) for span in turns[trace][:3]])  # many turns' children
        assert_stats_match_a_scan(tmp_path / "otelite.db")
        store.write_spans([turns[trace][3] for trace in range(24, 32, 2)])  # half the roots
        assert_stats_match_a_scan(tmp_path / "otelite.db")
        # The other roots, with a moved child re-exported beside its root.
        store.write_spans([span for trace in range(25, 32, 2) for span in (turns[trace][3], turns[trace][0])])
        assert_stats_match_a_scan(tmp_path / "otelite.db")
        page = store.list_conversations("p0", limit=10)
        assert sorted((c.conversation_id, c.turns, c.spans) for c in page.conversations) == [
            ("c0", 4, 16),
            ("c1", 4, 16),
            ("c2", 4, 16),
        ]
    finally:
        store.close()
    conn = sqlite3.connect(tmp_path / "otelite.db")
    conn.execute("PRAGMA recursive_triggers = ON")
    with conn:
        conn.execute("DELETE FROM spans WHERE trace_id IN (?, ?)", (f"{21:032x}", f"{26:032x}"))
        conn.execute("DELETE FROM spans WHERE span_id = ?", (f"{(27 * 10 + 1):016x}",))
    conn.close()
    assert_stats_match_a_scan(tmp_path / "otelite.db")


def test_a_database_from_before_the_stats_gets_them_on_open(tmp_path: Path) -> None:
    """Upgrading: a v1 database full of spans gets its stats and search text backfilled."""
    path = tmp_path / "old.db"
    db = sqlite_utils.Database(path)
    MIGRATIONS[0](db)
    db.execute("PRAGMA user_version = 1")
    db["spans"].insert_all(
        [
            {"project_id": "p", "trace_id": "t1", "span_id": "s1", "name": "chat", "start_ns": 5, "end_ns": 9,
             "duration_ms": 0, "status": "ERROR", "conversation_id": "c", "conversation_source": 1,
             "agent_name": "a", "request_model": "m", "input_tokens": 3},
            {"project_id": "p", "trace_id": "t2", "span_id": "s2", "name": "chat", "start_ns": 1, "end_ns": 4,
             "duration_ms": 0, "status": "OK", "conversation_id": "c", "conversation_source": 1, "output_tokens": 2},
        ]
    )  # fmt: skip
    db["span_details"].insert(
        {"project_id": "p", "trace_id": "t2", "span_id": "s2",
         "content": '{"input_messages": [{"role": "user", "parts": [{"type": "text", "content": "hello there"}]}]}'}
    )  # fmt: skip
    db.close()

    store = SQLiteStore(path)
    try:
        page = store.list_conversations("p", limit=10, search="hello")
        assert page.total == 1
        found = page.conversations[0]
        assert (found.conversation_id, found.turns, found.spans, found.errors) == ("c", 2, 2, 1)
        assert (found.input_tokens, found.output_tokens, found.first_ns, found.last_ns) == (3, 2, 1, 9)
        assert (found.agents, found.models) == (["a"], ["m"])
    finally:
        store.close()


def test_a_v2_database_is_rebuilt_around_span_ids_on_open(tmp_path: Path) -> None:
    """Upgrading from v2 (details and search text keyed by project, trace and span): each
    span keeps its rowid as its id, its details and search text follow it, and the
    rebuilt tables behave as new ones: a re-export replaces the span, text and all."""
    path = tmp_path / "v2.db"
    db = sqlite_utils.Database(path)
    MIGRATIONS[0](db)
    db["spans"].insert_all(
        [
            {"project_id": "p", "trace_id": "t1", "span_id": "s1", "name": "invoke_agent", "start_ns": 1, "end_ns": 9,
             "duration_ms": 0, "status": "OK", "conversation_id": "c", "conversation_source": 1},
            {"project_id": "p", "trace_id": "t1", "span_id": "s2", "name": "chat", "start_ns": 2, "end_ns": 8,
             "duration_ms": 0, "status": "OK", "conversation_id": "c", "conversation_source": 2},
        ]
    )  # fmt: skip
    db["span_details"].insert(
        {"project_id": "p", "trace_id": "t1", "span_id": "s2", "attributes": '{"gen_ai.request.model": "m"}',
         "content": '{"input_messages": [{"role": "user", "parts": [{"type": "text", "content": "hello there"}]}]}'}
    )  # fmt: skip
    db["span_details"].insert({"project_id": "p", "trace_id": "t1", "span_id": "s1", "content": "{}"})
    MIGRATIONS[1](db)  # v2 indexes the text it finds in the details
    db.execute("PRAGMA user_version = 2")
    rowids = dict(db.execute("SELECT span_id, rowid FROM spans").fetchall())
    db.close()

    store = SQLiteStore(path)
    try:
        conn = store.reader()
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert dict(conn.execute("SELECT span_id, id FROM spans").fetchall()) == rowids
        assert conn.execute("SELECT attributes FROM span_details WHERE id = ?", (rowids["s2"],)).fetchone() == (
            '{"gen_ai.request.model": "m"}',
        )
        assert [(s.span_id, s.content) for s in store.trace_spans("p", ["t1"])] == [
            ("s1", {}),
            ("s2", {"input_messages": [{"role": "user", "parts": [{"type": "text", "content": "hello there"}]}]}),
        ]
        assert store.list_conversations("p", limit=10, search="hello").total == 1

        again = SpanRow(
            project_id="p", trace_id="t1", span_id="s2", parent_span_id="s1", name="chat", kind="CLIENT", start_ns=2,
            end_ns=8, status="OK", status_message="", conversation_id=None,
            content={"input_messages": [{"role": "user", "parts": [{"type": "text", "content": "goodbye"}]}]},
        )  # fmt: skip
        store.write_spans([again])
        assert store.list_conversations("p", limit=10, search="hello").total == 0
        assert store.list_conversations("p", limit=10, search="goodbye").total == 1
        assert conn.execute("SELECT count(*) FROM span_details").fetchone()[0] == 2
        assert conn.execute("SELECT count(*) FROM span_text_fts").fetchone()[0] == 1
        assert conn.execute(KEPT).fetchall() == conn.execute(SCAN).fetchall()
    finally:
        store.close()

    # A crash after the rebuild's COMMIT but before user_version was set: the next start
    # sees the rebuild done and leaves the tables as they are.
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version = 2")
    ids = raw.execute("SELECT span_id, id FROM spans ORDER BY span_id").fetchall()
    raw.close()
    store = SQLiteStore(path)
    try:
        assert store.reader().execute("SELECT span_id, id FROM spans ORDER BY span_id").fetchall() == ids
        assert store.list_conversations("p", limit=10, search="goodbye").total == 1
    finally:
        store.close()


def test_a_v3_database_gets_the_generated_stats_trigger_on_open(tmp_path: Path) -> None:
    """Upgrading from v3, whose one hand-written delete trigger `spans_stats_ad` took out a
    span's stats, details and text: v4 replaces it with the stats trigger generated from
    store/conversation_stats.py and `spans_details_ad`, and recomputes the stats."""
    path = tmp_path / "v3.db"
    rng = random.Random(5)
    store = SQLiteStore(path)
    written = [random_span(rng, t, s) for t in range(12) for s in range(5)]
    store.write_spans(written)
    store.close()
    raw = sqlite3.connect(path)
    with raw:  # v3's layout: one trigger for everything a delete takes, and stats gone astray
        raw.execute("PRAGMA user_version = 3")
        raw.execute("DROP TRIGGER spans_details_ad")
        raw.execute("DROP TRIGGER spans_stats_ad")
        raw.execute(
            "CREATE TRIGGER spans_stats_ad AFTER DELETE ON spans BEGIN "
            "DELETE FROM span_details WHERE id = OLD.id; DELETE FROM span_text_fts WHERE rowid = OLD.id; END"
        )
        raw.execute("UPDATE conversation_stats SET spans = spans + 7")
        raw.execute("DELETE FROM conversation_facets")
    raw.close()

    store = SQLiteStore(path)
    try:
        triggers = store.reader().execute("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
        assert [name for (name,) in triggers] == ["spans_details_ad", "spans_stats_ad"]
        assert_stats_match_a_scan(path)
        # Re-exports with other values, then a prune: the stats, details and text follow.
        store.write_spans([random_span(rng, int(r.trace_id, 16), int(r.span_id, 16)) for r in written[::3]])
        assert_stats_match_a_scan(path)
        assert store.prune(older_than_ns=9_000_000_000).traces > 0
        assert_stats_match_a_scan(path)
    finally:
        store.close()
