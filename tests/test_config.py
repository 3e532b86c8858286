"""Configuration: each default written once (otelite/config.py), every value checked with a
message naming where it came from and which key, and the components taking every value
from the config (no scalar defaults of their own that could drift from it)."""

from __future__ import annotations

import inspect
from dataclasses import MISSING, fields
from pathlib import Path

import pytest

from otelite import cli
from otelite.api.app import create_app
from otelite.api.auth import AuthMiddleware
from otelite.collector.pipeline import Preparer
from otelite.config import ENV_SETTINGS, Config, ConfigError, load_config
from otelite.proto import ValueLimits
from otelite.retention import Retention

PASSWORD_HASH = "scrypt$16384$8$1$c2FsdA==$a2V5"


def config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "limits:\n  max_request_bytes: lots\n",
            "config.yaml: limits.max_request_bytes: Input should be a valid integer",
        ),
        ("limits:\n  max_request_bytes: 0\n", "config.yaml: limits.max_request_bytes: Input should be greater than 0"),
        ("grpc_port: 70000\n", "config.yaml: grpc_port: Input should be less than or equal to 65535"),
        ("limits:\n  max_bytes: 1\n", "config.yaml: limits: unknown setting 'max_bytes' (known: max_request_bytes, "),
        ("limits: 5\n", "config.yaml: limits: Input should be a valid dictionary"),
        ("synchronous: EXTRA\n", "config.yaml: synchronous: Input should be 'NORMAL' or 'FULL'"),
        ("retention_days: -1\n", "config.yaml: retention_days: Input should be greater than or equal to 0"),
        ("store: ''\n", "config.yaml: store: String should have at least 1 character"),
        ("db: x.db\n", "config.yaml: unknown setting 'db': it is now 'store'"),
        ("users: [{username: a}]\n", "config.yaml: users[0]: password_hash is required"),
        (
            "users: [{username: a, password_hash: hunter2}]\n",
            "config.yaml: users[0].password_hash: a password hash looks like",
        ),
        (
            f"users: [{{username: a, password_hash: '{PASSWORD_HASH}', read: ['']}}]\n",
            "config.yaml: users[0].read[0]: String",
        ),
        (
            f"users: [{{username: a, password_hash: '{PASSWORD_HASH}'}}, {{username: a, password_hash: '{PASSWORD_HASH}'}}]\n",
            "config.yaml: users: a username appears twice",
        ),
        (
            "ingest_tokens: [{project: p, token_hash: abc}]\n",
            "config.yaml: ingest_tokens[0].token_hash: a token hash looks like",
        ),
        ("ingest_tokens: [{project: p}]\n", "config.yaml: ingest_tokens[0]: token_hash is required"),
    ],
)
def test_a_bad_file_names_the_key(tmp_path: Path, text: str, message: str):
    with pytest.raises(ConfigError) as raised:
        load_config(config_file(tmp_path, text), env={})
    assert str(raised.value).startswith(f"{tmp_path}/{message}")
    assert "\n" not in str(raised.value)


def test_every_problem_is_listed_on_one_line(tmp_path: Path):
    with pytest.raises(ConfigError) as raised:
        load_config(config_file(tmp_path, "grpc_port: x\nhttp_port: y\n"), env={})
    assert str(raised.value) == (
        f"{tmp_path}/config.yaml: grpc_port: Input should be a valid integer, unable to parse string as an integer; "
        "http_port: Input should be a valid integer, unable to parse string as an integer"
    )


def test_a_bad_environment_variable_or_flag_is_named():
    with pytest.raises(ConfigError, match=r"^OTELITE_GRPC_PORT: Input should be a valid integer"):
        load_config(env={"OTELITE_GRPC_PORT": "4317x"})
    with pytest.raises(ConfigError, match=r"^OTELITE_SYNCHRONOUS: Input should be 'NORMAL' or 'FULL'"):
        load_config(env={"OTELITE_SYNCHRONOUS": "off"})
    with pytest.raises(ConfigError, match=r"^command line: writer: unknown setting 'procs'"):
        load_config(env={}, writer={"procs": 1})


def test_environment_values_are_parsed_and_only_the_listed_names_are_read():
    env = {
        f"OTELITE_{name.upper()}": value
        for name, value in [("grpc_port", "1"), ("synchronous", "full"), ("max_db_mb", "5")]
    }
    config = load_config(env={**env, "OTELITE_RETENTION_INTERVAL_SECONDS": "1", "OTELITE_LIMITS": "x"})
    assert (config.grpc_port, config.synchronous, config.max_db_mb) == (1, "FULL", 5)
    assert config.retention_interval_seconds == Config().retention_interval_seconds
    assert set(ENV_SETTINGS) <= set(Config.model_fields)


def test_sections_merge_key_by_key_across_levels(tmp_path: Path):
    path = config_file(tmp_path, "limits:\n  max_request_bytes: 1024\nusers: []\n")
    config = load_config(path, env={}, limits={"max_spans_per_request": 7})
    assert (config.limits.max_request_bytes, config.limits.max_spans_per_request) == (1024, 7)
    assert config.limits.max_attribute_bytes == Config().limits.max_attribute_bytes


def test_users_and_tokens(tmp_path: Path):
    path = config_file(
        tmp_path,
        f"users: [{{username: a, password_hash: '{PASSWORD_HASH}', read: '*'}}]\n"
        f"ingest_tokens: [{{project: p, token_hash: 'sha256${'0' * 64}'}}]\n",
    )
    config = load_config(path, env={})
    assert [(u.username, u.read, u.write) for u in config.users] == [("a", ["*"], [])]
    assert [(t.project, t.token_hash) for t in config.ingest_tokens] == [("p", f"sha256${'0' * 64}")]
    assert config.auth_configured and not Config().auth_configured


def test_one_store_setting_with_the_old_db_names_as_aliases(tmp_path: Path):
    assert Config().store == "./otelite.db" and Config().sqlite_path == "./otelite.db"
    assert load_config(env={"OTELITE_DB": "old.db"}).store == "old.db"
    assert load_config(env={"OTELITE_DB": "old.db", "OTELITE_STORE": "new.db"}).store == "new.db"
    path = config_file(tmp_path, "store: file.db\n")
    assert load_config(path, env={"OTELITE_DB": "env.db"}).store == "env.db"
    assert load_config(path, env={}, db="flag.db").store == "flag.db"
    assert load_config(path, env={}, db="flag.db", store="store.db").store == "store.db"
    assert load_config(env={}, store="sqlite:///x/y.db").sqlite_path == "x/y.db"
    assert load_config(env={}, store=":memory:").sqlite_path is None
    assert load_config(env={}, store="chdb:///data").sqlite_path is None


def test_the_cli_takes_db_as_store_and_prints_a_bad_config_on_one_line(tmp_path: Path, capsys):
    db = tmp_path / "spans.db"
    assert cli.main(["stats", "--db", str(db)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"database: {db}", "spans: 0"]
    bad = config_file(tmp_path, "limits:\n  max_request_bytes: lots\n")
    assert cli.main(["stats", "--config", str(bad), "--store", str(db)]) == 1
    assert capsys.readouterr().err == (
        f"otelite: {bad}: limits.max_request_bytes: Input should be a valid integer, unable to parse string as an integer\n"
    )
    bad.write_text("limits:\n  max_request_bytes: [1\n")
    assert cli.main(["serve", "--config", str(bad)]) == 1
    assert (
        capsys.readouterr().err == f"otelite: {bad}: not YAML (line 3): expected ',' or ']', but got '<stream end>'\n"
    )
    assert cli.main(["stats", "--config", str(tmp_path / "absent.yaml")]) == 1
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize("command", ["serve", "stats", "prune"])
def test_a_store_that_cannot_be_opened_is_one_line_and_status_1(tmp_path: Path, capsys, command: str):
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_text("not a database\n" * 100)
    for store, problem in [
        (str(not_a_database), "file is not a database"),
        (str(tmp_path / "absent" / "x.db"), "unable to open database file"),
        ("clickhouse://h/db;x", "not a plain ClickHouse identifier"),
    ]:
        flags = (
            ["--grpc-port", "0", "--http-port", "0"]
            if command == "serve"
            else ["--older-than", "1d"]
            if command == "prune"
            else []
        )
        assert cli.main([command, "--store", store, *flags]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"otelite: {store}: {problem}") and err.count("\n") == 1, err


@pytest.mark.parametrize(
    "component", [Preparer.__init__, ValueLimits.__init__, create_app, AuthMiddleware.__init__, Retention.__init__]
)
def test_components_have_no_defaults_of_their_own(component):
    """Their values come from the config through otelite/server.py; a default here would be
    a second copy of config.py's that nothing keeps equal."""
    scalars = {
        name: p.default
        for name, p in inspect.signature(component).parameters.items()
        if isinstance(p.default, (int, float, str, bytes, ValueLimits)) and p.default is not None
    }
    assert scalars == {}


def test_value_limits_have_no_field_defaults():
    assert all(f.default is MISSING for f in fields(ValueLimits))
    limits = Config().limits
    assert limits.value_limits() == ValueLimits(limits.max_attribute_bytes, limits.max_attributes_per_span)
