"""OTLP wire decoding: protobuf and OTLP-JSON export requests into plain span records.

Nothing here knows about storage or GenAI; it turns bytes into `SpanRecord`s and
says which spans it had to reject and why.
"""

from otelite.proto.decode import DecodedRequest, DecodeError, ValueLimits, decode_json, decode_protobuf
from otelite.proto.records import SpanRecord

__all__ = ["DecodeError", "DecodedRequest", "SpanRecord", "ValueLimits", "decode_json", "decode_protobuf"]
