"""Plain data the store accepts and returns. No SQL, no protobuf."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple


class Column(NamedTuple):
    """One scalar column of the `spans` table, on both backends."""

    name: str
    sqlite: str  # its SQLite type and constraint
    clickhouse: str  # its ClickHouse type
    # Who fills it: "span" (the OTel span, a SpanRow field), "genai" (a dialect adapter:
    # a field of GenAI, SpanRow and DetailedSpan) or "store" (the store, when it writes).
    source: str = "genai"


# The span's scalar columns, in table order: the one list from which both backends'
# DDL, their insert parameters and their row readers are built, and the GenAI fields of
# `GenAI`, `SpanRow` and `DetailedSpan`. A new GenAI scalar is one line here (nullable,
# at the end) plus the adapter that fills it; the stores add it to existing tables when
# they open them.
SCALAR_COLUMNS = (
    # The first three are the span's key.
    Column("project_id", "TEXT NOT NULL", "LowCardinality(String)", "span"),
    Column("trace_id", "TEXT NOT NULL", "String", "span"),
    Column("span_id", "TEXT NOT NULL", "String", "span"),
    Column("parent_span_id", "TEXT", "Nullable(String)", "span"),
    Column("name", "TEXT NOT NULL", "String", "span"),
    Column("kind", "TEXT", "LowCardinality(String)", "span"),
    Column("start_ns", "INTEGER NOT NULL", "Int64", "span"),
    Column("end_ns", "INTEGER NOT NULL", "Int64", "span"),
    Column("duration_ms", "INTEGER", "Int64", "store"),  # (end_ns - start_ns) // 1_000_000
    Column("status", "TEXT NOT NULL", "LowCardinality(String)", "span"),  # UNSET, OK, ERROR
    # The conversation the span is in. SpanRow / GenAI: the one the span named itself,
    # None if it named none. Stored: that, else (for now) its trace id.
    Column("conversation_id", "TEXT NOT NULL", "String"),
    # 0 = none known yet (conversation_id is the trace id), 1 = named by the span itself,
    # 2 = inherited from another span of its trace (SQLite only: ClickHouse resolves it when read).
    Column("conversation_source", "INTEGER", "UInt8", "store"),
    Column("operation_name", "TEXT", "LowCardinality(Nullable(String))"),
    Column("agent_name", "TEXT", "LowCardinality(Nullable(String))"),
    Column("provider", "TEXT", "LowCardinality(Nullable(String))"),
    Column("request_model", "TEXT", "LowCardinality(Nullable(String))"),
    Column("response_model", "TEXT", "LowCardinality(Nullable(String))"),
    Column("input_tokens", "INTEGER", "Nullable(Int64)"),
    Column("output_tokens", "INTEGER", "Nullable(Int64)"),
    Column("reasoning_tokens", "INTEGER", "Nullable(Int64)"),
    Column("tool_name", "TEXT", "LowCardinality(Nullable(String))"),
    Column("tool_call_id", "TEXT", "Nullable(String)"),
)
SCALAR_NAMES = tuple(c.name for c in SCALAR_COLUMNS)
GENAI_COLUMNS = tuple(c for c in SCALAR_COLUMNS if c.source == "genai")
assert all(c.name.isidentifier() and c.source in ("span", "genai", "store") for c in SCALAR_COLUMNS)
assert SCALAR_NAMES[:3] == ("project_id", "trace_id", "span_id")

_PYTHON_TYPES = {"TEXT": "str", "INTEGER": "int"}


def with_columns(columns: Iterable[Column], *, before: str) -> Callable[[type], type]:
    """Class decorator, under `@dataclass`: one `name: type | None = None` field per
    column, inserted before the field `before`."""

    def add(cls: type) -> type:
        declared = inspect.get_annotations(cls)
        annotations: dict[str, Any] = {}
        for name, annotation in declared.items():
            if name == before:
                for column in columns:
                    annotations[column.name] = _PYTHON_TYPES[column.sqlite.split()[0]] + " | None"
                    setattr(cls, column.name, None)
            annotations[name] = annotation
        if before not in declared:
            raise TypeError(f"{cls.__name__} has no field {before!r}")
        cls.__annotations__ = annotations
        return cls

    return add


def tuple_function(
    name: str, args: str, items: Iterable[str], into: Callable[..., Any] | None = None
) -> Callable[..., Any]:
    """`def name(args): return (item, item, ...)`, or `into(item, item, ...)`, compiled
    once from expressions built from the column names, as dataclasses and namedtuple
    build their methods: the same bytecode as the tuple or call written by hand."""
    source = f"def {name}({args}):\n    return {'into' if into else ''}({', '.join(items)},)\n"
    namespace: dict[str, Any] = {}
    exec(source, {"into": into}, namespace)  # noqa: S102 (the text holds identifiers and the expressions given)
    function = namespace[name]
    function.__doc__ = source
    return function


class CommittedSpan(NamedTuple):
    """What commit listeners hear of a span (the live-update events read only these)."""

    project_id: str
    trace_id: str
    conversation_id: str | None  # the one the span named itself, if any


@dataclass(slots=True)
@with_columns(GENAI_COLUMNS, before="attributes")
class SpanRow:
    """One normalised span, ready to be written.

    Scalar fields are the columns of SCALAR_COLUMNS the span and the dialect adapters
    fill (one field per GenAI column, added before `attributes` by `with_columns`);
    `status_message`, `attributes`, `events`, `links`, `resource`, `scope` and `content`
    (normalised GenAI message bodies) are kept apart so scalar queries never touch them.
    """

    project_id: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_ns: int
    end_ns: int
    status: str  # UNSET, OK, ERROR
    status_message: str
    # + the GenAI columns (conversation_id: the one named by this span itself, None:
    # inherit from its trace).
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    resource: dict[str, Any] = field(default_factory=dict)
    scope: dict[str, Any] = field(default_factory=dict)
    content: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_ms(self) -> int:
        return (self.end_ns - self.start_ns) // 1_000_000


# SpanRow's first fields: the span's own (the "span" columns and status_message), what
# an export gives back (with the conversation the span named).
EXPORT_FIELDS = tuple(c.name for c in SCALAR_COLUMNS if c.source == "span") + ("status_message",)
assert [f.name for f in fields(SpanRow)][: len(EXPORT_FIELDS)] == list(EXPORT_FIELDS)


@dataclass(slots=True)
class PruneResult:
    """What one `Store.prune` call deleted."""

    traces: int = 0
    spans: int = 0
    feedback: int = 0

    def add(self, other: PruneResult) -> None:
        self.traces += other.traces
        self.spans += other.spans
        self.feedback += other.feedback


@dataclass(slots=True)
class ConversationSummary:
    """One row of the conversation list, from the stats kept at ingest."""

    conversation_id: str
    turns: int
    spans: int
    errors: int
    input_tokens: int
    output_tokens: int
    first_ns: int  # earliest span start
    last_ns: int  # latest span end: the last activity
    agents: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ConversationPage:
    total: int  # conversations matching the filters, across all pages
    conversations: list[ConversationSummary]


@dataclass(slots=True)
class ProjectSummary:
    project_id: str
    conversations: int
    spans: int
    last_ns: int


@dataclass(slots=True, frozen=True)
class MiniMapSpan:
    """One span of the conversation mini-map: scalar columns only."""

    conversation_id: str
    trace_id: str
    span_id: str
    operation_name: str  # the raw gen_ai.operation.name, else the span name
    status: str
    duration_ms: int
    start_ns: int


@dataclass(slots=True, frozen=True)
class Turn:
    """One turn of a conversation: a trace id and when its first span started."""

    trace_id: str
    start_ns: int


@dataclass(slots=True)
@with_columns([c for c in GENAI_COLUMNS if c.name != "conversation_id"], before="content")
class DetailedSpan:
    """A span with its normalised GenAI content, as the chat view reads it."""

    trace_id: str
    conversation_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    start_ns: int
    end_ns: int
    status: str
    status_message: str
    # + the GenAI columns but conversation_id.
    content: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_ms(self) -> int:
        return (self.end_ns - self.start_ns) // 1_000_000


@dataclass(slots=True)
class Feedback:
    """Feedback on a whole conversation (trace_id None) or on one turn of it."""

    id: str
    project_id: str
    conversation_id: str
    trace_id: str | None
    feedback_type: str
    tags: list[str]
    # Each {"name", "value", "confidence", "reason"}.
    ratings: list[dict[str, Any]]
    created_ns: int
