"""The Starlette application: query routes over a Store."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from api.conversations import conversation_routes
from api.events import Broadcaster, event_routes
from api.page import page_routes
from store.base import Store


def create_app(
    store: Store, extra_routes: Sequence[BaseRoute] = (), broadcaster: Broadcaster | None = None
) -> Starlette:
    """`broadcaster` feeds GET /agents/events; the composition root has the writer publish
    to it after each commit (without one, the stream stays open and quiet)."""

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    routes: list[BaseRoute] = [Route("/health", health, methods=["GET"]), *extra_routes]
    routes += conversation_routes(store)
    routes += event_routes(broadcaster or Broadcaster())
    routes += page_routes()
    app = Starlette(routes=routes)
    app.state.store = store
    return app
