"""POST /agents/traces/chat: one trace's chat view, the same turn the conversation view shows."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from otelite.api.models import AgentTraceChatRes
from tests.agent_conversation import PROJECT
from tests.conftest import BACKENDS
from tests.test_routes_chat import expected_turns

pytestmark = pytest.mark.backends(*BACKENDS)


def trace_chat(client: httpx.Client, **body: Any) -> dict[str, Any]:
    response = client.post("/agents/traces/chat", json={"project_id": PROJECT, **body})
    assert response.status_code == 200, response.text
    payload = response.json()
    AgentTraceChatRes.model_validate(payload)
    return payload


def test_each_trace_is_its_turn_of_the_conversation(shared_conversation):
    client, r = shared_conversation
    # Turns 2-4 re-send the history; their trace view still shows only the new input.
    for trace_id, turn in zip(r.traces, expected_turns(r), strict=True):
        assert trace_chat(client, trace_id=trace_id) == {"conversation_id": "conv-1", **turn}


def test_turn_feedback_when_asked(conversation):
    client, r = conversation
    created = client.post(
        "/agents/feedback",
        json={
            "project_id": PROJECT,
            "conversation_id": "conv-1",
            "trace_id": r.traces[1],
            "feedback_type": "wandb.agent_user_feedback",
            "tags": ["helpful"],
        },
    ).json()
    client.post(  # on the whole conversation: not this turn's
        "/agents/feedback",
        json={"project_id": PROJECT, "conversation_id": "conv-1", "feedback_type": "wandb.agent_monitor"},
    )
    payload = trace_chat(client, trace_id=r.traces[1], include_feedback=True)
    assert payload["feedback"] == [
        {
            "trace_id": r.traces[1],
            "feedback_type": "wandb.agent_user_feedback",
            "tags": ["helpful"],
            "ratings": [],
            "id": created["id"],
            "created_at": created["created_at"],
        }
    ]
    assert payload["messages"] == expected_turns(r, fb=[])[1]["messages"]


def test_unknown_trace_and_other_projects_are_empty(shared_conversation):
    client, r = shared_conversation
    empty = {
        "conversation_id": None,
        "trace_id": "0" * 31 + "1",
        "root_span_name": "",
        "provider": None,
        "total_duration_ms": 0,
        "feedback": None,
        "messages": [],
    }
    assert trace_chat(client, trace_id="0" * 31 + "1") == empty
    response = client.post("/agents/traces/chat", json={"project_id": "someone-else", "trace_id": r.traces[0]})
    assert response.json() == {**empty, "trace_id": r.traces[0]}


def test_a_missing_trace_id_is_422(shared_conversation):
    client, _ = shared_conversation
    response = client.post("/agents/traces/chat", json={"project_id": PROJECT})
    assert response.status_code == 422
    assert response.json() == {"detail": [{"loc": ["body", "trace_id"], "msg": "Field required", "type": "missing"}]}
