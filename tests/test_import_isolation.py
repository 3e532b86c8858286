"""otelite adds one import name, `otelite`, and runs none of the current directory's code.

An agent project's environment often has Google's proto-plus (`import proto`), and a
gRPC project's folder often holds `proto/`, `collector/` or `api/` packages of its own:
otelite must live beside both.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

LISTENING = re.compile(r"OTLP/gRPC on [^ ]+:(\d+), OTLP/HTTP and API on (http://\S+),")
OTELITE = Path(sys.executable).with_name("otelite")  # the console script pip installed


def test_import_proto_is_proto_plus_beside_otelite(tmp_path: Path):
    # Run where the repository is not on sys.path, as in a user's environment.
    check = "import proto, otelite.proto; print(proto.Message.__module__, otelite.proto.__name__)"
    out = subprocess.run(
        [sys.executable, "-c", check], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["proto.message", "otelite.proto"]


def test_serve_in_a_folder_of_lookalike_packages_imports_none_of_them(tmp_path: Path):
    for name in ("proto", "collector", "api", "store"):
        (tmp_path / name).mkdir()
        # Importing it leaves a mark and fails loudly.
        (tmp_path / name / "__init__.py").write_text(
            "import pathlib\npathlib.Path(__file__).with_name('IMPORTED').touch()\nraise ImportError('not otelite')\n"
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTELITE_", "PYTHONPATH"))}
    server = subprocess.Popen(
        [str(OTELITE), "serve", "--db", "otelite.db", "--grpc-port", "0", "--http-port", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        match = LISTENING.search(line)
        assert match, f"otelite did not start: {line!r} {server.stderr.read() if server.poll() is not None else ''}"
        grpc_port, api = int(match.group(1)), match.group(2)

        provider = TracerProvider(resource=Resource.create({"service.name": "lookalikes"}))
        exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        with provider.get_tracer("t").start_as_current_span("chat gpt-4o") as span:
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.conversation.id", "conv-here")
            span_id = format(span.get_span_context().span_id, "016x")
        provider.shutdown()

        minimap = httpx.post(
            f"{api}/agents/conversations/spans", json={"project_id": "default", "conversation_ids": ["conv-here"]}
        ).json()
        assert [(s["span_id"], s["operation_name"]) for s in minimap["conversations"][0]["spans"]] == [
            (span_id, "chat")
        ]
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stdout.close()
        server.stderr.close()
    assert sorted(p.parent.name for p in tmp_path.rglob("IMPORTED")) == []
