"""Configuration: defaults < config.yaml < OTELITE_* environment < command-line flags."""

from __future__ import annotations

import os
import re
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from otelite.store import CLICKHOUSE_SCHEMES, sqlite_path


@dataclass(slots=True)
class Limits:
    max_request_bytes: int = 16 * 1024 * 1024
    max_spans_per_request: int = 50_000
    # Per string (or bytes) value: longer ones are cut and end with "...[truncated N
    # bytes]", and the span gets `otelite.truncated` listing the keys. 1 MiB, not less:
    # gen_ai.input.messages carries whole conversation histories.
    max_attribute_bytes: int = 1024 * 1024
    # Per attribute list (span, event, link, resource): the rest are dropped and
    # counted in the span attribute `otelite.dropped_attributes_count`.
    max_attributes_per_span: int = 1024


@dataclass(slots=True)
class User:
    username: str
    password_hash: str  # scrypt$n$r$p$salt$key, from `otelite hash-password`
    read: list[str] = field(default_factory=list)  # projects to query; "*" = all
    write: list[str] = field(default_factory=list)  # projects to ingest into; "*" = all


@dataclass(slots=True)
class IngestToken:
    project: str
    token_hash: str  # sha256$hex, from `otelite new-token`


@dataclass(slots=True)
class WriterSettings:
    # Worker processes that decode, normalise and commit (SQLite store only; 0: all in
    # the server process). Ingest is Python-bound: one process uses at most one core.
    processes: int = 2
    # Request bytes handed to ingest and not yet answered, above which exports get
    # UNAVAILABLE / 503 (64 MiB).
    max_queue_bytes: int = 64 * 1024 * 1024


@dataclass(slots=True)
class Config:
    host: str = "127.0.0.1"
    grpc_port: int = 4317
    http_port: int = 4318
    db: str = "./otelite.db"
    # Where spans are stored when not the SQLite file `db`: `clickhouse://user:pass@host:8123/db`
    # (options ?ttl_days=N&cluster=NAME) or `chdb:///data/dir` (ClickHouse in-process).
    store: str = ""
    default_project: str = "default"
    # NORMAL survives kill -9 in WAL mode; FULL also survives power loss.
    synchronous: str = "NORMAL"
    limits: Limits = field(default_factory=Limits)
    writer: WriterSettings = field(default_factory=WriterSettings)
    # Retention, enforced by a background thread (0 = off): traces whose newest span
    # started more than retention_days ago are deleted; above max_db_mb of used pages
    # the oldest traces are deleted until the database is under it.
    retention_days: int = 0
    max_db_mb: int = 0
    retention_interval_seconds: float = 300.0
    # Auth: with any user or token configured, every route but /health needs credentials.
    users: list[User] = field(default_factory=list)
    ingest_tokens: list[IngestToken] = field(default_factory=list)

    @property
    def auth_configured(self) -> bool:
        return bool(self.users or self.ingest_tokens)

    @property
    def store_url(self) -> str:
        """The store to open: `store` when set, else the SQLite file `db`."""
        return self.store or self.db

    @property
    def sqlite_path(self) -> str | None:
        """The SQLite file the store is, or None (ClickHouse, or an in-memory database)."""
        if self.store_url.startswith(CLICKHOUSE_SCHEMES):
            return None
        path = sqlite_path(self.store_url)
        return None if path in ("", ":memory:") else path

    @property
    def store_label(self) -> str:
        """`store_url` without any password, for printing."""
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", self.store_url)


# Scalar settings that OTELITE_<NAME> may override.
ENV_SETTINGS = (
    "host",
    "grpc_port",
    "http_port",
    "db",
    "store",
    "default_project",
    "synchronous",
    "retention_days",
    "max_db_mb",
    "retention_interval_seconds",
)
# List settings, and the type of their items.
LIST_ITEMS: dict[str, type] = {"users": User, "ingest_tokens": IngestToken}


class ConfigError(ValueError):
    pass


def load_config(path: str | Path | None = None, env: dict[str, str] | None = None, **flags: Any) -> Config:
    env = os.environ if env is None else env
    config = Config()
    if path is not None:
        document = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(document, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        _apply(config, document, str(path))
    for name in ENV_SETTINGS:
        value = env.get(f"OTELITE_{name.upper()}")
        if value is not None:
            _apply(config, {name: value}, f"OTELITE_{name.upper()}")
    _apply(config, {k: v for k, v in flags.items() if v is not None}, "command line")
    return config


def _apply(target: Any, values: dict[str, Any], source: str) -> None:
    known = {f.name: f for f in fields(target)}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{source}: unknown setting {key!r} (known: {', '.join(known)})")
        current = getattr(target, key)
        if key in LIST_ITEMS:
            setattr(target, key, _items(LIST_ITEMS[key], value, f"{source}: {key}"))
        elif hasattr(current, "__dataclass_fields__"):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: {key} must be a mapping")
            _apply(current, value, f"{source}: {key}")
        elif isinstance(current, float):
            try:
                setattr(target, key, float(value))
            except (TypeError, ValueError):
                raise ConfigError(f"{source}: {key} must be a number, not {value!r}") from None
        elif isinstance(current, int):
            try:
                setattr(target, key, int(value))
            except (TypeError, ValueError):
                raise ConfigError(f"{source}: {key} must be an integer, not {value!r}") from None
        else:
            setattr(target, key, str(value))


def _items(item_type: type, values: Any, source: str) -> list[Any]:
    """A list of `item_type` from YAML mappings, every field checked."""
    from otelite.auth import HashFormatError, parse_password_hash, parse_token_hash

    if not isinstance(values, list):
        raise ConfigError(f"{source} must be a list")
    items = []
    for index, value in enumerate(values):
        where = f"{source}[{index}]"
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping")
        known = {f.name: f for f in fields(item_type)}
        unknown = set(value) - set(known)
        if unknown:
            raise ConfigError(f"{where}: unknown setting(s) {', '.join(sorted(map(str, unknown)))} (known: {', '.join(known)})")
        kwargs: dict[str, Any] = {}
        for name, f in known.items():
            if name not in value:
                if f.default is MISSING and f.default_factory is MISSING:
                    raise ConfigError(f"{where}: {name} is required")
                continue
            item = value[name]
            if f.type == "list[str]":
                if isinstance(item, str):
                    item = [item]
                if not isinstance(item, list) or not all(isinstance(v, str) and v for v in item):
                    raise ConfigError(f"{where}: {name} must be a list of project ids")
            elif not isinstance(item, str) or not item:
                raise ConfigError(f"{where}: {name} must be a non-empty string")
            kwargs[name] = item
        try:
            if "password_hash" in kwargs:
                parse_password_hash(kwargs["password_hash"])
            if "token_hash" in kwargs:
                parse_token_hash(kwargs["token_hash"])
        except HashFormatError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        items.append(item_type(**kwargs))
    names = [getattr(i, "username", None) for i in items]
    if len([n for n in names if n]) != len({n for n in names if n}):
        raise ConfigError(f"{source}: a username appears twice")
    return items
