"""The mini-map route's JSON is rendered by SQLite (json_group_array) for speed; it must be
exactly what the store's span objects give, order included."""

from __future__ import annotations

import httpx
from opentelemetry import trace

from otelite.store.base import render_minimap

T0 = 1_750_000_000_000_000_000
MS = 1_000_000


def test_sqlite_rendered_minimap_equals_the_object_path(server, make_provider):
    tracer = make_provider(server, headers={"project_id": "p"}).get_tracer("agent")
    # Two conversations, turns interleaved in time; inside each trace two children share
    # a start time (the order falls to span_id) and end before their root, which names
    # the conversation last.
    for turn in range(3):
        for conversation in ("conv-b", "conv-a"):
            start = T0 + turn * 10_000 * MS + (0 if conversation == "conv-a" else 5_000 * MS)
            root = tracer.start_span("invoke_agent support", start_time=start)
            root.set_attribute("gen_ai.operation.name", "invoke_agent")
            root.set_attribute("gen_ai.conversation.id", conversation)
            context = trace.set_span_in_context(root)
            for name in ("chat gpt-4o", "execute_tool lookup"):
                child = tracer.start_span(name, context=context, start_time=start + MS)
                child.set_attribute("gen_ai.operation.name", name.split()[0])
                child.end(end_time=start + (300 if name.startswith("chat") else 20) * MS)
            root.end(end_time=start + 1_000 * MS)

    ids = ["conv-b", "missing", "conv-a", "conv-b"]
    response = httpx.post(
        f"{server.http_url}/agents/conversations/spans", json={"project_id": "p", "conversation_ids": ids}
    )
    assert response.status_code == 200
    answer = response.json()["conversations"]

    reference = {
        conversation: httpx.Response(200, content=spans).json()
        for conversation, spans in render_minimap(server.store.conversation_minimap("p", ["conv-a", "conv-b"])).items()
    }
    assert [entry["conversation_id"] for entry in answer] == ["conv-b", "missing", "conv-a"]
    assert [entry["spans"] for entry in answer] == [reference["conv-b"], [], reference["conv-a"]]
    assert [len(entry["spans"]) for entry in answer] == [9, 0, 9]
    first_turn = answer[2]["spans"][:3]
    assert next(s["operation_name"] for s in first_turn) == "invoke_agent"
    # The two children that started together come in span_id order.
    assert first_turn[1]["span_id"] < first_turn[2]["span_id"]
    assert all(isinstance(s["duration_ms"], int) for entry in answer for s in entry["spans"])
