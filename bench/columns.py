"""CPU per span of the functions built from store/model.py's SCALAR_COLUMNS, against
the hand-written code they replaced, in one run (same rows, same process, alternated).

    python bench/columns.py               # about 20 seconds
    python bench/columns.py --rounds 9

On bench/ingest.py's requests (100 GenAI spans each), decoded and normalised, it times
per span, best of N rounds with garbage collection off:

  row      normalize's `_span_row` (SpanRow(...) compiled from the columns) against the
           call written out; row* the GenAI scalars alone from a compiled tuple,
           unpacked into the call written out (tried first, not kept);
  sqlite   `_span_params` (compiled from the columns) against the hand-written tuple;
  stats    `_stat_of` (named positions through itemgetter) against the 20-position unpack;
  chdb     ClickHouse's `_span` (compiled) against the hand-written list.

The hand-written versions are copies of the code at commit 5cb51e6.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from ingest import build_requests, machine

from otelite.collector.dialects import ADAPTERS
from otelite.collector.genai import GenAI
from otelite.collector.normalize import _span_row, normalize
from otelite.proto import decode_protobuf
from otelite.store import clickhouse, sqlite
from otelite.store.model import GENAI_COLUMNS, SpanRow, tuple_function


def hand_row(span: Any, genai: GenAI) -> SpanRow:
    return SpanRow(
        "default", span.trace_id, span.span_id, span.parent_span_id, span.name, span.kind, span.start_ns, span.end_ns,
        span.status_code, span.status_message, genai.conversation_id, genai.operation_name, genai.agent_name,
        genai.provider, genai.request_model, genai.response_model, genai.input_tokens, genai.output_tokens,
        genai.reasoning_tokens, genai.tool_name, genai.tool_call_id, span.attributes, [], [], span.resource,
        {"name": span.scope_name, "version": span.scope_version}, genai.content(),
    )  # fmt: skip


_genai_scalars = tuple_function("genai_scalars", "genai", [f"genai.{c.name}" for c in GENAI_COLUMNS])


def unpacked_row(span: Any, genai: GenAI) -> SpanRow:
    """The first way tried: only the GenAI scalars from a compiled tuple, unpacked into the call."""
    return SpanRow(
        "default", span.trace_id, span.span_id, span.parent_span_id, span.name, span.kind, span.start_ns, span.end_ns,
        span.status_code, span.status_message, *_genai_scalars(genai), span.attributes, [], [], span.resource,
        {"name": span.scope_name, "version": span.scope_version}, genai.content(),
    )  # fmt: skip


def hand_span_params(row: SpanRow, conversation_id: str, conversation_source: int) -> tuple[object, ...]:
    return (
        row.project_id, row.trace_id, row.span_id, row.parent_span_id, row.name, row.kind, row.start_ns, row.end_ns,
        row.duration_ms, row.status, conversation_id, conversation_source, row.operation_name, row.agent_name,
        row.provider, row.request_model, row.response_model, row.input_tokens, row.output_tokens,
        row.reasoning_tokens, row.tool_name, row.tool_call_id,
    )  # fmt: skip


def hand_stat_of(params: tuple[Any, ...]) -> tuple[Any, ...]:
    (project_id, trace_id, _, _, _, _, start_ns, end_ns, _, status, conversation_id, _, _, agent_name, _,
     request_model, response_model, input_tokens, output_tokens, *_) = params  # fmt: skip
    model = response_model if response_model is not None else request_model
    return (
        project_id,
        conversation_id,
        trace_id,
        status,
        input_tokens,
        output_tokens,
        start_ns,
        end_ns,
        agent_name,
        model,
    )


HAND_CHDB_COLUMNS = (
    "project_id", "conversation_id", "conversation_source", "start_ns", "trace_id", "span_id",
    "parent_span_id", "name", "kind", "end_ns", "duration_ms", "status", "operation_name",
    "agent_name", "provider", "request_model", "response_model", "input_tokens",
    "output_tokens", "reasoning_tokens", "tool_name", "tool_call_id", "version",
)  # fmt: skip


def hand_chdb_span(row: SpanRow, version: int) -> list[Any]:
    named = row.conversation_id is not None
    return [
        row.project_id, row.conversation_id if named else row.trace_id, 1 if named else 0, row.start_ns,
        row.trace_id, row.span_id, row.parent_span_id, row.name, row.kind, row.end_ns, row.duration_ms, row.status,
        row.operation_name, row.agent_name, row.provider, row.request_model, row.response_model, row.input_tokens,
        row.output_tokens, row.reasoning_tokens, row.tool_name, row.tool_call_id, version,
    ]  # fmt: skip


def per_span(work: Callable[[], object], spans: int) -> float:
    gc.collect()
    gc.disable()
    started = time.process_time()
    work()
    elapsed = time.process_time() - started
    gc.enable()
    return elapsed / spans * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100, help="requests of 100 spans (default 100)")
    parser.add_argument("--rounds", type=int, default=7, help="alternated rounds; the best is shown (default 7)")
    args = parser.parse_args()

    print(f"machine: {machine()}")
    records = [s for body in build_requests(args.requests) for s in decode_protobuf(body).spans]
    pairs = []
    for span in records:
        genai = GenAI()
        for adapter in ADAPTERS:
            adapter(span, genai)
        pairs.append((span, genai))
    rows = [normalize(s, "default") for s in records]
    params = [sqlite._span_params(r, r.conversation_id or r.trace_id, 1 if r.conversation_id else 0) for r in rows]
    assert [_span_row("default", s, g, [], []) for s, g in pairs] == [hand_row(s, g) for s, g in pairs]
    assert params == [hand_span_params(r, p[10], p[11]) for r, p in zip(rows, params)]  # type: ignore[arg-type]
    assert [sqlite._stat_of(p) for p in params] == [hand_stat_of(p) for p in params]
    # The hand-written list had its own column order: compare by name.
    assert [dict(zip(clickhouse.SPAN_COLUMNS, clickhouse._span(r, 7))) for r in rows] == [
        dict(zip(HAND_CHDB_COLUMNS, hand_chdb_span(r, 7))) for r in rows
    ]
    spans = len(rows)

    cases: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
        "row": (
            lambda: [hand_row(s, g) for s, g in pairs],
            lambda: [_span_row("default", s, g, [], []) for s, g in pairs],
        ),
        "row*": (lambda: [hand_row(s, g) for s, g in pairs], lambda: [unpacked_row(s, g) for s, g in pairs]),
        "sqlite": (
            lambda: [hand_span_params(r, r.trace_id, 0) for r in rows],
            lambda: [sqlite._span_params(r, r.trace_id, 0) for r in rows],
        ),
        "stats": (lambda: [hand_stat_of(p) for p in params], lambda: [sqlite._stat_of(p) for p in params]),
        "chdb": (lambda: [hand_chdb_span(r, 7) for r in rows], lambda: [clickhouse._span(r, 7) for r in rows]),
    }
    for name, (hand, built) in cases.items():
        hand_ns, built_ns = [], []
        for _ in range(args.rounds):
            hand_ns.append(per_span(hand, spans))
            built_ns.append(per_span(built, spans))
        h, b = min(hand_ns), min(built_ns)
        print(f"{name:7} hand-written {h:6.0f} ns/span  from the columns {b:6.0f} ns/span  ratio {b / h:4.2f}")


if __name__ == "__main__":
    main()
