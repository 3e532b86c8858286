"""HTTP auth for every route: an ASGI middleware in front of the whole Starlette app.

With auth on (any user or ingest token configured):
- no or wrong credentials -> 401 with `WWW-Authenticate: Basic realm="otelite"`;
- a query route naming a project (`project_id` in the query string or in a JSON body)
  the caller may not read -> 403, before the route runs, so every route that takes a
  `project_id` is covered without code of its own;
- OTLP/HTTP ingest only needs valid credentials here; the pipeline checks each span's
  project against the caller's write list (403 when any is not allowed).
The authenticated `Principal` is left in `request.state.principal` for routes that need
finer checks: a route that shows several projects at once (GET /agents/projects, the
event stream without `project_id`) keeps only those `may_read` allows. `/health` and `/openapi.json` (no data) stay open.
"""

from __future__ import annotations

from urllib.parse import parse_qs

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from otelite.auth import REALM, Authenticator, Principal

OPEN_PATHS = frozenset({"/health", "/openapi.json"})
# Checked for write access per span by the pipeline, not for read access here.
INGEST_PATHS = frozenset({"/v1/traces"})


class AuthMiddleware:
    def __init__(self, app: ASGIApp, authenticator: Authenticator, max_body_bytes: int) -> None:
        self.app = app
        self.authenticator = authenticator
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.authenticator.enabled or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        authorization = Headers(scope=scope).get("authorization")
        # scrypt takes tens of milliseconds: keep it off the event loop.
        principal = await run_in_threadpool(self.authenticator.authenticate, authorization)
        if scope["type"] == "websocket":
            # A websocket is refused before it is accepted (the client sees HTTP 403);
            # its project can only be named in the query string.
            if principal is None or not all(principal.may_read(p) for p in _named_projects(scope, b"")):
                await send({"type": "websocket.close", "code": 1008})
                return
            scope.setdefault("state", {})["principal"] = principal
            await self.app(scope, receive, send)
            return
        if principal is None:
            response = JSONResponse({"detail": "Not authenticated"}, 401, headers={"WWW-Authenticate": REALM})
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        if scope["path"] in INGEST_PATHS:
            await self.app(scope, receive, send)
            return
        messages, body = await _read_body(receive, self.max_body_bytes)
        if body is None:
            await JSONResponse({"detail": "request body too large"}, 413)(scope, receive, send)
            return
        for project in _named_projects(scope, body):
            if not principal.may_read(project):
                await _forbidden(principal, project)(scope, receive, send)
                return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def may_read(request: HTTPConnection, project_id: str) -> bool:
    """Whether the caller may read `project_id`: for routes that show several projects
    (the project list, an event stream for every project). True when auth is off."""
    principal: Principal | None = request.scope.get("state", {}).get("principal")
    return principal is None or principal.may_read(project_id)


def _forbidden(principal: Principal, project: str) -> JSONResponse:
    return JSONResponse({"detail": f"{principal.name} may not read project {project!r}"}, 403)


async def _read_body(receive: Receive, limit: int) -> tuple[list[Message], bytes | None]:
    """Every body message (to replay to the route) and the joined body; None if too large."""
    messages: list[Message] = []
    size = 0
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return messages, None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return messages, b"".join(chunks)


def _named_projects(scope: Scope, body: bytes) -> list[str]:
    """Every project id the request names: `project_id` query parameters and JSON field.

    A body that is not JSON, or a project_id that is not a string, names nothing here;
    the route's own validation answers 422 for it.
    """
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    projects = list(query.get("project_id", []))
    if body:
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            document = None
        if isinstance(document, dict) and isinstance(document.get("project_id"), str):
            projects.append(document["project_id"])
    return projects
