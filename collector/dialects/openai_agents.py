"""OpenAI Agents SDK traces, as two OTel bridges export them.

- openinference-instrumentation-openai-agents: OpenInference spans (read by
  `openinference`), except what OpenInference has no word for. A handoff is a TOOL span
  named `handoff to <agent>` with the agents in `input.value` (from) and `output.value`
  (to); we make it operation `handoff` with `handoff` {from_agent, to_agent} (Sentry's
  Agents integration uses the same operation name). The trace's root AGENT span, which
  names the workflow rather than an agent, becomes `invoke_workflow`.
- Logfire (`logfire.instrument_openai_agents()`): spans named by their message template,
  `Agent run: {name!r}` (attribute `name`), `Function: {name}` (`name`, `input`,
  `output`), `Handoff: {from_agent} → {to_agent}` (`from_agent`, `to_agent`), and
  `Responses API with ...` / `Chat completion with ...` whose `events` attribute holds
  the conversation as per-message event bodies (`event.name`: `gen_ai.user.message`...).
"""

from __future__ import annotations

from typing import Any

from otelite.collector.dialects.messages import as_items, message_from_event, openai_messages
from otelite.collector.genai import GenAI, Message, as_int, as_json_value, as_str, as_text
from otelite.proto.records import SpanRecord

OPENINFERENCE_SCOPE = "openinference.instrumentation.openai_agents"
HANDOFF_PREFIX = "handoff to "


def apply(span: SpanRecord, genai: GenAI) -> None:
    if span.scope_name == OPENINFERENCE_SCOPE:
        openinference(span, genai)
    elif isinstance(span.attributes.get("logfire.msg_template"), str):
        logfire(span, genai)


def openinference(span: SpanRecord, genai: GenAI) -> None:
    attrs = span.attributes
    kind = as_str(attrs.get("openinference.span.kind"))
    if kind == "TOOL" and span.name.startswith(HANDOFF_PREFIX) and "tool.name" not in attrs:
        genai.set("operation_name", "handoff")
        genai.set(
            "handoff",
            {
                "from_agent": as_str(attrs.get("input.value")),
                "to_agent": as_str(attrs.get("output.value")) or span.name[len(HANDOFF_PREFIX) :],
            },
        )
    elif kind == "AGENT" and span.parent_span_id is None and "agent.name" not in attrs:
        genai.set("operation_name", "invoke_workflow")


def logfire(span: SpanRecord, genai: GenAI) -> None:
    attrs = span.attributes
    template = attrs["logfire.msg_template"]
    if template.startswith("Agent run:"):
        genai.set("operation_name", "invoke_agent")
        genai.set("agent_name", as_str(attrs.get("name")))
        genai.set(
            "tool_definitions",
            [{"type": "function", "name": t} for t in as_items(attrs.get("tools")) if isinstance(t, str)],
        )
    elif template.startswith("Handoff:"):
        genai.set("operation_name", "handoff")
        genai.set("handoff", {"from_agent": as_str(attrs.get("from_agent")), "to_agent": as_str(attrs.get("to_agent"))})
    elif template.startswith("Function:"):
        genai.set("operation_name", "execute_tool")
        genai.set("tool_name", as_str(attrs.get("name")))
        genai.set("tool_arguments", as_text(attrs.get("input")))
        genai.set("tool_result", as_text(attrs.get("output")))
    elif template.startswith(("Responses API", "Chat completion")):
        genai.set("operation_name", "chat")
        for usage in (as_json_value(attrs.get("gen_ai.usage.raw")), as_json_value(attrs.get("usage"))):
            details = usage.get("output_tokens_details") if isinstance(usage, dict) else None
            if isinstance(details, dict):
                genai.set("reasoning_tokens", as_int(details.get("reasoning_tokens")))
        inputs, outputs = event_messages(attrs.get("events"))
        if not inputs and not outputs:
            # Generation spans (Chat Completions models) log request_data {messages, model}:
            # the call's input messages followed by its output.
            request = as_json_value(attrs.get("request_data"))
            history = openai_messages(request.get("messages"), "user") if isinstance(request, dict) else None
            inputs, outputs = split_answer(history or [])
        genai.set("input_messages", inputs)
        genai.set("output_messages", outputs)
    elif template.startswith("OpenAI Agents trace"):
        genai.set("operation_name", "invoke_workflow")


def event_messages(value: Any) -> tuple[list[Message], list[Message]]:
    inputs: list[Message] = []
    outputs: list[Message] = []
    for event in as_items(value):
        if not isinstance(event, dict):
            continue
        found = message_from_event(as_str(event.get("event.name")) or "", event)
        if found is not None:
            (inputs if found[0] == "input" else outputs).append(found[1])
    # Logfire lists the call's input items and then the model's answer, all as message
    # events: the assistant messages after the last non-assistant one are the answer.
    return split_answer(inputs) if not outputs else (inputs, outputs)


def split_answer(messages: list[Message]) -> tuple[list[Message], list[Message]]:
    inputs, outputs = list(messages), []
    while inputs and inputs[-1]["role"] == "assistant":
        outputs.insert(0, inputs.pop())
    return inputs, outputs
