"""HTTP plumbing shared by the routes: orjson responses and FastAPI-shaped errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
import pydantic
from starlette.requests import Request
from starlette.responses import Response

Model = TypeVar("Model", bound=pydantic.BaseModel)


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class RequestInvalid(Exception):
    """A request that failed validation; answered 422 as FastAPI would."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors


def _fastapi_errors(exc: pydantic.ValidationError, where: str) -> list[dict[str, Any]]:
    # FastAPI prefixes each location with where the value came from ("body", "query").
    return [
        {"loc": [where, *error["loc"]], "msg": error["msg"], "type": error["type"]}
        for error in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


async def read_body(request: Request, model: type[Model]) -> Model:
    """The JSON body validated as `model`; malformed JSON is a 422 json_invalid."""
    body = await request.body()
    try:
        return model.model_validate_json(body or b"null")
    except pydantic.ValidationError as exc:
        raise RequestInvalid(_fastapi_errors(exc, "body")) from None


def read_query(request: Request, model: type[Model]) -> Model:
    try:
        return model.model_validate(dict(request.query_params))
    except pydantic.ValidationError as exc:
        raise RequestInvalid(_fastapi_errors(exc, "query")) from None


async def request_invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestInvalid)
    return JSONResponse({"detail": exc.errors}, status_code=422)


def rfc3339(ns: int) -> str:
    """Nanoseconds since the epoch as RFC 3339 UTC with microseconds: 2026-01-02T03:04:05.123456Z."""
    seconds, rest = divmod(ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# Span times are signed 64-bit nanoseconds (1677..2262); a filter outside that range
# is clamped to it (it matches all or nothing), never passed on to overflow SQLite.
MIN_NS, MAX_NS = -(2**63), 2**63 - 1


def to_ns(moment: datetime | None) -> int | None:
    """An aware datetime as integer nanoseconds since the epoch (exact, no float)."""
    if moment is None:
        return None
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    ns = (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    return min(max(ns, MIN_NS), MAX_NS)
