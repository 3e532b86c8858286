"""OTLP ingest end to end: real SDK exporters -> real receivers -> the store, on every backend."""

from __future__ import annotations

import json

import pytest
from opentelemetry.trace import SpanKind, Status, StatusCode

from tests.conftest import BACKENDS, stored_spans

pytestmark = pytest.mark.backends(*BACKENDS)


def test_grpc_export_is_stored_with_genai_columns(server, make_provider):
    tracer = make_provider(server, headers={"project_id": "proj-a"}).get_tracer("agent")
    with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT) as span:
        span.set_attribute("gen_ai.operation.name", "chat")
        span.set_attribute("gen_ai.provider.name", "openai")
        span.set_attribute("gen_ai.request.model", "gpt-4o")
        span.set_attribute("gen_ai.response.model", "gpt-4o-2024-08-06")
        span.set_attribute("gen_ai.conversation.id", "conv-1")
        span.set_attribute("gen_ai.usage.input_tokens", 12)
        span.set_attribute("gen_ai.usage.output_tokens", 7)
        span.set_attribute(
            "gen_ai.input.messages",
            json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}]),
        )
        span.set_status(Status(StatusCode.OK))
        trace_id = format(span.get_span_context().trace_id, "032x")

    rows = stored_spans(server.store)
    assert len(rows) == 1
    row = rows[0]
    assert row["project_id"] == "proj-a"
    assert row["trace_id"] == trace_id
    assert row["kind"] == "CLIENT"
    assert row["status"] == "OK"
    assert row["conversation_id"] == "conv-1"
    assert (row["operation_name"], row["provider"], row["request_model"], row["response_model"]) == (
        "chat",
        "openai",
        "gpt-4o",
        "gpt-4o-2024-08-06",
    )
    assert (row["input_tokens"], row["output_tokens"]) == (12, 7)
    content = row["content"]
    assert content["input_messages"] == [{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}]


def _tree_of_three(tracer, conversation_id: str = "conv-tree") -> str:
    """invoke_agent -> chat -> execute_tool, as an agent SDK emits them: only the root
    names the conversation, and the children end (and are exported) before it."""
    with tracer.start_as_current_span("invoke_agent planner") as root:
        root.set_attribute("gen_ai.operation.name", "invoke_agent")
        root.set_attribute("gen_ai.agent.name", "planner")
        with tracer.start_as_current_span("chat gpt-4o") as chat:
            chat.set_attribute("gen_ai.operation.name", "chat")
            with tracer.start_as_current_span("execute_tool get_weather") as tool:
                tool.set_attribute("gen_ai.operation.name", "execute_tool")
                tool.set_attribute("gen_ai.tool.name", "get_weather")
        root.set_attribute("gen_ai.conversation.id", conversation_id)
        return format(root.get_span_context().trace_id, "032x")


def test_http_protobuf_export(server, make_provider):
    tracer = make_provider(server, transport="http", headers={"x-project-id": "proj-http"}).get_tracer("agent")
    trace_id = _tree_of_three(tracer)
    rows = stored_spans(server.store)
    assert [(r["project_id"], r["trace_id"], r["name"]) for r in rows] == [
        ("proj-http", trace_id, "invoke_agent planner"),
        ("proj-http", trace_id, "chat gpt-4o"),
        ("proj-http", trace_id, "execute_tool get_weather"),
    ]


def test_gzip_on_both_transports(server, make_provider):
    for transport in ("grpc", "http"):
        tracer = make_provider(server, transport=transport, compression="gzip").get_tracer("agent")
        _tree_of_three(tracer, conversation_id=f"conv-{transport}")
    conversations = [r["conversation_id"] for r in stored_spans(server.store)]
    assert sorted(conversations) == ["conv-grpc"] * 3 + ["conv-http"] * 3


def test_children_exported_before_the_root_join_its_conversation(server, make_provider):
    tracer = make_provider(server).get_tracer("agent")
    trace_id = _tree_of_three(tracer)
    rows = [r for r in stored_spans(server.store) if r["trace_id"] == trace_id]
    # Each span came in its own request, the root last; all three are in the conversation.
    assert [(r["name"], r["conversation_id"], r["conversation_source"]) for r in rows] == [
        ("invoke_agent planner", "conv-tree", 1),
        ("chat gpt-4o", "conv-tree", 2),
        ("execute_tool get_weather", "conv-tree", 2),
    ]


def test_later_spans_of_a_named_trace_join_it_too(server, make_provider):
    tracer = make_provider(server).get_tracer("agent")
    with tracer.start_as_current_span("invoke_agent") as root:
        root.set_attribute("gen_ai.conversation.id", "conv-early")
        trace_id = format(root.get_span_context().trace_id, "032x")
    # A span of the same trace exported after the root (e.g. a late async child).
    from opentelemetry import trace

    with tracer.start_as_current_span("late child", context=trace.set_span_in_context(root)):
        pass
    rows = [r for r in stored_spans(server.store) if r["trace_id"] == trace_id]
    assert [r["conversation_id"] for r in rows] == ["conv-early", "conv-early"]


def test_a_trace_without_conversation_is_its_own_conversation(server, make_provider):
    tracer = make_provider(server).get_tracer("agent")
    with tracer.start_as_current_span("plain http call") as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
    rows = stored_spans(server.store)
    assert [(r["conversation_id"], r["conversation_source"]) for r in rows] == [(trace_id, 0)]


def test_prepared_batches_pickle_and_commit_together_as_one_write(make_store):
    """Store.prepare / Store.commit, what ingest calls: batches prepared apart (one sent
    through pickle, as between processes) and committed together are stored as one
    write of all their rows would be: a trace named by one batch with spans in the
    other lands in one conversation, and a span in both keeps the later batch's row.
    commit returns what commit listeners hear, each (project, trace, named
    conversation) once."""
    import pickle

    from otelite.store.model import CommittedSpan
    from tests.test_store_backends import _row

    t1, t2 = "1" * 32, "2" * 32
    store = make_store()
    first = store.prepare([_row("a" * 16, t1, output_tokens=1), _row("c" * 16, t2)])
    second = store.prepare(
        [_row("b" * 16, t1, conversation_id="conv-a"), _row("a" * 16, t1, output_tokens=9)]  # a retry of the first span
    )
    committed = store.commit([pickle.loads(pickle.dumps(first)), second])

    assert sorted(committed, key=str) == sorted(
        [CommittedSpan("p", t1, None), CommittedSpan("p", t2, None), CommittedSpan("p", t1, "conv-a")], key=str
    )
    assert len(committed) == len(set(committed))
    stored = {r["span_id"]: (r["conversation_id"], r["output_tokens"]) for r in stored_spans(store)}
    assert stored == {"a" * 16: ("conv-a", 9), "b" * 16: ("conv-a", None), "c" * 16: (t2, None)}
    assert store.commit([]) == []


def test_a_bad_request_in_a_group_commit_fails_alone(make_store):
    """What ingest does with the requests it commits together (collector/ingest.py's
    commit_groups over Store.commit): when the group's commit fails, each request is
    committed alone, so only the bad one fails; listeners hear only what was stored."""
    from otelite.collector.ingest import commit_groups
    from otelite.store.model import CommittedSpan
    from tests.test_store_backends import _row

    store = make_store()
    good = store.prepare([_row("a" * 16, "1" * 32, conversation_id="conv-a")])
    bad = store.prepare([_row("b" * 16, "2" * 32, reasoning_tokens={"not": "a number"})])  # neither backend stores it
    also_good = store.prepare([_row("c" * 16, "3" * 32)])
    committed: list[CommittedSpan] = []

    failures = commit_groups(store.commit, [good, bad, also_good], committed)

    assert [failure is None for failure in failures] == [True, False, True]
    assert sorted(r["span_id"] for r in stored_spans(store)) == ["a" * 16, "c" * 16]
    assert committed == [CommittedSpan("p", "1" * 32, "conv-a"), CommittedSpan("p", "3" * 32, None)]
