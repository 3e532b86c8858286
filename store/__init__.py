"""Storage: the `Store` interface the collector writes through and the API reads from.

SQLite is the embedded default (`store.sqlite`); other backends implement the same
interface so neither side knows which one it talks to.
"""

from otelite.store.base import Store
from otelite.store.model import PruneResult, SpanRow

__all__ = ["PruneResult", "SpanRow", "Store", "open_store", "sqlite_path"]


CLICKHOUSE_SCHEMES = ("clickhouse://", "clickhouses://", "chdb://")


def open_store(url: str, **options: object) -> Store:
    """Open a store from a URL or path.

    `sqlite:///path.db` or a bare path: SQLite (`options` go to SQLiteStore).
    `clickhouse://user:pass@host:8123/db?cluster=c&ttl_days=30` (`clickhouses://` for
    TLS): a ClickHouse server through clickhouse-connect. `chdb:///data/dir`: ClickHouse
    in this process through chdb. Both need the `clickhouse` extra.
    """
    if url.startswith(CLICKHOUSE_SCHEMES):
        from otelite.store.clickhouse import ClickHouseStore

        return ClickHouseStore(url)
    from otelite.store.sqlite import SQLiteStore

    return SQLiteStore(sqlite_path(url), **options)  # type: ignore[arg-type]


def sqlite_path(url: str) -> str:
    """The file of a SQLite store URL (`sqlite:///path.db` or a bare path)."""
    return url.removeprefix("sqlite:///").removeprefix("sqlite://")
