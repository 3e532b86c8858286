"""The web page at `/`: static HTML, CSS and JavaScript from api/static, no build step."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

STATIC_DIR = Path(__file__).parent / "static"
# Served by name from this fixed set, so no request path ever reaches the file system.
STATIC_FILES = {path.name: path for path in STATIC_DIR.iterdir() if path.is_file()}
# Revalidate each load: the page changes with otelite upgrades and is tiny.
NO_CACHE = {"Cache-Control": "no-cache"}


def page_routes() -> list[BaseRoute]:
    async def index(request: Request) -> Response:
        return FileResponse(STATIC_FILES["index.html"], headers=NO_CACHE)

    async def static(request: Request) -> Response:
        path = STATIC_FILES.get(request.path_params["path"])
        if path is None:
            return Response("not found", status_code=404, media_type="text/plain")
        return FileResponse(path, headers=NO_CACHE)

    return [
        Route("/", index, methods=["GET", "HEAD"]),
        Route("/static/{path}", static, methods=["GET", "HEAD"]),
    ]
