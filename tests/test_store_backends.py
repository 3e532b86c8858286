"""Store promises, on every backend: SQLite, ClickHouse on chdb, ClickHouse over HTTP.

(test_ingest.py and test_ingest_errors.py run the receivers' promises on every backend
too; these are the ones only a store can break.)
"""

from __future__ import annotations

import json
import random
import threading

import pytest
from opentelemetry.trace import SpanKind, Status, StatusCode

from otelite.store.model import SpanRow
from tests.conftest import ALL_CLIENTS, stored_spans

pytestmark = pytest.mark.backends(*ALL_CLIENTS)


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_awkward_strings_round_trip_exactly(server, make_provider, transport):
    # Quotes, backslashes, newlines and non-ASCII in every kind of column: no escaping
    # is hand-written anywhere, and none may be wrong.
    awkward = 'It\'s "quoted"\n\\ and ü {p:String} $$'
    tracer = make_provider(server, transport=transport, headers={"project_id": "proj-a"}).get_tracer("agent")
    with tracer.start_as_current_span(f"chat {awkward}", kind=SpanKind.CLIENT) as span:
        span.set_attribute("gen_ai.operation.name", "chat")
        span.set_attribute("gen_ai.provider.name", "openai")
        span.set_attribute("gen_ai.request.model", "gpt-4o")
        span.set_attribute("gen_ai.conversation.id", f"conv {awkward}")
        span.set_attribute("gen_ai.agent.name", awkward)
        span.set_attribute("gen_ai.usage.input_tokens", 12)
        span.set_attribute("gen_ai.usage.output_tokens", 7)
        span.set_attribute(
            "gen_ai.input.messages",
            json.dumps([{"role": "user", "parts": [{"type": "text", "content": awkward}]}]),
        )
        span.set_status(Status(StatusCode.ERROR, awkward))
        trace_id = format(span.get_span_context().trace_id, "032x")

    [row] = stored_spans(server.store)
    assert (row["project_id"], row["trace_id"], row["kind"], row["status"]) == ("proj-a", trace_id, "CLIENT", "ERROR")
    assert (row["name"], row["agent_name"]) == (f"chat {awkward}", awkward)
    assert (row["conversation_id"], row["conversation_source"]) == (f"conv {awkward}", 1)
    assert (row["operation_name"], row["provider"], row["request_model"]) == ("chat", "openai", "gpt-4o")
    assert (row["input_tokens"], row["output_tokens"], row["reasoning_tokens"]) == (12, 7, None)
    assert row["parent_span_id"] is None
    assert row["content"]["input_messages"] == [{"role": "user", "parts": [{"type": "text", "content": awkward}]}]
    [span_row] = server.store.iter_spans("proj-a")
    assert (span_row.status_message, span_row.attributes["gen_ai.agent.name"]) == (awkward, awkward)
    assert server.store.count_spans("proj-a") == 1
    assert server.store.count_spans("proj-b") == 0


def _row(span_id: str, trace_id: str = "a" * 32, **fields: object) -> SpanRow:
    values: dict[str, object] = {
        "project_id": "p",
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_span_id": None,
        "name": "chat",
        "kind": "CLIENT",
        "start_ns": 1_750_000_000_000_000_000,
        "end_ns": 1_750_000_000_250_000_000,
        "status": "UNSET",
        "status_message": "",
    }
    values.update(fields)
    return SpanRow(**values)  # type: ignore[arg-type]


def test_the_last_write_of_a_span_wins(make_store):
    store = make_store()
    store.write_spans([_row("1" * 16, output_tokens=5, status="UNSET")])
    store.write_spans([_row("1" * 16, output_tokens=9, status="ERROR", content={"output_messages": []})])
    [row] = stored_spans(store)
    assert (row["output_tokens"], row["status"], row["content"]) == (9, "ERROR", {"output_messages": []})
    assert row["duration_ms"] == 250


def test_several_writers_share_one_store(make_store):
    # Stateless collectors behind a load balancer: each has its own store connection.
    writers = [make_store() for _ in range(3)]

    def write(n: int) -> None:
        for batch in range(5):
            writers[n].write_spans(
                [_row(f"{n:04d}{batch:04d}{i:08d}", trace_id=f"{n:032x}", conversation_id=f"c{n}") for i in range(20)]
            )

    threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert writers[0].count_spans() == 3 * 5 * 20
    assert {r["conversation_id"] for r in stored_spans(writers[1])} == {"c0", "c1", "c2"}


def test_export_reads_back_what_was_written(make_store):
    written = [
        _row(
            "1" * 16,
            conversation_id="c",
            attributes={"gen_ai.conversation.id": "c", "n": 1.5, "tags": ["a", True], "nested": {"k": [1]}},
            events=[{"name": "gen_ai.choice", "time_ns": 1_750_000_000_100_000_000, "attributes": {"index": 0}}],
            links=[{"trace_id": "b" * 32, "span_id": "2" * 16, "attributes": {}}],
            resource={"service.name": "agent"},
            scope={"name": "openai-agents", "version": "0.1"},
            status="ERROR",
            status_message="boom",
        ),
        _row("3" * 16, parent_span_id="1" * 16, start_ns=1_750_000_000_050_000_000),
    ]
    store = make_store()
    store.write_spans(written)
    # The span as it came in (GenAI columns are derived again on import); conversation_id
    # only where the span named it.
    assert list(store.iter_spans()) == written
    assert list(store.iter_spans("other")) == []


def test_two_collectors_behind_a_load_balancer_share_one_conversation(make_server, make_provider):
    # Stateless collectors: the children of a trace reach one otelite, the root that
    # names the conversation reaches another; both write to the same store.
    first, second = make_server(), make_server()
    assert first.store is not second.store
    child_tracer = make_provider(first, transport="grpc").get_tracer("agent")
    root_tracer = make_provider(second, transport="http").get_tracer("agent")
    from opentelemetry import trace

    root = root_tracer.start_span("invoke_agent planner")
    with child_tracer.start_as_current_span("chat gpt-4o", context=trace.set_span_in_context(root)):
        pass
    root.set_attribute("gen_ai.conversation.id", "conv-lb")
    root.end()

    for server in (first, second):
        rows = stored_spans(server.store)
        assert [(r["name"], r["conversation_id"]) for r in rows] == [
            ("invoke_agent planner", "conv-lb"),
            ("chat gpt-4o", "conv-lb"),
        ]


def test_export_from_one_backend_imports_into_another(server, make_provider, store_url, tmp_path):
    # `otelite export --store URL` then `otelite import --db`: how a team moves its data
    # between SQLite and ClickHouse in either direction.
    from otelite.cli import main

    tracer = make_provider(server, headers={"project_id": "alpha"}).get_tracer("agent")
    with tracer.start_as_current_span("invoke_agent") as root:
        with tracer.start_as_current_span("chat gpt-4o") as chat:
            chat.set_attribute("gen_ai.operation.name", "chat")
            chat.set_attribute("gen_ai.usage.input_tokens", 3)
        root.set_attribute("gen_ai.conversation.id", "conv-x")
    exported = tmp_path / "export.jsonl"
    assert main(["export", "--store", store_url, "-o", str(exported)]) == 0
    assert len(exported.read_bytes().splitlines()) == 1  # one line per trace
    copy = tmp_path / "copy.db"
    assert main(["import", str(exported), "--db", str(copy)]) == 0

    from otelite.store.sqlite import SQLiteStore

    imported = SQLiteStore(copy)
    try:
        assert stored_spans(imported) == stored_spans(server.store)
    finally:
        imported.close()


@pytest.mark.backends("clickhouse")
def test_clickhouse_down_is_unavailable_and_exporters_get_through_after(make_server, chdb_path):
    import grpc
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    from tests.clickhouse_http import ClickHouseHTTP
    from tests.test_ingest_errors import grpc_export, sdk_spans

    clickhouse = ClickHouseHTTP(str(chdb_path)).start()
    port = clickhouse.port
    server = make_server(store=f"clickhouse://default@127.0.0.1:{port}/t_down")
    grpc_export(server, encode_spans(sdk_spans(1, conversation="before")).SerializeToString())
    clickhouse.stop()
    with pytest.raises(grpc.RpcError) as err:
        grpc_export(server, encode_spans(sdk_spans(2, conversation="during")).SerializeToString())
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE  # OTLP exporters retry this
    assert err.value.details().startswith("could not store the spans:")

    clickhouse = ClickHouseHTTP(str(chdb_path), port).start()
    try:
        grpc_export(server, encode_spans(sdk_spans(2, conversation="after")).SerializeToString())
        assert [r["conversation_id"] for r in stored_spans(server.store)] == ["before", "after", "after"]
    finally:
        server.stop()
        clickhouse.stop()


def test_one_batch_may_span_many_days(make_store):
    # `otelite import` of an old export: one insert touches a day-partition per day.
    def day(d: int) -> SpanRow:
        start = 1_700_000_000 * 10**9 + d * 86_400 * 10**9
        return _row(f"{d + 1:016x}", start_ns=start, end_ns=start + 5_000_000)

    store = make_store()
    store.write_spans([day(d) for d in range(400)])
    store.write_spans([day(d) for d in range(0, 400, 7)])  # re-exported: still one each
    assert store.count_spans() == 400


def test_the_conversation_list_agrees_with_sqlite_through_retries_rewrites_and_adoption(make_store, tmp_path):
    # test_conversation_stats.py's random walk (retries, re-exports with other values,
    # children before the span naming the conversation), written to this backend and to
    # SQLite: every page of the list, and every search, reads the same.
    from otelite.store.sqlite import SQLiteStore
    from tests.test_conversation_stats import random_span

    rng = random.Random(11)
    store, reference = make_store(), SQLiteStore(tmp_path / "reference.db")
    try:
        written: list[SpanRow] = []
        for _ in range(40):
            batch = []
            for _ in range(rng.randrange(1, 12)):
                roll = rng.random()
                if written and roll < 0.25:
                    batch.append(rng.choice(written))
                elif written and roll < 0.4:
                    old = rng.choice(written)
                    batch.append(random_span(rng, int(old.trace_id, 16), int(old.span_id, 16)))
                else:
                    batch.append(random_span(rng, rng.randrange(12), rng.randrange(10**6)))
            store.write_spans(batch)
            reference.write_spans(batch)
            written.extend(batch)
        assert store.count_spans() == reference.count_spans()
        assert stored_spans(store) == stored_spans(reference)
        for project in ("p0", "p1"):
            for limit, offset in ((50, 0), (2, 0), (2, 2), (3, 100)):
                assert store.list_conversations(project, limit=limit, offset=offset) == reference.list_conversations(
                    project, limit=limit, offset=offset
                )
            for search in (f"word{written[0].span_id[-3:]}", "word", "WORD1 word2", "nothing"):
                assert store.list_conversations(project, limit=50, search=search) == reference.list_conversations(
                    project, limit=50, search=search
                )
            middle = sorted(r.start_ns for r in written)[len(written) // 2]
            assert store.list_conversations(project, limit=50, started_after_ns=middle) == reference.list_conversations(
                project, limit=50, started_after_ns=middle
            )
        assert store.list_projects() == reference.list_projects()
    finally:
        reference.close()


def test_prune_removes_whole_old_traces_with_their_rows_and_feedback(make_store, store_url, capsys):
    # test_retention.py's case, read back through the Store interface on every backend.
    from otelite.store.model import Feedback
    from tests.test_retention import NOW, span

    day = 86_400 * 10**9
    store = make_store()
    store.write_spans(
        [
            span("a", "1", days_ago=10, conversation="conv-1"),
            span("a", "2", days_ago=9),
            span("b", "1", days_ago=9),
            span("b", "2", days_ago=1, conversation="conv-1"),
            span("c", "1", days_ago=30, conversation="conv-2"),
            span("c", "1", days_ago=1, conversation="conv-2", project_id="q"),
        ]
    )
    for fid, conversation, trace in (
        ("f-turn-a", "conv-1", "a"),
        ("f-turn-b", "conv-1", "b"),
        ("f-conv-1", "conv-1", None),
        ("f-conv-2", "conv-2", None),
    ):
        trace_id = trace.ljust(32, "0") if trace else None
        store.add_feedback(Feedback(fid, "p", conversation, trace_id, "wandb.agent_user_feedback", [], [], NOW))

    result = store.prune(older_than_ns=NOW - 7 * day)

    assert (result.traces, result.spans, result.feedback) == (2, 3, 2)
    assert {(r["project_id"], r["trace_id"][0], r["span_id"][0]) for r in stored_spans(store)} == {
        ("p", "b", "1"),
        ("p", "b", "2"),
        ("q", "c", "1"),
    }
    assert {(s.project_id, s.trace_id[0]) for s in store.iter_spans()} == {("p", "b"), ("q", "c")}
    assert [c.conversation_id for c in store.list_conversations("p", limit=10).conversations] == ["conv-1"]
    assert {f.id for f in store.list_feedback("p", ["conv-1", "conv-2"])} == {"f-turn-b", "f-conv-1"}
    assert store.prune(older_than_ns=NOW - 7 * day).traces == 0
    # `otelite prune --store URL` on the same store: nothing left that old.
    from otelite.cli import main

    assert main(["prune", "--store", store_url, "--older-than", "7d"]) == 0
    assert capsys.readouterr().out.startswith("pruned 0 traces (0 spans, 0 feedback); ")


def test_size_cap_drops_oldest_traces_first(make_store):
    from tests.test_retention import span

    store = make_store()
    # Incompressible payloads: ClickHouse compresses "x" * 4000 to nearly nothing.
    rng = random.Random(5)
    rows = [
        span(
            f"t{n:03d}",
            str(k),
            days_ago=(60 - n) / 5,
            attributes={"gen_ai.tool.call.result": rng.randbytes(2000).hex()},
        )
        for n in range(60)
        for k in range(3)
    ]
    for start in range(0, len(rows), 60):
        store.write_spans(rows[start : start + 60])
    used = store.used_bytes()
    cap = used // 2

    result = store.prune(max_bytes=cap)

    assert 0 < result.traces < 60
    assert store.used_bytes() <= cap
    kept = sorted({r["trace_id"][:4] for r in stored_spans(store)})
    assert kept == [f"t{n:03d}" for n in range(60 - len(kept), 60)]  # the newest, whole
    assert store.count_spans() == 3 * len(kept)
