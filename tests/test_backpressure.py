"""Backpressure: ingest that falls behind makes Export answer UNAVAILABLE / 503, and
every span that was acknowledged is in the store.

Ingest is held back for real: another connection holds the SQLite file's write lock
(an open write transaction), so the commit waits on the lock while new requests pile up
to the queue's bound. No clocks: each step waits for the state it needs.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable

import grpc
import httpx
import pytest
from google.rpc import code_pb2, status_pb2
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from tests.conftest import read_db
from tests.test_ingest_errors import grpc_export, sdk_spans

SPANS_PER_REQUEST = 5


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def request(conversation: str) -> bytes:
    return encode_spans(sdk_spans(SPANS_PER_REQUEST, conversation=conversation)).SerializeToString()


def export_in_background(server, conversation: str, body: bytes, outcomes: dict[str, object]) -> threading.Thread:
    """Export `body` on a thread; its response or status lands in outcomes[conversation]."""

    def run() -> None:
        try:
            outcomes[conversation] = grpc_export(server, body)
        except grpc.RpcError as exc:
            outcomes[conversation] = exc.code()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def assert_pushed_back(server) -> None:
    """Both receivers refuse a new export at once, retryably, instead of queueing it."""
    with pytest.raises(grpc.RpcError) as err:
        grpc_export(server, request("refused-grpc"))
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "write queue full" in err.value.details()

    response = httpx.post(
        f"{server.http_url}/v1/traces",
        content=request("refused-http"),
        headers={"content-type": "application/x-protobuf"},
    )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    status = status_pb2.Status.FromString(response.content)
    assert status.code == code_pb2.UNAVAILABLE
    assert "write queue full" in status.message


def assert_nothing_lost(server, pending: list[threading.Thread], outcomes: dict[str, object]) -> None:
    """Once the lock is free: the waiting exports were all acknowledged and stored, and
    what an OTLP exporter does with UNAVAILABLE, retry, now goes through."""
    for thread in pending:
        thread.join(10)
    assert {name: type(outcome).__name__ for name, outcome in outcomes.items()} == {
        "first": "ExportTraceServiceResponse",
        "second": "ExportTraceServiceResponse",
        "third": "ExportTraceServiceResponse",
    }
    stored = "SELECT conversation_id, count(*) FROM spans GROUP BY 1 ORDER BY 1"
    assert [tuple(r) for r in read_db(server.config.sqlite_path, stored)] == [("first", 5), ("second", 5), ("third", 5)]

    grpc_export(server, request("refused-grpc"))
    httpx.post(
        f"{server.http_url}/v1/traces",
        content=request("refused-http"),
        headers={"content-type": "application/x-protobuf"},
    ).raise_for_status()
    assert [tuple(r) for r in read_db(server.config.sqlite_path, stored)] == [
        ("first", 5),
        ("refused-grpc", 5),
        ("refused-http", 5),
        ("second", 5),
        ("third", 5),
    ]


@pytest.mark.parametrize("processes", [0, 1], ids=["in-process", "worker-process"])
def test_a_full_queue_answers_unavailable_and_503_and_loses_nothing(make_server, processes):
    # The one bound is on request bytes handed to ingest and not yet answered, on one
    # thread here or in a worker process alike: here room for exactly the three requests
    # below (the first, taken into a commit that waits on the lock, still counts).
    bodies = {name: request(name) for name in ("first", "second", "third")}
    server = make_server(writer={"processes": processes, "max_queue_bytes": sum(map(len, bodies.values()))})
    blocker = sqlite3.connect(server.config.sqlite_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # ingest takes the first request and waits on the lock
    outcomes: dict[str, object] = {}
    try:
        pending = []
        for waiting, name in enumerate(bodies, start=1):
            pending.append(export_in_background(server, name, bodies[name], outcomes))
            expected = sum(len(bodies[n]) for n in list(bodies)[:waiting])
            wait_for(lambda expected=expected: server.ingest.queued_bytes == expected, f"{name} to be handed to ingest")
        # ... and then the receivers push back instead of queueing more.
        assert_pushed_back(server)
        # Nothing was acknowledged while ingest could not commit.
        assert outcomes == {}
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert_nothing_lost(server, pending, outcomes)
