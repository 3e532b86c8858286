"""POST /agents/feedback (create) and DELETE /agents/feedback/{feedback_id}?project_id=P."""

from __future__ import annotations

import time
import uuid

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from otelite.api.http import JSONResponse, read_body, read_query, rfc3339
from otelite.api.models import AgentFeedbackCreateReq, AgentFeedbackDeleteQuery
from otelite.store.base import Store
from otelite.store.model import Feedback


async def create_feedback(request: Request) -> Response:
    req = await read_body(request, AgentFeedbackCreateReq)
    store: Store = request.app.state.store
    feedback = Feedback(
        id=str(uuid.uuid4()),
        project_id=req.project_id,
        conversation_id=req.conversation_id,
        trace_id=req.trace_id,
        feedback_type=req.feedback_type,
        tags=req.tags,
        ratings=[r.model_dump() for r in req.ratings],
        created_ns=time.time_ns(),
    )
    await run_in_threadpool(store.add_feedback, feedback)
    return JSONResponse({"id": feedback.id, "created_at": rfc3339(feedback.created_ns)})


async def delete_feedback(request: Request) -> Response:
    # The project is part of the address, so one project can never delete another's.
    query = read_query(request, AgentFeedbackDeleteQuery)
    feedback_id = request.path_params["feedback_id"]
    store: Store = request.app.state.store
    if not await run_in_threadpool(store.delete_feedback, query.project_id, feedback_id):
        return JSONResponse({"detail": "feedback not found"}, status_code=404)
    return JSONResponse({"id": feedback_id})


def routes() -> list[Route]:
    return [
        Route("/agents/feedback", create_feedback, methods=["POST"]),
        Route("/agents/feedback/{feedback_id}", delete_feedback, methods=["DELETE"]),
    ]
