"""POST /agents/conversations (the conversation list) and GET /agents/projects.

Both read the per-conversation stats the store keeps at ingest; neither reads a span.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from otelite.api.auth import may_read
from otelite.api.http import JSONResponse, read_body, rfc3339, to_ns
from otelite.api.models import AgentConversationsReq
from otelite.store.base import Store
from otelite.store.model import ConversationSummary, ProjectSummary


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


async def list_conversations(request: Request) -> Response:
    req = await read_body(request, AgentConversationsReq)
    store: Store = request.app.state.store
    page = await run_in_threadpool(
        store.list_conversations,
        req.project_id,
        limit=req.limit,
        offset=req.offset,
        started_after_ns=to_ns(req.started_after),
        started_before_ns=to_ns(req.started_before),
        search=req.search,
    )
    return JSONResponse(
        {
            "project_id": req.project_id,
            "total": page.total,
            "limit": req.limit,
            "offset": req.offset,
            "has_more": req.offset + len(page.conversations) < page.total,
            "conversations": [conversation_json(c) for c in page.conversations],
        }
    )


async def list_projects(request: Request) -> Response:
    store: Store = request.app.state.store
    projects = await run_in_threadpool(store.list_projects)
    # With auth on, only the projects this caller may read exist for them.
    return JSONResponse({"projects": [project_json(p) for p in projects if may_read(request, p.project_id)]})


def routes() -> list[Route]:
    return [
        Route("/agents/conversations", list_conversations, methods=["POST"]),
        Route("/agents/projects", list_projects, methods=["GET"]),
    ]
