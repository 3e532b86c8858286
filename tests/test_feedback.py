"""POST /agents/feedback and DELETE /agents/feedback/{id}?project_id=P, seen in both views."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.agent_conversation import PROJECT
from tests.conftest import ALL_CLIENTS, BACKENDS

pytestmark = pytest.mark.backends(*BACKENDS)

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def create(client: httpx.Client, **body: object) -> dict:
    response = client.post("/agents/feedback", json={"project_id": PROJECT, "conversation_id": "conv-1", **body})
    assert response.status_code == 200, response.text
    created = response.json()
    assert set(created) == {"id", "created_at"}
    assert UUID.match(created["id"]) and RFC3339.match(created["created_at"])
    return created


@pytest.mark.backends(*ALL_CLIENTS)
def test_feedback_shows_in_both_views_and_deletes(conversation):
    client, r = conversation
    t1 = r.traces[0]
    whole = create(
        client,
        feedback_type="wandb.agent_monitor",
        ratings=[{"name": "helpfulness", "value": 0.75, "confidence": 0.9, "reason": "solved it"}],
    )
    turn = create(client, trace_id=t1, feedback_type="wandb.agent_user_feedback", tags=["👍", "needs-review"])

    spans_feedback = [
        {
            "trace_id": None,
            "feedback_type": "wandb.agent_monitor",
            "tags": [],
            "ratings": [{"name": "helpfulness", "value": 0.75, "confidence": 0.9, "reason": "solved it"}],
        },
        {"trace_id": t1, "feedback_type": "wandb.agent_user_feedback", "tags": ["👍", "needs-review"], "ratings": []},
    ]
    minimap = client.post(
        "/agents/conversations/spans", json={"project_id": PROJECT, "conversation_ids": ["conv-1"]}
    ).json()
    assert minimap["conversations"][0]["spans_feedback"] == spans_feedback

    chat = client.post(
        "/agents/conversations/chat",
        json={"project_id": PROJECT, "conversation_id": "conv-1", "include_feedback": True},
    ).json()
    assert chat["feedback"] == [{**spans_feedback[0], **whole}]
    assert [t["feedback"] for t in chat["turns"]] == [[{**spans_feedback[1], **turn}], [], [], []]
    assert {str(m["feedback"]) for t in chat["turns"] for m in t["messages"]} == {"[]"}
    # Without include_feedback there is none, at any level.
    plain = client.post("/agents/conversations/chat", json={"project_id": PROJECT, "conversation_id": "conv-1"}).json()
    assert plain["feedback"] is None
    assert {str(t["feedback"]) for t in plain["turns"]} == {"None"}

    # Another project can neither delete it nor see it.
    assert client.delete(f"/agents/feedback/{turn['id']}", params={"project_id": "proj-b"}).status_code == 404
    other = client.post(
        "/agents/conversations/spans", json={"project_id": "proj-b", "conversation_ids": ["conv-1"]}
    ).json()
    assert other["conversations"][0]["spans_feedback"] == []

    response = client.delete(f"/agents/feedback/{turn['id']}", params={"project_id": PROJECT})
    assert (response.status_code, response.json()) == (200, {"id": turn["id"]})
    response = client.delete(f"/agents/feedback/{turn['id']}", params={"project_id": PROJECT})
    assert (response.status_code, response.json()) == (404, {"detail": "feedback not found"})

    minimap = client.post(
        "/agents/conversations/spans", json={"project_id": PROJECT, "conversation_ids": ["conv-1"]}
    ).json()
    assert minimap["conversations"][0]["spans_feedback"] == spans_feedback[:1]
    chat = client.post(
        "/agents/conversations/chat",
        json={"project_id": PROJECT, "conversation_id": "conv-1", "include_feedback": True},
    ).json()
    assert chat["feedback"] == [{**spans_feedback[0], **whole}]
    assert [t["feedback"] for t in chat["turns"]] == [[], [], [], []]


def test_feedback_on_an_unknown_conversation_shows_on_its_empty_entry(server):
    with httpx.Client(base_url=server.http_url) as client:
        create(client, conversation_id="not-yet", feedback_type="wandb.agent_user_feedback", tags=["early"])
        minimap = client.post(
            "/agents/conversations/spans", json={"project_id": PROJECT, "conversation_ids": ["not-yet"]}
        ).json()
    assert minimap == {
        "conversations": [
            {
                "conversation_id": "not-yet",
                "spans": [],
                "spans_feedback": [
                    {"trace_id": None, "feedback_type": "wandb.agent_user_feedback", "tags": ["early"], "ratings": []}
                ],
            }
        ]
    }


def test_delete_needs_the_project(shared_server):
    response = httpx.delete(shared_server.http_url + "/agents/feedback/some-id")
    assert response.status_code == 422
    assert response.json() == {"detail": [{"loc": ["query", "project_id"], "msg": "Field required", "type": "missing"}]}
