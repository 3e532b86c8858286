"""Shared fixtures: a real otelite on real sockets, and real OTel SDK tracers aimed at it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from otelite.config import load_config
from otelite.server import Otelite
from tests.agent_conversation import PROJECT, Recorder, emit_conversation


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., Otelite]]:
    """Start otelite in-process on free ports; `make_server(db=..., **settings)`."""
    started: list[Otelite] = []

    def make(**settings: object) -> Otelite:
        settings.setdefault("db", str(tmp_path / "otelite.db"))
        server = Otelite(load_config(env={}, grpc_port=0, http_port=0, **settings))
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., Otelite]) -> Otelite:
    return make_server()


@pytest.fixture
def make_provider() -> Iterator[Callable[..., TracerProvider]]:
    """A real SDK TracerProvider exporting synchronously (SimpleSpanProcessor) to otelite.

    `make_provider(server, transport="grpc"|"http", headers={...}, resource={...})`.
    Each span is exported when it ends, so a test controls what arrives in which request.
    """
    providers: list[TracerProvider] = []

    def make(
        server: Otelite,
        transport: str = "grpc",
        headers: dict[str, str] | None = None,
        resource: dict[str, str] | None = None,
        compression: str | None = None,
    ) -> TracerProvider:
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
        providers.append(provider)
        return provider

    yield make
    for provider in providers:
        provider.shutdown()


@pytest.fixture
def conversation(server, make_provider) -> Iterator[tuple[httpx.Client, Recorder]]:
    """The four-turn agent conversation of tests/agent_conversation.py, exported to
    project PROJECT through the real SDK, and an HTTP client for otelite's API."""
    recorder = emit_conversation(make_provider(server, headers={"project_id": PROJECT}))
    with httpx.Client(base_url=server.http_url) as client:
        yield client, recorder


def read_db(path: str | Path, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
    """Read the SQLite file back, as a separate connection would."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()
