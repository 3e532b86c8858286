"""OpenAI Agents SDK, from real emitters: `openai-agents` running a triage agent that
hands off to a weather agent that calls a function tool, with either
openinference-instrumentation-openai-agents or Logfire's integration turning the SDK's
trace into OTel spans, the real `openai` client calling a loopback Responses API stub,
and the real OTLP exporter sending to otelite."""

from __future__ import annotations

import asyncio

import pytest

from tests.openai_stub import OpenAIStub, stored_spans

pytest.importorskip("agents", reason="openai-agents not installed")
pytest.importorskip(
    "openinference.instrumentation.openai_agents", reason="openinference-instrumentation-openai-agents not installed"
)


@pytest.fixture
def instrumented(server, make_provider):
    from openinference.instrumentation.openai_agents import OpenAIAgentsInstrumentor

    instrumentor = OpenAIAgentsInstrumentor()
    # exclusive (the default): replaces the SDK's own exporter to OpenAI's servers.
    instrumentor.instrument(tracer_provider=make_provider(server))
    yield server
    instrumentor.uninstrument()


def run_agents(stub: OpenAIStub) -> str:
    import httpx
    from agents import Agent, OpenAIResponsesModel, Runner, function_tool
    from openai import AsyncOpenAI

    client = AsyncOpenAI(
        base_url=stub.base_url, api_key="sk-test", max_retries=0, http_client=httpx.AsyncClient(trust_env=False)
    )

    @function_tool
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        return '{"temperature_c": 21, "sky": "sunny"}'

    weather = Agent(
        name="weather_agent",
        instructions="Answer weather questions.",
        tools=[get_weather],
        model=OpenAIResponsesModel("gpt-4o", client),
    )
    triage = Agent(
        name="triage_agent",
        instructions="Route the user.",
        handoffs=[weather],
        model=OpenAIResponsesModel("gpt-4o", client),
    )
    result = asyncio.run(Runner.run(triage, "What is the weather in Paris?"))
    return result.final_output


def test_agents_run_with_handoff(instrumented):
    with OpenAIStub() as stub:
        assert run_agents(stub) == "It is sunny in Paris."

    spans = stored_spans(instrumented.config.sqlite_path)
    # The SDK's custom "task" / "turn" spans arrive as OpenInference CHAIN spans, which
    # have no GenAI operation: they keep their span name in the views.
    assert [(s["name"], s["operation_name"]) for s in spans] == [
        ("Agent workflow", "invoke_workflow"),
        ("Agent workflow", None),
        ("triage_agent", "invoke_agent"),
        ("turn", None),
        ("response", "chat"),
        ("handoff to weather_agent", "handoff"),
        ("weather_agent", "invoke_agent"),
        ("turn", None),
        ("response", "chat"),
        ("get_weather", "execute_tool"),
        ("turn", None),
        ("response", "chat"),
    ]
    root, _, triage, _, _triage_llm, handoff, weather, _, call_llm, tool, _, answer_llm = spans
    assert handoff["content"]["handoff"] == {"from_agent": "triage_agent", "to_agent": "weather_agent"}
    assert (triage["agent_name"], weather["agent_name"]) == ("triage_agent", "weather_agent")
    assert {s["conversation_id"] for s in spans} == {root["trace_id"]}  # no session id: one-turn conversation
    assert (tool["tool_name"], tool["content"]["tool_arguments"], tool["content"]["tool_result"]) == (
        "get_weather",
        '{"city": "Paris"}',
        '{"temperature_c": 21, "sky": "sunny"}',
    )
    # tool.description / tool.parameters (the tool's schema) become its definition.
    assert tool["content"]["tool_definitions"] == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {
                "properties": {"city": {"title": "City", "type": "string"}},
                "required": ["city"],
                "title": "get_weather_args",
                "type": "object",
                "additionalProperties": False,
            },
        }
    ]
    assert (answer_llm["provider"], answer_llm["response_model"]) == ("openai", "gpt-4o-2024-08-06")
    assert (answer_llm["input_tokens"], answer_llm["output_tokens"], answer_llm["reasoning_tokens"]) == (70, 9, 3)
    assert answer_llm["content"]["output_messages"] == [
        {"role": "assistant", "parts": [{"type": "text", "content": "It is sunny in Paris."}]}
    ]
    assert call_llm["content"]["output_messages"] == [
        {
            "role": "assistant",
            "parts": [
                {"type": "tool_call", "id": "call_weather_1", "name": "get_weather", "arguments": {"city": "Paris"}}
            ],
        }
    ]


@pytest.fixture
def logfire_instrumented(server):
    """Logfire's OpenAI Agents integration, exporting only to otelite (send_to_logfire=False)."""
    logfire = pytest.importorskip("logfire", reason="logfire not installed")
    from agents import set_trace_processors
    from agents.tracing import get_trace_provider, set_trace_provider
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    set_trace_processors([])  # no export to OpenAI's servers: only loopback traffic
    exporter = OTLPSpanExporter(endpoint=f"{server.http_url}/v1/traces")
    instance = logfire.configure(
        local=True,
        send_to_logfire=False,
        console=False,
        service_name="agents-app",
        additional_span_processors=[SimpleSpanProcessor(exporter)],
    )
    original = get_trace_provider()
    instance.instrument_openai_agents()
    yield server
    set_trace_provider(original)  # Logfire wraps the SDK's global trace provider: unwrap it
    instance.shutdown()


def test_agents_run_with_handoff_through_logfire(logfire_instrumented):
    with OpenAIStub() as stub:
        assert run_agents(stub) == "It is sunny in Paris."

    spans = stored_spans(logfire_instrumented.config.sqlite_path)
    # Logfire names its spans by message template; the SDK's task/turn spans have no GenAI operation.
    assert [(s["name"], s["operation_name"], s["agent_name"]) for s in spans] == [
        ("OpenAI Agents trace: {name}", "invoke_workflow", None),
        ("Task: Agent workflow", None, None),
        ("Agent run: {name!r}", "invoke_agent", "triage_agent"),
        ("Turn {turn} for agent triage_agent", None, None),
        ("Responses API with {gen_ai.request.model!r}", "chat", None),
        ("Handoff: {from_agent} → {to_agent}", "handoff", None),
        ("Agent run: {name!r}", "invoke_agent", "weather_agent"),
        ("Turn {turn} for agent weather_agent", None, None),
        ("Responses API with {gen_ai.request.model!r}", "chat", None),
        ("Function: {name}", "execute_tool", None),
        ("Turn {turn} for agent weather_agent", None, None),
        ("Responses API with {gen_ai.request.model!r}", "chat", None),
    ]
    handoff, weather, tool, answer = spans[5], spans[6], spans[9], spans[11]
    assert handoff["content"] == {"handoff": {"from_agent": "triage_agent", "to_agent": "weather_agent"}}
    assert weather["content"] == {"tool_definitions": [{"type": "function", "name": "get_weather"}]}
    assert (tool["tool_name"], tool["content"]) == (
        "get_weather",
        {"tool_arguments": '{"city": "Paris"}', "tool_result": '{"temperature_c": 21, "sky": "sunny"}'},
    )
    assert (answer["provider"], answer["request_model"], answer["response_model"]) == (
        "openai",
        "gpt-4o",
        "gpt-4o-2024-08-06",
    )
    assert (answer["input_tokens"], answer["output_tokens"], answer["reasoning_tokens"]) == (70, 9, 3)
    handoff_call = {"type": "tool_call", "id": "call_handoff_1", "name": "transfer_to_weather_agent", "arguments": {}}
    weather_call = {"type": "tool_call", "id": "call_weather_1", "name": "get_weather", "arguments": {"city": "Paris"}}
    assert answer["content"]["input_messages"] == [
        {"role": "system", "parts": [{"type": "text", "content": "Answer weather questions."}]},
        {"role": "user", "parts": [{"type": "text", "content": "What is the weather in Paris?"}]},
        {"role": "assistant", "parts": [handoff_call]},
        {
            "role": "tool",
            "parts": [
                {"type": "tool_call_response", "id": "call_handoff_1", "response": '{"assistant": "weather_agent"}'}
            ],
        },
        {"role": "assistant", "parts": [weather_call]},
        {
            "role": "tool",
            "parts": [
                {
                    "type": "tool_call_response",
                    "id": "call_weather_1",
                    "response": '{"temperature_c": 21, "sky": "sunny"}',
                }
            ],
        },
    ]
    assert answer["content"]["output_messages"] == [
        {"role": "assistant", "parts": [{"type": "text", "content": "It is sunny in Paris."}]}
    ]
    assert {s["conversation_id"] for s in spans} == {spans[0]["trace_id"]}


@pytest.fixture(params=["openinference", "logfire"])
def any_bridge(request):
    return request.getfixturevalue("instrumented" if request.param == "openinference" else "logfire_instrumented")


def test_chat_completions_model_generation_spans(any_bridge):
    """An agent on OpenAIChatCompletionsModel records *generation* spans (not response)."""
    import httpx
    from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool
    from openai import AsyncOpenAI

    @function_tool
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        return '{"temperature_c": 21, "sky": "sunny"}'

    with OpenAIStub() as stub:
        client = AsyncOpenAI(
            base_url=stub.base_url, api_key="sk-test", max_retries=0, http_client=httpx.AsyncClient(trust_env=False)
        )
        agent = Agent(
            name="weather_agent",
            instructions="Answer weather questions.",
            tools=[get_weather],
            model=OpenAIChatCompletionsModel("gpt-4o-mini", client),
        )
        result = asyncio.run(Runner.run(agent, "What is the weather in Paris?"))
    assert result.final_output == "It is sunny in Paris."

    spans = stored_spans(any_bridge.config.sqlite_path)
    chats = [s for s in spans if s["operation_name"] == "chat"]
    assert len(chats) == 2
    assert [s["tool_name"] for s in spans if s["operation_name"] == "execute_tool"] == ["get_weather"]
    first, second = chats
    assert (first["input_tokens"], first["output_tokens"]) == (42, 17)
    assert first["content"]["output_messages"] == [
        {
            "role": "assistant",
            "parts": [
                {"type": "tool_call", "id": "call_weather_1", "name": "get_weather", "arguments": {"city": "Paris"}}
            ],
        }
    ]
    assert first["content"]["input_messages"][-1] == {
        "role": "user",
        "parts": [{"type": "text", "content": "What is the weather in Paris?"}],
    }
    assert second["content"]["output_messages"] == [
        {"role": "assistant", "parts": [{"type": "text", "content": "It is sunny in Paris."}]}
    ]


def test_agents_run_reads_as_a_chat(instrumented):
    """The same real run through the chat view: the user's question, both agents, the
    handoff between them, the tool call and the answer, in time order."""
    import httpx

    with OpenAIStub() as stub:
        run_agents(stub)
    trace_id = stored_spans(instrumented.config.sqlite_path)[0]["trace_id"]
    response = httpx.post(
        f"{instrumented.http_url}/agents/conversations/chat",
        json={"project_id": "default", "conversation_id": trace_id},
    )
    (turn,) = response.json()["turns"]
    assert (turn["trace_id"], turn["root_span_name"], turn["provider"]) == (trace_id, "Agent workflow", "openai")
    messages = turn["messages"]
    assert [m["started_at"] for m in messages] == sorted(m["started_at"] for m in messages)
    # Durations are the run's own; everything else is exact.
    for m in messages:
        if "duration_ms" in m[m["type"]]:
            assert isinstance(m[m["type"]].pop("duration_ms"), int)
    assert [{k: m[k] for k in ("type", "agent_name", m["type"])} for m in messages] == [
        {
            "type": "agent_start",
            "agent_name": "triage_agent",
            # The agent span names no model; its first model call does.
            "agent_start": {
                "model": "gpt-4o-2024-08-06",
                "system_instructions": None,
                "tool_definitions": None,
                "status": "OK",
            },
        },
        {
            "type": "user_message",
            "agent_name": None,
            "user_message": {"text": "What is the weather in Paris?", "content_refs": []},
        },
        {
            "type": "agent_handoff",
            "agent_name": "triage_agent",
            "agent_handoff": {"from_agent": "triage_agent", "to_agent": "weather_agent"},
        },
        {
            "type": "agent_start",
            "agent_name": "weather_agent",
            # The agent span names no model; its first model call does.
            "agent_start": {
                "model": "gpt-4o-2024-08-06",
                "system_instructions": None,
                "tool_definitions": None,
                "status": "OK",
            },
        },
        {
            "type": "tool_call",
            "agent_name": "weather_agent",
            "tool_call": {
                "tool_name": "get_weather",
                "tool_arguments": '{"city": "Paris"}',
                "tool_result": '{"temperature_c": 21, "sky": "sunny"}',
                "status": "OK",
                "content_refs": [],
            },
        },
        {
            "type": "assistant_message",
            "agent_name": "weather_agent",
            "assistant_message": {
                "text": "It is sunny in Paris.",
                "reasoning_content": None,
                "model": "gpt-4o-2024-08-06",
                "input_tokens": 70,
                "output_tokens": 9,
                "reasoning_tokens": 3,
                "status": "OK",
                "content_refs": [],
            },
        },
    ]
