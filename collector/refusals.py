"""How an export the pipeline refuses is answered, the same on both transports.

One table, so gRPC and OTLP/HTTP cannot drift apart: each refusal is a google.rpc
code (the gRPC status code of the same number) and its HTTP status.
"""

from __future__ import annotations

from google.rpc import code_pb2

from otelite.collector.pipeline import DecodeError, Forbidden, QueueFull, StorageFailed, TooManySpans, WriterClosed

REFUSALS: dict[type[Exception], tuple[int, int]] = {
    DecodeError: (code_pb2.INVALID_ARGUMENT, 400),
    TooManySpans: (code_pb2.RESOURCE_EXHAUSTED, 413),
    Forbidden: (code_pb2.PERMISSION_DENIED, 403),
    # Retryable: OTLP exporters try again later (HTTP adds Retry-After).
    QueueFull: (code_pb2.UNAVAILABLE, 503),
    WriterClosed: (code_pb2.UNAVAILABLE, 503),
    StorageFailed: (code_pb2.UNAVAILABLE, 503),
}
REFUSED = tuple(REFUSALS)


def refusal(exc: Exception) -> tuple[int, int]:
    """(google.rpc code, HTTP status) for one of the REFUSED exceptions."""
    return next(answer for kind, answer in REFUSALS.items() if isinstance(exc, kind))
