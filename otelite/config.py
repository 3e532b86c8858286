"""Configuration: defaults < config.yaml < OTELITE_* environment < command-line flags."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml


@dataclass(slots=True)
class Limits:
    max_request_bytes: int = 16 * 1024 * 1024
    max_spans_per_request: int = 50_000


@dataclass(slots=True)
class WriterSettings:
    # A queued span costs about 5x its protobuf size in Python objects (6 KB for a span
    # with 1 KB of messages): these bounds keep the queue and the batch being written
    # to about 200 MB for such spans (docs/performance.md).
    max_queue_spans: int = 20_000
    max_batch_spans: int = 10_000


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

    @property
    def store_url(self) -> str:
        """The store to open: `store` when set, else the SQLite file `db`."""
        return self.store or self.db

    @property
    def store_label(self) -> str:
        """`store_url` without any password, for printing."""
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", self.store_url)


# Scalar settings that OTELITE_<NAME> may override.
ENV_SETTINGS = ("host", "grpc_port", "http_port", "db", "store", "default_project", "synchronous")


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
        if hasattr(current, "__dataclass_fields__"):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: {key} must be a mapping")
            _apply(current, value, f"{source}: {key}")
        elif isinstance(current, int):
            try:
                setattr(target, key, int(value))
            except (TypeError, ValueError):
                raise ConfigError(f"{source}: {key} must be an integer, not {value!r}") from None
        else:
            setattr(target, key, str(value))
