"""Regenerate docs/screenshot.png: a real otelite, demo agent turns sent by the real OTel
exporter, and the page in headless chromium.

    .venv/bin/python docs/make_screenshot.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import httpx
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))  # for the tests' helpers (tests.agent_turns, tests.test_page)

from otelite.config import load_config
from otelite.server import Otelite
from tests.agent_turns import agent_turn, text
from tests.test_page import CHROMIUM_ARGS, find_chromium


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = Otelite(load_config(env={}, grpc_port=0, http_port=0, store=f"{tmp}/demo.db"))
        server.start()
        try:
            provider = TracerProvider(resource=Resource.create({"service.name": "demo-agent"}))
            exporter = OTLPSpanExporter(
                endpoint=f"{server.http_url}/v1/traces", headers={"project_id": "travel-assistant"}
            )
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            tracer = provider.get_tracer("demo")
            agent_turn(
                tracer,
                "booking-7f3a",
                0,
                "Book me a train from Paris to Lyon on Friday",
                "Done: the 9:04 TGV, seat 42.",
                agent="booking-agent",
                model="gpt-4o-mini",
            )
            agent_turn(
                tracer,
                "support-19c2",
                30_000,
                "My refund has not arrived",
                "I have escalated it.",
                agent="support-agent",
                model="claude-sonnet-4",
                tool_fails=True,
            )
            agent_turn(
                tracer,
                "weekend-trip",
                60_000,
                "What is the weather in Paris this weekend?",
                "Saturday 18 °C and sunny, Sunday light rain.",
            )
            history = [
                text("user", "What is the weather in Paris this weekend?"),
                text("assistant", "Saturday 18 °C and sunny, Sunday light rain."),
            ]
            agent_turn(
                tracer,
                "weekend-trip",
                75_000,
                "Should I pack an umbrella?",
                "Yes, for Sunday: take a small umbrella.",
                history=history,
                tool_fails=True,
            )
            provider.shutdown()
            httpx.post(
                f"{server.http_url}/agents/feedback",
                json={"project_id": "travel-assistant", "conversation_id": "weekend-trip", "feedback_type": "wandb.agent_user_feedback",
                      "tags": ["helpful"], "ratings": [{"name": "thumbs", "value": 1}]},
            ).raise_for_status()  # fmt: skip

            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=find_chromium(), headless=True, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 760}, device_scale_factor=1)
                page.goto(f"{server.http_url}/#project=travel-assistant&conversation=weekend-trip")
                page.locator("#chat .turn").nth(1).wait_for()
                page.locator("#chat .turn").nth(0).locator(".msg.tool summary").click()
                page.locator("#live.on").wait_for()
                page.screenshot(path=str(ROOT / "docs" / "screenshot.png"))
                browser.close()
        finally:
            server.stop()
    print(json.dumps({"written": "docs/screenshot.png"}))


if __name__ == "__main__":
    main()
