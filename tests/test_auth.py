"""Auth: users with scrypt password hashes and per-project read/write lists, and
per-project ingest tokens, on OTLP/HTTP, OTLP/gRPC and every API route."""

from __future__ import annotations

import base64
import io
import json

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from otelite import cli
from otelite.api.app import create_app
from otelite.auth import Authenticator, hash_password, hash_token, verify_password
from otelite.config import ConfigError, load_config
from tests.conftest import read_db

TOKEN = "tok-3f9a1c0e7b5d4a2f8e6c1b0a9d8e7f6a"
USERS = [
    {"username": "alice", "password_hash": hash_password("alice-pw"), "read": ["proj-a"], "write": ["proj-a"]},
    {"username": "bob", "password_hash": hash_password("bob-pw"), "read": ["proj-b", "shared"], "write": ["proj-b"]},
    {"username": "admin", "password_hash": hash_password("admin-pw"), "read": ["*"], "write": []},
]
TOKENS = [{"project": "proj-c", "token_hash": hash_token(TOKEN)}]
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def secured(make_server):
    return make_server(users=USERS, ingest_tokens=TOKENS)


def otlp_request(name: str) -> bytes:
    span = Span(
        trace_id=b"\x11" * 16,
        span_id=name.encode().ljust(8, b".")[:8],
        name=name,
        start_time_unix_nano=1,
        end_time_unix_nano=2,
    )
    return ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])]
    ).SerializeToString()


def grpc_export(server, body: bytes, metadata: list[tuple[str, str]]) -> grpc.StatusCode:
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        call = channel.unary_unary(EXPORT, response_deserializer=ExportTraceServiceResponse.FromString)
        try:
            call(body, metadata=metadata, timeout=10)
        except grpc.RpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


def projects_of(server) -> dict[str, str]:
    return {
        r["name"]: r["project_id"] for r in read_db(server.config.sqlite_path, "SELECT name, project_id FROM spans")
    }


def test_otlp_http_needs_credentials_and_write_access(secured, make_provider):
    url = f"{secured.http_url}/v1/traces"
    pb = {"content-type": "application/x-protobuf"}
    with httpx.Client() as client:
        missing = client.post(url, content=otlp_request("anon"), headers=pb)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == 'Basic realm="otelite"'
        assert missing.json() == {"detail": "Not authenticated"}
        wrong = client.post(url, content=otlp_request("wrong"), headers={**pb, "authorization": basic("alice", "nope")})
        assert wrong.status_code == 401
        unknown = client.post(url, content=otlp_request("who"), headers={**pb, "authorization": basic("mallory", "x")})
        assert unknown.status_code == 401
        other = client.post(
            url,
            content=otlp_request("other"),
            headers={**pb, "authorization": basic("alice", "alice-pw"), "project_id": "proj-b"},
        )
        assert other.status_code == 403
        assert client.get(f"{secured.http_url}/health").json() == {"status": "ok"}

    # A real SDK exporter with the user's credentials as a header.
    tracer = make_provider(
        secured, transport="http", headers={"authorization": basic("alice", "alice-pw"), "project_id": "proj-a"}
    ).get_tracer("agent")
    with tracer.start_as_current_span("alice-http"):
        pass
    # The project may also come from the resource: checked the same way.
    tracer = make_provider(
        secured,
        transport="http",
        headers={"authorization": basic("alice", "alice-pw")},
        resource={"project.id": "proj-b"},
    ).get_tracer("agent")
    with tracer.start_as_current_span("alice-into-b"):
        pass
    assert projects_of(secured) == {"alice-http": "proj-a"}


def test_otlp_grpc_takes_basic_or_bearer_token_in_metadata(secured, make_provider):
    body = otlp_request("grpc")
    assert grpc_export(secured, body, []) is grpc.StatusCode.UNAUTHENTICATED
    assert grpc_export(secured, body, [("authorization", basic("bob", "alice-pw"))]) is grpc.StatusCode.UNAUTHENTICATED
    assert grpc_export(secured, body, [("authorization", "Bearer not-the-token")]) is grpc.StatusCode.UNAUTHENTICATED
    assert (
        grpc_export(secured, body, [("authorization", basic("bob", "bob-pw")), ("project_id", "proj-a")])
        is grpc.StatusCode.PERMISSION_DENIED
    )
    # An ingest token writes to its own project only, which is also where its spans go.
    assert (
        grpc_export(secured, body, [("authorization", f"Bearer {TOKEN}"), ("project_id", "proj-a")])
        is grpc.StatusCode.PERMISSION_DENIED
    )
    tracer = make_provider(secured, headers={"authorization": f"Bearer {TOKEN}"}).get_tracer("agent")
    with tracer.start_as_current_span("token-grpc"):
        pass
    tracer = make_provider(
        secured, headers={"authorization": basic("bob", "bob-pw"), "project_id": "proj-b"}
    ).get_tracer("agent")
    with tracer.start_as_current_span("bob-grpc"):
        pass
    assert projects_of(secured) == {"token-grpc": "proj-c", "bob-grpc": "proj-b"}


def test_an_ingest_token_reads_nothing_and_admin_wildcard_reads_all():
    authenticator = Authenticator([type("U", (), u)() for u in USERS], [type("T", (), t)() for t in TOKENS])
    token = authenticator.authenticate(f"Bearer {TOKEN}")
    assert token is not None and not token.may_read("proj-c") and token.may_write("proj-c")
    admin = authenticator.authenticate(basic("admin", "admin-pw"))
    assert admin is not None and admin.may_read("anything") and not admin.may_write("proj-a")
    assert authenticator.authenticate("Basic !!!") is None
    assert authenticator.authenticate(basic("alice", "")) is None
    assert authenticator.authenticate("Digest x") is None


@pytest.fixture
def api(tmp_path):
    """The real app and auth middleware, with a route that echoes what it was asked,
    standing in for any query route that takes a project_id."""
    from otelite.store import open_store

    async def live(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"user": websocket.state.principal.name})
        await websocket.close()

    async def echo(request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse({"body": json.loads(body) if body else None, "user": request.state.principal.name})

    config = load_config(env={}, users=USERS, ingest_tokens=TOKENS)
    store = open_store(str(tmp_path / "api.db"))
    routes = [Route("/echo", echo, methods=["GET", "POST", "DELETE"]), WebSocketRoute("/live", live)]
    authenticator = Authenticator(config.users, config.ingest_tokens)
    app = create_app(store, routes, authenticator=authenticator, max_body_bytes=config.limits.max_request_bytes)
    with TestClient(app) as client:
        yield client
    store.close()


def test_every_api_route_checks_the_project_it_names(api):
    alice = {"authorization": basic("alice", "alice-pw")}
    assert api.post("/echo", json={"project_id": "proj-a"}).status_code == 401
    assert api.post("/echo", json={"project_id": "proj-a"}).headers["www-authenticate"] == 'Basic realm="otelite"'
    ok = api.post("/echo", json={"project_id": "proj-a", "conversation_ids": ["c1"]}, headers=alice)
    # The route still gets the whole body after the middleware read it.
    assert ok.json() == {"body": {"project_id": "proj-a", "conversation_ids": ["c1"]}, "user": "alice"}
    denied = api.post("/echo", json={"project_id": "proj-b"}, headers=alice)
    assert denied.status_code == 403
    assert denied.json() == {"detail": "alice may not read project 'proj-b'"}
    assert api.get("/echo?project_id=proj-b", headers=alice).status_code == 403
    assert api.delete("/echo?project_id=proj-a&project_id=proj-b", headers=alice).status_code == 403
    assert api.post("/echo?project_id=proj-a", json={"project_id": "proj-b"}, headers=alice).status_code == 403
    assert (
        api.post("/echo", json={"project_id": "proj-c"}, headers={"authorization": f"Bearer {TOKEN}"}).status_code
        == 403
    )
    assert (
        api.post(
            "/echo", json={"project_id": "proj-b"}, headers={"authorization": basic("admin", "admin-pw")}
        ).status_code
        == 200
    )
    assert api.get("/health").status_code == 200


def test_serving_beyond_loopback_needs_auth_or_insecure():
    open_config = load_config(env={}, host="0.0.0.0")
    assert "refusing to serve on non-loopback address 0.0.0.0 without auth" in cli.refusal(open_config, insecure=False)
    assert cli.refusal(open_config, insecure=True) is None
    assert cli.refusal(load_config(env={}, host="0.0.0.0", users=USERS), insecure=False) is None
    assert cli.refusal(load_config(env={}, host="::1"), insecure=False) is None
    assert cli.main(["serve", "--host", "0.0.0.0", "--db", "/nonexistent/never-opened.db"]) == 2


def test_hash_password_cli_prints_a_hash_that_verifies(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse\n"))
    assert cli.main(["hash-password", "--password-stdin"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse", printed) and not verify_password("correct horse ", printed)


def test_config_refuses_plain_passwords_and_malformed_users():
    with pytest.raises(ConfigError, match="make one with `otelite hash-password`"):
        load_config(env={}, users=[{"username": "a", "password_hash": "hunter2"}])
    with pytest.raises(ConfigError, match="password_hash is required"):
        load_config(env={}, users=[{"username": "a"}])
    with pytest.raises(ConfigError, match="unknown setting"):
        load_config(env={}, users=[{"username": "a", "password": "x", "password_hash": USERS[0]["password_hash"]}])
    with pytest.raises(ConfigError, match="sha256"):
        load_config(env={}, ingest_tokens=[{"project": "p", "token_hash": TOKEN}])


def test_websockets_need_credentials_and_read_access_too(api):
    """A live view over a websocket would otherwise slip past an HTTP-only check."""
    alice = {"authorization": basic("alice", "alice-pw")}
    with api.websocket_connect("/live?project_id=proj-a", headers=alice) as ws:
        assert ws.receive_json() == {"user": "alice"}
    for url, headers in (("/live?project_id=proj-a", {}), ("/live?project_id=proj-b", alice)):
        with pytest.raises(WebSocketDisconnect) as refused, api.websocket_connect(url, headers=headers):
            pass
        assert refused.value.code == 1008
