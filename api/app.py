"""The Starlette application: query routes over a Store."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from otelite import __version__
from otelite.api.auth import AuthMiddleware
from otelite.api.events import Broadcaster, event_routes
from otelite.api.http import JSONResponse, RequestInvalid, request_invalid
from otelite.api.openapi import openapi_document
from otelite.api.page import page_routes
from otelite.api.routes import api_routes
from otelite.auth import Authenticator
from otelite.store.base import Store


def create_app(
    store: Store,
    extra_routes: Sequence[BaseRoute] = (),
    broadcaster: Broadcaster | None = None,
    authenticator: Authenticator | None = None,
    *,
    max_body_bytes: int,
) -> Starlette:
    """`broadcaster` feeds GET /agents/events; the composition root has the writer publish
    to it after each commit (without one, the stream stays open and quiet). With an
    `authenticator` that has users or tokens, every route but /health and /openapi.json
    needs credentials (api/auth.py)."""

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    document = openapi_document(__version__)

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    routes: list[BaseRoute] = [
        Route("/health", health, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        *api_routes(),
        *event_routes(broadcaster or Broadcaster()),
        *page_routes(),
        *extra_routes,
    ]
    middleware = []
    if authenticator is not None and authenticator.enabled:
        middleware.append(Middleware(AuthMiddleware, authenticator=authenticator, max_body_bytes=max_body_bytes))
    app = Starlette(routes=routes, middleware=middleware, exception_handlers={RequestInvalid: request_invalid})
    app.state.store = store
    return app
