"""Adapters that skip spans not of their dialect (a cheap check before the real reading)
skip only spans on which the reading would have set nothing.

Every adapter runs on every span, so `semconv_legacy` and `openllmetry` first check for
their keys (and events) and call their `read` only then. Here `apply` (check + read)
and `read` alone must fill the same GenAI view for spans carrying each key any adapter
reads, with values of every shape, with and without events.
"""

from __future__ import annotations

import pytest

from otelite.collector.dialects import openllmetry, semconv_legacy
from otelite.collector.genai import GenAI
from otelite.proto.records import SpanEvent
from tests.test_dialect_robustness import KEYS, VALUES, span

GATED = [semconv_legacy, openllmetry]
# Keys only these two read, beside the shared list of every adapter's keys.
MORE_KEYS = [
    *semconv_legacy.KEYS,
    "gen_ai.usage.reasoning_tokens",
    "llm.usage.prompt_tokens",
    "traceloop.association.properties.session_id",
    "traceloop.entity.name",
    "gen_ai.request.model",  # read by neither: both must skip it
]
EVENTS = [
    SpanEvent("gen_ai.user.message", 1, {"content": "hello"}),
    SpanEvent("gen_ai.content.completion", 2, {"gen_ai.completion": "hi"}),
    SpanEvent("exception", 3, {"exception.message": "boom"}),
]


@pytest.mark.parametrize("adapter", GATED, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_the_check_skips_only_spans_the_reading_ignores(adapter):
    for key in KEYS + MORE_KEYS:
        for value in VALUES:
            for events in ([], EVENTS):
                record = span({key: value}, events, name="chat")
                checked, read = GenAI(), GenAI()
                adapter.apply(record, checked)
                adapter.read(record, read)
                assert checked == read, (key, value, events)


def test_spans_of_other_dialects_are_skipped():
    # What the check is for: a semconv span with no events leaves both untouched.
    record = span({"gen_ai.operation.name": "chat", "gen_ai.input.messages": "[]"}, name="chat")
    for adapter in GATED:
        genai = GenAI()
        adapter.apply(record, genai)
        assert genai == GenAI()
