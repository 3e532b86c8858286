"""OTLP/HTTP: POST /v1/traces, protobuf or JSON, optionally gzip-compressed.

Errors carry a google.rpc.Status in the request's encoding, as the OTLP/HTTP spec asks.
The body is read with a size cap, and a gzip body is inflated with the same cap, so a
small compressed bomb cannot exhaust memory.
"""

from __future__ import annotations

import zlib

from google.protobuf import json_format
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from otelite.collector.pipeline import Exporter
from otelite.collector.refusals import REFUSED, refusal

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
PROJECT_HEADERS = ("project_id", "x-project-id")
RETRY_AFTER_SECONDS = "1"


class BodyTooLarge(Exception):
    pass


def otlp_http_routes(pipeline: Exporter, max_request_bytes: int) -> list[Route]:
    async def export_traces(request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in (PROTOBUF, JSON):
            return _status(
                415,
                code_pb2.INVALID_ARGUMENT,
                f"unsupported content type {content_type!r}; use {PROTOBUF} or {JSON}",
                json=True,
            )
        is_json = content_type == JSON
        try:
            body = await _read_body(request, max_request_bytes)
        except BodyTooLarge as exc:
            return _status(413, code_pb2.RESOURCE_EXHAUSTED, str(exc), json=is_json)
        except (zlib.error, ValueError) as exc:
            return _status(400, code_pb2.INVALID_ARGUMENT, f"invalid request body: {exc}", json=is_json)
        project = next((v for k in PROJECT_HEADERS if (v := request.headers.get(k))), None)
        # Set by api.auth.AuthMiddleware when auth is on, which already answered 401.
        principal = request.scope.get("state", {}).get("principal")
        try:
            result = await run_in_threadpool(
                pipeline.export, body, json=is_json, project_id=project, principal=principal
            )
        except REFUSED as exc:
            code, http_status = refusal(exc)
            retry = {"Retry-After": RETRY_AFTER_SECONDS} if code == code_pb2.UNAVAILABLE else None
            return _status(http_status, code, str(exc), json=is_json, headers=retry)
        response = ExportTraceServiceResponse()
        if result.rejected:
            response.partial_success.rejected_spans = result.rejected
            response.partial_success.error_message = result.error_message
        return _message(200, response, json=is_json)

    return [Route("/v1/traces", export_traces, methods=["POST"])]


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"request body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding == "gzip":
        return _gunzip(body, limit)
    if encoding not in ("identity", ""):
        raise ValueError(f"unsupported content encoding {encoding!r}; use gzip or none")
    return body


def _gunzip(body: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    data = inflater.decompress(body, limit + 1)
    if len(data) > limit:
        raise BodyTooLarge(f"decompressed request body exceeds the limit of {limit} bytes")
    if not inflater.eof:
        raise ValueError("truncated gzip body")
    return data


def _message(status_code: int, message: object, *, json: bool, headers: dict[str, str] | None = None) -> Response:
    if json:
        body = json_format.MessageToJson(message, indent=None).encode()  # type: ignore[arg-type]
        return Response(body, status_code, headers=headers, media_type=JSON)
    return Response(message.SerializeToString(), status_code, headers=headers, media_type=PROTOBUF)  # type: ignore[attr-defined]


def _status(
    status_code: int, code: int, message: str, *, json: bool, headers: dict[str, str] | None = None
) -> Response:
    return _message(status_code, status_pb2.Status(code=code, message=message), json=json, headers=headers)
