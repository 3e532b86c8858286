"""Dialect adapters: each reads one SDK family's attributes into the GenAI view.

An adapter is `apply(span, genai) -> None`; it fills only empty fields (`GenAI.set`),
so the order here is the order of precedence. A span no adapter recognises is stored
as a plain span.
"""

from __future__ import annotations

from collections.abc import Callable

from otelite.collector.dialects import openai_agents, openinference, openllmetry, semconv, semconv_legacy, vercel_ai
from otelite.collector.genai import GenAI
from otelite.proto.records import SpanRecord

Adapter = Callable[[SpanRecord, GenAI], None]

ADAPTERS: list[Adapter] = [
    semconv.apply,  # the current OTel GenAI conventions are the source of truth
    semconv_legacy.apply,  # their older forms: gen_ai.prompt/completion, per-message events
    openai_agents.apply,  # before openinference: a handoff is not an execute_tool
    openinference.apply,
    openllmetry.apply,
    vercel_ai.apply,
]
