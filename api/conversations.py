"""POST /agents/conversations (the conversation list) and GET /agents/projects.

Both read the per-conversation stats the store keeps at ingest; neither reads a span.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from store.base import Store
from store.model import ConversationSummary, ProjectSummary

MAX_LIST_LIMIT = 100


class ConversationsRequest(BaseModel):
    project_id: str = Field(min_length=1)
    limit: int = Field(50, ge=0, le=MAX_LIST_LIMIT)
    offset: int = Field(0, ge=0)
    # Filter on the conversation's first span start: after is inclusive, before exclusive.
    started_after: datetime | None = None
    started_before: datetime | None = None
    # Words searched in user and assistant text; each must match (as a word prefix).
    search: str | None = Field(None, max_length=1000)


def json_response(content: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json")


def validation_error(exc: ValidationError) -> Response:
    """FastAPI's 422 shape: {"detail": [{"loc": ["body", ...], "msg", "type"}]}."""
    detail = [
        {"loc": ["body", *error["loc"]], "msg": error["msg"], "type": error["type"]}
        for error in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
    return json_response({"detail": detail}, status_code=422)


def to_ns(value: datetime | None) -> int | None:
    """A request date-time as Unix nanoseconds; one without an offset is taken as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def rfc3339(ns: int) -> str:
    """Unix nanoseconds as an RFC 3339 UTC time with microseconds, e.g. 2025-01-02T03:04:05.123456Z."""
    seconds, rest = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{rest // 1000:06d}Z"


def conversation_json(summary: ConversationSummary) -> dict[str, Any]:
    return {
        "conversation_id": summary.conversation_id,
        "turn_count": summary.turns,
        "span_count": summary.spans,
        "error_count": summary.errors,
        "input_tokens": summary.input_tokens,
        "output_tokens": summary.output_tokens,
        "started_at": rfc3339(summary.first_ns),
        "last_activity_at": rfc3339(summary.last_ns),
        "agents": summary.agents,
        "models": summary.models,
    }


def project_json(project: ProjectSummary) -> dict[str, Any]:
    return {
        "project_id": project.project_id,
        "conversation_count": project.conversations,
        "span_count": project.spans,
        "last_activity_at": rfc3339(project.last_ns),
    }


def conversation_routes(store: Store) -> list[BaseRoute]:
    async def list_conversations(request: Request) -> Response:
        try:
            body = ConversationsRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            return validation_error(exc)
        # The store is synchronous: read in a worker thread, not on the event loop.
        page = await run_in_threadpool(
            store.list_conversations,
            body.project_id,
            limit=body.limit,
            offset=body.offset,
            started_after_ns=to_ns(body.started_after),
            started_before_ns=to_ns(body.started_before),
            search=body.search,
        )
        return json_response(
            {
                "project_id": body.project_id,
                "total": page.total,
                "limit": body.limit,
                "offset": body.offset,
                "has_more": body.offset + len(page.conversations) < page.total,
                "conversations": [conversation_json(c) for c in page.conversations],
            }
        )

    async def list_projects(request: Request) -> Response:
        projects = await run_in_threadpool(store.list_projects)
        return json_response({"projects": [project_json(p) for p in projects]})

    return [
        Route("/agents/conversations", list_conversations, methods=["POST"]),
        Route("/agents/projects", list_projects, methods=["GET"]),
    ]
