"""The Starlette application: query routes over a Store."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from store.base import Store


def create_app(store: Store, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    routes: list[BaseRoute] = [Route("/health", health, methods=["GET"]), *extra_routes]
    app = Starlette(routes=routes)
    app.state.store = store
    return app
