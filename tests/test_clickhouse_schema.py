"""The ClickHouse schema: what chdb creates, the DDL a cluster gets, URLs and retention."""

from __future__ import annotations

import pytest

from otelite.cli import main
from otelite.config import load_config
from otelite.store.clickhouse import parse_url
from otelite.store.clickhouse_schema import MIGRATIONS, Schema, bootstrap
from tests.conftest import stored_spans


def all_statements(s: Schema) -> list[str]:
    """Every DDL statement a fresh database gets, in order: what `open_store` runs."""
    return [*bootstrap(s), *(statement for migration in MIGRATIONS for statement in migration(s))]


@pytest.fixture
def store_backend() -> str:
    return "chdb"


def _tables(store) -> dict[str, tuple[str, str, str]]:
    rows = store.client.query(
        "SELECT name, engine, sorting_key, engine_full FROM system.tables WHERE database = {db:String}",
        {"db": store.schema.database},
    )
    return {name: (engine, key, full) for name, engine, key, full in rows}


def _column_types(store, table: str) -> dict[str, str]:
    rows = store.client.query(
        "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String}",
        {"db": store.schema.database, "t": table},
    )
    return dict(rows)


def test_tables_are_ordered_for_the_routes_lookups(make_store):
    tables = _tables(make_store())
    assert {name: engine for name, (engine, _, _) in tables.items()} == {
        "otelite_migrations": "MergeTree",
        "spans": "ReplacingMergeTree",
        "span_details": "ReplacingMergeTree",
        "trace_conversations": "AggregatingMergeTree",
        "feedback": "ReplacingMergeTree",
    }
    assert tables["spans"][1] == "project_id, trace_id, span_id"
    assert tables["span_details"][1] == "project_id, trace_id, span_id"
    assert tables["trace_conversations"][1] == "project_id, conversation_id, trace_id"
    assert tables["feedback"][1] == "project_id, conversation_id, id"
    assert tables["feedback"][2].startswith("ReplacingMergeTree(version, is_deleted)")
    assert "PARTITION BY toDate(fromUnixTimestamp64Nano(start_ns))" in tables["spans"][2]
    assert " TTL " not in tables["spans"][2]  # no retention unless configured


def test_scalar_columns_are_apart_from_message_bodies(make_store):
    spans = _column_types(make_store(), "spans")
    assert not {"attributes", "content", "events"} & set(spans)
    assert spans["status"] == "LowCardinality(String)"
    assert spans["kind"] == "LowCardinality(String)"
    for name in ("operation_name", "provider", "request_model", "response_model", "agent_name", "tool_name"):
        assert spans[name] == "LowCardinality(Nullable(String))", name
    assert spans["input_tokens"] == "Nullable(Int64)"


def test_retention_follows_the_configured_days(store_url, make_store):
    from otelite.store import open_store

    make_store().close()
    store = open_store(store_url + "&ttl_days=14")
    try:
        tables = _tables(store)
        for name in ("spans", "span_details"):
            assert "TTL toDateTime(fromUnixTimestamp64Nano(start_ns)) + toIntervalDay(14)" in tables[name][2]
        assert "+ toIntervalDay(14)" in tables["trace_conversations"][2]
    finally:
        store.close()
    # Dropping the option drops the retention again.
    store = open_store(store_url)
    try:
        assert all(" TTL " not in full for _, _, full in _tables(store).values())
        versions = store.client.query(f"SELECT version FROM {store.table('otelite_migrations')} ORDER BY version")
        assert versions == [(1,), (2,), (3,)]  # each migration once, however often opened
    finally:
        store.close()


def test_cluster_ddl_is_replicated_behind_distributed_tables():
    statements = all_statements(Schema(database="otel", cluster="team", ttl_days=30))
    assert statements[0] == "CREATE DATABASE IF NOT EXISTS otel ON CLUSTER 'team'"
    assert statements[1] == (
        "CREATE TABLE IF NOT EXISTS otel.otelite_migrations ON CLUSTER 'team' (\n"
        "  version UInt32,\n  applied_at DateTime DEFAULT now()\n)\n"
        "ENGINE = ReplicatedMergeTree('/clickhouse/tables/otel/otelite_migrations', '{shard}-{replica}')\n"
        "ORDER BY version"
    )
    local, distributed = statements[2], statements[3]
    assert local.startswith(
        "CREATE TABLE IF NOT EXISTS otel.spans_local ON CLUSTER 'team' (\n  project_id LowCardinality(String),"
    )
    assert local.endswith(
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/otel/spans_local', '{replica}', version)\n"
        "PARTITION BY toDate(fromUnixTimestamp64Nano(start_ns))\n"
        "ORDER BY (project_id, trace_id, span_id)\n"
        "TTL toDateTime(fromUnixTimestamp64Nano(start_ns)) + INTERVAL 30 DAY\n"
        "SETTINGS ttl_only_drop_parts = 1, index_granularity = 1024"
    )
    assert distributed == (
        "CREATE TABLE IF NOT EXISTS otel.spans ON CLUSTER 'team' AS otel.spans_local\n"
        "ENGINE = Distributed('team', 'otel', 'spans_local', cityHash64(project_id, trace_id))"
    )
    engines = [s.split("ENGINE = ")[1].split("(")[0] for s in statements[2:-2]]
    assert engines == [
        "ReplicatedReplacingMergeTree", "Distributed",  # spans
        "ReplicatedReplacingMergeTree", "Distributed",  # span_details
        "ReplicatedAggregatingMergeTree", "Distributed",  # trace_conversations
        "ReplicatedReplacingMergeTree", "Distributed",  # feedback
    ]  # fmt: skip
    assert statements[-3].endswith(
        "ENGINE = Distributed('team', 'otel', 'feedback_local', cityHash64(project_id, conversation_id))"
    )
    # A new column goes on the local tables and on the Distributed table in front.
    assert statements[-2:] == [
        "ALTER TABLE otel.span_details_local ON CLUSTER 'team' ADD COLUMN IF NOT EXISTS search_text String DEFAULT '' CODEC(ZSTD(3))",
        "ALTER TABLE otel.span_details ON CLUSTER 'team' ADD COLUMN IF NOT EXISTS search_text String DEFAULT '' CODEC(ZSTD(3))",
    ]
    assert (
        "ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/otel/trace_conversations_local', '{replica}')"
        in statements[6]
    )
    # Retention changes go to the local tables, on every node.
    assert Schema(database="otel", cluster="team", ttl_days=7).alter_ttl("spans", "start_ns") == (
        "ALTER TABLE otel.spans_local ON CLUSTER 'team' MODIFY TTL toDateTime(fromUnixTimestamp64Nano(start_ns)) + INTERVAL 7 DAY"
    )


def test_the_single_server_ddl_is_what_chdb_ran(make_store):
    store = make_store()
    assert all_statements(store.schema)[2].startswith(f"CREATE TABLE IF NOT EXISTS {store.schema.database}.spans (")
    assert "ON CLUSTER" not in " ".join(all_statements(store.schema))


def test_urls_select_and_configure_the_backend():
    url = parse_url("clickhouse://otel:s%40cret@ch.internal:8124/traces?cluster=team&ttl_days=30")
    assert (url.kind, url.host, url.port, url.username, url.password, url.secure) == (
        "clickhouse", "ch.internal", 8124, "otel", "s@cret", False,
    )  # fmt: skip
    assert url.schema == Schema(database="traces", cluster="team", ttl_days=30)
    assert parse_url("clickhouses://h/db").port == 8443
    assert parse_url("clickhouse://h").schema.database == "otelite"
    chdb = parse_url("chdb:///var/lib/otelite?database=team")
    assert (chdb.kind, chdb.path, chdb.schema.database) == ("chdb", "/var/lib/otelite", "team")
    with pytest.raises(ValueError, match="unknown option"):
        parse_url("clickhouse://h/db?ttl=3")
    with pytest.raises(ValueError, match="identifier"):
        parse_url("clickhouse://h/db;DROP")
    config = load_config(env={"OTELITE_STORE": "clickhouse://u:pw@h:8123/db"})
    assert config.store == "clickhouse://u:pw@h:8123/db" and config.sqlite_path is None
    assert config.store_label == "clickhouse://u:***@h:8123/db"
    assert load_config(env={}, db="x.db").store == "x.db"


def test_serve_and_stats_take_the_store_flag(server, store_url, capsys):
    # `server` came up on the chdb store through the `store` setting.
    assert type(server.store).__name__ == "ClickHouseStore"
    assert server.store.count_spans() == 0
    assert main(["stats", "--store", store_url]) == 0
    assert capsys.readouterr().out.splitlines() == [f"database: {store_url}", "spans: 0"]
    assert stored_spans(server.store) == []
