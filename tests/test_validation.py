"""Bad requests get FastAPI's 422 shape, never a 500; /openapi.json describes the routes."""

from __future__ import annotations

import httpx
import pytest

SPANS = "/agents/conversations/spans"
CHAT = "/agents/conversations/chat"
FEEDBACK = "/agents/feedback"
OK_CHAT = {"project_id": "p", "conversation_id": "c"}


def err(loc: list, msg: str, kind: str) -> dict:
    return {"loc": ["body", *loc], "msg": msg, "type": kind}


CASES = [
    pytest.param(SPANS, {}, [err(["project_id"], "Field required", "missing")], id="spans-missing-project"),
    pytest.param(
        SPANS,
        {"project_id": 5},
        [err(["project_id"], "Input should be a valid string", "string_type")],
        id="spans-project-not-string",
    ),
    pytest.param(
        SPANS,
        {"project_id": "p", "conversation_ids": "conv-1"},
        [err(["conversation_ids"], "Input should be a valid array", "list_type")],
        id="spans-ids-not-a-list",
    ),
    pytest.param(
        SPANS,
        {"project_id": "p", "conversation_ids": ["a", 7]},
        [err(["conversation_ids", 1], "Input should be a valid string", "string_type")],
        id="spans-id-not-string",
    ),
    pytest.param(
        SPANS,
        {"project_id": "p", "conversation_ids": [f"c{i}" for i in range(10_001)]},
        [err(["conversation_ids"], "List should have at most 10000 items after validation, not 10001", "too_long")],
        id="spans-10001-ids",
    ),
    pytest.param(
        SPANS,
        {"project_id": "p", "started_after": "yesterday"},
        [
            err(
                ["started_after"],
                "Input should be a valid datetime or date, input is too short",
                "datetime_from_date_parsing",
            )
        ],
        id="spans-bad-date-time",
    ),
    pytest.param(
        SPANS,
        {"project_id": "p", "started_before": "2026-01-01T00:00:00"},
        [err(["started_before"], "Input should have timezone info", "timezone_aware")],
        id="spans-date-time-without-offset",
    ),
    pytest.param(SPANS, [], [err([], "Input should be an object", "model_type")], id="spans-body-not-object"),
    pytest.param(
        CHAT,
        {"project_id": "p"},
        [err(["conversation_id"], "Field required", "missing")],
        id="chat-missing-conversation",
    ),
    pytest.param(
        CHAT,
        {**OK_CHAT, "limit": 51},
        [err(["limit"], "Input should be less than or equal to 50", "less_than_equal")],
        id="chat-limit-51",
    ),
    pytest.param(
        CHAT,
        {**OK_CHAT, "limit": -1},
        [err(["limit"], "Input should be greater than or equal to 0", "greater_than_equal")],
        id="chat-limit-negative",
    ),
    pytest.param(
        CHAT,
        {**OK_CHAT, "offset": -1},
        [err(["offset"], "Input should be greater than or equal to 0", "greater_than_equal")],
        id="chat-offset-negative",
    ),
    pytest.param(
        CHAT,
        {**OK_CHAT, "limit": "many"},
        [err(["limit"], "Input should be a valid integer, unable to parse string as an integer", "int_parsing")],
        id="chat-limit-not-integer",
    ),
    pytest.param(
        CHAT,
        {**OK_CHAT, "include_feedback": "maybe"},
        [err(["include_feedback"], "Input should be a valid boolean, unable to interpret input", "bool_parsing")],
        id="chat-include-feedback-not-bool",
    ),
    pytest.param(
        CHAT,
        {"limit": 100, "offset": -5},
        [
            err(["project_id"], "Field required", "missing"),
            err(["conversation_id"], "Field required", "missing"),
            err(["limit"], "Input should be less than or equal to 50", "less_than_equal"),
            err(["offset"], "Input should be greater than or equal to 0", "greater_than_equal"),
        ],
        id="chat-every-error-at-once",
    ),
    pytest.param(
        FEEDBACK,
        {"project_id": "p", "conversation_id": "c", "feedback_type": "thumbs", "ratings": [{"name": "x"}]},
        [
            err(
                ["feedback_type"],
                "Input should be 'wandb.agent_user_feedback' or 'wandb.agent_monitor'",
                "literal_error",
            ),
            err(["ratings", 0, "value"], "Field required", "missing"),
        ],
        id="feedback-bad-type-and-rating",
    ),
]


@pytest.mark.parametrize(("path", "body", "detail"), CASES)
def test_bad_body_is_422(server, path, body, detail):
    response = httpx.post(server.http_url + path, json=body)
    assert response.status_code == 422
    assert response.json() == {"detail": detail}


@pytest.mark.parametrize("path", [SPANS, CHAT, FEEDBACK])
@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (
            b'{"project_id": ',
            [
                {
                    "loc": ["body"],
                    "msg": "Invalid JSON: EOF while parsing a value at line 1 column 15",
                    "type": "json_invalid",
                }
            ],
        ),
        (b"", [{"loc": ["body"], "msg": "Input should be an object", "type": "model_type"}]),
        (
            b"\xff\xfe",
            [{"loc": ["body"], "msg": "Invalid JSON: expected value at line 1 column 1", "type": "json_invalid"}],
        ),
    ],
    ids=["truncated", "empty", "not-utf8"],
)
def test_malformed_json_is_422(server, path, raw, detail):
    response = httpx.post(server.http_url + path, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json() == {"detail": detail}


def test_openapi_describes_every_route(server):
    response = httpx.get(server.http_url + "/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"] == "3.1.0"
    assert set(doc["paths"]) == {
        "/",
        "/static/{path}",
        "/agents/conversations",
        "/agents/projects",
        "/agents/events",
        "/agents/conversations/spans",
        "/agents/conversations/chat",
        "/agents/traces/chat",
        "/agents/feedback",
        "/agents/feedback/{feedback_id}",
        "/v1/traces",
        "/health",
        "/openapi.json",
    }
    # ... which is every route the app serves.
    assert set(doc["paths"]) == {route.path for route in server.app.routes}
    schemas = doc["components"]["schemas"]
    assert {
        "AgentConversationSpansReq",
        "AgentConversationSpansRes",
        "AgentConversationSpans",
        "AgentConversationSpan",
        "AgentConversationSpanFeedback",
        "AgentConversationSpanRating",
        "AgentConversationChatReq",
        "AgentConversationChatRes",
        "AgentTraceChatReq",
        "AgentTraceChatRes",
        "AgentChatTurn",
        "AgentChatMessage",
        "AgentChatUserMessage",
        "AgentChatAgentStart",
        "AgentChatAssistantMessage",
        "AgentChatToolCall",
        "AgentChatAgentHandoff",
        "AgentChatContextCompacted",
        "AgentConversationsReq",
        "AgentConversationsRes",
        "AgentConversationSummary",
        "AgentProjectsRes",
        "HTTPValidationError",
    } <= set(schemas)
    spans = doc["paths"]["/agents/conversations/spans"]["post"]
    assert spans["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AgentConversationSpansReq"
    }
    assert spans["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AgentConversationSpansRes"
    }
    assert spans["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/HTTPValidationError"
    }
    assert schemas["AgentConversationSpansReq"]["properties"]["conversation_ids"]["maxItems"] == 10_000
    assert schemas["AgentConversationSpansReq"]["required"] == ["project_id"]
    limit = schemas["AgentConversationChatReq"]["properties"]["limit"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (0, 50, 50)
    assert schemas["AgentConversationSpan"]["properties"]["status"]["enum"] == ["UNSET", "OK", "ERROR"]
    # Every $ref resolves.
    refs = set()

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                refs.add(node["$ref"].removeprefix("#/components/schemas/"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    assert refs <= set(schemas)
