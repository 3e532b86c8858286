"""With auth on, a user never reads another project's spans, chat or feedback.

alice and bob each export the same four-turn conversation (`conv-1`) into their own
project through the real SDK with their own credentials; then each tries every query
route on the other's project.
"""

from __future__ import annotations

import base64

import httpx
import pytest

from otelite.auth import hash_password
from tests.agent_conversation import emit_conversation

USERS = [
    {"username": "alice", "password_hash": hash_password("alice-pw"), "read": ["proj-a"], "write": ["proj-a"]},
    {"username": "bob", "password_hash": hash_password("bob-pw"), "read": ["proj-b"], "write": ["proj-b"]},
]


def basic(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


ALICE, BOB = basic("alice", "alice-pw"), basic("bob", "bob-pw")


@pytest.fixture
def two_projects(make_server, make_provider):
    server = make_server(users=USERS)
    alice = emit_conversation(make_provider(server, headers={**ALICE, "project_id": "proj-a"}))
    bob = emit_conversation(make_provider(server, transport="http", headers={**BOB, "project_id": "proj-b"}))
    with httpx.Client(base_url=server.http_url) as client:
        yield client, alice, bob


def test_nothing_without_credentials(two_projects):
    client, alice, _ = two_projects
    calls = [
        ("POST", "/agents/conversations/spans", {"project_id": "proj-a", "conversation_ids": ["conv-1"]}),
        ("POST", "/agents/conversations/chat", {"project_id": "proj-a", "conversation_id": "conv-1"}),
        ("POST", "/agents/traces/chat", {"project_id": "proj-a", "trace_id": alice.traces[0]}),
        (
            "POST",
            "/agents/feedback",
            {"project_id": "proj-a", "conversation_id": "conv-1", "feedback_type": "wandb.agent_user_feedback"},
        ),
    ]
    for method, path, body in calls:
        for headers in ({}, basic("alice", "wrong"), basic("carol", "alice-pw")):
            response = client.request(method, path, json=body, headers=headers)
            assert response.status_code == 401, path
            assert response.headers["www-authenticate"] == 'Basic realm="otelite"'
    assert client.delete("/agents/feedback/x", params={"project_id": "proj-a"}).status_code == 401
    assert client.get("/health").status_code == 200
    assert client.get("/openapi.json").status_code == 200


def test_a_user_reads_only_their_projects_spans_and_chat(two_projects):
    client, alice, bob = two_projects
    own = client.post(
        "/agents/conversations/spans", json={"project_id": "proj-a", "conversation_ids": ["conv-1"]}, headers=ALICE
    )
    assert own.status_code == 200
    spans = own.json()["conversations"][0]["spans"]
    assert {s["trace_id"] for s in spans} == set(alice.traces)
    assert not {s["trace_id"] for s in spans} & set(bob.traces)

    for body in (
        {"project_id": "proj-b", "conversation_ids": ["conv-1"]},
        {"project_id": "proj-b", "conversation_ids": ["conv-1"], "started_after": "2020-01-01T00:00:00Z"},
    ):
        denied = client.post("/agents/conversations/spans", json=body, headers=ALICE)
        assert denied.status_code == 403
        assert denied.json() == {"detail": "alice may not read project 'proj-b'"}
    assert (
        client.post(
            "/agents/conversations/chat", json={"project_id": "proj-b", "conversation_id": "conv-1"}, headers=ALICE
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/agents/traces/chat", json={"project_id": "proj-b", "trace_id": bob.traces[0]}, headers=ALICE
        ).status_code
        == 403
    )
    # The project in the query string is checked as well as the one in the body.
    assert (
        client.post(
            "/agents/conversations/chat?project_id=proj-b",
            json={"project_id": "proj-a", "conversation_id": "conv-1"},
            headers=ALICE,
        ).status_code
        == 403
    )

    # Asking her own project for bob's trace finds nothing: the routes filter by project.
    theirs = client.post("/agents/traces/chat", json={"project_id": "proj-a", "trace_id": bob.traces[0]}, headers=ALICE)
    assert theirs.status_code == 200
    assert theirs.json()["messages"] == [] and theirs.json()["conversation_id"] is None
    chat = client.post(
        "/agents/conversations/chat", json={"project_id": "proj-b", "conversation_id": "conv-1"}, headers=BOB
    )
    assert [t["trace_id"] for t in chat.json()["turns"]] == bob.traces


def test_a_user_never_reads_or_deletes_another_projects_feedback(two_projects):
    client, _alice, bob = two_projects
    created = client.post(
        "/agents/feedback",
        json={
            "project_id": "proj-b",
            "conversation_id": "conv-1",
            "trace_id": bob.traces[0],
            "feedback_type": "wandb.agent_user_feedback",
            "tags": ["bob-only"],
            "ratings": [],
        },
        headers=BOB,
    )
    assert created.status_code == 200
    bob_feedback = created.json()["id"]

    # alice can neither add to, read, nor delete proj-b's feedback.
    assert (
        client.post(
            "/agents/feedback",
            json={"project_id": "proj-b", "conversation_id": "conv-1", "feedback_type": "wandb.agent_user_feedback"},
            headers=ALICE,
        ).status_code
        == 403
    )
    assert (
        client.delete(f"/agents/feedback/{bob_feedback}", params={"project_id": "proj-b"}, headers=ALICE).status_code
        == 403
    )
    assert (
        client.delete(f"/agents/feedback/{bob_feedback}", params={"project_id": "proj-a"}, headers=ALICE).status_code
        == 404
    )
    own = client.post(
        "/agents/conversations/chat",
        json={"project_id": "proj-a", "conversation_id": "conv-1", "include_feedback": True},
        headers=ALICE,
    ).json()
    assert own["feedback"] == [] and all(turn["feedback"] == [] for turn in own["turns"])
    minimap = client.post(
        "/agents/conversations/spans", json={"project_id": "proj-a", "conversation_ids": ["conv-1"]}, headers=ALICE
    )
    assert minimap.json()["conversations"][0]["spans_feedback"] == []

    # bob still has it.
    mine = client.post(
        "/agents/conversations/spans", json={"project_id": "proj-b", "conversation_ids": ["conv-1"]}, headers=BOB
    )
    assert [f["tags"] for f in mine.json()["conversations"][0]["spans_feedback"]] == [["bob-only"]]


def test_routes_that_show_several_projects_show_only_readable_ones(two_projects, make_provider):
    client, _, _ = two_projects
    projects = client.get("/agents/projects", headers=ALICE)
    assert [p["project_id"] for p in projects.json()["projects"]] == ["proj-a"]
    assert [p["project_id"] for p in client.get("/agents/projects", headers=BOB).json()["projects"]] == ["proj-b"]
    assert client.get("/agents/projects").status_code == 401
    assert client.get("/agents/events?project_id=proj-b", headers=ALICE).status_code == 403


def test_an_event_stream_for_every_project_hears_only_readable_ones(make_server, make_provider):
    from tests.agent_turns import agent_turn
    from tests.test_events import sse_events

    server = make_server(users=USERS)
    to_a = make_provider(server, headers={**ALICE, "project_id": "proj-a"}).get_tracer("agent")
    to_b = make_provider(server, headers={**BOB, "project_id": "proj-b"}).get_tracer("agent")
    with httpx.stream("GET", f"{server.http_url}/agents/events", headers=ALICE, timeout=10) as response:
        assert response.status_code == 200
        events = sse_events(response.iter_lines())
        assert next(events) == ("ready", {"project_id": None})
        # bob's commits come first: were they leaked, they would be the next events.
        agent_turn(to_b, "conv-b", 0, "Hi", "Hello")
        agent_turn(to_a, "conv-a", 0, "Hi", "Hello")
        name, data = next(events)
        assert (name, data["project_id"]) == ("spans", "proj-a")
