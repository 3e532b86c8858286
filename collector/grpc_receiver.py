"""OTLP/gRPC: opentelemetry.proto.collector.trace.v1.TraceService/Export.

The method is registered with raw bytes in and out, so a body protobuf cannot parse
gets INVALID_ARGUMENT from us rather than gRPC's generic INTERNAL. grpcio handles gzip
(`grpc-encoding`) and answers RESOURCE_EXHAUSTED above `max_receive_message_length`.
"""

from __future__ import annotations

from concurrent import futures

import grpc
from google.rpc import code_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

from otelite.auth import Authenticator
from otelite.collector.pipeline import Exporter
from otelite.collector.refusals import REFUSED, refusal

SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
PROJECT_METADATA_KEYS = ("project_id", "x-project-id")


def project_from_metadata(context: grpc.ServicerContext) -> str | None:
    metadata = dict(context.invocation_metadata())
    for key in PROJECT_METADATA_KEYS:
        if value := metadata.get(key):
            return str(value)
    return None


class TraceReceiver:
    def __init__(self, pipeline: Exporter, authenticator: Authenticator | None = None) -> None:
        self.pipeline = pipeline
        self.authenticator = authenticator

    def export(self, body: bytes, context: grpc.ServicerContext) -> ExportTraceServiceResponse:
        principal = None
        if self.authenticator is not None and self.authenticator.enabled:
            # Same credentials as OTLP/HTTP: `authorization: Basic ...` or `Bearer <token>`.
            authorization = dict(context.invocation_metadata()).get("authorization")
            principal = self.authenticator.authenticate(str(authorization) if authorization else None)
            if principal is None:
                context.abort(
                    grpc.StatusCode.UNAUTHENTICATED,
                    "missing or wrong credentials: send authorization metadata (Basic or Bearer)",
                )
        try:
            result = self.pipeline.export(
                body, json=False, project_id=project_from_metadata(context), principal=principal
            )
        except REFUSED as exc:
            code, _ = refusal(exc)
            context.abort(grpc.StatusCode[code_pb2.Code.Name(code)], str(exc))
        response = ExportTraceServiceResponse()
        if result.rejected:
            response.partial_success.CopyFrom(
                ExportTracePartialSuccess(rejected_spans=result.rejected, error_message=result.error_message)
            )
        return response

    def handler(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Export": grpc.unary_unary_rpc_method_handler(
                    self.export,
                    request_deserializer=None,
                    response_serializer=ExportTraceServiceResponse.SerializeToString,
                )
            },
        )


def create_grpc_server(
    pipeline: Exporter,
    address: str,
    max_request_bytes: int,
    workers: int = 16,
    authenticator: Authenticator | None = None,
) -> tuple[grpc.Server, int]:
    """A started-ready gRPC server bound to `address`; returns it and the bound port."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="otelite-grpc"),
        options=[
            ("grpc.max_receive_message_length", max_request_bytes),
            ("grpc.so_reuseport", 0),
        ],
    )
    server.add_generic_rpc_handlers((TraceReceiver(pipeline, authenticator).handler(),))
    port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"could not bind the OTLP/gRPC receiver to {address}")
    return server, port
