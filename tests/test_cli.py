"""`otelite serve` as a user runs it: flags, config, environment, signals."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from otelite.config import ConfigError, load_config
from tests.conftest import read_db
from tests.test_ingest import _tree_of_three
from tests.test_ingest_errors import sdk_spans


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_flags_override_environment_which_overrides_the_config_file(tmp_path: Path):
    config_file = tmp_path / "config.yaml"
    config_file.write_text(
        "grpc_port: 1111\nhttp_port: 2222\nstore: from-file.db\nlimits:\n  max_request_bytes: 1024\n"
    )
    env = {"OTELITE_HTTP_PORT": "3333", "OTELITE_STORE": "from-env.db"}
    config = load_config(config_file, env=env, store="from-flag.db")
    assert (config.grpc_port, config.http_port, config.store) == (1111, 3333, "from-flag.db")
    assert load_config(config_file, env=env).store == "from-env.db"
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
        check=False,
    )
    assert result.returncode == 2
    assert "refusing to serve on non-loopback address 0.0.0.0" in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
# "group": the signal reaches the ingest worker processes too, as Ctrl-C in a terminal
# or a service manager stopping the whole process group does; the server still decides
# when they stop, after the flush.
@pytest.mark.parametrize("to", ["process", "group"])
def test_serve_prints_where_it_listens_and_flushes_on_signal(tmp_path: Path, sig: signal.Signals, to: str):
    db = tmp_path / "otelite.db"
    grpc_port, http_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "otelite.cli", "serve", "--grpc-port", str(grpc_port), "--db", str(db)],
        env={**os.environ, "OTELITE_HTTP_PORT": str(http_port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
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
        # Lean: the server and its workers refuse the DataFrame libraries sqlite-utils
        # would import (otelite.lean; ~80 MB a process).
        for pid in [process.pid, *child_pids(process.pid)]:
            libraries = Path(f"/proc/{pid}/maps").read_text()
            assert "pandas" not in libraries and "numpy" not in libraries
        if to == "group":
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "stopped, every accepted span is written" in out
    assert "ingest worker" not in err  # none died or was replaced on the way out
    assert read_db(db, "SELECT count(*) AS n FROM spans")[0]["n"] == 5


def child_pids(pid: int) -> list[int]:
    return [
        int(child) for task in Path(f"/proc/{pid}/task").iterdir() for child in (task / "children").read_text().split()
    ]


def run_cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "otelite.cli", *args], input=stdin, capture_output=True, timeout=60, check=False
    )


def test_export_then_import_round_trips_spans_and_projects(server, make_provider, tmp_path: Path):
    _tree_of_three(make_provider(server, headers={"project_id": "alpha"}).get_tracer("agent"), "conv-a")
    _tree_of_three(make_provider(server, headers={"project_id": "beta"}).get_tracer("agent"), "conv-b")
    server.stop()

    exported = run_cli("export", "--db", server.config.sqlite_path)
    assert exported.returncode == 0, exported.stderr
    lines = exported.stdout.splitlines()
    assert len(lines) == 2  # one line per trace

    copy = tmp_path / "copy.db"
    imported = run_cli("import", "-", "--db", str(copy), stdin=exported.stdout)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.decode().strip() == "imported 6 spans, rejected 0"

    columns = "project_id, trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status, conversation_id, operation_name"
    original = read_db(server.config.sqlite_path, f"SELECT {columns} FROM spans ORDER BY span_id")
    assert [tuple(r) for r in read_db(copy, f"SELECT {columns} FROM spans ORDER BY span_id")] == [
        tuple(r) for r in original
    ]
    details = "SELECT attributes, events, links, scope FROM span_details JOIN spans USING (id) ORDER BY span_id"
    assert [tuple(r) for r in read_db(copy, details)] == [tuple(r) for r in read_db(server.config.sqlite_path, details)]
    stats = run_cli("stats", "--db", str(copy))
    assert b"spans: 6" in stats.stdout


def test_import_reports_a_bad_line_and_keeps_the_rest(tmp_path: Path):
    good = encode_json_line(sdk_spans(2))
    bad = b"{this is not json\n"
    result = run_cli("import", "-", "--db", str(tmp_path / "i.db"), stdin=good + bad + good)
    assert result.returncode == 1
    assert result.stdout.decode().strip() == "imported 4 spans, rejected 0"
    assert b"line 2: invalid JSON" in result.stderr
    assert read_db(tmp_path / "i.db", "SELECT count(*) AS n FROM spans")[0]["n"] == 2  # the same 2 spans, twice


def encode_json_line(spans) -> bytes:
    """The SDK's spans as one OTLP-JSON line (ids hex, not protobuf JSON's base64)."""
    document = json_format.MessageToDict(encode_spans(spans))
    for rs in document["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return orjson.dumps(document) + b"\n"
