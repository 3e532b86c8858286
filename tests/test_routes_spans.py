"""POST /agents/conversations/spans: the span mini-map, end to end."""

from __future__ import annotations

import sqlite3
from typing import Any

import httpx
import pytest

from otelite.api.models import AgentConversationSpansRes
from otelite.store.sqlite import MINIMAP
from tests.agent_conversation import PROJECT, Recorder
from tests.conftest import ALL_CLIENTS, BACKENDS

pytestmark = pytest.mark.backends(*BACKENDS)


def minimap(client: httpx.Client, **body: Any) -> dict[str, Any]:
    response = client.post("/agents/conversations/spans", json={"project_id": PROJECT, **body})
    assert response.status_code == 200, response.text
    payload = response.json()
    AgentConversationSpansRes.model_validate(payload)
    return payload


def expected_spans(r: Recorder, turns: tuple[int, ...] = (0, 1, 2, 3)) -> list[dict[str, Any]]:
    """conv-1's spans by start time: (operation or span name, label, status, duration)."""
    by_turn = [
        [
            ("invoke_agent", "t1.agent", "OK", 3000),
            ("chat", "t1.chat1", "OK", 800),
            ("execute_tool", "t1.tool", "OK", 200),
            ("GET api.weather.example", "t1.http", "OK", 180),  # no GenAI operation: the span name
            ("chat", "t1.chat2", "OK", 1600),
        ],
        [
            ("invoke_agent", "t2.agent", "OK", 4000),
            ("chat", "t2.chat1", "OK", 700),
            ("execute_tool", "t2.tool", "ERROR", 500),
            ("chat", "t2.chat2", "OK", 2400),
        ],
        [
            ("invoke_agent", "t3.agent", "OK", 6000),
            ("chat", "t3.chat1", "OK", 400),
            ("handoff", "t3.handoff", "OK", 10),
            ("invoke_agent", "t3.billing", "OK", 5200),
            ("chat", "t3.chat2", "OK", 5000),
        ],
        [
            ("invoke_agent", "t4.billing", "OK", 4000),
            ("chat", "t4.chat", "OK", 3800),
        ],
    ]
    return [
        {"operation_name": op, "trace_id": r.traces[turn], "span_id": r.ids[label], "status": status, "duration_ms": ms}
        for turn in turns
        for op, label, status, ms in by_turn[turn]
    ]


@pytest.mark.backends(*ALL_CLIENTS)
def test_minimap_exact_json(shared_conversation):
    client, r = shared_conversation
    assert minimap(client, conversation_ids=["conv-1"]) == {
        "conversations": [{"conversation_id": "conv-1", "spans": expected_spans(r), "spans_feedback": []}]
    }


def test_request_order_duplicates_collapsed_unknown_ids_empty(server, make_provider, conversation):
    client, r = conversation
    other = Recorder(make_provider(server, headers={"project_id": PROJECT}).get_tracer("sdk"))
    span = other.start("only", "chat m", 50_000, gen_ai__operation__name="chat", gen_ai__conversation__id="conv-2")
    other.end(span, 50_042)
    conv2 = {
        "conversation_id": "conv-2",
        "spans": [
            {
                "operation_name": "chat",
                "trace_id": other.traces[0],
                "span_id": other.ids["only"],
                "status": "OK",
                "duration_ms": 42,
            }
        ],
        "spans_feedback": [],
    }
    empty = {"conversation_id": "nope", "spans": [], "spans_feedback": []}
    conv1 = {"conversation_id": "conv-1", "spans": expected_spans(r), "spans_feedback": []}
    assert minimap(client, conversation_ids=["conv-2", "nope", "conv-1", "conv-2", "nope"]) == {
        "conversations": [conv2, empty, conv1]
    }
    assert minimap(client, conversation_ids=[]) == {"conversations": []}
    assert minimap(client) == {"conversations": []}


def test_time_filters(shared_conversation):
    """started_after is inclusive, started_before exclusive; any UTC offset works."""
    client, r = shared_conversation
    # 00:00:10 UTC, written in +01:00: exactly turn 2's first span.
    assert minimap(client, conversation_ids=["conv-1"], started_after="2026-01-01T01:00:10+01:00")["conversations"][0][
        "spans"
    ] == expected_spans(r, (1, 2, 3))
    assert minimap(client, conversation_ids=["conv-1"], started_before="2026-01-01T00:00:20Z")["conversations"][0][
        "spans"
    ] == expected_spans(r, (0, 1))
    assert minimap(
        client,
        conversation_ids=["conv-1"],
        started_after="2026-01-01T00:00:10Z",
        started_before="2026-01-01T00:00:20.000001Z",
    )["conversations"][0]["spans"] == expected_spans(r, (1,)) + [expected_spans(r, (2,))[0]]
    assert minimap(client, conversation_ids=["conv-1"], started_after="2027-01-01T00:00:00Z") == {
        "conversations": [{"conversation_id": "conv-1", "spans": [], "spans_feedback": []}]
    }


@pytest.mark.backends(*ALL_CLIENTS)
def test_ten_thousand_ids_are_accepted(shared_conversation):
    client, r = shared_conversation
    ids = [f"c{i}" for i in range(9_999)] + ["conv-1"]
    payload = minimap(client, conversation_ids=ids)
    assert len(payload["conversations"]) == 10_000
    assert payload["conversations"][-1]["spans"] == expected_spans(r)


@pytest.mark.backends("sqlite")
def test_minimap_reads_only_the_scalar_index(shared_conversation, shared_server):
    """The mini-map never touches span_details (no message body is read or decoded):
    SQLite's authorizer sees every table and column the query reads, and the plan is
    the covering index alone."""
    server = shared_server
    reads: set[tuple[str, str]] = set()

    def authorizer(action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None) -> int:
        if action == sqlite3.SQLITE_READ:
            reads.add((arg1 or "", arg2 or ""))
        return sqlite3.SQLITE_OK

    reader = server.store.reader()
    reader.set_authorizer(authorizer)
    try:
        spans = server.store.conversation_minimap(PROJECT, ["conv-1"])
    finally:
        reader.set_authorizer(None)
    assert len(spans) == 16
    # The authorizer runs when a statement is prepared (this thread's fresh connection
    # prepares it here); json_each is the id list, sqlite_master the schema load.
    assert {table for table, _ in reads} - {"json_each", "sqlite_master"} == {"spans"}
    assert {column for table, column in reads if table == "spans"} <= {
        "project_id",
        "conversation_id",
        "start_ns",
        "span_id",
        "trace_id",
        "operation_name",
        "name",
        "status",
        "duration_ms",
    }
    params = {"project_id": PROJECT, "conversation_ids": '["conv-1"]', "started_after": None, "started_before": None}
    plan = [row[3] for row in reader.execute("EXPLAIN QUERY PLAN " + MINIMAP, params)]
    assert plan[0] == "SEARCH spans USING COVERING INDEX spans_by_conversation (project_id=? AND conversation_id=?)"
    assert not any("span_details" in step for step in plan)


@pytest.mark.backends("chdb")
def test_minimap_on_clickhouse_reads_only_scalar_columns_by_primary_key(shared_conversation, shared_server):
    """ClickHouse's own plan for the mini-map: it reads `spans` (scalar columns only,
    looked up by its primary key (project_id, trace_id) for the conversations' traces)
    and the small trace -> conversation mapping; never span_details."""
    from otelite.store.clickhouse import RESOLVED_CONVERSATION, conversation_spans_sql

    store = shared_server.store
    sql = conversation_spans_sql(
        store.schema,
        f"{RESOLVED_CONVERSATION} AS resolved, s.trace_id, s.span_id, coalesce(s.operation_name, s.name), "
        "s.status, s.duration_ms, s.start_ns",
    )
    assert len(store.conversation_minimap(PROJECT, ["conv-1"])) == 16
    plan = [
        row[0].strip(" │└─├")
        for row in store.client.query(
            "EXPLAIN PLAN indexes = 1 " + sql, {"project_id": PROJECT, "conversation_ids": ["conv-1"]}
        )
    ]
    db = store.schema.database
    assert [line for line in plan if line.startswith("ReadFromMergeTree")] == [
        f"ReadFromMergeTree ({db}.spans)",
        f"ReadFromMergeTree ({db}.trace_conversations)",
    ]
    spans_read = plan.index(f"ReadFromMergeTree ({db}.spans)")
    columns = plan[spans_read + 1 :][[line.startswith("Output:") for line in plan[spans_read + 1 :]].index(True)]
    assert set(columns.removeprefix("Output: ").split(", ")) == {
        "project_id", "conversation_id", "conversation_source", "start_ns", "trace_id", "span_id",
        "operation_name", "name", "status", "duration_ms",
    }  # fmt: skip
    keys = plan.index("Keys:", spans_read)
    assert plan[keys + 1 : keys + 3] == ["project_id", "trace_id"]


def test_projects_are_isolated(server, make_provider, conversation):
    """Project B has its own conv-1; neither route shows it project A's spans."""
    client, r = conversation
    other = Recorder(make_provider(server, transport="http", headers={"project_id": "proj-b"}).get_tracer("sdk"))
    span = other.start(
        "b",
        "chat m",
        60_000,
        gen_ai__operation__name="chat",
        gen_ai__conversation__id="conv-1",
        gen_ai__input__messages=[{"role": "user", "parts": [{"type": "text", "content": "B's secret"}]}],
    )
    other.end(span, 60_005)
    b_spans = [
        {
            "operation_name": "chat",
            "trace_id": other.traces[0],
            "span_id": other.ids["b"],
            "status": "OK",
            "duration_ms": 5,
        }
    ]
    assert minimap(client, project_id="proj-b", conversation_ids=["conv-1"]) == {
        "conversations": [{"conversation_id": "conv-1", "spans": b_spans, "spans_feedback": []}]
    }
    assert minimap(client, conversation_ids=["conv-1"])["conversations"][0]["spans"] == expected_spans(r)
    assert minimap(client, project_id="proj-c", conversation_ids=["conv-1"]) == {
        "conversations": [{"conversation_id": "conv-1", "spans": [], "spans_feedback": []}]
    }
    b_chat = client.post(
        "/agents/conversations/chat", json={"project_id": "proj-b", "conversation_id": "conv-1"}
    ).json()
    assert b_chat["total_turns"] == 1
    assert [t["trace_id"] for t in b_chat["turns"]] == other.traces
    assert [m["user_message"]["text"] for m in b_chat["turns"][0]["messages"] if m["type"] == "user_message"] == [
        "B's secret"
    ]
    c_chat = client.post(
        "/agents/conversations/chat", json={"project_id": "proj-c", "conversation_id": "conv-1"}
    ).json()
    assert (c_chat["total_turns"], c_chat["turns"]) == (0, [])
