"""`otelite serve` as a user runs it: flags, config, environment, signals."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from otelite.config import ConfigError, load_config
from tests.conftest import read_db
from tests.test_ingest_errors import sdk_spans


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_flags_override_environment_which_overrides_the_config_file(tmp_path: Path):
    config_file = tmp_path / "config.yaml"
    config_file.write_text("grpc_port: 1111\nhttp_port: 2222\ndb: from-file.db\nlimits:\n  max_request_bytes: 1024\n")
    env = {"OTELITE_HTTP_PORT": "3333", "OTELITE_DB": "from-env.db"}
    config = load_config(config_file, env=env, db="from-flag.db")
    assert (config.grpc_port, config.http_port, config.db) == (1111, 3333, "from-flag.db")
    assert config.limits.max_request_bytes == 1024
    assert config.host == "127.0.0.1" and config.default_project == "default"


def test_the_shipped_config_yaml_is_the_defaults():
    assert load_config(Path(__file__).parent.parent / "config.yaml", env={}) == load_config(env={})


def test_unknown_settings_are_an_error(tmp_path: Path):
    config_file = tmp_path / "config.yaml"
    config_file.write_text("grpc_prot: 1\n")
    with pytest.raises(ConfigError, match="unknown setting 'grpc_prot'"):
        load_config(config_file, env={})


def test_refuses_a_public_address_without_auth(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "otelite.cli", "serve", "--host", "0.0.0.0", "--db", str(tmp_path / "x.db")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "refusing to serve on non-loopback address 0.0.0.0" in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_prints_where_it_listens_and_flushes_on_signal(tmp_path: Path, sig: signal.Signals):
    db = tmp_path / "otelite.db"
    grpc_port, http_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "otelite.cli", "serve", "--grpc-port", str(grpc_port), "--db", str(db)],
        env={**os.environ, "OTELITE_HTTP_PORT": str(http_port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = process.stdout.readline()
        assert banner.strip() == (
            f"otelite: OTLP/gRPC on 127.0.0.1:{grpc_port}, "
            f"OTLP/HTTP and API on http://127.0.0.1:{http_port}, database {db}"
        )
        exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True)
        assert exporter.export(sdk_spans(5)) == SpanExportResult.SUCCESS
        exporter.shutdown()
        process.send_signal(sig)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "stopped, every accepted span is written" in out
    assert read_db(db, "SELECT count(*) AS n FROM spans")[0]["n"] == 5
