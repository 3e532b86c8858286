"""Hostile input to the decoders and the GenAI extraction, as hypothesis properties.

The promise: for any bytes, `decode_protobuf` / `decode_json` return span records and
per-span rejections, or raise DecodeError, and nothing else; every decoded span
normalises and is written to a real SQLite store without error; values past the limits
are cut and the cut is marked on the span.
"""

from __future__ import annotations

import base64
import json
import math
import os

import orjson
import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from otelite.collector.normalize import normalize
from otelite.proto import DecodedRequest, DecodeError, SpanRecord, ValueLimits, decode_json, decode_protobuf
from otelite.proto.decode import DROPPED_ATTRIBUTE, MAX_TIME_NS, TRUNCATED_ATTRIBUTE, TRUNCATED_DEPTH
from otelite.store import open_store

# Small limits, so that generated values cross them often.
LIMITS = ValueLimits(max_attribute_bytes=64, max_attributes_per_span=6)
# OTELITE_TEST_HYPOTHESIS_SCALE=10 runs ten times the cases (a longer hunt, not for CI).
SCALE = int(os.environ.get("OTELITE_TEST_HYPOTHESIS_SCALE", "1"))
FAST = settings(max_examples=300 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Whole generated requests take longer to build: fewer of them per run.
STRUCTURED = settings(
    max_examples=100 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = open_store(str(tmp_path_factory.mktemp("hostile") / "otelite.db"))
    yield store
    store.close()


def decode_or_reject(decoder, body: bytes) -> DecodedRequest | None:
    """The property every decoder keeps: a DecodedRequest, or DecodeError; nothing else."""
    try:
        decoded = decoder(body, LIMITS)
    except DecodeError as exc:
        assert str(exc)
        return None
    assert isinstance(decoded, DecodedRequest)
    assert all(isinstance(span, SpanRecord) for span in decoded.spans)
    assert all(isinstance(message, str) and message for message in decoded.rejected)
    return decoded


def store_all(store, decoded: DecodedRequest | None) -> None:
    """Every accepted span normalises and is stored; its JSON columns stay valid."""
    if decoded is None or not decoded.spans:
        return
    rows = [normalize(span, "hostile") for span in decoded.spans]
    store.write_spans(rows)
    for span in decoded.spans:
        assert 0 <= span.start_ns <= span.end_ns <= MAX_TIME_NS
        assert len(span.trace_id) == 32 and len(span.span_id) == 16


# --- generated OTLP requests, hostile in every field ---------------------------------

huge_text = st.integers(0, 400).map(lambda n: "é" * n)  # 2 bytes a char: crosses 64 bytes
scalar_values = st.one_of(
    st.text(max_size=40).map(lambda s: AnyValue(string_value=s)),
    huge_text.map(lambda s: AnyValue(string_value=s)),
    st.integers(-(2**63), 2**63 - 1).map(lambda i: AnyValue(int_value=i)),
    st.floats(allow_nan=True, allow_infinity=True).map(lambda f: AnyValue(double_value=f)),
    st.booleans().map(lambda b: AnyValue(bool_value=b)),
    st.binary(max_size=100).map(lambda b: AnyValue(bytes_value=b)),
    st.just(AnyValue()),
)


def _array(children):
    return st.lists(children, max_size=4).map(lambda vs: AnyValue(array_value=ArrayValue(values=vs)))


def _kvlist(children):
    return st.lists(st.tuples(st.text(max_size=8), children), max_size=4).map(
        lambda kvs: AnyValue(kvlist_value=KeyValueList(values=[KeyValue(key=k, value=v) for k, v in kvs]))
    )


any_values = st.recursive(scalar_values, lambda c: st.one_of(_array(c), _kvlist(c)), max_leaves=12)


def deep_value(depth: int, kind: str = "kvlist") -> AnyValue:
    """Nested `depth` levels, built in place (protobuf's own parser stops near 100 messages)."""
    root = AnyValue()
    value = root
    for _ in range(depth):
        if kind == "kvlist":
            entry = value.kvlist_value.values.add()
            entry.key = "k"
            value = entry.value
        else:
            value = value.array_value.values.add()
    value.string_value = "bottom"
    return root


genai_keys = st.sampled_from(
    [
        "gen_ai.operation.name",
        "gen_ai.conversation.id",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.definitions",
        "gen_ai.tool.call.arguments",
        "weave.compaction.items_before",
    ]
)
attributes = st.lists(
    st.tuples(
        st.one_of(genai_keys, st.text(max_size=12)),
        st.one_of(
            any_values,
            st.one_of(
                st.builds(deep_value, st.integers(10, 28), st.just("kvlist")),
                st.builds(deep_value, st.integers(25, 40), st.just("array")),
            ),
        ),
    ),
    max_size=9,
).map(lambda kvs: [KeyValue(key=k, value=v) for k, v in kvs])
ids = st.one_of(
    st.binary(min_size=0, max_size=20), st.binary(min_size=16, max_size=16), st.binary(min_size=8, max_size=8)
)
times = st.one_of(st.sampled_from([0, 1, MAX_TIME_NS, MAX_TIME_NS + 1, 2**64 - 1]), st.integers(0, 2**64 - 1))


@st.composite
def spans(draw) -> Span:
    start = draw(times)
    return Span(
        trace_id=draw(st.one_of(ids, st.binary(min_size=16, max_size=16))),
        span_id=draw(st.one_of(ids, st.binary(min_size=8, max_size=8))),
        parent_span_id=draw(st.one_of(st.just(b""), ids)),
        name=draw(st.one_of(st.text(max_size=20), huge_text)),
        kind=draw(st.integers(0, 9)),
        start_time_unix_nano=start,
        end_time_unix_nano=draw(st.one_of(times, st.integers(start, 2**64 - 1))),
        attributes=draw(attributes),
        events=[
            Span.Event(name=name, time_unix_nano=t, attributes=a)
            for name, t, a in draw(st.lists(st.tuples(st.text(max_size=10), times, attributes), max_size=2))
        ],
        links=[Span.Link(trace_id=t, span_id=s) for t, s in draw(st.lists(st.tuples(ids, ids), max_size=2))],
        status=Status(code=draw(st.integers(0, 7)), message=draw(st.one_of(st.text(max_size=10), huge_text))),
    )


requests = st.lists(st.tuples(attributes, st.lists(spans(), max_size=4)), min_size=0, max_size=3).map(
    lambda groups: ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(resource=Resource(attributes=res), scope_spans=[ScopeSpans(spans=ss)]) for res, ss in groups
        ]
    )
)


@STRUCTURED
@given(request=requests)
def test_generated_requests_decode_store_and_mark_every_cut(store, request):
    body = request.SerializeToString()
    decoded = decode_or_reject(decode_protobuf, body)
    if decoded is None:  # only nesting deeper than protobuf's own recursion limit
        return
    total = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
    assert len(decoded.spans) + len(decoded.rejected) == total
    for span in decoded.spans:
        cut = span.attributes.get(TRUNCATED_ATTRIBUTE, [])
        for key, value in span.attributes.items():
            if isinstance(value, str) and key != TRUNCATED_ATTRIBUTE:
                if "...[truncated " in value or value == TRUNCATED_DEPTH:
                    assert key in cut
                else:
                    assert len(value.encode()) <= LIMITS.max_attribute_bytes or key == DROPPED_ATTRIBUTE
        user_attributes = {k for k in span.attributes if k not in (TRUNCATED_ATTRIBUTE, DROPPED_ATTRIBUTE)}
        assert len(user_attributes) <= LIMITS.max_attributes_per_span
    store_all(store, decoded)


@STRUCTURED
@given(request=requests, data=st.data())
def test_truncated_valid_messages(store, request, data):
    body = request.SerializeToString()
    assume(len(body) > 1)
    cut = data.draw(st.integers(1, len(body) - 1))
    store_all(store, decode_or_reject(decode_protobuf, body[:cut]))


@FAST
@given(body=st.binary(max_size=2000))
def test_random_bytes_as_protobuf(store, body):
    store_all(store, decode_or_reject(decode_protobuf, body))


@STRUCTURED
@given(request=requests, data=st.data())
def test_flipped_bytes_and_invalid_utf8_in_strings(store, request, data):
    body = bytearray(request.SerializeToString())
    assume(body)
    for _ in range(data.draw(st.integers(1, 4))):
        body[data.draw(st.integers(0, len(body) - 1))] = data.draw(st.sampled_from([0xFF, 0xC3, 0xED, 0x80, 0x00]))
    store_all(store, decode_or_reject(decode_protobuf, bytes(body)))


def test_invalid_utf8_in_a_span_name_is_a_decode_error():
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(scope_spans=[ScopeSpans(spans=[Span(trace_id=b"\1" * 16, span_id=b"\2" * 8, name="ABCD")])])
        ]
    )
    body = request.SerializeToString().replace(b"ABCD", b"\xff\xfe\xc3\x28")
    with pytest.raises(DecodeError):
        decode_protobuf(body, LIMITS)


def test_nesting_far_deeper_than_protobuf_allows_is_a_decode_error():
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                scope_spans=[
                    ScopeSpans(
                        spans=[
                            Span(
                                trace_id=b"\1" * 16,
                                span_id=b"\2" * 8,
                                attributes=[KeyValue(key="deep", value=deep_value(40, "array"))],
                            )
                        ]
                    )
                ]
            )
        ]
    )
    decoded = decode_protobuf(request.SerializeToString(), LIMITS)
    assert decoded.spans[0].attributes[TRUNCATED_ATTRIBUTE] == ["deep"]
    body = request.SerializeToString()
    # Wrap the request body itself in 5000 levels of length-delimited field 1.
    for _ in range(5000):
        body = b"\x0a" + _varint(len(body)) + body
    with pytest.raises(DecodeError):
        decode_protobuf(body, LIMITS)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


# --- OTLP-JSON ------------------------------------------------------------------------


def to_otlp_json(request: ExportTraceServiceRequest) -> bytes:
    """The OTLP-JSON an SDK would send: proto3 JSON with hex ids."""
    document = json_format.MessageToDict(request)

    def hexify(obj):
        if isinstance(obj, dict):
            return {
                k: base64.b64decode(v).hex() if k in ("traceId", "spanId", "parentSpanId") else hexify(v)
                for k, v in obj.items()
            }
        if isinstance(obj, list):
            return [hexify(v) for v in obj]
        return obj

    return orjson.dumps(hexify(document))


@STRUCTURED
@given(request=requests)
def test_json_and_protobuf_of_the_same_request_agree(store, request):
    from_pb = decode_or_reject(decode_protobuf, request.SerializeToString())
    from_json = decode_or_reject(decode_json, to_otlp_json(request))
    if from_pb is None or from_json is None:
        return
    assert [s.span_id for s in from_json.spans] == [s.span_id for s in from_pb.spans]
    assert len(from_json.rejected) == len(from_pb.rejected)
    store_all(store, from_json)


OTLP_KEYS = [
    "resourceSpans",
    "scopeSpans",
    "spans",
    "resource",
    "scope",
    "attributes",
    "key",
    "value",
    "stringValue",
    "intValue",
    "doubleValue",
    "boolValue",
    "bytesValue",
    "arrayValue",
    "kvlistValue",
    "values",
    "traceId",
    "spanId",
    "parentSpanId",
    "name",
    "kind",
    "startTimeUnixNano",
    "endTimeUnixNano",
    "events",
    "links",
    "status",
    "code",
    "message",
    "timeUnixNano",
]
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "18446744073709551616", "0", "zz", "0102", "1" * 32, "ab" * 8]),
)
otlp_shaped_json = st.recursive(
    json_scalars,
    lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.sampled_from(OTLP_KEYS), c, max_size=5)),
    max_leaves=30,
)


@FAST
@given(document=otlp_shaped_json)
def test_otlp_shaped_json_of_any_shape(store, document):
    store_all(store, decode_or_reject(decode_json, json.dumps(document).encode()))


@FAST
@given(body=st.one_of(st.binary(max_size=500), st.text(max_size=200).map(str.encode)))
def test_bytes_that_are_not_json(store, body):
    store_all(store, decode_or_reject(decode_json, body))


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xff\xfe{}",
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "\\ud800"}]}]}]}',
        b"[" * 100_000,
        b'{"resourceSpans": "not a list"}',
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "-1"}]}]}]}',
    ],
)
def test_json_bodies_that_must_be_refused_whole(body):
    with pytest.raises(DecodeError):
        decode_json(body, LIMITS)


def test_json_nan_double_and_wrong_length_ids_are_per_span():
    span = {"traceId": "01" * 16, "spanId": "02" * 8, "name": "ok", "startTimeUnixNano": "1", "endTimeUnixNano": "2"}
    document = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {**span, "attributes": [{"key": "x", "value": {"doubleValue": "NaN"}}]},
                            {**span, "spanId": "0203"},
                            {**span, "traceId": "not hex"},
                            {**span, "spanId": "03" * 8, "endTimeUnixNano": str(2**64 - 1)},
                        ]
                    }
                ]
            }
        ]
    }
    decoded = decode_json(orjson.dumps(document), LIMITS)
    assert len(decoded.spans) == 1 and math.isnan(decoded.spans[0].attributes["x"])
    assert len(decoded.rejected) == 3
    assert "beyond the year 2262" in decoded.rejected[2]


# --- GenAI extraction -----------------------------------------------------------------

python_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**63 - 1),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=30),
        st.sampled_from(
            [
                "[{",
                '{"role": ',
                '[{"role": "user", "parts": "not a list"}]',
                '[{"role": 7, "parts": [{"type": "text"}]}]',
                '[null, 1, "x", {"parts": [null, 3]}]',
                '{"role": "user", "parts": [{"type": "tool_call", "arguments": {"a": NaN}}]}',
                "99999999999999999999999999",
                "1e400",
                "nan",
            ]
        ),
    ),
    lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(st.text(max_size=6), c, max_size=4)),
    max_leaves=15,
)


@FAST
@given(attrs=st.dictionaries(st.one_of(genai_keys, st.text(max_size=10)), python_values, max_size=8))
def test_genai_extraction_over_random_attributes(store, attrs):
    span = SpanRecord(
        trace_id="ab" * 16,
        span_id="cd" * 8,
        parent_span_id=None,
        name="x",
        kind="CLIENT",
        start_ns=1,
        end_ns=2,
        status_code="UNSET",
        status_message="",
        attributes=attrs,
        events=[],
        links=[],
        resource={},
        scope_name="",
        scope_version="",
    )
    row = normalize(span, "hostile")
    for column in ("input_tokens", "output_tokens", "reasoning_tokens"):
        value = getattr(row, column)
        assert value is None or -(2**63) <= value < 2**63
    # Python ints beyond 64 bits cannot come out of the decoders; drop them before the
    # JSON columns, as the decoders would never produce them.
    row.attributes = {}
    store.write_spans([row])
