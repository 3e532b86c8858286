"""A burst of hostile requests over gRPC and HTTP: each gets a clear status, the
server stays up, and the data stored before the burst is untouched."""

from __future__ import annotations

import gzip
import json

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from tests.conftest import read_db

LIMITS = {"max_request_bytes": 64 * 1024, "max_spans_per_request": 10, "max_attribute_bytes": 1024}
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
NOW = 1_764_000_000_000_000_000


def span(n: int, **fields) -> Span:
    defaults = {
        "trace_id": bytes([7] * 15 + [n % 256]),
        "span_id": bytes([1] * 7 + [n % 256]),
        "name": f"chat {n}",
        "start_time_unix_nano": NOW + n,
        "end_time_unix_nano": NOW + n + 1_000_000,
    }
    return Span(**{**defaults, **fields})


def request(*spans: Span) -> bytes:
    return ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])]
    ).SerializeToString()


@pytest.fixture
def hostile_server(make_server):
    return make_server(limits=LIMITS)


@pytest.fixture
def export(hostile_server):
    channel = grpc.insecure_channel(f"127.0.0.1:{hostile_server.grpc_port}")
    call = channel.unary_unary(EXPORT, response_deserializer=ExportTraceServiceResponse.FromString)
    yield lambda body: call(body, metadata=(("project_id", "burst"),), timeout=10)
    channel.close()


def grpc_status(export, body: bytes) -> grpc.StatusCode:
    try:
        export(body)
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def snapshot(db: str) -> list[dict]:
    return [dict(r) for r in read_db(db, "SELECT * FROM spans JOIN span_details USING (id) ORDER BY span_id")]


def test_hostile_burst_gets_clear_answers_and_leaves_earlier_data_alone(hostile_server, export, make_provider):
    db = hostile_server.config.sqlite_path
    tracer = make_provider(hostile_server, headers={"project_id": "earlier"}).get_tracer("agent")
    with tracer.start_as_current_span("invoke_agent triage") as s:
        s.set_attribute("gen_ai.operation.name", "invoke_agent")
        s.set_attribute("gen_ai.conversation.id", "conv-earlier")
    before = snapshot(db)
    assert len(before) == 1

    # gRPC: garbage, truncated, oversize, too many spans -> a clear status each.
    valid = request(span(1, name="x" * 200))
    assert grpc_status(export, b"\xff" * 100) is grpc.StatusCode.INVALID_ARGUMENT
    assert grpc_status(export, valid[:-50]) is grpc.StatusCode.INVALID_ARGUMENT
    assert grpc_status(export, valid.replace(b"x" * 4, b"\xff\xfe\xfd\xfc")) is grpc.StatusCode.INVALID_ARGUMENT
    assert grpc_status(export, request(span(1, name="y" * 70_000))) is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert grpc_status(export, request(*(span(n) for n in range(11)))) is grpc.StatusCode.RESOURCE_EXHAUSTED

    # gRPC: bad spans are rejected one by one, next to a good one that is kept.
    response = export(
        request(
            span(2),
            span(3, trace_id=b"\1" * 5),
            span(4, span_id=b""),
            span(5, end_time_unix_nano=1),
            span(6, end_time_unix_nano=2**64 - 1),
        )
    )
    assert response.partial_success.rejected_spans == 4
    assert "trace_id must be 16 non-zero bytes, got 5 bytes" in response.partial_success.error_message
    assert "beyond the year 2262" in response.partial_success.error_message

    # gRPC: an over-long attribute is stored cut, and the cut is marked on the span.
    huge = KeyValue(key="gen_ai.tool.call.result", value=AnyValue(string_value="é" * 2000))
    response = export(request(span(7, attributes=[huge])))
    assert not response.HasField("partial_success")
    attributes = json.loads(
        read_db(
            db, "SELECT attributes FROM span_details JOIN spans USING (id) WHERE span_id = ?", (span(7).span_id.hex(),)
        )[0]["attributes"]
    )
    assert attributes["gen_ai.tool.call.result"] == "é" * 512 + "...[truncated 2976 bytes]"
    assert attributes["otelite.truncated"] == ["gen_ai.tool.call.result"]

    # HTTP: each hostile body gets 4xx with a google.rpc.Status message.
    url = f"{hostile_server.http_url}/v1/traces"
    pb = {"content-type": "application/x-protobuf"}
    js = {"content-type": "application/json"}
    bomb = gzip.compress(b"\0" * (LIMITS["max_request_bytes"] * 4))
    cases = [
        (b"\xff" * 100, pb, 400),
        (valid[:-50], pb, 400),
        (b"not json at all", js, 400),
        (b'{"resourceSpans": [', js, 400),
        (b"\xff\xfe{}", js, 400),
        (b"[1, 2, 3]", js, 400),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "\\ud800"}]}]}]}', js, 400),
        (b"[" * 50_000, js, 400),
        (gzip.compress(valid)[:-10], {**pb, "content-encoding": "gzip"}, 400),
        (valid, {**pb, "content-encoding": "br"}, 400),
        (bomb, {**pb, "content-encoding": "gzip"}, 413),
        (b"x" * (LIMITS["max_request_bytes"] + 1), pb, 413),
        (request(*(span(n) for n in range(11))), pb, 413),
        (b"{}", {"content-type": "text/plain"}, 415),
    ]
    with httpx.Client(timeout=10) as client:
        for body, headers, expected in cases:
            response = client.post(url, content=body, headers=headers)
            assert response.status_code == expected, (body[:40], response.text)
            if headers["content-type"] == "application/json" or expected == 415:
                assert response.json()["message"]
        bad_ids = {
            "resourceSpans": [
                {
                    "scopeSpans": [
                        {
                            "spans": [
                                {
                                    "traceId": "zz" * 16,
                                    "spanId": "01" * 8,
                                    "name": "bad",
                                    "startTimeUnixNano": "1",
                                    "endTimeUnixNano": "2",
                                },
                                {
                                    "traceId": "ab" * 16,
                                    "spanId": "02" * 8,
                                    "name": "good",
                                    "startTimeUnixNano": str(NOW),
                                    "endTimeUnixNano": str(NOW + 5),
                                },
                            ]
                        }
                    ]
                }
            ]
        }
        response = client.post(url, content=json.dumps(bad_ids), headers={**js, "project_id": "burst"})
        assert response.status_code == 200
        assert response.json()["partialSuccess"]["rejectedSpans"] == "1"
        assert client.get(f"{hostile_server.http_url}/health").json() == {"status": "ok"}

    # The server is up and serving; what was stored before the burst is exactly as it was.
    assert export(request(span(9))).partial_success.rejected_spans == 0
    after = [row for row in snapshot(db) if row["project_id"] == "earlier"]
    assert after == before
    stored = {row["name"] for row in snapshot(db) if row["project_id"] == "burst"}
    assert stored == {"chat 2", "chat 7", "chat 9", "good"}


def test_time_filters_beyond_the_nanosecond_range_are_answered_not_500(conversation):
    """Found by schemathesis: 2263 is past int64 nanoseconds; it filters, it does not overflow."""
    client, _ = conversation
    body = {"project_id": "proj-a", "conversation_ids": ["conv-1"]}
    far_future = client.post("/agents/conversations/spans", json={**body, "started_after": "2263-01-01T00:00:00Z"})
    assert far_future.status_code == 200
    assert far_future.json()["conversations"][0]["spans"] == []
    ancient = client.post(
        "/agents/conversations/spans",
        json={**body, "started_after": "0001-01-01T00:00:00Z", "started_before": "9999-12-31T23:59:59Z"},
    )
    assert ancient.status_code == 200
    assert len(ancient.json()["conversations"][0]["spans"]) > 0


def test_an_offset_beyond_64_bits_is_a_422_not_a_500(conversation):
    """Found by schemathesis: the offset is echoed in the answer, so it must fit JSON's int64."""
    client, _ = conversation
    body = {"project_id": "proj-a", "conversation_id": "conv-1", "offset": 2**64}
    response = client.post("/agents/conversations/chat", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "offset"]
    assert client.post("/agents/conversations/chat", json={**body, "offset": 2**63 - 1}).json()["turns"] == []


def test_a_list_offset_beyond_64_bits_is_a_422_not_a_500(conversation):
    """Found by schemathesis: SQLite's OFFSET is a 64-bit integer."""
    client, _ = conversation
    response = client.post("/agents/conversations", json={"project_id": "proj-a", "offset": 2**63})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "offset"]
    assert (
        client.post("/agents/conversations", json={"project_id": "proj-a", "offset": 2**63 - 1}).json()["conversations"]
        == []
    )
