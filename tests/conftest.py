"""Shared fixtures: a real otelite on real sockets, and real OTel SDK tracers aimed at it."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from otelite.config import load_config
from otelite.server import Otelite
from tests.agent_conversation import PROJECT, Recorder, emit_conversation

# The store backends the route- and store-level suites run against. A module opts in
# with `pytestmark = pytest.mark.backends(*BACKENDS)`; one test changes that with its
# own `@pytest.mark.backends(...)`. "chdb": ClickHouseStore on the in-process engine.
BACKENDS = ("sqlite", "chdb")
# Also "clickhouse": the same ClickHouseStore through clickhouse-connect over HTTP (the
# production client) to that same engine (tests/clickhouse_http.py). Its SQL is the
# chdb path's, so it runs where the client itself matters (types, escaping, inserts,
# long parameters), not every route test a third time.
ALL_CLIENTS = (*BACKENDS, "clickhouse")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("backends")
    if marker is not None and "store_backend" in metafunc.fixturenames:
        metafunc.parametrize("store_backend", marker.args, indirect=True)


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """chdb runs one embedded ClickHouse per process, on one data directory: every chdb
    test shares it, each in a database of its own. In memory (/dev/shm) where there is
    one: every insert writes a part's files, three times faster there."""
    pytest.importorskip("chdb")
    from chdb import session

    in_memory = os.access("/dev/shm", os.W_OK)
    path = (
        Path(tempfile.mkdtemp(prefix="otelite-chdb-", dir="/dev/shm")) if in_memory else tmp_path_factory.mktemp("chdb")
    )
    # The engine boots with the first session on a path and stops with the last one
    # (0.2 s each way): this one keeps it up between tests.
    keeper = session.Session(str(path))
    yield path
    keeper.close()
    if in_memory:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def clickhouse_http(chdb_path: Path) -> Iterator[Any]:
    """ClickHouse's HTTP interface on 127.0.0.1, served by chdb (see tests/clickhouse_http.py)."""
    from tests.clickhouse_http import ClickHouseHTTP

    server = ClickHouseHTTP(str(chdb_path)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def store_backend(request: pytest.FixtureRequest) -> str:
    """Which store `make_server`, `make_store` and `shared_server` use: "sqlite" unless
    parametrised. Module-scoped (it holds nothing), so a module's shared server can be
    one per backend; pytest then runs a module's tests grouped by backend."""
    return getattr(request, "param", "sqlite")


def new_store_url(store_backend: str, directory: Path, request: pytest.FixtureRequest) -> str:
    """A fresh, empty store of that backend: a file in `directory`, or a new database."""
    if store_backend == "sqlite":
        return str(directory / "otelite.db")
    database = f"t_{uuid.uuid4().hex}"
    if store_backend == "clickhouse":
        return f"clickhouse://default@127.0.0.1:{request.getfixturevalue('clickhouse_http').port}/{database}"
    return f"chdb://{request.getfixturevalue('chdb_path')}?database={database}"


@pytest.fixture
def store_url(store_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh, empty store of the test's backend."""
    return new_store_url(store_backend, tmp_path, request)


def start_server(directory: Path, store_backend: str, store_url: str, **settings: object) -> Otelite:
    """otelite in-process on free ports, its store at `store_url` (SQLite: in `directory`)."""
    settings.setdefault("db", str(directory / "otelite.db"))
    if store_backend != "sqlite":
        settings.setdefault("store", store_url)
    server = Otelite(load_config(env={}, grpc_port=0, http_port=0, **settings))
    server.start()
    return server


@pytest.fixture
def make_store(store_url: str) -> Iterator[Callable[[], Any]]:
    """`make_store()` opens the test's store (again: a second call is a restart)."""
    from otelite.store import open_store

    opened: list[Any] = []

    def make() -> Any:
        opened.append(open_store(store_url))
        return opened[-1]

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def make_server(tmp_path: Path, store_backend: str, store_url: str) -> Iterator[Callable[..., Otelite]]:
    """Start otelite in-process on free ports; `make_server(db=..., **settings)`."""
    started: list[Otelite] = []

    def make(**settings: object) -> Otelite:
        started.append(start_server(tmp_path, store_backend, store_url, **settings))
        return started[-1]

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., Otelite]) -> Otelite:
    return make_server()


def new_provider(
    server: Otelite,
    transport: str = "grpc",
    headers: dict[str, str] | None = None,
    resource: dict[str, str] | None = None,
    compression: str | None = None,
) -> TracerProvider:
    """A real SDK TracerProvider exporting synchronously (SimpleSpanProcessor) to otelite:
    each span is exported when it ends, so a test controls what arrives in which request."""
    if transport == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.exporter import Compression

        exporter = GrpcExporter(
            endpoint=f"127.0.0.1:{server.grpc_port}",
            insecure=True,
            headers=headers,
            compression=Compression.Gzip if compression == "gzip" else None,
        )
    else:
        from opentelemetry.exporter.otlp.proto.http import Compression

        exporter = HttpExporter(
            endpoint=f"{server.http_url}/v1/traces",
            headers=headers,
            compression=Compression.Gzip if compression == "gzip" else Compression.NoCompression,
        )
    provider = TracerProvider(resource=Resource.create({"service.name": "test-agent", **(resource or {})}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


@pytest.fixture
def make_provider() -> Iterator[Callable[..., TracerProvider]]:
    """`make_provider(server, transport="grpc"|"http", headers={...}, resource={...},
    compression=None|"gzip")`: a `new_provider`, shut down after the test."""
    providers: list[TracerProvider] = []

    def make(server: Otelite, **options: Any) -> TracerProvider:
        providers.append(new_provider(server, **options))
        return providers[-1]

    yield make
    for provider in providers:
        provider.shutdown()


@pytest.fixture
def conversation(server, make_provider) -> Iterator[tuple[httpx.Client, Recorder]]:
    """The four-turn agent conversation of tests/agent_conversation.py, exported to
    project PROJECT through the real SDK, and an HTTP client for otelite's API: on the
    test's own server, for a test that writes (see `shared_conversation` for one that reads)."""
    recorder = emit_conversation(make_provider(server, headers={"project_id": PROJECT}))
    with httpx.Client(base_url=server.http_url) as client:
        yield client, recorder


@contextmanager
def read_only(server: Otelite, module: str) -> Iterator[None]:
    """Around the tests of `module` that share a filled server: none of them may write to it
    (spans, projects, feedback on the shared conversation), or the fixture's teardown fails
    (reported on the module's last test, or at the setup of the next backend's first)."""

    def contents() -> tuple[Any, ...]:
        return server.store.count_spans(), server.store.list_projects(), server.store.list_feedback(PROJECT, ["conv-1"])

    before = contents()
    yield
    assert contents() == before, f"a test of {module} wrote to its shared server: give that test its own `server`"


@pytest.fixture(scope="module")
def shared_server(
    store_backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Otelite]:
    """One otelite per test module and backend, for tests that only read: a module-scoped
    fixture fills it once (`shared_conversation`, or a module's own) and holds it
    `read_only`. A test that writes takes its own `server` instead."""
    directory = tmp_path_factory.mktemp(f"shared-{store_backend}")
    server = start_server(directory, store_backend, new_store_url(store_backend, directory, request))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def shared_conversation(
    shared_server: Otelite, request: pytest.FixtureRequest
) -> Iterator[tuple[httpx.Client, Recorder]]:
    """`conversation`, emitted once per module and backend into `shared_server`, for the
    tests that only read it."""
    provider = new_provider(shared_server, headers={"project_id": PROJECT})
    try:
        recorder = emit_conversation(provider)
    finally:
        provider.shutdown()
    with read_only(shared_server, request.module.__name__), httpx.Client(base_url=shared_server.http_url) as client:
        yield client, recorder


def read_db(path: str | Path, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
    """Read the SQLite file back, as a separate connection would."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def stored_spans(store: Any, project_id: str | None = None) -> list[dict[str, Any]]:
    """Every stored span as the API sees it, on either backend: the scalar columns of
    SQLite's spans table, with `conversation_id` resolved, plus `content` (decoded
    JSON), ordered by start time then span id."""
    from otelite.store.sqlite import SQLiteStore

    if isinstance(store, SQLiteStore):
        where, params = ("WHERE s.project_id = ?", (project_id,)) if project_id is not None else ("", ())
        rows = read_db(
            store.path,
            f"SELECT s.*, d.content FROM spans s JOIN span_details d ON d.id = s.id {where} "
            "ORDER BY s.start_ns, s.span_id",
            params,
        )
        # `id` is only SQLite's key for the span (store/schema.py): not part of what was stored.
        return [
            # row.keys(): a sqlite3.Row iterates its values, not its keys.
            {**{key: row[key] for key in row.keys() if key != "id"}, "content": orjson.loads(row["content"])}  # noqa: SIM118
            for row in rows
        ]
    return _clickhouse_stored_spans(store, project_id)


def _clickhouse_stored_spans(store: Any, project_id: str | None) -> list[dict[str, Any]]:
    """stored_spans on ClickHouse: the same columns, names and conversation_source values
    (0 none, 1 own, 2 inherited) as SQLite's spans table, resolved at read time."""
    from otelite.store.clickhouse import RESOLVED_CONVERSATION
    from otelite.store.model import SCALAR_NAMES

    columns = [c for c in SCALAR_NAMES if c not in ("conversation_id", "conversation_source")]
    project = "s.project_id = {project_id:String}" if project_id is not None else "1"
    sql = f"""
SELECT {", ".join(f"s.{c}" for c in columns)},
       {RESOLVED_CONVERSATION} AS resolved_conversation_id,
       multiIf(s.conversation_source = 1, 1, owner.named_conversation_id != '', 2, 0) AS resolved_source,
       d.content
FROM {store.table("spans")} AS s FINAL
LEFT JOIN (
  SELECT project_id, trace_id, argMin(conversation_id, named_ns) AS named_conversation_id
  FROM {store.table("trace_conversations")} GROUP BY project_id, trace_id
) AS owner ON owner.project_id = s.project_id AND owner.trace_id = s.trace_id
LEFT JOIN (SELECT project_id, trace_id, span_id, content FROM {store.table("span_details")} FINAL) AS d
  ON d.project_id = s.project_id AND d.trace_id = s.trace_id AND d.span_id = s.span_id
WHERE {project}
ORDER BY s.start_ns, s.span_id"""
    rows = store.client.query(sql, {"project_id": project_id} if project_id is not None else None)
    names = [*columns, "conversation_id", "conversation_source", "content"]
    return [{**dict(zip(names, row)), "content": orjson.loads(row[-1] or "{}")} for row in rows]
