"""POST /agents/conversations/spans (the mini-map), POST /agents/conversations/chat and
POST /agents/traces/chat (one turn of the chat view, by trace id)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from otelite.api import chat
from otelite.api.http import JSONResponse, read_body, to_ns
from otelite.api.models import AgentConversationChatReq, AgentConversationSpansReq, AgentTraceChatReq
from otelite.store.base import Store
from otelite.store.model import DetailedSpan


async def conversation_spans(request: Request) -> Response:
    req = await read_body(request, AgentConversationSpansReq)
    store: Store = request.app.state.store
    return JSONResponse(await run_in_threadpool(minimap, store, req))


def minimap(store: Store, req: AgentConversationSpansReq) -> dict[str, Any]:
    ids = list(dict.fromkeys(req.conversation_ids))  # request order, duplicates collapsed
    entries: dict[str, dict[str, Any]] = {i: {"conversation_id": i, "spans": [], "spans_feedback": []} for i in ids}
    if ids:
        # Rendered by the store: 1,000 conversations are ~100,000 spans, too many to
        # build as Python objects within the mini-map's latency budget.
        rendered = store.conversation_minimap_json(
            req.project_id, ids, to_ns(req.started_after), to_ns(req.started_before)
        )
        for conversation_id, spans_json in rendered.items():
            entries[conversation_id]["spans"] = orjson.Fragment(spans_json)
        for feedback in store.list_feedback(req.project_id, ids):
            entries[feedback.conversation_id]["spans_feedback"].append(chat.spans_feedback(feedback))
    return {"conversations": list(entries.values())}


async def conversation_chat(request: Request) -> Response:
    req = await read_body(request, AgentConversationChatReq)
    store: Store = request.app.state.store
    return JSONResponse(await run_in_threadpool(chat_view, store, req))


def chat_view(store: Store, req: AgentConversationChatReq) -> dict[str, Any]:
    turns = store.conversation_turns(req.project_id, req.conversation_id)
    page = chat.page_turns(turns, req.limit, req.offset)
    wanted = [t.trace_id for t in ([page.context] if page.context else []) + page.turns]
    spans = store.trace_spans(req.project_id, wanted) if page.turns else []
    feedback = store.list_feedback(req.project_id, [req.conversation_id]) if req.include_feedback else None
    return chat.conversation_chat(req.conversation_id, turns, page, req.limit, req.offset, spans, feedback)


async def trace_chat(request: Request) -> Response:
    req = await read_body(request, AgentTraceChatReq)
    store: Store = request.app.state.store
    return JSONResponse(await run_in_threadpool(trace_chat_view, store, req))


def trace_chat_view(store: Store, req: AgentTraceChatReq) -> dict[str, Any]:
    spans = store.trace_spans(req.project_id, [req.trace_id])
    root = chat.root_span(spans)
    previous: list[DetailedSpan] = []
    feedback = None
    if root is not None:
        turns = [t.trace_id for t in store.conversation_turns(req.project_id, root.conversation_id)]
        position = turns.index(req.trace_id) if req.trace_id in turns else 0
        if position > 0:
            previous = store.trace_spans(req.project_id, [turns[position - 1]])
        if req.include_feedback:
            feedback = store.list_feedback(req.project_id, [root.conversation_id])
    elif req.include_feedback:
        feedback = []
    return chat.trace_chat(req.trace_id, spans, previous, feedback)


def routes() -> list[Route]:
    return [
        Route("/agents/conversations/spans", conversation_spans, methods=["POST"]),
        Route("/agents/conversations/chat", conversation_chat, methods=["POST"]),
        Route("/agents/traces/chat", trace_chat, methods=["POST"]),
    ]
