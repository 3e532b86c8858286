"""The span's scalar columns are written once (store/model.py SCALAR_COLUMNS): the
dataclasses, both backends' tables, their insert parameters and their readers agree
with it, and a column described after a table was made is added when the store opens."""

from __future__ import annotations

import sqlite3
from dataclasses import fields

import pytest

from otelite.collector.genai import CONTENT_FIELDS, GenAI
from otelite.collector.normalize import normalize
from otelite.store.model import (
    EXPORT_FIELDS,
    GENAI_COLUMNS,
    SCALAR_COLUMNS,
    SCALAR_NAMES,
    DetailedSpan,
    SpanRow,
)
from otelite.transfer import _record
from tests.conftest import BACKENDS, stored_spans

pytestmark = pytest.mark.backends(*BACKENDS)

GENAI_NAMES = [c.name for c in GENAI_COLUMNS]
BODIES = ["attributes", "events", "links", "resource", "scope", "content"]


def _names(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]


def test_the_dataclasses_have_one_field_per_genai_column():
    assert GENAI_NAMES[0] == "conversation_id" and "tool_call_id" in GENAI_NAMES
    assert _names(SpanRow) == [*EXPORT_FIELDS, *GENAI_NAMES, *BODIES]
    assert _names(GenAI) == [*GENAI_NAMES, *(n for n in _names(GenAI) if n in CONTENT_FIELDS)]
    assert set(_names(GenAI)) == {*GENAI_NAMES, *CONTENT_FIELDS}
    assert _names(DetailedSpan) == [
        "trace_id", "conversation_id", "span_id", "parent_span_id", "name", "start_ns", "end_ns", "status",
        "status_message", *GENAI_NAMES[1:], "content",
    ]  # fmt: skip
    # Every column is a SpanRow field but those the store computes.
    assert {c.name for c in SCALAR_COLUMNS if c.source != "store"} <= set(_names(SpanRow))
    assert GenAI().input_tokens is None and SpanRow("p", "t", "s", None, "n", "k", 1, 2, "OK", "").tool_name is None


def _table(store) -> list[tuple[str, str]]:
    """The spans table's (column, type) in table order, as the database reports them."""
    if hasattr(store, "path"):
        conn = sqlite3.connect(store.path)
        try:
            return [
                (name, f"{kind} NOT NULL" if notnull else kind)
                for _, name, kind, notnull, _, _ in conn.execute("PRAGMA table_info(spans)")
            ]
        finally:
            conn.close()
    rows = store.client.query(
        "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = 'spans' ORDER BY position",
        {"db": store.schema.database},
    )
    return [tuple(row) for row in rows]


def test_a_new_store_has_the_described_columns(make_store, store_backend):
    table = _table(make_store())
    if store_backend == "sqlite":
        assert table == [("id", "INTEGER"), *((c.name, c.sqlite) for c in SCALAR_COLUMNS)]
    else:
        assert table == [*((c.name, c.clickhouse) for c in SCALAR_COLUMNS), ("version", "UInt64")]


def _full_row(span_id: str, conversation_id: str | None = "conv") -> SpanRow:
    """A span with a distinct value in every GenAI column: a column read or written in
    another's place shows."""
    genai = {
        c.name: (f"{c.name}-value" if c.sqlite.startswith("TEXT") else 100 + i) for i, c in enumerate(GENAI_COLUMNS)
    }
    genai["conversation_id"] = conversation_id
    return SpanRow(
        "p", "a" * 32, span_id, None, "chat", "CLIENT", 1_750_000_000_000_000_000, 1_750_000_000_250_000_000, "OK",
        "fine", **genai, attributes={"k": 1}, resource={"service.name": "x"}, scope={"name": "s", "version": "1"},
        content={"output_messages": [{"role": "assistant", "parts": [{"type": "text", "content": "hi"}]}]},
    )  # fmt: skip


def test_every_column_round_trips_through_both_backends(make_store):
    store = make_store()
    row = _full_row("1" * 16)
    store.write_spans([row, _full_row("2" * 16, conversation_id=None)])
    stored, unnamed = stored_spans(store)
    for column in SCALAR_COLUMNS:
        expected = getattr(row, column.name, None)
        if column.name == "duration_ms":
            expected = 250
        elif column.name == "conversation_source":
            expected = 1
        assert stored[column.name] == expected, column.name
    # A span that names no conversation joins the one its trace was named into.
    assert (unnamed["conversation_id"], unnamed["conversation_source"]) == ("conv", 2)

    detailed = store.trace_spans("p", ["a" * 32])[0]
    for name in _names(DetailedSpan):
        assert getattr(detailed, name) == getattr(row, name), name

    exported = next(iter(store.iter_spans("p")))
    for name in [*EXPORT_FIELDS, *BODIES[:-1]]:
        assert getattr(exported, name) == getattr(row, name), name
    assert exported.conversation_id == "conv"
    assert [s.conversation_id for s in store.iter_spans("p")] == ["conv", None]  # only the span's own


def test_export_gives_back_the_spans_own_fields():
    row = _full_row("1" * 16)
    again = normalize(_record(row), row.project_id)
    assert [getattr(again, n) for n in EXPORT_FIELDS] == [getattr(row, n) for n in EXPORT_FIELDS]


def _drop_column(store, name: str) -> None:
    if hasattr(store, "path"):
        conn = sqlite3.connect(store.path)
        conn.execute(f"ALTER TABLE spans DROP COLUMN {name}")
        conn.close()
    else:
        store.client.command(f"ALTER TABLE {store.schema.storage_table('spans')} DROP COLUMN {name}")


def test_a_column_described_after_the_table_was_made_is_added_on_open(make_store, store_backend):
    """What happens when a new line is added to SCALAR_COLUMNS: an existing table, here
    one without tool_call_id and reasoning_tokens, gets the columns when the store opens;
    spans stored before read NULL there, new spans store them."""
    first = make_store()
    first.write_spans([_full_row("1" * 16)])
    for name in ("tool_call_id", "reasoning_tokens"):
        _drop_column(first, name)

    store = make_store()
    table = dict(_table(store))
    for column in ("tool_call_id", "reasoning_tokens"):
        expected = next(c for c in SCALAR_COLUMNS if c.name == column)
        assert table[column] == (expected.sqlite if store_backend == "sqlite" else expected.clickhouse)
    store.write_spans([_full_row("2" * 16)])
    old, new = stored_spans(store)
    assert (old["tool_call_id"], old["reasoning_tokens"]) == (None, None)
    assert (new["tool_call_id"], new["reasoning_tokens"]) == ("tool_call_id-value", _full_row("2").reasoning_tokens)
    assert set(SCALAR_NAMES) <= set(table)
