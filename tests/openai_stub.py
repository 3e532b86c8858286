"""A tiny OpenAI-compatible HTTP server on loopback, for the dialect tests.

The real `openai` client talks to it, so the real instrumentation packages record what
they record against the real API, without a network. It answers:

- POST /v1/chat/completions: a `get_weather` tool call while the conversation holds no
  tool result, then a final text answer; usage includes reasoning tokens.
- POST /v1/responses (the OpenAI Agents SDK): a handoff to `weather_agent` when the
  request offers `transfer_to_weather_agent`, else a `get_weather` function call, else
  (once the call's output is in the input) the final answer.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

CREATED = 1_700_000_000
WEATHER_ARGS = '{"city": "Paris"}'
ANSWER = "It is sunny in Paris."


def chat_completion(request: dict[str, Any]) -> dict[str, Any]:
    has_tool_result = any(m.get("role") == "tool" for m in request.get("messages", []))
    if not has_tool_result:
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_weather_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": WEATHER_ARGS},
                }
            ],
        }
        finish, usage = "tool_calls", (42, 17, 5)
    else:
        message = {"role": "assistant", "content": ANSWER}
        finish, usage = "stop", (61, 9, 3)
    return {
        "id": "chatcmpl-stub-1" if not has_tool_result else "chatcmpl-stub-2",
        "object": "chat.completion",
        "created": CREATED,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": usage[0] + usage[1],
            "completion_tokens_details": {"reasoning_tokens": usage[2]},
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    }


def response(request: dict[str, Any]) -> dict[str, Any]:
    tools = {t.get("name") for t in request.get("tools") or []}
    items = request.get("input") if isinstance(request.get("input"), list) else []
    answered = any(i.get("type") == "function_call_output" and i.get("call_id") == "call_weather_1" for i in items)
    if "transfer_to_weather_agent" in tools:
        output = [function_call("call_handoff_1", "transfer_to_weather_agent", "{}")]
        usage = (30, 8, 2)
    elif not answered:
        output = [function_call("call_weather_1", "get_weather", WEATHER_ARGS)]
        usage = (50, 12, 4)
    else:
        output = [
            {
                "type": "message",
                "id": "msg_stub_1",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": ANSWER, "annotations": []}],
            }
        ]
        usage = (70, 9, 3)
    return {
        "id": f"resp_stub_{len(items)}",
        "object": "response",
        "created_at": CREATED,
        "model": "gpt-4o-2024-08-06",
        "instructions": request.get("instructions"),  # echoed, as the real API does
        "status": "completed",
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": usage[0],
            "output_tokens": usage[1],
            "total_tokens": usage[0] + usage[1],
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": usage[2]},
        },
    }


def function_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": f"fc_{call_id}",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": "completed",
    }


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        self.server.requests.append((self.path, body))  # type: ignore[attr-defined]
        if self.path.endswith("/chat/completions"):
            payload = chat_completion(body)
        elif self.path.endswith("/responses"):
            payload = response(body)
        else:
            self.send_error(404)
            return
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


class OpenAIStub:
    """`with OpenAIStub() as stub:` serves on `stub.base_url` until the block ends."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.requests = []  # type: ignore[attr-defined]
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def requests(self) -> list[tuple[str, dict[str, Any]]]:
        return self.server.requests  # type: ignore[attr-defined,no-any-return]

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# The conversation every chat-completions test runs: a question, the model's tool call,
# the tool's result, the final answer.
SYSTEM = "You are a weather bot."
QUESTION = "What is the weather in Paris?"
TOOL_RESULT = '{"temperature_c": 21, "sky": "sunny"}'
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def weather_chat(client: Any) -> None:
    """Two chat.completions calls through the real `openai` client, as an agent loop makes them."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]
    first = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL])
    call = first.choices[0].message.tool_calls[0]
    messages.append(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.function.name, "arguments": call.function.arguments},
                }
            ],
        }
    )
    messages.append({"role": "tool", "tool_call_id": call.id, "content": TOOL_RESULT})
    client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL])


def openai_client(stub: OpenAIStub) -> Any:
    import httpx
    import openai

    # trust_env=False: no proxy from the environment may stand between us and loopback.
    return openai.OpenAI(
        base_url=stub.base_url, api_key="sk-test", max_retries=0, http_client=httpx.Client(trust_env=False)
    )


def stored_spans(db: str) -> list[dict[str, Any]]:
    """Every stored span with its content decoded, in start order."""
    import sqlite3

    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute(
            "SELECT s.*, d.content AS content, d.attributes AS attributes FROM spans s "
            "JOIN span_details d ON d.id = s.id ORDER BY s.start_ns, s.span_id"
        ).fetchall()
    finally:
        conn.close()
    out = []
    for row in rows:
        item = dict(row)
        item["content"] = json.loads(item["content"] or "{}")
        item["attributes"] = json.loads(item["attributes"] or "{}")
        out.append(item)
    return out
