"""schemathesis against otelite's own /openapi.json, on a real server holding a real
conversation: every generated request, valid (positive) or not (negative), gets an
answer below 500.

It runs twice: with auth off, and with auth on (so the auth middleware reads and
replays every generated body before the route validates it). Strategies come from
schemathesis directly and run under hypothesis (`schemathesis.pytest.from_fixture`
does not work with pytest 9).
"""

from __future__ import annotations

import base64
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from otelite.auth import hash_password
from tests.agent_conversation import PROJECT, emit_conversation

EXAMPLES = int(os.environ.get("OTELITE_TEST_SCHEMATHESIS_EXAMPLES", "30"))  # per operation and mode
# Never-ending responses (server-sent events): covered by tests/test_events.py.
STREAMS = {"GET /agents/events"}
AUTH = {"authorization": "Basic " + base64.b64encode(b"fuzzer:fuzz-pw").decode()}
USERS = [{"username": "fuzzer", "password_hash": hash_password("fuzz-pw"), "read": [PROJECT], "write": [PROJECT]}]


def fuzz_api(server, headers: dict[str, str]) -> dict[str, int]:
    """Every operation x mode; returns how many requests each operation got."""
    schema = schemathesis.openapi.from_url(f"{server.http_url}/openapi.json")
    sent: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in STREAMS:
            continue
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

            @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case) -> None:
                # Called below, in this same iteration: `operation` is this one.
                response = case.call(base_url=server.http_url, headers=headers, timeout=10)
                sent[operation.label] = sent.get(operation.label, 0) + 1  # noqa: B023
                assert response.status_code < 500, case.as_curl_command()
                if headers:
                    assert response.status_code != 401

            try:
                call()
            except Unsatisfiable:
                # schemathesis found no request of this mode to make (e.g. no way to
                # make a negative case for an operation); the other mode still ran.
                continue
    return sent


@pytest.mark.parametrize("auth", [False, True], ids=["auth-off", "auth-on"])
def test_no_generated_request_gets_a_server_error(make_server, make_provider, auth):
    server = make_server(users=USERS) if auth else make_server()
    headers = AUTH if auth else {}
    emit_conversation(make_provider(server, headers={"project_id": PROJECT, **headers}))
    sent = fuzz_api(server, headers)
    assert set(sent) >= {
        "POST /agents/conversations/spans",
        "POST /agents/conversations/chat",
        "POST /agents/traces/chat",
        "POST /agents/feedback",
        "DELETE /agents/feedback/{feedback_id}",
    }
    print(f"schemathesis ({'auth on' if auth else 'auth off'}): {sum(sent.values())} requests: {sent}")
