"""The query API's routes, one small module per resource."""

from __future__ import annotations

from starlette.routing import BaseRoute

from otelite.api.routes import conversation_list, conversations, feedback


def api_routes() -> list[BaseRoute]:
    return [*conversation_list.routes(), *conversations.routes(), *feedback.routes()]
