"""GET /agents/events: server-sent events from the writer, after each commit."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import orjson

from otelite.api.events import Broadcaster
from tests.agent_turns import agent_turn


def subscribers(broadcaster: Broadcaster) -> int:
    """How many streams the broadcaster delivers to now."""
    with broadcaster._lock:
        return len(broadcaster._subscribers)


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, dict]]:
    """(event, data) pairs from an event stream's lines; comments are skipped."""
    name, data = "message", ""
    for line in lines:
        if line == "":
            if data:
                yield name, orjson.loads(data)
            name, data = "message", ""
        elif line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data += line.removeprefix("data: ")


def test_each_commit_is_announced_to_the_stream(server, make_provider):
    tracer = make_provider(server, headers={"project_id": "live"}).get_tracer("agent")
    with httpx.stream("GET", f"{server.http_url}/agents/events", timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response.iter_lines())
        assert next(events) == ("ready", {"project_id": None})
        trace_id = agent_turn(tracer, "conv-live", 0, "Weather?", "Sunny.")
        # One export per span (SimpleSpanProcessor), so one commit and one event each:
        # the three children first, then the root that names the conversation.
        child = ("spans", {"project_id": "live", "conversation_ids": [], "trace_ids": [trace_id]})
        root = ("spans", {"project_id": "live", "conversation_ids": ["conv-live"], "trace_ids": [trace_id]})
        assert [next(events) for _ in range(4)] == [child, child, child, root]
        assert subscribers(server.broadcaster) == 1

    # A client that goes away is forgotten.
    deadline = time.monotonic() + 10
    while subscribers(server.broadcaster) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert subscribers(server.broadcaster) == 0


def test_a_stream_for_one_project_hears_only_that_project(server, make_provider):
    to_a = make_provider(server, headers={"project_id": "a"}).get_tracer("agent")
    to_b = make_provider(server, headers={"project_id": "b"}).get_tracer("agent")
    with httpx.stream("GET", f"{server.http_url}/agents/events?project_id=b", timeout=10) as response:
        events = sse_events(response.iter_lines())
        assert next(events) == ("ready", {"project_id": "b"})
        agent_turn(to_a, "conv-a", 0, "Hi", "Hello")
        agent_turn(to_b, "conv-b", 0, "Hi", "Hello")
        name, data = next(events)
        assert (name, data["project_id"]) == ("spans", "b")


def test_stopping_the_server_ends_open_streams(make_server):
    server = make_server()
    received: list[str] = []
    ready = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", f"{server.http_url}/agents/events", timeout=60) as response:
            for name, _ in sse_events(response.iter_lines()):
                received.append(name)
                ready.set()
        received.append("end of stream")

    listener = threading.Thread(target=listen)
    listener.start()
    assert ready.wait(10)
    server.stop()
    listener.join(10)
    assert not listener.is_alive()
    assert received == ["ready", "end of stream"]
