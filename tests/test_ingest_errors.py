"""Bad input, retries, limits, projects and restarts at the OTLP receivers.

Requests are built by the real SDK (its spans, its OTLP encoder) and then, where a test
needs a broken one, broken on purpose.
"""

from __future__ import annotations

import gzip
import sqlite3

import grpc
import httpx
import orjson
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.conftest import BACKENDS, read_db, stored_spans

# The tests that read the store back run on every backend.
on_every_backend = pytest.mark.backends(*BACKENDS)

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def sdk_spans(count: int = 2, resource: dict[str, str] | None = None, conversation: str = "conv-1"):
    """Finished spans from the real SDK, captured in memory."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "agent", **(resource or {})}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("agent")
    for i in range(count):
        with tracer.start_as_current_span(f"chat {i}") as span:
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.conversation.id", conversation)
    provider.shutdown()
    return list(memory.get_finished_spans())


def grpc_export(server, body: bytes, metadata: tuple[tuple[str, str], ...] = ()) -> ExportTraceServiceResponse:
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        call = channel.unary_unary(
            EXPORT, request_serializer=None, response_deserializer=ExportTraceServiceResponse.FromString
        )
        return call(body, metadata=metadata, timeout=10)


def test_malformed_protobuf_is_invalid_argument_and_400(server):
    with pytest.raises(grpc.RpcError) as err:
        grpc_export(server, b"\x0a\xff\xff\xff\xff\x0f garbage")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "invalid OTLP protobuf" in err.value.details()

    response = httpx.post(
        f"{server.http_url}/v1/traces",
        content=b"\x0a\xff\xff garbage",
        headers={"content-type": "application/x-protobuf"},
    )
    assert response.status_code == 400
    from google.rpc import status_pb2

    status = status_pb2.Status.FromString(response.content)
    assert status.code == 3 and "invalid OTLP protobuf" in status.message


def test_malformed_json_is_400_with_a_message(server):
    response = httpx.post(
        f"{server.http_url}/v1/traces", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith("invalid JSON")


@on_every_backend
def test_a_span_with_a_three_byte_id_is_rejected_alone(server):
    request = encode_spans(sdk_spans(2))
    bad = request.resource_spans[0].scope_spans[0].spans[0]
    bad.span_id = b"\x01\x02\x03"
    good_id = request.resource_spans[0].scope_spans[0].spans[1].span_id.hex()

    response = grpc_export(server, request.SerializeToString())

    assert response.partial_success.rejected_spans == 1
    assert response.partial_success.error_message == (
        "rejected 1 span(s): span 010203 ('chat 0'): span_id must be 8 non-zero bytes, got 3 bytes"
    )
    assert [r["span_id"] for r in stored_spans(server.store)] == [good_id]


@on_every_backend
def test_a_span_that_ends_before_it_starts_is_rejected_alone(server):
    request = encode_spans(sdk_spans(2))
    bad = request.resource_spans[0].scope_spans[0].spans[1]
    bad.end_time_unix_nano = bad.start_time_unix_nano - 1
    response = httpx.post(
        f"{server.http_url}/v1/traces",
        content=request.SerializeToString(),
        headers={"content-type": "application/x-protobuf"},
    )
    assert response.status_code == 200
    partial = ExportTraceServiceResponse.FromString(response.content).partial_success
    assert partial.rejected_spans == 1
    assert "end time is before start time" in partial.error_message
    assert len(stored_spans(server.store)) == 1


@on_every_backend
def test_otlp_json_with_hex_ids_and_string_int64(server):
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "js-agent"}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "ai"},
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "parentSpanId": "eee19b7ec3c1b173",
                                "name": "chat gpt-4o-mini",
                                "kind": 3,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000001500000000",
                                "attributes": [
                                    {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                                    {"key": "gen_ai.conversation.id", "value": {"stringValue": "c-json"}},
                                    {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "31"}},
                                    {"key": "gen_ai.request.temperature", "value": {"doubleValue": 0.2}},
                                    {
                                        "key": "tags",
                                        "value": {
                                            "arrayValue": {"values": [{"stringValue": "a"}, {"boolValue": True}]}
                                        },
                                    },
                                    {
                                        "key": "meta",
                                        "value": {
                                            "kvlistValue": {"values": [{"key": "k", "value": {"intValue": "1"}}]}
                                        },
                                    },
                                ],
                                "status": {"code": 2, "message": "rate limited"},
                            },
                            {"traceId": "not-hex", "spanId": "eee19b7ec3c1b175", "name": "broken"},
                        ],
                    }
                ],
            }
        ]
    }
    response = httpx.post(
        f"{server.http_url}/v1/traces",
        content=gzip.compress(orjson.dumps(body)),
        headers={"content-type": "application/json", "content-encoding": "gzip", "project_id": "p-json"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "partialSuccess": {
            "rejectedSpans": "1",
            "errorMessage": "rejected 1 span(s): span eee19b7ec3c1b175 ('broken'): "
            "trace_id must be 16 non-zero bytes, got 0 bytes",
        }
    }
    [row] = stored_spans(server.store)
    assert {k: row[k] for k in ("project_id", "trace_id", "span_id", "parent_span_id", "kind", "status")} == {
        "project_id": "p-json",
        "trace_id": "5b8efff798038103d269b633813fc60c",
        "span_id": "eee19b7ec3c1b174",
        "parent_span_id": "eee19b7ec3c1b173",
        "kind": "CLIENT",
        "status": "ERROR",
    }
    assert (row["start_ns"], row["duration_ms"], row["input_tokens"]) == (1700000000000000000, 1500, 31)
    [details] = server.store.iter_spans()
    assert details.status_message == "rate limited"
    assert details.attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.conversation.id": "c-json",
        "gen_ai.usage.input_tokens": 31,
        "gen_ai.request.temperature": 0.2,
        "tags": ["a", True],
        "meta": {"k": 1},
    }
    assert details.resource == {"service.name": "js-agent"}


@on_every_backend
def test_the_same_span_exported_twice_is_stored_once(server):
    spans = sdk_spans(3)
    exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{server.grpc_port}", insecure=True)
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    assert exporter.export(spans[1:]) == SpanExportResult.SUCCESS  # an exporter retry
    exporter.shutdown()
    assert server.store.count_spans() == 3
    assert len(list(server.store.iter_spans())) == 3  # one details row each


@on_every_backend
def test_the_last_write_wins(server):
    request = encode_spans(sdk_spans(1))
    grpc_export(server, request.SerializeToString())
    request.resource_spans[0].scope_spans[0].spans[0].name = "chat renamed"
    grpc_export(server, request.SerializeToString())
    assert [r["name"] for r in stored_spans(server.store)] == ["chat renamed"]


def test_an_oversized_request_is_resource_exhausted_and_413(make_server):
    server = make_server(limits={"max_request_bytes": 2048})
    big = encode_spans(sdk_spans(40)).SerializeToString()
    assert len(big) > 2048
    with pytest.raises(grpc.RpcError) as err:
        grpc_export(server, big)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

    response = httpx.post(
        f"{server.http_url}/v1/traces", content=big, headers={"content-type": "application/x-protobuf"}
    )
    assert response.status_code == 413
    # Compressed small, inflated too big: refused as well.
    response = httpx.post(
        f"{server.http_url}/v1/traces",
        content=gzip.compress(big),
        headers={"content-type": "application/x-protobuf", "content-encoding": "gzip"},
    )
    assert response.status_code == 413
    # A request within the limit still goes through afterwards.
    assert grpc_export(server, encode_spans(sdk_spans(1)).SerializeToString()).partial_success.rejected_spans == 0
    assert read_db(server.config.sqlite_path, "SELECT count(*) AS n FROM spans")[0]["n"] == 1


def test_too_many_spans_in_one_request(make_server):
    server = make_server(limits={"max_spans_per_request": 3})
    with pytest.raises(grpc.RpcError) as err:
        grpc_export(server, encode_spans(sdk_spans(4)).SerializeToString())
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "limit is 3" in err.value.details()


def test_unsupported_content_type_is_415(server):
    response = httpx.post(f"{server.http_url}/v1/traces", content=b"x", headers={"content-type": "text/plain"})
    assert response.status_code == 415


@on_every_backend
def test_project_from_header_then_resource_then_default(make_server):
    server = make_server(default_project="fallback")
    grpc_export(
        server,
        encode_spans(sdk_spans(1, conversation="a")).SerializeToString(),
        metadata=(("project_id", "from-header"),),
    )
    grpc_export(
        server,
        encode_spans(sdk_spans(1, conversation="b")).SerializeToString(),
        metadata=(("x-project-id", "from-x-header"),),
    )
    grpc_export(
        server,
        encode_spans(sdk_spans(1, resource={"project.id": "from-resource"}, conversation="c")).SerializeToString(),
    )
    grpc_export(server, encode_spans(sdk_spans(1, conversation="d")).SerializeToString())
    rows = sorted((r["conversation_id"], r["project_id"]) for r in stored_spans(server.store))
    assert rows == [
        ("a", "from-header"),
        ("b", "from-x-header"),
        ("c", "from-resource"),
        ("d", "fallback"),
    ]


@on_every_backend
def test_the_same_ids_in_two_projects_are_two_spans(server):
    body = encode_spans(sdk_spans(1)).SerializeToString()
    grpc_export(server, body, metadata=(("project_id", "team-a"),))
    grpc_export(server, body, metadata=(("project_id", "team-b"),))
    assert sorted(r["project_id"] for r in stored_spans(server.store)) == ["team-a", "team-b"]


@on_every_backend
def test_a_restart_keeps_the_data(make_server, tmp_path, store_backend):
    db = str(tmp_path / "kept.db")
    first = make_server(db=db)
    grpc_export(first, encode_spans(sdk_spans(2)).SerializeToString())
    first.stop()
    second = make_server(db=db)
    grpc_export(second, encode_spans(sdk_spans(1, conversation="after")).SerializeToString())
    conversations = [r["conversation_id"] for r in stored_spans(second.store)]
    assert sorted(conversations) == ["after", "conv-1", "conv-1"]
    if store_backend == "sqlite":
        assert read_db(db, "PRAGMA integrity_check")[0][0] == "ok"


def test_a_storage_failure_is_unavailable_and_later_exports_still_work(make_server):
    # Another process holding the database's write lock stands in for a failing disk;
    # the commit gives up after a short busy timeout instead of the default 30 s. (Ingest
    # in the server process, whose connection the test can reach; with worker processes
    # the same refusal is shown by a worker dying mid-commit, in tests/test_ingest_workers.py.)
    server = make_server(writer={"processes": 0})
    blocker = sqlite3.connect(server.config.sqlite_path, isolation_level=None, timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")  # holds the write lock
    writer_store = server.store
    writer_store._write_conn.execute("PRAGMA busy_timeout = 50")
    try:
        with pytest.raises(grpc.RpcError) as err:
            grpc_export(server, encode_spans(sdk_spans(1)).SerializeToString())
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "could not store the spans: database is locked" in err.value.details()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    grpc_export(server, encode_spans(sdk_spans(2, conversation="after")).SerializeToString())
    assert [
        tuple(r) for r in read_db(server.config.sqlite_path, "SELECT conversation_id, count(*) FROM spans GROUP BY 1")
    ] == [("after", 2)]
