"""The ClickHouse schema and its migrations, as DDL text.

One `Schema` renders every statement for a database, an optional cluster and a
retention; the same text runs on a single server, on chdb in the tests, and (with
`cluster`) ON CLUSTER with Replicated tables behind Distributed ones. Design notes
(why each ORDER BY, why FINAL, why a mapping table) are in docs/scale.md.

Migrations are lists of statements, applied in order and recorded in
`otelite_migrations`. Every statement is `IF NOT EXISTS`-safe, so two collectors
starting at once, or a crash half-way through a migration, only repeat harmless work.
Append new migrations; never edit a shipped one. The one exception is the spans
table's scalar columns, which are store/model.py's SCALAR_COLUMNS: a new (nullable)
one is added to existing tables by `new_span_columns` whenever the store opens.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from otelite.store.model import SCALAR_COLUMNS

# One day-partition per start date: retention drops whole parts (ttl_only_drop_parts)
# instead of rewriting them, as the OpenTelemetry ClickHouse exporter does. (A re-export
# that moved a span's start to another day leaves its old row in the old partition,
# where merges never see the new one; FINAL does, so reads still see one row.)
_DAY_PARTITION = "toDate(fromUnixTimestamp64Nano(start_ns))"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Schema:
    database: str = "otelite"
    cluster: str | None = None
    # Rows older than this many days (by span start) are dropped; 0 keeps everything.
    ttl_days: int = 0

    def __post_init__(self) -> None:
        # Identifiers cannot be bound as query parameters, so they are checked instead.
        for name in (self.database, self.cluster):
            if name is not None and not _IDENTIFIER.match(name):
                raise ValueError(f"not a plain ClickHouse identifier: {name!r}")
        if self.ttl_days < 0:
            raise ValueError("ttl_days must be >= 0")

    def table(self, name: str) -> str:
        """The name queries and inserts use (the Distributed table on a cluster)."""
        return f"{self.database}.{name}"

    @property
    def on_cluster(self) -> str:
        return f" ON CLUSTER '{self.cluster}'" if self.cluster else ""

    def create_database(self) -> str:
        return f"CREATE DATABASE IF NOT EXISTS {self.database}{self.on_cluster}"

    def ttl(self, time_ns_column: str) -> str:
        if not self.ttl_days:
            return ""
        return f"\nTTL toDateTime(fromUnixTimestamp64Nano({time_ns_column})) + INTERVAL {self.ttl_days} DAY"

    def create_table(self, name: str, columns: str, engine: str, tail: str, shard_key: str) -> list[str]:
        """CREATE TABLE for one table: plain, or Replicated `<name>_local` + Distributed `<name>`.

        `engine` is the MergeTree-family engine without its Replicated prefix, with its
        arguments, e.g. `ReplacingMergeTree(version)`.
        """
        if not self.cluster:
            return [f"CREATE TABLE IF NOT EXISTS {self.database}.{name} (\n{columns}\n)\nENGINE = {engine}\n{tail}"]
        local = f"{name}_local"
        family, _, args = engine.partition("(")
        args = args.rstrip(")")
        zk_path = f"'/clickhouse/tables/{{shard}}/{self.database}/{local}', '{{replica}}'"
        replicated = f"Replicated{family}({zk_path}{', ' + args if args else ''})"
        return [
            (
                f"CREATE TABLE IF NOT EXISTS {self.database}.{local}{self.on_cluster} (\n{columns}\n)\n"
                f"ENGINE = {replicated}\n{tail}"
            ),
            # The shard key keeps every version of a row on one shard (the span tables:
            # a trace's spans, details and conversation rows too), so FINAL and the
            # trace -> conversation join are correct shard by shard.
            (
                f"CREATE TABLE IF NOT EXISTS {self.database}.{name}{self.on_cluster} AS {self.database}.{local}\n"
                f"ENGINE = Distributed('{self.cluster}', '{self.database}', '{local}', {shard_key})"
            ),
        ]

    def storage_table(self, name: str) -> str:
        """The table that holds the rows (the Replicated local table on a cluster)."""
        return f"{self.database}.{name}_local" if self.cluster else f"{self.database}.{name}"

    def add_column(self, name: str, column: str) -> list[str]:
        """ALTER TABLE ... ADD COLUMN on the table, and on a cluster on the Distributed
        table in front of it too (it has its own copy of the columns)."""
        tables = [self.storage_table(name)] + ([self.table(name)] if self.cluster else [])
        return [f"ALTER TABLE {table}{self.on_cluster} ADD COLUMN IF NOT EXISTS {column}" for table in tables]

    def alter_ttl(self, name: str, time_ns_column: str) -> str:
        """Bring one table's retention to `ttl_days` (metadata only: old parts are not rewritten)."""
        change = f"MODIFY{self.ttl(time_ns_column)}" if self.ttl_days else "REMOVE TTL"
        return f"ALTER TABLE {self.storage_table(name)}{self.on_cluster} {change}".replace("\n", " ")

    def migrations_table(self) -> list[str]:
        columns = "  version UInt32,\n  applied_at DateTime DEFAULT now()"
        if not self.cluster:
            engine = "MergeTree"
        else:
            # One replica set across the whole cluster (no {shard}): every node sees
            # every applied version without a Distributed table.
            engine = (
                f"ReplicatedMergeTree('/clickhouse/tables/{self.database}/otelite_migrations', '{{shard}}-{{replica}}')"
            )
        return [
            (
                f"CREATE TABLE IF NOT EXISTS {self.database}.otelite_migrations{self.on_cluster} (\n{columns}\n)\n"
                f"ENGINE = {engine}\nORDER BY version"
            )
        ]


SHARD_KEY = "cityHash64(project_id, trace_id)"
# The spans table's columns: store/model.py's SCALAR_COLUMNS, then the row's version.
SPANS_COLUMNS = "".join(f"  {column.name} {column.clickhouse},\n" for column in SCALAR_COLUMNS) + "  version UInt64"


def new_span_columns(s: Schema, present: set[str]) -> list[str]:
    """ALTERs adding the scalar columns described after the spans table was made (`present`:
    its columns); spans stored before read NULL there."""
    missing = [column for column in SCALAR_COLUMNS if column.name not in present]
    for column in missing:
        if not column.clickhouse.startswith(("Nullable(", "LowCardinality(Nullable(")):
            raise RuntimeError(f"spans.{column.name}: a column added to existing tables must be Nullable")
    return [sql for column in missing for sql in s.add_column("spans", f"{column.name} {column.clickhouse}")]


def _v1_initial(s: Schema) -> list[str]:
    # Scalar columns only: what the mini-map, list and paging queries read. Today's
    # columns (SPANS_COLUMNS); a table made before a column was described gets it from
    # new_span_columns.
    # conversation_id is the span's own conversation (conversation_source = 1), else its
    # trace id (source 0); the conversation a source-0 span belongs to is resolved at
    # query time through trace_conversations (ClickHouse has no cheap per-row UPDATE).
    # The sort key is the span's identity, so ReplacingMergeTree keeps one row per span
    # whatever a re-export changes, and a trace's spans are one primary-key range: every
    # route reads spans by trace, after finding a conversation's traces in
    # trace_conversations. Small granules (1024 rows): those reads are point look-ups.
    spans = s.create_table(
        "spans",
        SPANS_COLUMNS,
        "ReplacingMergeTree(version)",
        f"PARTITION BY {_DAY_PARTITION}\nORDER BY (project_id, trace_id, span_id)"
        f"{s.ttl('start_ns')}\nSETTINGS ttl_only_drop_parts = 1, index_granularity = 1024",
        SHARD_KEY,
    )
    # Message bodies and raw attributes, apart from the scalars: only the chat view,
    # the list's search and export read them, always by trace.
    details = s.create_table(
        "span_details",
        """  project_id LowCardinality(String),
  trace_id String,
  span_id String,
  start_ns Int64,
  status_message String,
  attributes String CODEC(ZSTD(3)),
  events String CODEC(ZSTD(3)),
  links String CODEC(ZSTD(3)),
  resource String CODEC(ZSTD(3)),
  scope String CODEC(ZSTD(3)),
  content String CODEC(ZSTD(3)),
  version UInt64""",
        "ReplacingMergeTree(version)",
        f"PARTITION BY {_DAY_PARTITION}\nORDER BY (project_id, trace_id, span_id)"
        f"{s.ttl('start_ns')}\nSETTINGS ttl_only_drop_parts = 1, index_granularity = 1024",
        SHARD_KEY,
    )
    # One row per (conversation, trace) some span named; named_ns keeps the earliest
    # naming span's start, and a trace's own conversation is the earliest one named.
    # Ordered by conversation for "which traces are in conversation X"; the bloom
    # filter serves "which conversation is trace T in".
    mapping = s.create_table(
        "trace_conversations",
        """  project_id LowCardinality(String),
  conversation_id String,
  trace_id String,
  named_ns SimpleAggregateFunction(min, Int64),
  INDEX trace_conversations_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1""",
        "AggregatingMergeTree",
        f"ORDER BY (project_id, conversation_id, trace_id){s.ttl('named_ns')}",
        SHARD_KEY,
    )
    return [*spans, *details, *mapping]


def _v2_feedback(s: Schema) -> list[str]:
    # Feedback is written by people, a few rows at a time; a DELETE is a tombstone row
    # (is_deleted = 1, a newer version) that FINAL hides, not a mutation. Sharded by
    # conversation so a feedback row and its tombstone meet on one shard.
    return s.create_table(
        "feedback",
        """  project_id LowCardinality(String),
  conversation_id String,
  id String,
  trace_id Nullable(String),
  feedback_type LowCardinality(String),
  tags Array(String),
  ratings String,
  created_ns Int64,
  version UInt64,
  is_deleted UInt8""",
        "ReplacingMergeTree(version, is_deleted)",
        "ORDER BY (project_id, conversation_id, id)",
        "cityHash64(project_id, conversation_id)",
    )


def _v3_search_text(s: Schema) -> list[str]:
    # What the conversation list's search looks in: the user's new input and the
    # assistant's answers (store.search_text), kept beside the bodies it comes from.
    return s.add_column("span_details", "search_text String DEFAULT '' CODEC(ZSTD(3))")


MIGRATIONS: list[Callable[[Schema], list[str]]] = [_v1_initial, _v2_feedback, _v3_search_text]
SCHEMA_VERSION = len(MIGRATIONS)

# (table, time column) of every table under retention.
TTL_TABLES = (("spans", "start_ns"), ("span_details", "start_ns"), ("trace_conversations", "named_ns"))


def bootstrap(s: Schema) -> list[str]:
    """What must exist before the applied version can be read."""
    return [s.create_database(), *s.migrations_table()]
