"""Coverage-guided fuzzing of the OTLP decoders and the GenAI extraction (atheris).

    pip install -e ".[fuzz]"
    python fuzz/fuzz_decoders.py -max_total_time=300        # or -runs=100000

The first byte picks the decoder (even: protobuf, odd: OTLP-JSON); the rest is the body.
Each case must decode to records + rejections or raise DecodeError; every decoded span
must normalise and be written to an in-memory SQLite store. Anything else is a crash
that atheris reports with the input that caused it. Seeds (real requests) are written
to fuzz/corpus/ on first run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from otelite.collector.normalize import normalize
    from otelite.proto import DecodeError, ValueLimits, decode_json, decode_protobuf
    from otelite.store import open_store

LIMITS = ValueLimits(max_attribute_bytes=256, max_attributes_per_span=16)
STORE = open_store(":memory:")
CORPUS = Path(__file__).parent / "corpus"


def test_one_input(data: bytes) -> None:
    if not data:
        return
    decoder = decode_json if data[0] & 1 else decode_protobuf
    try:
        decoded = decoder(data[1:], LIMITS)
    except DecodeError:
        return
    rows = [normalize(span, "fuzz") for span in decoded.spans]
    STORE.write_spans(rows)


def write_seeds() -> None:
    """Real export requests, as the SDK's own encoder makes them."""
    import base64

    import orjson
    from google.protobuf import json_format
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    CORPUS.mkdir(exist_ok=True)
    finished = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(finished))
    tracer = provider.get_tracer("seed")
    with tracer.start_as_current_span("invoke_agent") as span:
        span.set_attribute("gen_ai.operation.name", "invoke_agent")
        span.set_attribute("gen_ai.conversation.id", "c1")
        with tracer.start_as_current_span("chat") as child:
            child.set_attribute("gen_ai.input.messages", '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]')
            child.set_attribute("gen_ai.usage.input_tokens", 12)
            child.set_attribute("list", [1.5, 2.5])
            child.add_event("gen_ai.client.inference.operation.details", {"gen_ai.output.messages": "[]"})
    request = encode_spans(finished.get_finished_spans())
    (CORPUS / "seed-protobuf").write_bytes(b"\0" + request.SerializeToString())
    document = json_format.MessageToDict(request)
    for rs in document["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in s:
                        s[key] = base64.b64decode(s[key]).hex()
    (CORPUS / "seed-json").write_bytes(b"\1" + orjson.dumps(document))


if __name__ == "__main__":
    if not CORPUS.exists():
        write_seeds()
    atheris.Setup([*sys.argv, str(CORPUS)], test_one_input)
    atheris.Fuzz()
