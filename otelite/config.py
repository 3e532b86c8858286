"""Configuration: defaults < config.yaml < OTELITE_* environment < command-line flags.

Each setting and its default is written once, here; config.yaml shows the same values
(tests/test_cli.py keeps them equal) and the components get every value from the
composition root (otelite/server.py), with no defaults of their own.
"""

from __future__ import annotations

import os
import re
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from otelite.auth import parse_password_hash, parse_token_hash
from otelite.proto import ValueLimits
from otelite.store import CLICKHOUSE_SCHEMES, sqlite_path

NonEmpty = Annotated[str, Field(min_length=1)]
Port = Annotated[int, Field(ge=0, le=65535)]  # 0: any free port (tests)
Positive = Annotated[int, Field(gt=0)]
NotNegative = Annotated[int, Field(ge=0)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Limits(Section):
    max_request_bytes: Positive = 16 * 1024 * 1024
    max_spans_per_request: Positive = 50_000
    # Per string (or bytes) value: longer ones are cut and end with "...[truncated N
    # bytes]", and the span gets `otelite.truncated` listing the keys. 1 MiB, not less:
    # gen_ai.input.messages carries whole conversation histories.
    max_attribute_bytes: Positive = 1024 * 1024
    # Per attribute list (span, event, link, resource): the rest are dropped and
    # counted in the span attribute `otelite.dropped_attributes_count` (a safety bound
    # of docs/security.md, against a span with millions of tiny attributes).
    max_attributes_per_span: Positive = 1024

    def value_limits(self) -> ValueLimits:
        return ValueLimits(self.max_attribute_bytes, self.max_attributes_per_span)


def _projects(value: Any) -> Any:
    return [value] if isinstance(value, str) else value  # `read: "*"` means `read: ["*"]`


class User(Section):
    username: NonEmpty
    password_hash: NonEmpty  # scrypt$n$r$p$salt$key, from `otelite hash-password`
    read: list[NonEmpty] = []  # projects to query; "*" = all
    write: list[NonEmpty] = []  # projects to ingest into; "*" = all

    _one_project = field_validator("read", "write", mode="before")(_projects)

    @field_validator("password_hash")
    @classmethod
    def _a_password_hash(cls, value: str) -> str:
        parse_password_hash(value)  # HashFormatError is a ValueError: pydantic reports it
        return value


class IngestToken(Section):
    project: NonEmpty
    token_hash: NonEmpty  # sha256$hex, from `otelite new-token`

    @field_validator("token_hash")
    @classmethod
    def _a_token_hash(cls, value: str) -> str:
        parse_token_hash(value)
        return value


class IngestConfig(Section):
    # Worker processes that decode, normalise and commit (SQLite store only; 0: all in
    # the server process). Ingest is Python-bound: one process uses at most one core.
    processes: int = 2
    # Request bytes handed to ingest and not yet answered, above which exports get
    # UNAVAILABLE / 503 (64 MiB).
    max_queue_bytes: int = 64 * 1024 * 1024


class Config(Section):
    host: NonEmpty = "127.0.0.1"
    grpc_port: Port = 4317
    http_port: Port = 4318
    # Where spans are stored: a SQLite file (a path, or sqlite:///path), or
    # `clickhouse://user:pass@host:8123/db` (options ?ttl_days=N&cluster=NAME), or
    # `chdb:///data/dir` (ClickHouse in-process).
    store: NonEmpty = "./otelite.db"
    default_project: NonEmpty = "default"
    # SQLite only. NORMAL survives kill -9 in WAL mode; FULL also survives power loss.
    synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    limits: Limits = Limits()
    writer: IngestConfig = IngestConfig()
    # Retention, enforced by a background thread (0 = off): traces whose newest span
    # started more than retention_days ago are deleted; above max_db_mb of used pages
    # the oldest traces are deleted until the database is under it.
    retention_days: NotNegative = 0
    max_db_mb: NotNegative = 0
    retention_interval_seconds: Annotated[float, Field(gt=0)] = 300.0
    # Auth: with any user or token configured, every route but /health needs credentials.
    users: list[User] = []
    ingest_tokens: list[IngestToken] = []

    @field_validator("synchronous", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("users")
    @classmethod
    def _unique_usernames(cls, users: list[User]) -> list[User]:
        names = [u.username for u in users]
        if len(names) != len(set(names)):
            raise ValueError("a username appears twice")
        return users

    @property
    def auth_configured(self) -> bool:
        return bool(self.users or self.ingest_tokens)

    @property
    def sqlite_path(self) -> str | None:
        """The SQLite file the store is, or None (ClickHouse, or an in-memory database)."""
        if self.store.startswith(CLICKHOUSE_SCHEMES):
            return None
        path = sqlite_path(self.store)
        return None if path in ("", ":memory:") else path

    @property
    def store_label(self) -> str:
        """`store` without any password, for printing."""
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", self.store)


# Scalar settings that OTELITE_<NAME> may override (retention_interval_seconds: only in
# the file; nobody tunes it per deployment).
ENV_SETTINGS = (
    "host",
    "grpc_port",
    "http_port",
    "store",
    "default_project",
    "synchronous",
    "retention_days",
    "max_db_mb",
)
# Old names: `store` was `db`. The --db flag, OTELITE_DB and load_config(db=...) still
# mean it (unless `store` is given at the same level); config.yaml refuses `db:`,
# naming the new key.
RENAMED = {"db": "store"}


class ConfigError(ValueError):
    pass


def load_config(path: str | Path | None = None, env: typing.Mapping[str, str] | None = None, **flags: Any) -> Config:
    """Raises ConfigError with one line naming the source and the key of each problem."""
    env = os.environ if env is None else env
    layers: list[tuple[str, dict[str, Any]]] = []
    if path is not None:
        try:
            document = yaml.safe_load(Path(path).read_text()) or {}
        except yaml.MarkedYAMLError as exc:
            where = f" (line {exc.problem_mark.line + 1})" if exc.problem_mark else ""
            raise ConfigError(f"{path}: not YAML{where}: {exc.problem or exc.context}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not YAML: {exc}") from None
        if not isinstance(document, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        layers.append((str(path), document))
    for old, new in RENAMED.items():
        if (value := env.get(f"OTELITE_{old.upper()}")) is not None and f"OTELITE_{new.upper()}" not in env:
            layers.append((f"OTELITE_{old.upper()}", {new: value}))
    for name in ENV_SETTINGS:
        if (value := env.get(f"OTELITE_{name.upper()}")) is not None:
            layers.append((f"OTELITE_{name.upper()}", {name: value}))
    flags = {k: v for k, v in flags.items() if v is not None}
    for old, new in RENAMED.items():
        if old in flags:
            flags.setdefault(new, flags.pop(old))
    layers.append(("command line", flags))

    # Validated after each layer, so an error is reported against the layer that made it.
    merged: dict[str, Any] = {}
    config = Config()
    for source, values in layers:
        merged = _merge(merged, values)
        try:
            config = Config.model_validate(merged)
        except ValidationError as exc:
            raise ConfigError(f"{source}: " + "; ".join(_message(source, error) for error in exc.errors())) from None
    return config


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """`update` over `base`; mappings are merged key by key, anything else replaced."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            value = _merge(merged[key], value)
        merged[key] = value
    return merged


def _message(source: str, error: Any) -> str:
    """`limits.max_request_bytes: Input should be a valid integer` (the source goes before)."""
    *parents, last = error["loc"] or ("",)
    where = _path(parents)
    prefix = f"{where}: " if where else ""
    if error["type"] == "extra_forbidden":
        if not parents and last in RENAMED:
            return f"unknown setting {last!r}: it is now {RENAMED[last]!r}"
        return f"{prefix}unknown setting {last!r} (known: {', '.join(_fields_at(parents))})"
    if error["type"] == "missing":
        return f"{prefix}{last} is required"
    message = error["msg"].removeprefix("Value error, ")
    return message if source.startswith("OTELITE_") else f"{_path([*parents, last])}: {message}"


def _path(loc: list[Any]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _fields_at(loc: list[Any]) -> list[str]:
    """The setting names of the section at `loc` (Config, Limits, a User, ...)."""
    model: Any = Config
    for part in loc:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[part].annotation
        model = typing.get_args(annotation)[0] if typing.get_origin(annotation) is list else annotation
    return list(model.model_fields)
