"""The ClickHouse store: the same `Store` interface as SQLite, for team-sized data.

ClickHouse is reached through a small seam, `ClickHouseClient` (query, stream, command,
insert), with two implementations:
- `HttpClient`: clickhouse-connect over HTTP, for `clickhouse://user:pass@host:8123/db`;
- `ChdbClient`: chdb, the ClickHouse engine in-process, for `chdb:///path` (tests, and a
  single machine that wants ClickHouse without a server).
Both receive the same SQL text with `{name:Type}` placeholders; values are rendered by
clickhouse-connect's own binder and bound by ClickHouse server-side, so no value is
ever spliced into SQL. Inserts are one `INSERT ... FORMAT JSONCompactEachRow` per table per
batch, the body serialised by orjson: the same bytes go through both clients, and
ClickHouse, not hand-written escaping, parses them.

ClickHouse is append-only, so:
- re-exported spans are collapsed by ReplacingMergeTree(version) and every read uses
  FINAL, which dedups at read time the rows merges have not collapsed yet;
- a span that names no conversation is stored under its trace id and resolved at read
  time through `trace_conversations` (see `RESOLVED_CONVERSATION`), never updated.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

from otelite.store import conversation_stats
from otelite.store.base import exported_span, render_minimap
from otelite.store.clickhouse_schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    TTL_TABLES,
    Schema,
    bootstrap,
    new_span_columns,
)
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
from otelite.store.search_text import searchable_text

Params = dict[str, Any]

# The spans insert's columns, in _span's order: store/model.py's SCALAR_COLUMNS and the version.
SPAN_COLUMNS = (*SCALAR_NAMES, "version")
DETAIL_COLUMNS = (
    "project_id", "trace_id", "span_id", "start_ns", "status_message", "attributes",
    "events", "links", "resource", "scope", "content", "search_text", "version",
)  # fmt: skip
MAPPING_COLUMNS = ("project_id", "conversation_id", "trace_id", "named_ns")
FEEDBACK_COLUMNS = (
    "project_id", "conversation_id", "id", "trace_id", "feedback_type", "tags", "ratings", "created_ns",
    "version", "is_deleted",
)  # fmt: skip

# Settings every session sends. Daily partitions: an import of old spans may touch
# many days in one insert, which ClickHouse refuses past 100 by default.
SETTINGS: dict[str, Any] = {"max_partitions_per_insert_block": 1000}
# On a cluster: an insert returns only once every shard has it (acknowledge = durable),
# and subqueries over Distributed tables run shard-locally, which is correct because
# every table is sharded by (project, trace).
CLUSTER_SETTINGS: dict[str, Any] = {"distributed_foreground_insert": 1, "distributed_product_mode": "local"}


class ClickHouseClient(Protocol):
    def query(self, sql: str, params: Params | None = None) -> list[tuple[Any, ...]]:
        """Run a SELECT; rows as tuples of Python values."""

    def stream(self, sql: str, params: Params | None = None) -> Iterator[tuple[Any, ...]]:
        """Run a SELECT whose result may not fit in memory; rows as they arrive."""

    def command(self, sql: str, params: Params | None = None) -> None:
        """Run a statement that returns nothing (DDL, ALTER, INSERT ... VALUES)."""

    def insert(self, table: str, columns: Sequence[str], body: bytes) -> None:
        """`INSERT INTO table (columns) FORMAT JSONCompactEachRow` with `body` as the data."""

    def close(self) -> None: ...


class HttpClient:
    """clickhouse-connect: the production path, one HTTP connection pool, thread-safe."""

    def __init__(self, host: str, port: int, username: str, password: str, secure: bool, settings: dict[str, Any]):
        import clickhouse_connect

        # No session id: a ClickHouse HTTP session serialises its queries, and the API
        # reads from many threads at once.
        self._client = clickhouse_connect.get_client(
            host=host,
            port=port,
            username=username,
            password=password,
            secure=secure,
            settings=settings,
            autogenerate_session_id=False,
        )

    def query(self, sql: str, params: Params | None = None) -> list[tuple[Any, ...]]:
        return list(
            self._client.query(sql, parameters=params).result_rows  # sql-safe: seam
        )

    def stream(self, sql: str, params: Params | None = None) -> Iterator[tuple[Any, ...]]:
        with self._client.query_rows_stream(sql, parameters=params) as rows:
            for row in rows:
                yield tuple(row)

    def command(self, sql: str, params: Params | None = None) -> None:
        self._client.command(sql, parameters=params)

    def insert(self, table: str, columns: Sequence[str], body: bytes) -> None:
        self._client.raw_insert(table, list(columns), body, fmt="JSONCompactEachRow")

    def close(self) -> None:
        self._client.close()


class ChdbClient:
    """chdb: ClickHouse in this process, on a data directory.

    chdb runs one embedded server per process, on one path: every ChdbClient of a
    process must use the same path (any number of sessions may share it).
    """

    def __init__(self, path: str, settings: dict[str, Any]):
        from chdb import session

        self._session = session.Session(path)
        for name, value in settings.items():
            self._session.query(f"SET {name} = {value!r}")  # sql-safe: SETTINGS

    def query(self, sql: str, params: Params | None = None) -> list[tuple[Any, ...]]:
        sql, params = _bind(sql, params)
        result = self._session.query(sql, "JSONCompact", params=params)  # sql-safe: seam
        data = result.bytes()
        return [tuple(row) for row in orjson.loads(data)["data"]] if data else []

    def stream(self, sql: str, params: Params | None = None) -> Iterator[tuple[Any, ...]]:
        sql, params = _bind(sql, params)
        # Each chunk is one block of whole rows, one JSON array per line.
        for chunk in self._session.send_query(sql, "JSONCompactEachRow", params=params):
            for line in chunk.bytes().splitlines():
                yield tuple(orjson.loads(line))

    def command(self, sql: str, params: Params | None = None) -> None:
        sql, params = _bind(sql, params)
        self._session.query(sql, "JSONCompact", params=params)  # sql-safe: seam

    def insert(self, table: str, columns: Sequence[str], body: bytes) -> None:
        # What clickhouse-connect's raw_insert sends as query + body, as one text.
        self._session.query(
            f"INSERT INTO {table} ({', '.join(columns)}) FORMAT JSONCompactEachRow\n{body.decode()}"
        )  # sql-safe: Schema names

    def close(self) -> None:
        self._session.close()


def _bind(sql: str, params: Params | None) -> tuple[str, Params | None]:
    """Render parameter values exactly as clickhouse-connect sends them over HTTP."""
    if not params:
        return sql, None
    from clickhouse_connect.driver.binding import bind_query

    query, bound = bind_query(sql, params)
    return str(query), {name.removeprefix("param_"): value for name, value in bound.items()}


@dataclass(frozen=True, slots=True)
class ClickHouseURL:
    kind: str  # "clickhouse" (HTTP server) or "chdb" (in-process)
    schema: Schema
    host: str = "127.0.0.1"
    port: int = 8123
    username: str = "default"
    password: str = ""
    secure: bool = False
    path: str = ""  # chdb data directory


def parse_url(url: str) -> ClickHouseURL:
    """`clickhouse[s]://user:pass@host:8123/db?cluster=c&ttl_days=30` or `chdb:///data/dir?database=db`."""
    parts = urlsplit(url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    known = {"cluster", "ttl_days", "database"}
    if unknown := set(query) - known:
        raise ValueError(f"{url}: unknown option(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})")
    try:
        ttl_days = int(query.get("ttl_days", "0"))
    except ValueError:
        raise ValueError(f"{url}: ttl_days must be a whole number of days") from None
    if parts.scheme == "chdb":
        schema = Schema(database=query.get("database", "otelite"), cluster=query.get("cluster"), ttl_days=ttl_days)
        return ClickHouseURL("chdb", schema, path=unquote(parts.netloc + parts.path))
    if parts.scheme not in ("clickhouse", "clickhouses"):
        raise ValueError(f"{url}: not a ClickHouse URL")
    database = parts.path.strip("/") or query.get("database", "otelite")
    schema = Schema(database=database, cluster=query.get("cluster"), ttl_days=ttl_days)
    secure = parts.scheme == "clickhouses"
    return ClickHouseURL(
        "clickhouse",
        schema,
        host=parts.hostname or "127.0.0.1",
        port=parts.port or (8443 if secure else 8123),
        username=unquote(parts.username) if parts.username else "default",
        password=unquote(parts.password) if parts.password else "",
        secure=secure,
    )


def connect(url: ClickHouseURL) -> ClickHouseClient:
    settings = {**SETTINGS, **(CLUSTER_SETTINGS if url.schema.cluster else {})}
    try:
        if url.kind == "chdb":
            return ChdbClient(url.path, settings)
        return HttpClient(url.host, url.port, url.username, url.password, url.secure, settings)
    except ImportError as exc:
        raise RuntimeError(
            f"the {url.kind} store needs the clickhouse extra: pip install 'otelite[clickhouse]' ({exc})"
        ) from exc


def migrate(client: ClickHouseClient, schema: Schema) -> int:
    """Bring the database up to SCHEMA_VERSION; returns the version it started at."""
    for statement in bootstrap(schema):
        client.command(statement)
    applied = f"SELECT max(version) FROM {schema.table('otelite_migrations')}"
    start = client.query(applied)[0][0] or 0  # sql-safe: Schema names
    if start > SCHEMA_VERSION:
        raise RuntimeError(
            f"ClickHouse schema version {start} is newer than this otelite ({SCHEMA_VERSION}); upgrade otelite"
        )
    for version in range(start, SCHEMA_VERSION):
        for statement in MIGRATIONS[version](schema):
            client.command(statement)
        client.command(
            f"INSERT INTO {schema.table('otelite_migrations')} (version) VALUES ({{version:UInt32}})",
            {"version": version + 1},
        )
    present = client.query(
        "SELECT name FROM system.columns WHERE database = {database:String} AND table = {table:String}",
        {"database": schema.database, "table": schema.storage_table("spans").partition(".")[2]},
    )
    for statement in new_span_columns(schema, {name for (name,) in present}):
        client.command(statement)
    _apply_ttl(client, schema)
    return start


def _apply_ttl(client: ClickHouseClient, schema: Schema) -> None:
    """Retention is configuration: change a table's TTL when the configured one differs."""
    tables = {schema.storage_table(name).partition(".")[2]: (name, column) for name, column in TTL_TABLES}
    rows = client.query(
        "SELECT name, engine_full FROM system.tables WHERE database = {database:String} AND name IN {names:Array(String)}",
        {"database": schema.database, "names": list(tables)},
    )
    # ClickHouse shows `INTERVAL 7 DAY` back as `toIntervalDay(7)`.
    wanted = f"toIntervalDay({schema.ttl_days})" if schema.ttl_days else None
    for short, current in rows:
        has_ttl = " TTL " in current
        if (wanted is None and has_ttl) or (wanted is not None and (not has_ttl or wanted not in current)):
            client.command(schema.alter_ttl(*tables[short]))


# -- reads ----------------------------------------------------------------------------

# The conversation a span belongs to, resolved at read time: the span's own id; else the
# conversation its trace was named into (the earliest-starting naming span wins); else
# the trace id. `owner` is a (trace_id, named_conversation_id) subquery over the traces
# read. (Aliases never reuse a column's name: ClickHouse lets an alias shadow a column.)
RESOLVED_CONVERSATION = "if(s.conversation_source = 1, s.conversation_id, if(owner.named_conversation_id != '', owner.named_conversation_id, s.trace_id))"
# A conversation's stats, computed when asked from the one definition (store/conversation_stats.py).
_STATS = ",\n         ".join(conversation_stats.AGGREGATES)
# trace_spans' select list: DetailedSpan's fields in order, the details' from span_details (`d`).
_TRACE_SPAN_COLUMNS = ", ".join(
    RESOLVED_CONVERSATION
    if f.name == "conversation_id"
    else f"d.{f.name}"
    if f.name in ("status_message", "content")
    else f"s.{f.name}"
    for f in fields(DetailedSpan)
)
# iter_spans' (export's) first columns: SpanRow's EXPORT_FIELDS.
_EXPORT_COLUMNS = ", ".join("d.status_message" if name == "status_message" else f"s.{name}" for name in EXPORT_FIELDS)


def conversation_spans_sql(schema: Schema, select: str, where: str = "", tail: str = "") -> str:
    """`SELECT {select}` over the spans (`s`) that belong to one of {conversation_ids}.

    A conversation's spans lie in the traces some span named it in (`candidates`, from
    trace_conversations, ordered by conversation) and, for a trace that never named one,
    in the trace whose id is the conversation's: so spans are read by (project_id,
    trace_id), their primary key. `owner` resolves each candidate trace's conversation,
    and the last condition keeps only the spans that really resolve into a requested
    conversation.
    """
    mapping = schema.table("trace_conversations")
    return f"""
WITH candidates AS (
  SELECT trace_id FROM {mapping}
  WHERE project_id = {{project_id:String}} AND conversation_id IN {{conversation_ids:Array(String)}}
  UNION ALL
  SELECT arrayJoin({{conversation_ids:Array(String)}})
)
SELECT {select}
FROM {schema.table("spans")} AS s FINAL
LEFT JOIN (
  SELECT trace_id, argMin(conversation_id, named_ns) AS named_conversation_id FROM {mapping}
  WHERE project_id = {{project_id:String}} AND trace_id IN candidates
  GROUP BY trace_id
) AS owner ON owner.trace_id = s.trace_id
WHERE s.project_id = {{project_id:String}} AND s.trace_id IN candidates
  AND {RESOLVED_CONVERSATION} IN {{conversation_ids:Array(String)}}{where}
{tail}"""


@dataclass(slots=True)
class InsertBatch:
    """What `ClickHouseStore.prepare` builds: the JSONCompactEachRow bodies of span_details
    and spans (one line per span, so batches concatenate), the conversations the spans
    name (deduplicated at commit), and what commit listeners hear."""

    details: bytes
    mapping: list[tuple[str, str, str, int]]  # (project, conversation, trace, start_ns)
    spans: bytes
    committed: list[CommittedSpan]


class ClickHouseStore:
    def __init__(self, url: str | ClickHouseURL, client: ClickHouseClient | None = None) -> None:
        self.url = parse_url(url) if isinstance(url, str) else url
        self.schema = self.url.schema
        self.client = client if client is not None else connect(self.url)
        migrate(self.client, self.schema)

    def table(self, name: str) -> str:
        return self.schema.table(name)

    # -- writes -----------------------------------------------------------------------

    def prepare(self, rows: Sequence[SpanRow]) -> InsertBatch:
        """The three insert bodies. The version, which grows with every prepare, is taken
        here: the last prepared write of a span wins."""
        version = time.time_ns()
        return InsertBatch(
            _compact_rows(_detail(r, version) for r in rows),
            [(r.project_id, r.conversation_id, r.trace_id, r.start_ns) for r in rows if r.conversation_id is not None],
            _compact_rows(_span(r, version) for r in rows),
            list(dict.fromkeys(CommittedSpan(row.project_id, row.trace_id, row.conversation_id) for row in rows)),
        )

    def commit(self, batches: Sequence[InsertBatch]) -> list[CommittedSpan]:
        """Three inserts, details and mapping before spans, so a span a reader can see
        has its details and its conversation. The inserts are not one transaction; a
        failure part-way fails the batch, the exporter retries it, and the replacing
        tables make the repeat harmless. Durable once ClickHouse acknowledges the
        insert (synchronous insert: the part is written before the reply)."""
        batches = [batch for batch in batches if batch.spans]
        if not batches:
            return []
        mapping = _dedupe(m for batch in batches for m in batch.mapping)
        self.client.insert(self.table("span_details"), DETAIL_COLUMNS, b"\n".join(batch.details for batch in batches))
        if mapping:
            self.client.insert(
                self.table("trace_conversations"), MAPPING_COLUMNS, _compact_rows(list(m) for m in mapping)
            )
        self.client.insert(self.table("spans"), SPAN_COLUMNS, b"\n".join(batch.spans for batch in batches))
        if len(batches) == 1:
            return batches[0].committed
        return list(dict.fromkeys(span for batch in batches for span in batch.committed))

    def write_spans(self, rows: Sequence[SpanRow]) -> None:
        self.commit([self.prepare(rows)])

    # -- reads ------------------------------------------------------------------------

    def count_spans(self, project_id: str | None = None) -> int:
        sql = f"SELECT count() FROM {self.table('spans')} FINAL"
        if project_id is None:
            return int(self.client.query(sql)[0][0])  # sql-safe: Schema names
        sql += " WHERE project_id = {project_id:String}"
        return int(self.client.query(sql, {"project_id": project_id})[0][0])  # sql-safe: Schema names

    def conversation_minimap(
        self,
        project_id: str,
        conversation_ids: Sequence[str],
        started_after_ns: int | None = None,
        started_before_ns: int | None = None,
    ) -> list[MiniMapSpan]:
        params: Params = {"project_id": project_id, "conversation_ids": list(conversation_ids)}
        where = ""
        if started_after_ns is not None:
            where += "\n  AND s.start_ns >= {started_after:Int64}"
            params["started_after"] = started_after_ns
        if started_before_ns is not None:
            where += "\n  AND s.start_ns < {started_before:Int64}"
            params["started_before"] = started_before_ns
        sql = conversation_spans_sql(
            self.schema,
            f"{RESOLVED_CONVERSATION} AS resolved_conversation_id, s.trace_id, s.span_id, "
            "coalesce(s.operation_name, s.name), s.status, s.duration_ms, s.start_ns",
            where,
            "ORDER BY resolved_conversation_id, s.start_ns, s.span_id",
        )
        return [
            MiniMapSpan(*row)
            for row in self.client.query(sql, params)  # sql-safe: Schema names
        ]

    def conversation_minimap_json(
        self,
        project_id: str,
        conversation_ids: Sequence[str],
        started_after_ns: int | None = None,
        started_before_ns: int | None = None,
    ) -> dict[str, str]:
        return render_minimap(
            self.conversation_minimap(project_id, conversation_ids, started_after_ns, started_before_ns)
        )

    def conversation_turns(self, project_id: str, conversation_id: str) -> list[Turn]:
        sql = conversation_spans_sql(
            self.schema,
            "s.trace_id AS trace_id, min(s.start_ns) AS first_start_ns",
            tail="GROUP BY trace_id ORDER BY first_start_ns, trace_id",
        )
        params = {"project_id": project_id, "conversation_ids": [conversation_id]}
        return [
            Turn(*row)
            for row in self.client.query(sql, params)  # sql-safe: Schema names
        ]

    def trace_spans(self, project_id: str, trace_ids: Sequence[str]) -> list[DetailedSpan]:
        # Both sides look the traces up by (project_id, trace_id): the primary key of
        # span_details, the bloom filter index of spans.
        sql = f"""
SELECT {_TRACE_SPAN_COLUMNS}
FROM {self.table("spans")} AS s FINAL
INNER JOIN (
  SELECT trace_id, span_id, status_message, content FROM {self.table("span_details")} FINAL
  WHERE project_id = {{project_id:String}} AND trace_id IN {{trace_ids:Array(String)}}
) AS d ON d.trace_id = s.trace_id AND d.span_id = s.span_id
LEFT JOIN (
  SELECT trace_id, argMin(conversation_id, named_ns) AS named_conversation_id
  FROM {self.table("trace_conversations")}
  WHERE project_id = {{project_id:String}} AND trace_id IN {{trace_ids:Array(String)}}
  GROUP BY trace_id
) AS owner ON owner.trace_id = s.trace_id
WHERE s.project_id = {{project_id:String}} AND s.trace_id IN {{trace_ids:Array(String)}}
ORDER BY s.start_ns, s.span_id"""
        spans = []
        for *scalars, content in self.client.query(
            sql, {"project_id": project_id, "trace_ids": list(trace_ids)}
        ):  # sql-safe: Schema names
            span = DetailedSpan(*scalars)
            span.content = orjson.loads(content) if content else {}
            spans.append(span)
        return spans

    # -- conversation list ------------------------------------------------------------

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
        """Stats computed when asked, by one aggregation over the project's spans (what a
        column store is for); the window count gives the total of the same snapshot."""
        params: Params = {"project_id": project_id, "limit": limit, "offset": offset}
        having = []
        if started_after_ns is not None:
            having.append("first_ns >= {started_after:Int64}")
            params["started_after"] = started_after_ns
        if started_before_ns is not None:
            having.append("first_ns < {started_before:Int64}")
            params["started_before"] = started_before_ns
        words = search_words(search or "")
        matches = []
        for i, word in enumerate(words):
            # Every word must prefix a token of some span's user or assistant text.
            matches.append(
                f"countIf(arrayExists(t -> startsWith(t, {{word{i}:String}}), tokens(lowerUTF8(d.search_text)))) AS match{i}"
            )
            having.append(f"match{i} > 0")
            params[f"word{i}"] = word
        details = (
            f"""
LEFT JOIN (
  SELECT trace_id, span_id, search_text FROM {self.table("span_details")} FINAL
  WHERE project_id = {{project_id:String}} AND search_text != ''
) AS d ON d.trace_id = s.trace_id AND d.span_id = s.span_id"""
            if words
            else ""
        )
        sql = f"""
SELECT conversation, turns, spans, errors, input_tokens, output_tokens, first_ns, last_ns, agents, models,
       count() OVER () AS total
FROM (
  SELECT {RESOLVED_CONVERSATION} AS conversation,
         {_STATS}{"".join(", " + m for m in matches)}
  FROM {self.table("spans")} AS s FINAL
  LEFT JOIN (
    SELECT trace_id, argMin(conversation_id, named_ns) AS named_conversation_id
    FROM {self.table("trace_conversations")} WHERE project_id = {{project_id:String}} GROUP BY trace_id
  ) AS owner ON owner.trace_id = s.trace_id{details}
  WHERE s.project_id = {{project_id:String}}
  GROUP BY conversation
  {"HAVING " + " AND ".join(having) if having else ""}
)
ORDER BY last_ns DESC, conversation
LIMIT {{limit:UInt32}} OFFSET {{offset:UInt32}}"""
        rows = self.client.query(sql, params)  # sql-safe: Schema names
        summaries = [ConversationSummary(*row[:8], agents=list(row[8]), models=list(row[9])) for row in rows]
        if rows:
            total = int(rows[0][10])
        elif offset:
            # Past the last page: count without it.
            count = f"SELECT count() FROM ({sql.rsplit('ORDER BY', 1)[0]})"
            total = int(self.client.query(count, params)[0][0])  # sql-safe: Schema names
        else:
            total = 0
        return ConversationPage(total=total, conversations=summaries)

    def list_projects(self) -> list[ProjectSummary]:
        sql = f"""
SELECT s.project_id, uniqExact({RESOLVED_CONVERSATION}) AS conversations, count() AS spans, max(s.end_ns) AS last_ns
FROM {self.table("spans")} AS s FINAL
LEFT JOIN (
  SELECT project_id, trace_id, argMin(conversation_id, named_ns) AS named_conversation_id
  FROM {self.table("trace_conversations")} GROUP BY project_id, trace_id
) AS owner ON owner.project_id = s.project_id AND owner.trace_id = s.trace_id
GROUP BY s.project_id
ORDER BY last_ns DESC, s.project_id"""
        return [
            ProjectSummary(*row)
            for row in self.client.query(sql)  # sql-safe: Schema names
        ]

    # -- retention --------------------------------------------------------------------

    def prune(
        self, older_than_ns: int | None = None, max_bytes: int | None = None, max_traces: int | None = None
    ) -> PruneResult:
        """Whole traces, judged by their newest span, as SQLite prunes them: lightweight
        DELETEs (rows are masked at once; merges free their space later) and feedback
        tombstones. `?ttl_days=` in the store URL is ClickHouse's own retention; this is
        `otelite prune` and the `retention_days` / `max_db_mb` thread."""
        result = PruneResult()
        budget = max_traces if max_traces is not None else 2**62
        if older_than_ns is not None:
            expired = self.client.query(  # sql-safe: Schema names
                f"""
SELECT project_id, trace_id, count() FROM {self.table("spans")} FINAL
GROUP BY project_id, trace_id HAVING max(end_ns) < {{older_than:Int64}}
ORDER BY max(end_ns), project_id, trace_id LIMIT {{budget:UInt64}}""",
                {"older_than": older_than_ns, "budget": budget},
            )
            result.add(self._delete_traces(expired))
        if max_bytes is not None and result.traces < budget:
            used, spans = self.used_bytes(), self.count_spans()
            if used > max_bytes and spans:
                # As SQLite: the excess in spans from the average span size, oldest first.
                excess = int((used - max_bytes) / (used / spans) * 1.1) + 1
                oldest = self.client.query(  # sql-safe: Schema names
                    f"""
SELECT project_id, trace_id, count() FROM {self.table("spans")} FINAL
GROUP BY project_id, trace_id ORDER BY max(end_ns), project_id, trace_id LIMIT {{budget:UInt64}}""",
                    {"budget": min(excess, budget - result.traces)},
                )
                chosen, total = [], 0
                for project, trace, count in oldest:
                    if total >= excess:
                        break
                    chosen.append((project, trace, count))
                    total += count
                result.add(self._delete_traces(chosen))
        return result

    def _delete_traces(self, traces: Sequence[tuple[str, str, int]]) -> PruneResult:
        result = PruneResult()
        for start in range(0, len(traces), PRUNE_BATCH_TRACES):
            batch = traces[start : start + PRUNE_BATCH_TRACES]
            params: Params = {"pairs": [(project, trace) for project, trace, _ in batch]}
            # The conversations these traces are in, for conversation-level feedback.
            touched = self.client.query(  # sql-safe: Schema names
                f"""
SELECT DISTINCT s.project_id, {RESOLVED_CONVERSATION}
FROM {self.table("spans")} AS s FINAL
LEFT JOIN (
  SELECT project_id, trace_id, argMin(conversation_id, named_ns) AS named_conversation_id
  FROM {self.table("trace_conversations")} WHERE (project_id, trace_id) IN {{pairs:Array(Tuple(String, String))}}
  GROUP BY project_id, trace_id
) AS owner ON owner.project_id = s.project_id AND owner.trace_id = s.trace_id
WHERE (s.project_id, s.trace_id) IN {{pairs:Array(Tuple(String, String))}}""",
                params,
            )
            for name in ("span_details", "trace_conversations", "spans"):
                self.client.command(
                    f"DELETE FROM {self.schema.storage_table(name)}{self.schema.on_cluster} "
                    "WHERE (project_id, trace_id) IN {pairs:Array(Tuple(String, String))}",
                    params,
                )
            result.traces += len(batch)
            result.spans += sum(count for _, _, count in batch)
            # Turn feedback goes with its turn; conversation feedback with the last turn.
            left = set()
            for project in {project for project, _ in touched}:
                ids = [conversation for p, conversation in touched if p == project]
                sql = conversation_spans_sql(self.schema, f"DISTINCT {RESOLVED_CONVERSATION}")
                left |= {
                    (project, row[0])
                    for row in self.client.query(
                        sql, {"project_id": project, "conversation_ids": ids}
                    )  # sql-safe: Schema names
                }
            orphans = [pair for pair in touched if tuple(pair) not in left]
            gone = self.client.query(  # sql-safe: Schema names
                f"""
SELECT id, project_id, conversation_id, trace_id, feedback_type, tags, ratings, created_ns
FROM {self.table("feedback")} FINAL
WHERE (trace_id IS NOT NULL AND (project_id, assumeNotNull(trace_id)) IN {{pairs:Array(Tuple(String, String))}})
   OR (trace_id IS NULL AND (project_id, conversation_id) IN {{orphans:Array(Tuple(String, String))}})""",
                {**params, "orphans": [tuple(pair) for pair in orphans]},
            )
            for id_, project, conversation, trace, kind, tags, ratings, created in gone:
                self._insert_feedback(
                    Feedback(id_, project, conversation, trace, kind, list(tags), orjson.loads(ratings), created),
                    deleted=True,
                )
            result.feedback += len(gone)
        return result

    def used_bytes(self) -> int:
        """The bytes the live data takes: the database's parts on disk, scaled by the share
        of span rows still live (rows replaced or masked by DELETE leave the disk only
        when merges rewrite their parts). On a cluster: this node's parts."""
        total, span_rows = self.client.query(
            "SELECT sum(bytes_on_disk), sumIf(rows, table = {spans:String}) FROM system.parts "
            "WHERE database = {database:String} AND active",
            {"database": self.schema.database, "spans": self.schema.storage_table("spans").partition(".")[2]},
        )[0]
        if not span_rows:
            return int(total or 0)
        return int(total * min(1.0, self.count_spans() / span_rows))

    # -- feedback ---------------------------------------------------------------------

    def add_feedback(self, feedback: Feedback) -> None:
        self._insert_feedback(feedback, deleted=False)

    def list_feedback(self, project_id: str, conversation_ids: Sequence[str]) -> list[Feedback]:
        # FINAL keeps each feedback's newest row and drops it when that is a tombstone.
        sql = f"""
SELECT id, project_id, conversation_id, trace_id, feedback_type, tags, ratings, created_ns
FROM {self.table("feedback")} FINAL
WHERE project_id = {{project_id:String}} AND conversation_id IN {{conversation_ids:Array(String)}}
ORDER BY created_ns, id"""
        rows = self.client.query(
            sql, {"project_id": project_id, "conversation_ids": list(conversation_ids)}
        )  # sql-safe: Schema names
        return [
            Feedback(id_, project, conversation, trace, kind, list(tags), orjson.loads(ratings), created)
            for id_, project, conversation, trace, kind, tags, ratings, created in rows
        ]

    def delete_feedback(self, project_id: str, feedback_id: str) -> bool:
        sql = f"""
SELECT id, project_id, conversation_id, trace_id, feedback_type, tags, ratings, created_ns
FROM {self.table("feedback")} FINAL
WHERE project_id = {{project_id:String}} AND id = {{id:String}}"""
        rows = self.client.query(sql, {"project_id": project_id, "id": feedback_id})  # sql-safe: Schema names
        if not rows:
            return False
        id_, project, conversation, trace, kind, tags, ratings, created = rows[0]
        self._insert_feedback(
            Feedback(id_, project, conversation, trace, kind, list(tags), orjson.loads(ratings), created), deleted=True
        )
        return True

    def _insert_feedback(self, feedback: Feedback, deleted: bool) -> None:
        row = [
            feedback.project_id,
            feedback.conversation_id,
            feedback.id,
            feedback.trace_id,
            feedback.feedback_type,
            feedback.tags,
            _json(feedback.ratings),
            feedback.created_ns,
            time.time_ns(),
            1 if deleted else 0,
        ]
        self.client.insert(self.table("feedback"), FEEDBACK_COLUMNS, _compact_rows([row]))

    def iter_spans(self, project_id: str | None = None) -> Iterator[SpanRow]:
        """Every stored span with its details, by project, trace and start time.

        `conversation_id` is set only where the span named it itself, as on ingest.
        Streamed: an export of a whole store never holds it in memory.
        """
        project = "s.project_id = {project_id:String}" if project_id is not None else "1"
        sql = f"""
SELECT {_EXPORT_COLUMNS}, if(s.conversation_source = 1, s.conversation_id, NULL),
       d.attributes, d.events, d.links, d.resource, d.scope
FROM {self.table("spans")} AS s FINAL
INNER JOIN (SELECT * FROM {self.table("span_details")} FINAL) AS d
  ON d.project_id = s.project_id AND d.trace_id = s.trace_id AND d.span_id = s.span_id
WHERE {project}
ORDER BY s.project_id, s.trace_id, s.start_ns, s.span_id"""
        for row in self.client.stream(sql, {"project_id": project_id} if project_id is not None else None):
            yield exported_span(row)

    def close(self) -> None:
        self.client.close()


# Traces per round of DELETEs. Each DELETE is a (lightweight) mutation with a fixed cost
# of its own, some 0.3 s on chdb here, while rows are cheap: large rounds.
PRUNE_BATCH_TRACES = 5000
# As SQLite's FTS5 list search: at most 16 words, each matching as a word prefix.
MAX_SEARCH_WORDS = 16
# ClickHouse's tokens() splits on ASCII characters that are not letters or digits.
_TOKEN_SEPARATORS = re.compile(r"[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+")


def search_words(search: str) -> list[str]:
    """The lowercased tokens of a user's search; each must prefix a token of the text.

    A word of several tokens (`temperature_c`) asks for each of them; punctuation
    alone (`*`, `(`) asks for nothing, so query syntax is never an error.
    """
    words = [token for word in search.split()[:MAX_SEARCH_WORDS] for token in _TOKEN_SEPARATORS.split(word.lower())]
    return list(dict.fromkeys(token for token in words if token))


def _dedupe(mapping: Iterable[tuple[str, str, str, int]]) -> list[tuple[str, str, str, int]]:
    """One row per (project, conversation, trace) with the earliest naming start."""
    earliest: dict[tuple[str, str, str], int] = {}
    for project_id, conversation_id, trace_id, start_ns in mapping:
        key = (project_id, conversation_id, trace_id)
        if key not in earliest or start_ns < earliest[key]:
            earliest[key] = start_ns
    return [(*key, start_ns) for key, start_ns in earliest.items()]


# What _span puts in a column that is not the SpanRow field of its name. A span that
# names no conversation is stored under its trace id (source 0), resolved when read.
_SPAN_VALUE_OF = {
    "duration_ms": "(row.end_ns - row.start_ns) // 1_000_000",
    "conversation_id": "row.trace_id if row.conversation_id is None else row.conversation_id",
    "conversation_source": "0 if row.conversation_id is None else 1",
}
# _span(row, version): a spans row's values in SPAN_COLUMNS order (compiled once).
_span = tuple_function(
    "_span", "row, version", [*(_SPAN_VALUE_OF.get(c.name, f"row.{c.name}") for c in SCALAR_COLUMNS), "version"]
)
assert {c.name for c in SCALAR_COLUMNS if c.source == "store"} <= _SPAN_VALUE_OF.keys()


def _detail(row: SpanRow, version: int) -> list[Any]:
    return [
        row.project_id,
        row.trace_id,
        row.span_id,
        row.start_ns,
        row.status_message,
        _json(row.attributes),
        _json(row.events),
        _json(row.links),
        _json(row.resource),
        _json(row.scope),
        _json(row.content),
        searchable_text(row.content),
        version,
    ]


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


def _compact_rows(rows: Iterable[list[Any]]) -> bytes:
    """One JSON array per row, values in column order (JSONCompactEachRow)."""
    return b"\n".join(map(orjson.dumps, rows))
