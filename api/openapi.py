"""GET /openapi.json: OpenAPI 3.1, its schemas generated from the pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from otelite.api import models

REF = "#/components/schemas/{model}"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


INVALID = _json(models.HTTPValidationError, "Validation error")


def _post(summary: str, operation_id: str, req: type[BaseModel], res: type[BaseModel]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "operationId": operation_id,
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(req)}}},
            "responses": {"200": _json(res, "Successful Response"), "422": INVALID},
        }
    }


def openapi_document(version: str) -> dict[str, Any]:
    schema_models: list[type[BaseModel]] = [
        models.AgentConversationSpansReq,
        models.AgentConversationSpansRes,
        models.AgentConversationChatReq,
        models.AgentConversationChatRes,
        models.AgentConversationsReq,
        models.AgentConversationsRes,
        models.AgentProjectsRes,
        models.AgentTraceChatReq,
        models.AgentTraceChatRes,
        models.AgentFeedbackCreateReq,
        models.AgentFeedbackCreateRes,
        models.AgentFeedbackDeleteRes,
        models.HTTPValidationError,
        models.HTTPError,
    ]
    # Request models as clients send them, responses as the server writes them.
    _, defs = models_json_schema(
        [(m, "validation" if m.__name__.endswith("Req") else "serialization") for m in schema_models],
        ref_template=REF,
    )
    paths = {
        "/agents/conversations/spans": _post(
            "The span mini-map of a list of conversations (scalar fields only)",
            "agent_conversation_spans",
            models.AgentConversationSpansReq,
            models.AgentConversationSpansRes,
        ),
        "/agents/conversations/chat": _post(
            "The multi-turn chat view of one conversation",
            "agent_conversation_chat",
            models.AgentConversationChatReq,
            models.AgentConversationChatRes,
        ),
        "/agents/conversations": _post(
            "A project's conversations, most recent activity first, with per-conversation stats",
            "agent_conversations",
            models.AgentConversationsReq,
            models.AgentConversationsRes,
        ),
        "/agents/projects": {
            "get": {
                "summary": "Every project with spans, most recent activity first",
                "operationId": "agent_projects",
                "responses": {"200": _json(models.AgentProjectsRes, "Successful Response")},
            }
        },
        "/agents/events": {
            "get": {
                "summary": "Live updates: server-sent events after each commit of spans",
                "operationId": "agent_events",
                "parameters": [
                    {
                        "name": "project_id",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                        "description": "Only this project's events (default: every project).",
                    },
                ],
                "responses": {
                    "200": {
                        "description": "An endless text/event-stream: `ready`, then `spans` events "
                        '`{"project_id", "conversation_ids", "trace_ids"}` (and `resync`); see docs/page.md',
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/": {
            "get": {
                "summary": "The web page: conversations, mini-maps and the chat view, live",
                "operationId": "page",
                "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}},
            }
        },
        "/static/{path}": {
            "get": {
                "summary": "The page's script and style sheet",
                "operationId": "page_static",
                "parameters": [{"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "The file"}, "404": {"description": "No such file"}},
            }
        },
        "/agents/traces/chat": _post(
            "The chat view of one trace (one turn, as the conversation view shows it)",
            "agent_traces_chat",
            models.AgentTraceChatReq,
            models.AgentTraceChatRes,
        ),
        "/agents/feedback": _post(
            "Create feedback on a conversation or one of its turns",
            "agent_feedback_create",
            models.AgentFeedbackCreateReq,
            models.AgentFeedbackCreateRes,
        ),
        "/agents/feedback/{feedback_id}": {
            "delete": {
                "summary": "Delete one feedback of a project",
                "operationId": "agent_feedback_delete",
                "parameters": [
                    {"name": "feedback_id", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "project_id", "in": "query", "required": True, "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": _json(models.AgentFeedbackDeleteRes, "Deleted"),
                    "404": _json(models.HTTPError, "No such feedback in this project"),
                    "422": INVALID,
                },
            }
        },
        "/v1/traces": {
            "post": {
                "summary": "OTLP/HTTP trace export (protobuf or OTLP-JSON, optionally gzip)",
                "operationId": "otlp_export_traces",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-protobuf": {"schema": {}},
                        "application/json": {"schema": {"type": "object"}},
                    },
                },
                "responses": {
                    "200": {"description": "ExportTraceServiceResponse, in the request's encoding"},
                    "400": {"description": "Undecodable body (a google.rpc.Status)"},
                    "413": {"description": "Request too large"},
                    "415": {"description": "Unsupported content type"},
                    "503": {"description": "Write queue full; retry after Retry-After"},
                },
            }
        },
        "/health": {
            "get": {
                "summary": "Liveness",
                "operationId": "health",
                "responses": {
                    "200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "operationId": "openapi",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "otelite", "version": version},
        "paths": paths,
        "components": {"schemas": defs["$defs"]},
    }
