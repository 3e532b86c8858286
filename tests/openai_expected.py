"""The normalised form every dialect must give for the stub's weather conversation."""

from __future__ import annotations

SYSTEM_MSG = {"role": "system", "parts": [{"type": "text", "content": "You are a weather bot."}]}
USER_MSG = {"role": "user", "parts": [{"type": "text", "content": "What is the weather in Paris?"}]}
TOOL_CALL = {"type": "tool_call", "id": "call_weather_1", "name": "get_weather", "arguments": {"city": "Paris"}}
ASSISTANT_CALL = {"role": "assistant", "parts": [TOOL_CALL]}
TOOL_MSG = {
    "role": "tool",
    "parts": [
        {"type": "tool_call_response", "id": "call_weather_1", "response": '{"temperature_c": 21, "sky": "sunny"}'}
    ],
}
ANSWER_MSG = {"role": "assistant", "parts": [{"type": "text", "content": "It is sunny in Paris."}]}
TOOL_DEFINITION = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
