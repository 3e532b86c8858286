"""Storage: the `Store` interface the collector writes through and the API reads from.

SQLite is the embedded default (`store.sqlite`); other backends implement the same
interface so neither side knows which one it talks to.
"""

from store.base import Store
from store.model import PruneResult, SpanRow

__all__ = ["PruneResult", "SpanRow", "Store", "open_store"]


CLICKHOUSE_SCHEMES = ("clickhouse://", "clickhouses://", "chdb://")


def open_store(url: str, **options: object) -> Store:
    """Open a store from a URL or path.

    `sqlite:///path.db` or a bare path: SQLite (`options` go to SQLiteStore).
    `clickhouse://user:pass@host:8123/db?cluster=c&ttl_days=30` (`clickhouses://` for
    TLS): a ClickHouse server through clickhouse-connect. `chdb:///data/dir`: ClickHouse
    in this process through chdb. Both need the `clickhouse` extra.
    """
    if url.startswith(CLICKHOUSE_SCHEMES):
        from store.clickhouse import ClickHouseStore

        return ClickHouseStore(url)
    from store.sqlite import SQLiteStore

    path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
    return SQLiteStore(path, **options)  # type: ignore[arg-type]
