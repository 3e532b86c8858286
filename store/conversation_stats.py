"""Upkeep of the conversation stats for the spans a write touches, per batch.

`SQLiteStore.write_spans` adds the spans it inserts with `apply_delta(delta_of(...))`: their
contributions are summed in Python from the rows it already holds (one pass), then
written as one upsert per conversation, trace and facet: the cost is per batch and per
conversation, not per span, which is what group commit needs. Spans already stored
that move into their named conversation (children exported before the root) are
listed in the temporary table `stat_spans` and moved set-based (`remove_listed`,
`add_listed`). Deleted spans (a re-export's INSERT OR REPLACE, a prune) are taken out
by the row trigger `spans_stats_ad` of store/schema.py instead, so any delete keeps
the stats right.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import NamedTuple

CREATE_TEMP = """
CREATE TEMP TABLE IF NOT EXISTS stat_spans (
  project_id TEXT, trace_id TEXT, span_id TEXT, PRIMARY KEY (project_id, trace_id, span_id)
) WITHOUT ROWID;
CREATE TEMP TABLE IF NOT EXISTS stat_conversations (
  project_id TEXT, conversation_id TEXT, PRIMARY KEY (project_id, conversation_id)
) WITHOUT ROWID;
"""

# The listed spans as stored now. CROSS JOIN keeps SQLite from scanning `spans` and
# probing the (small) list: it fixes the list as the outer loop.
_KEYED = """WITH keyed AS (
  SELECT s.* FROM temp.stat_spans k CROSS JOIN spans s
  ON s.project_id = k.project_id AND s.trace_id = k.trace_id AND s.span_id = k.span_id
) """
# Models: the model that answered, else the one asked for.
_FACETS = """
SELECT project_id, conversation_id, 'agent' AS facet, agent_name AS value, count(*) AS spans
FROM keyed WHERE agent_name IS NOT NULL GROUP BY project_id, conversation_id, agent_name
UNION ALL
SELECT project_id, conversation_id, 'model', COALESCE(response_model, request_model), count(*)
FROM keyed WHERE COALESCE(response_model, request_model) IS NOT NULL
GROUP BY project_id, conversation_id, COALESCE(response_model, request_model)
"""
_TOUCHED = "SELECT project_id, conversation_id FROM temp.stat_conversations"

ADD = [
    _KEYED
    + """
    INSERT INTO conversation_stats
      (project_id, conversation_id, turns, spans, errors, input_tokens, output_tokens, first_ns, last_ns)
    SELECT project_id, conversation_id, 0, count(*), sum(status = 'ERROR'), sum(COALESCE(input_tokens, 0)),
           sum(COALESCE(output_tokens, 0)), min(start_ns), max(end_ns)
    FROM keyed WHERE true GROUP BY project_id, conversation_id
    ON CONFLICT (project_id, conversation_id) DO UPDATE SET
      spans = spans + excluded.spans,
      errors = errors + excluded.errors,
      input_tokens = input_tokens + excluded.input_tokens,
      output_tokens = output_tokens + excluded.output_tokens,
      first_ns = min(first_ns, excluded.first_ns),
      last_ns = max(last_ns, excluded.last_ns)
    """,
    _KEYED
    + """
    INSERT INTO conversation_traces (project_id, conversation_id, trace_id, spans)
    SELECT project_id, conversation_id, trace_id, count(*) FROM keyed WHERE true
    GROUP BY project_id, conversation_id, trace_id
    ON CONFLICT (project_id, conversation_id, trace_id) DO UPDATE SET spans = spans + excluded.spans
    """,
    _KEYED
    + "INSERT INTO conversation_facets (project_id, conversation_id, facet, value, spans) SELECT * FROM ("
    + _FACETS
    + """) WHERE true
    ON CONFLICT (project_id, conversation_id, facet, value) DO UPDATE SET spans = spans + excluded.spans
    """,
    "DELETE FROM temp.stat_conversations",
    _KEYED + "INSERT OR IGNORE INTO temp.stat_conversations SELECT DISTINCT project_id, conversation_id FROM keyed",
    f"""
    UPDATE conversation_stats SET turns = (
      SELECT count(*) FROM conversation_traces t
      WHERE t.project_id = conversation_stats.project_id AND t.conversation_id = conversation_stats.conversation_id)
    WHERE (project_id, conversation_id) IN ({_TOUCHED})
    """,
]

# Take the listed spans out of the conversations they are in now (before they move).
REMOVE = [
    "DELETE FROM temp.stat_conversations",
    _KEYED + "INSERT OR IGNORE INTO temp.stat_conversations SELECT DISTINCT project_id, conversation_id FROM keyed",
    _KEYED
    + """
    UPDATE conversation_stats SET
      spans = conversation_stats.spans - d.spans,
      errors = conversation_stats.errors - d.errors,
      input_tokens = conversation_stats.input_tokens - d.input_tokens,
      output_tokens = conversation_stats.output_tokens - d.output_tokens
    FROM (SELECT project_id, conversation_id, count(*) AS spans, sum(status = 'ERROR') AS errors,
                 sum(COALESCE(input_tokens, 0)) AS input_tokens, sum(COALESCE(output_tokens, 0)) AS output_tokens
          FROM keyed GROUP BY project_id, conversation_id) AS d
    WHERE conversation_stats.project_id = d.project_id AND conversation_stats.conversation_id = d.conversation_id
    """,
    _KEYED
    + """
    UPDATE conversation_traces SET spans = conversation_traces.spans - d.spans
    FROM (SELECT project_id, conversation_id, trace_id, count(*) AS spans FROM keyed
          GROUP BY project_id, conversation_id, trace_id) AS d
    WHERE conversation_traces.project_id = d.project_id AND conversation_traces.conversation_id = d.conversation_id
      AND conversation_traces.trace_id = d.trace_id
    """,
    _KEYED
    + "UPDATE conversation_facets SET spans = conversation_facets.spans - d.spans FROM ("
    + _FACETS
    + """) AS d
    WHERE conversation_facets.project_id = d.project_id AND conversation_facets.conversation_id = d.conversation_id
      AND conversation_facets.facet = d.facet AND conversation_facets.value = d.value
    """,
    f"DELETE FROM conversation_traces WHERE spans <= 0 AND (project_id, conversation_id) IN ({_TOUCHED})",
    f"DELETE FROM conversation_facets WHERE spans <= 0 AND (project_id, conversation_id) IN ({_TOUCHED})",
    f"DELETE FROM conversation_stats WHERE spans <= 0 AND (project_id, conversation_id) IN ({_TOUCHED})",
]

# After the move: what is left of those conversations gets its turns and edges again.
# (Usually nothing is left: a trace's provisional conversation holds only that trace.)
REFRESH_LEFT = f"""
UPDATE conversation_stats SET
  turns = (SELECT count(*) FROM conversation_traces t
           WHERE t.project_id = conversation_stats.project_id AND t.conversation_id = conversation_stats.conversation_id),
  first_ns = (SELECT min(start_ns) FROM spans s
              WHERE s.project_id = conversation_stats.project_id AND s.conversation_id = conversation_stats.conversation_id),
  last_ns = (SELECT max(end_ns) FROM spans s
             WHERE s.project_id = conversation_stats.project_id AND s.conversation_id = conversation_stats.conversation_id)
WHERE (project_id, conversation_id) IN ({_TOUCHED})
"""


def list_spans(conn: sqlite3.Connection, sql: str, params: Iterable[tuple[object, ...]]) -> bool:
    """Make `sql` (run once per params, inserting into temp.stat_spans) the listed spans.

    Returns whether any span is listed.
    """
    conn.execute("DELETE FROM temp.stat_spans")
    conn.executemany(sql, params)  # sql-safe: callers pass the constant LIST_PROVISIONAL_SPANS
    return conn.execute("SELECT EXISTS (SELECT 1 FROM temp.stat_spans)").fetchone()[0] == 1


def add_listed(conn: sqlite3.Connection) -> None:
    for statement in ADD:
        conn.execute(statement)


def remove_listed(conn: sqlite3.Connection) -> None:
    for statement in REMOVE:
        conn.execute(statement)


# What one inserted span adds to its conversation's stats: (project_id, conversation_id,
# trace_id, status, input_tokens, output_tokens, start_ns, end_ns, agent_name, model),
# the model being the one that answered, else the one asked for. A plain tuple rather
# than a NamedTuple: one is built for every span of every batch (twice on the worker
# path: its request's encoding, then its commit group's), and a NamedTuple's Python
# constructor was a fifth of that placing.
StatSpan = tuple[str, str, str, str, int | None, int | None, int, int, str | None, str | None]


UPSERT_STATS = """
INSERT INTO conversation_stats
  (project_id, conversation_id, turns, spans, errors, input_tokens, output_tokens, first_ns, last_ns)
VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?)
ON CONFLICT (project_id, conversation_id) DO UPDATE SET
  spans = spans + excluded.spans,
  errors = errors + excluded.errors,
  input_tokens = input_tokens + excluded.input_tokens,
  output_tokens = output_tokens + excluded.output_tokens,
  first_ns = min(first_ns, excluded.first_ns),
  last_ns = max(last_ns, excluded.last_ns)
"""
UPSERT_TRACE = """
INSERT INTO conversation_traces (project_id, conversation_id, trace_id, spans) VALUES (?, ?, ?, ?)
ON CONFLICT (project_id, conversation_id, trace_id) DO UPDATE SET spans = spans + excluded.spans
"""
UPSERT_FACET = """
INSERT INTO conversation_facets (project_id, conversation_id, facet, value, spans) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (project_id, conversation_id, facet, value) DO UPDATE SET spans = spans + excluded.spans
"""
RECOUNT_TURNS = """
UPDATE conversation_stats SET turns = (
  SELECT count(*) FROM conversation_traces t WHERE t.project_id = ?1 AND t.conversation_id = ?2)
WHERE project_id = ?1 AND conversation_id = ?2
"""


class StatsDelta(NamedTuple):
    """What a batch of inserted spans adds: parameters of the four upkeep statements."""

    conversations: list[tuple[object, ...]]
    traces: list[tuple[object, ...]]
    facets: list[tuple[object, ...]]
    recount: list[tuple[str, str]]


def apply_delta(conn: sqlite3.Connection, delta: StatsDelta) -> None:
    """Add newly inserted spans (already in `spans`) to their conversations' stats.

    Must run after the INSERT OR REPLACE: the delete trigger has then taken out what a
    replaced span used to add.
    """
    conn.executemany(UPSERT_STATS, delta.conversations)
    conn.executemany(UPSERT_TRACE, delta.traces)
    conn.executemany(UPSERT_FACET, delta.facets)
    conn.executemany(RECOUNT_TURNS, delta.recount)


def delta_of(spans: Iterable[StatSpan]) -> StatsDelta:
    """Sum spans per conversation, trace and facet: no database needed."""
    conversations: dict[tuple[str, str], list[int]] = {}
    traces: dict[tuple[str, str, str], int] = {}
    facets: dict[tuple[str, str, str, str], int] = {}
    # Unpacked in the loop header: one step instead of ten attribute reads per span.
    for (
        project_id, conversation_id, trace_id, status, input_tokens, output_tokens, start_ns, end_ns, agent_name, model
    ) in spans:
        key = (project_id, conversation_id)
        error = 1 if status == "ERROR" else 0
        input_tokens = input_tokens or 0
        output_tokens = output_tokens or 0
        entry = conversations.get(key)
        if entry is None:
            conversations[key] = [1, error, input_tokens, output_tokens, start_ns, end_ns]
        else:
            entry[0] += 1
            entry[1] += error
            entry[2] += input_tokens
            entry[3] += output_tokens
            if start_ns < entry[4]:
                entry[4] = start_ns
            if end_ns > entry[5]:
                entry[5] = end_ns
        trace = (project_id, conversation_id, trace_id)
        traces[trace] = traces.get(trace, 0) + 1
        if agent_name is not None:
            facet = (project_id, conversation_id, "agent", agent_name)
            facets[facet] = facets.get(facet, 0) + 1
        if model is not None:
            facet = (project_id, conversation_id, "model", model)
            facets[facet] = facets.get(facet, 0) + 1
    return StatsDelta(
        [(*key, *entry) for key, entry in conversations.items()],
        [(*key, count) for key, count in traces.items()],
        [(*key, count) for key, count in facets.items()],
        list(conversations),
    )
