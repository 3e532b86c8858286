"""Retention: whole traces go (judged by their newest span), with their details,
conversation link and feedback; in the background, by the CLI, and under a size cap."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

import pytest

from otelite import cli
from otelite.config import load_config
from otelite.retention import NS_PER_DAY, Retention
from otelite.store import SpanRow, open_store
from tests.conftest import read_db

NOW = time.time_ns()


def span(trace: str, span_id: str, days_ago: float, conversation: str | None = None, **extra) -> SpanRow:
    end = NOW - int(days_ago * NS_PER_DAY)
    return SpanRow(
        project_id=extra.pop("project_id", "p"),
        trace_id=trace.ljust(32, "0"),
        span_id=span_id.ljust(16, "0"),
        parent_span_id=None,
        name=f"span {span_id}",
        kind="INTERNAL",
        start_ns=end - 1_000_000,
        end_ns=end,
        status="OK",
        status_message="",
        conversation_id=conversation,
        **extra,
    )


def add_feedback(db: str, fid: str, conversation: str, trace: str | None) -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "INSERT INTO feedback (id, project_id, conversation_id, trace_id, feedback_type, tags, ratings, created_ns)"
            " VALUES (?, 'p', ?, ?, 'wandb.agent_user_feedback', '[]', '[]', ?)",
            (fid, conversation, trace.ljust(32, "0") if trace else None, NOW),
        )
    conn.close()


@pytest.fixture
def store(tmp_path):
    store = open_store(str(tmp_path / "otelite.db"))
    yield store
    store.close()


def table(db: str, sql: str) -> set:
    return {tuple(r) for r in read_db(db, sql)}


def test_prune_removes_whole_old_traces_with_their_rows_and_feedback(store):
    store.write_spans(
        [
            # conv-1: an old turn and a recent one. The recent turn has an old child
            # span: the trace is judged by its newest span, so it stays whole.
            span("a", "1", days_ago=10, conversation="conv-1"),
            span("a", "2", days_ago=9),
            span("b", "1", days_ago=9),
            span("b", "2", days_ago=1, conversation="conv-1"),
            # conv-2: only old turns.
            span("c", "1", days_ago=30, conversation="conv-2"),
            # Another project, same age: judged alike, and kept apart.
            span("c", "1", days_ago=1, conversation="conv-2", project_id="q"),
        ]
    )
    add_feedback(store.path, "f-turn-a", "conv-1", "a")
    add_feedback(store.path, "f-turn-b", "conv-1", "b")
    add_feedback(store.path, "f-conv-1", "conv-1", None)
    add_feedback(store.path, "f-conv-2", "conv-2", None)

    result = store.prune(older_than_ns=NOW - 7 * NS_PER_DAY)

    assert (result.traces, result.spans, result.feedback) == (2, 3, 2)
    db = store.path
    assert table(db, "SELECT project_id, substr(trace_id, 1, 1), substr(span_id, 1, 1) FROM spans") == {
        ("p", "b", "1"),
        ("p", "b", "2"),
        ("q", "c", "1"),
    }
    # The details went with their spans: none is left without one.
    assert table(
        db, "SELECT s.project_id, substr(s.trace_id, 1, 1) FROM span_details d LEFT JOIN spans s USING (id)"
    ) == {
        ("p", "b"),
        ("q", "c"),
    }
    assert table(db, "SELECT project_id, substr(trace_id, 1, 1), conversation_id FROM trace_conversations") == {
        ("p", "b", "conv-1"),
        ("q", "c", "conv-2"),
    }
    # A deleted turn's feedback goes; conversation feedback goes with the last turn.
    assert table(db, "SELECT id FROM feedback") == {("f-turn-b",), ("f-conv-1",)}
    assert store.prune(older_than_ns=NOW - 7 * NS_PER_DAY).traces == 0


def test_size_cap_drops_oldest_traces_first_and_never_half_a_trace(store):
    payload = {"gen_ai.tool.call.result": "x" * 4000}
    rows = [
        span(f"t{n:03d}", str(k), days_ago=(200 - n) / 10, attributes=payload) for n in range(200) for k in range(3)
    ]
    for start in range(0, len(rows), 60):
        store.write_spans(rows[start : start + 60])
    assert store.used_bytes() > 2 * 1024 * 1024
    cap = 1024 * 1024

    result = store.prune(max_bytes=cap)

    assert store.used_bytes() <= cap
    kept = read_db(store.path, "SELECT trace_id, count(*) AS n, max(end_ns) AS newest FROM spans GROUP BY trace_id")
    assert result.traces == 200 - len(kept) > 0
    assert all(row["n"] == 3 for row in kept)
    # What is left is exactly the newest traces.
    assert sorted(row["trace_id"][:4] for row in kept) == [f"t{n:03d}" for n in range(200 - len(kept), 200)]


def test_prune_cli(tmp_path, make_server, make_provider, capsys):
    server = make_server()
    tracer = make_provider(server, headers={"project_id": "p"}).get_tracer("agent")
    for days_ago in (10, 8, 1):
        start = NOW - days_ago * NS_PER_DAY
        root = tracer.start_span(f"turn {days_ago}d ago", start_time=start)
        root.set_attribute("gen_ai.conversation.id", "conv")
        root.end(end_time=start + 5_000_000)
    assert len(read_db(server.config.sqlite_path, "SELECT * FROM spans")) == 3

    # The server keeps running: the CLI prunes beside it, through SQLite's locking.
    assert cli.main(["prune", "--db", server.config.sqlite_path, "--older-than", "7d"]) == 0
    assert capsys.readouterr().out.startswith("pruned 2 traces (2 spans, 0 feedback)")
    assert [r["name"] for r in read_db(server.config.sqlite_path, "SELECT name FROM spans")] == ["turn 1d ago"]
    with pytest.raises(SystemExit) as refused:
        cli.main(["prune", "--db", server.config.sqlite_path, "--older-than", "seven days"])
    assert refused.value.code == 2
    assert "is not a duration like 7d" in capsys.readouterr().err


def test_background_retention_prunes_while_ingest_goes_on(make_server, make_provider, caplog):
    caplog.set_level(logging.INFO, logger="otelite.retention")
    server = make_server(retention_days=7, retention_interval_seconds=0.01)
    old = make_provider(server, headers={"project_id": "p"}).get_tracer("old")
    fresh = make_provider(server, headers={"project_id": "p"}, transport="http").get_tracer("fresh")
    stop = threading.Event()
    fresh_names: list[str] = []

    def ingest_fresh() -> None:
        n = 0
        while not stop.is_set():
            with fresh.start_as_current_span(f"fresh {n}"):
                pass
            fresh_names.append(f"fresh {n}")  # exported (acknowledged) when the span ends
            n += 1

    writer = threading.Thread(target=ingest_fresh)
    writer.start()
    try:
        for n in range(30):
            start = NOW - 30 * NS_PER_DAY
            with old.start_as_current_span(f"old {n}", start_time=start, end_on_exit=False) as s:
                pass
            s.end(end_time=start + 1000)
        deadline = time.monotonic() + 60
        while read_db(server.config.sqlite_path, "SELECT count(*) FROM spans WHERE name LIKE 'old %'")[0][0]:
            assert time.monotonic() < deadline, "retention did not prune the old spans"
            time.sleep(0.02)
    finally:
        stop.set()
        writer.join()
    # The background thread pruned them (not some other path), and says so once its pass ends.
    while not any(
        r.threadName == "otelite-retention" and r.getMessage().startswith("retention pruned ") for r in caplog.records
    ):
        assert time.monotonic() < deadline, "the retention thread did not report its pass"
        time.sleep(0.02)
    stored = {r["name"] for r in read_db(server.config.sqlite_path, "SELECT name FROM spans")}
    assert set(fresh_names) <= stored and fresh_names


def test_retention_is_off_by_default(store):
    config = load_config(env={})
    assert not Retention(store, config.retention_days, config.max_db_mb, config.retention_interval_seconds).enabled
    assert Retention(store, config.retention_days, 1, config.retention_interval_seconds).enabled


def test_conversation_stats_and_search_follow_a_prune(server, make_provider):
    """The conversation list reads stats kept at ingest: a prune keeps them right."""
    import httpx

    from tests.agent_turns import T0, agent_turn

    tracer = make_provider(server, headers={"project_id": "p"}).get_tracer("agent")
    day_ms = NS_PER_DAY // 1_000_000
    agent_turn(tracer, "conv-mixed", 0, "Weather in Oslo?", "Cold.")
    kept = agent_turn(tracer, "conv-mixed", 2 * day_ms, "Weather in Rome?", "Warm.")
    agent_turn(tracer, "conv-old", 10, "Weather in Lima?", "Mild.")

    def listing(**extra) -> dict:
        with httpx.Client(base_url=server.http_url) as client:
            return client.post("/agents/conversations", json={"project_id": "p", **extra}).json()

    before = {c["conversation_id"]: c for c in listing()["conversations"]}
    assert before["conv-mixed"]["turn_count"] == 2 and before["conv-old"]["turn_count"] == 1

    result = server.store.prune(older_than_ns=T0 + NS_PER_DAY)

    assert result.traces == 2
    after = listing()
    assert [c["conversation_id"] for c in after["conversations"]] == ["conv-mixed"]
    mixed = after["conversations"][0]
    assert mixed["turn_count"] == 1
    assert mixed["span_count"] == before["conv-mixed"]["span_count"] // 2
    assert mixed["input_tokens"] == before["conv-mixed"]["input_tokens"] // 2
    assert mixed["started_at"].startswith("2026-01-03")
    assert listing(search="Oslo")["conversations"] == [] and listing(search="Lima")["conversations"] == []
    assert [c["conversation_id"] for c in listing(search="Rome")["conversations"]] == ["conv-mixed"]
    assert {r["trace_id"] for r in read_db(server.config.sqlite_path, "SELECT DISTINCT trace_id FROM spans")} == {kept}
