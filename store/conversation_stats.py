"""The conversation stats: what the conversation list shows of each conversation, defined once.

The definition is SUMS, EDGES and FACETS below, each entry SQL over one span `s` (a row of
`spans`; name its columns `s.<column>`); turns are a conversation's distinct traces.
Everything else is derived from it:

- SQLite keeps the stats in conversation_stats, conversation_traces (spans per turn) and
  conversation_facets (spans per agent / model) with the statements built below:
    inserts: `SQLiteStore.commit` adds a batch's rows once inserted (ADD_INSERTED: per
      batch and conversation, not per span, which is what group commit needs);
    moves: spans stored before their trace named its conversation are listed in
      temp.stat_spans, taken out, moved and added again (`move`);
    deletes: the row trigger spans_stats_ad (TRIGGER) takes out every deleted span, so any
      delete keeps the stats right: the one INSERT OR REPLACE does on a re-exported span
      (the store turns on `recursive_triggers` so it is seen), a prune;
    `rebuild`: the trigger created again and the stats recomputed from the spans.
- ClickHouse computes the same when asked (AGGREGATES, used by store/clickhouse.py).

To add a stat: an entry in SUMS (or EDGES, FACETS); its column in conversation_stats, by a
migration that adds it and calls `rebuild`; its field in ConversationSummary.
"""

from __future__ import annotations

import re
import sqlite3

# --- The definition ---------------------------------------------------------------------

# What one span adds to its conversation's total, per conversation_stats column.
SUMS = {
    "spans": "1",
    "errors": "s.status = 'ERROR'",
    "input_tokens": "COALESCE(s.input_tokens, 0)",
    "output_tokens": "COALESCE(s.output_tokens, 0)",
}
# The conversation's first and last activity: column -> (min or max, what of a span).
EDGES = {
    "first_ns": ("min", "s.start_ns"),
    "last_ns": ("max", "s.end_ns"),
}
# The model a span used: the one that answered, else the one asked for.
MODEL = "COALESCE(s.response_model, s.request_model)"
# The values a conversation is filtered and labelled by: facet -> a span's value (NULL: none).
# ConversationSummary lists them as `agents` and `models`.
FACETS = {
    "agent": "s.agent_name",
    "model": MODEL,
}

# --- SQLite: sets of spans --------------------------------------------------------------
#
# `rows` below is a set of stored spans: a FROM clause over `spans AS s` that ends in a
# WHERE condition. Aggregated per conversation (trace, facet value) as `d`, they are added
# to the stats by upserts, or subtracted while still stored (an edge is looked up again
# among the conversation's other spans only when one of them sat on it).

# A batch's new rows: SQLiteStore.commit gives them the ids from :first_id on. (NOT INDEXED: read
# by rowid; the planner would rather walk all of spans_by_conversation for the GROUP BY.)
INSERTED = "spans AS s NOT INDEXED WHERE s.id >= :first_id"
# Spans listed for a move (LIST_PROVISIONAL_SPANS in store/sqlite.py). CROSS JOIN fixes the
# (small) list as the outer loop.
CREATE_TEMP = "CREATE TEMP TABLE IF NOT EXISTS stat_spans (id INTEGER PRIMARY KEY)"
LISTED = "temp.stat_spans k CROSS JOIN spans AS s WHERE s.id = k.id"
ALL = "spans AS s WHERE true"

_KEYS = "s.project_id, s.conversation_id"
_SEP = ",\n  "
_COLUMNS = [*SUMS, *EDGES]
# A conversation's turns: its traces with a span in it (conversation_traces is kept first).
_TURNS = """(SELECT count(*) FROM conversation_traces t
   WHERE t.project_id = d.project_id AND t.conversation_id = d.conversation_id)"""


def _sums(rows: str) -> str:
    values = [f"sum({expr}) AS {column}" for column, expr in SUMS.items()]
    values += [f"{agg}({expr}) AS {column}" for column, (agg, expr) in EDGES.items()]
    return f"SELECT {_KEYS}, {', '.join(values)}\nFROM {rows} GROUP BY {_KEYS}"


def _trace_counts(rows: str) -> str:
    return f"SELECT {_KEYS}, s.trace_id, count(*) AS spans FROM {rows} GROUP BY {_KEYS}, s.trace_id"


def _facet_counts(rows: str, facet: str, value: str) -> str:
    return (
        f"SELECT {_KEYS}, '{facet}' AS facet, {value} AS value, count(*) AS spans\n"
        f"FROM {rows} AND {value} IS NOT NULL GROUP BY {_KEYS}, {value}"
    )


def _matching(table: str, *columns: str) -> str:
    """`table`'s row for a row of `d`."""
    return " AND ".join(f"{table}.{c} = d.{c}" for c in ("project_id", "conversation_id", *columns))


def _touched(rows: str) -> str:
    return f"(project_id, conversation_id) IN (SELECT {_KEYS} FROM {rows})"


def adding(rows: str) -> list[str]:
    """Statements that add the spans of `rows` (stored, in their conversations) to the stats."""
    added = [f"{c} = {c} + excluded.{c}" for c in SUMS]
    added += [f"{c} = {agg}({c}, excluded.{c})" for c, (agg, _) in EDGES.items()]
    return [
        f"""INSERT INTO conversation_traces (project_id, conversation_id, trace_id, spans)
{_trace_counts(rows)}
ON CONFLICT (project_id, conversation_id, trace_id) DO UPDATE SET spans = spans + excluded.spans""",
        *(
            f"""INSERT INTO conversation_facets (project_id, conversation_id, facet, value, spans)
{_facet_counts(rows, facet, value)}
ON CONFLICT (project_id, conversation_id, facet, value) DO UPDATE SET spans = spans + excluded.spans"""
            for facet, value in FACETS.items()
        ),
        f"""INSERT INTO conversation_stats (project_id, conversation_id, turns, {", ".join(_COLUMNS)})
SELECT d.project_id, d.conversation_id, {_TURNS}, {", ".join("d." + c for c in _COLUMNS)}
FROM ({_sums(rows)}) AS d WHERE true
ON CONFLICT (project_id, conversation_id) DO UPDATE SET
  turns = excluded.turns,
  {_SEP.join(added)}""",
    ]


def removing(rows: str) -> list[str]:
    """Statements that take the spans of `rows` (still stored) out of the stats."""

    def edge(column: str, agg: str, expr: str) -> str:
        kept = ">" if agg == "min" else "<"
        others = (
            f"SELECT {agg}({expr}) FROM spans AS s WHERE s.project_id = d.project_id "
            f"AND s.conversation_id = d.conversation_id AND s.rowid NOT IN (SELECT s.rowid FROM {rows})"
        )
        current = f"conversation_stats.{column}"
        return f"{column} = CASE WHEN d.{column} {kept} {current} THEN {current}\n    ELSE ({others}) END"

    subtracted = [f"{c} = conversation_stats.{c} - d.{c}" for c in SUMS]
    subtracted += [edge(c, agg, expr) for c, (agg, expr) in EDGES.items()]
    return [
        f"""UPDATE conversation_traces SET spans = conversation_traces.spans - d.spans
FROM ({_trace_counts(rows)}) AS d
WHERE {_matching("conversation_traces", "trace_id")}""",
        f"DELETE FROM conversation_traces WHERE spans <= 0 AND {_touched(rows)}",
        *(
            f"""UPDATE conversation_facets SET spans = conversation_facets.spans - d.spans
FROM ({_facet_counts(rows, facet, value)}) AS d
WHERE {_matching("conversation_facets", "facet", "value")}"""
            for facet, value in FACETS.items()
        ),
        f"DELETE FROM conversation_facets WHERE spans <= 0 AND {_touched(rows)}",
        f"""UPDATE conversation_stats SET
  {_SEP.join(subtracted)},
  turns = {_TURNS}
FROM ({_sums(rows)}) AS d
WHERE {_matching("conversation_stats")}""",
        f"DELETE FROM conversation_stats WHERE spans <= 0 AND {_touched(rows)}",
    ]


# --- SQLite: one deleted span, in its row trigger ---------------------------------------
#
# The same subtraction for the one row OLD, written directly (an UPDATE ... FROM and a
# GROUP BY per statement and deleted row cost twice as much).


def _old(expr: str) -> str:
    """A definition's expression over the deleted row OLD instead of `s`."""
    return re.sub(r"\bs\.", "OLD.", expr)


def _removing_old() -> list[str]:
    same = "project_id = OLD.project_id AND conversation_id = OLD.conversation_id"

    def edge(column: str, agg: str, expr: str) -> str:
        kept = ">" if agg == "min" else "<"
        others = (
            f"SELECT {agg}({expr}) FROM spans AS s "
            "WHERE s.project_id = OLD.project_id AND s.conversation_id = OLD.conversation_id"
        )
        return f"{column} = CASE WHEN {_old(expr)} {kept} {column} THEN {column} ELSE ({others}) END"

    subtracted = [f"{c} = {c} - ({_old(expr)})" for c, expr in SUMS.items()]
    subtracted += [edge(c, agg, expr) for c, (agg, expr) in EDGES.items()]
    return [
        f"UPDATE conversation_traces SET spans = spans - 1 WHERE {same} AND trace_id = OLD.trace_id",
        f"DELETE FROM conversation_traces WHERE {same} AND trace_id = OLD.trace_id AND spans <= 0",
        *(
            f"UPDATE conversation_facets SET spans = spans - 1\n"
            f"WHERE {same} AND facet = '{facet}' AND value = {_old(value)}"
            for facet, value in FACETS.items()
        ),
        f"DELETE FROM conversation_facets WHERE {same} AND spans <= 0",
        f"""UPDATE conversation_stats SET
  {_SEP.join(subtracted)},
  turns = (SELECT count(*) FROM conversation_traces t
           WHERE t.project_id = OLD.project_id AND t.conversation_id = OLD.conversation_id)
WHERE {same}""",
        f"DELETE FROM conversation_stats WHERE {same} AND spans <= 0",
    ]


ADD_INSERTED = adding(INSERTED)
ADD_LISTED = adding(LISTED)
REMOVE_LISTED = removing(LISTED)
TRIGGER = (
    "CREATE TRIGGER IF NOT EXISTS spans_stats_ad AFTER DELETE ON spans BEGIN\n"
    + "".join(statement + ";\n" for statement in _removing_old())
    + "END"
)
REBUILD = [
    "DELETE FROM conversation_traces",
    "DELETE FROM conversation_facets",
    "DELETE FROM conversation_stats",
    *adding(ALL),
]


def rebuild(conn: sqlite3.Connection) -> None:
    """The trigger from the current definition and the stats recomputed from the spans, in
    one transaction (for a migration that changes the definition)."""
    statements = ["BEGIN", "DROP TRIGGER IF EXISTS spans_stats_ad", TRIGGER, *REBUILD, "COMMIT"]
    script = "".join(statement + ";\n" for statement in statements)
    conn.executescript(script)  # sql-safe: generated from this module's constants


def add_inserted(conn: sqlite3.Connection, first_id: int) -> None:
    """Add the rows just inserted with ids from `first_id` on. Must run after the INSERT OR
    REPLACE: the trigger has then taken out what a replaced span used to add."""
    for statement in ADD_INSERTED:
        conn.execute(statement, {"first_id": first_id})  # sql-safe: generated from this module's constants


def move(conn: sqlite3.Connection, list_sql: str, move_sql: str, traces: set[tuple[str, str]]) -> None:
    """Move spans into another conversation, their stats with them: `list_sql` (run per
    trace) lists them in temp.stat_spans, `move_sql` (per trace) moves them."""
    conn.execute("DELETE FROM temp.stat_spans")
    conn.executemany(list_sql, traces)  # sql-safe: callers pass the constant LIST_PROVISIONAL_SPANS
    if conn.execute("SELECT EXISTS (SELECT 1 FROM temp.stat_spans)").fetchone()[0] == 0:
        return
    for statement in REMOVE_LISTED:
        conn.execute(statement)  # sql-safe: generated from this module's constants
    conn.executemany(move_sql, traces)  # sql-safe: callers pass the constant ADOPT_EARLIER_SPANS
    for statement in ADD_LISTED:
        conn.execute(statement)  # sql-safe: generated from this module's constants


# --- ClickHouse: the same, computed when asked ------------------------------------------

# A conversation's stats columns, as aggregates over its spans `s` (same names).
AGGREGATES = [
    "uniqExact(s.trace_id) AS turns",
    *(f"sum({expr}) AS {column}" for column, expr in SUMS.items()),
    *(f"{agg}({expr}) AS {column}" for column, (agg, expr) in EDGES.items()),
    *(
        f"arraySort(groupUniqArrayIf(assumeNotNull({value}), {value} IS NOT NULL)) AS {facet}s"
        for facet, value in FACETS.items()
    ),
]
