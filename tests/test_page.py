"""The web page at `/`, in a real browser (Debian's chromium driven by Playwright)
against a real `otelite serve` process fed by the real OTel exporter.

Skipped, with the reason, only when no chromium can be found: `.ci/run` installs it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from tests.agent_turns import agent_turn, text
from tests.test_cli import free_port

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = sync_api.expect

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def find_chromium() -> str | None:
    for candidate in (
        os.environ.get("OTELITE_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def browser():
    executable = find_chromium()
    if executable is None:
        pytest.skip("no chromium found (/usr/bin/chromium; `apt-get install chromium`, as .ci/run does)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[SimpleNamespace]:
    """`otelite serve` in a child process, as a user starts it; stopped with SIGINT."""
    grpc_port, http_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "otelite.cli", "serve", "--db", str(tmp_path / "otelite.db"),
         "--grpc-port", str(grpc_port), "--http-port", str(http_port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout.readline().startswith("otelite: OTLP/gRPC on"), process.stderr.read()
        yield SimpleNamespace(grpc_port=grpc_port, http_url=f"http://127.0.0.1:{http_port}")
        # An open page keeps its event stream open: stopping must still be prompt and clean.
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
        assert process.returncode == 0, err
        assert "stopped, every accepted span is written" in out
    finally:
        process.kill()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], "the page raised JavaScript errors"


# `page` comes first so it is closed last: otelite is stopped while the page, and its
# event stream, are still open.
def test_browse_a_conversation_give_feedback_and_see_a_new_turn_live(page, served, make_provider):
    server = served
    tracer = make_provider(server, transport="http", headers={"project_id": "travel"}).get_tracer("agent")
    agent_turn(tracer, "conv-other", 0, "Book a train to Lyon", "Booked.", agent="travel-agent")
    agent_turn(tracer, "conv-paris", 1_000, "What is the weather in Paris?", "It is 18 degrees and sunny.")
    history = [text("user", "What is the weather in Paris?"), text("assistant", "It is 18 degrees and sunny.")]
    agent_turn(tracer, "conv-paris", 2_000, "And tomorrow?", "Probably rain.", history=history, tool_fails=True)
    make_provider(server, headers={"project_id": "another"}).get_tracer("agent")

    page.goto(f"{server.http_url}/")
    expect(page.locator("#project")).to_have_value("travel")
    rows = page.locator(".conversation")
    expect(rows).to_have_count(2)
    # Newest first; each row has its mini-map, one segment per span.
    expect(rows.nth(0)).to_have_attribute("data-conversation-id", "conv-paris")
    expect(rows.nth(0).locator(".minimap .seg")).to_have_count(8)
    expect(rows.nth(0).locator(".minimap .seg.status-error")).to_have_count(1)
    expect(rows.nth(0)).to_contain_text("2 turns")
    expect(rows.nth(0)).to_contain_text("1 error")

    rows.nth(0).click()
    turns = page.locator("#chat .turn")
    expect(turns).to_have_count(2)
    expect(turns.nth(0).locator(".msg.user")).to_have_text("UserWhat is the weather in Paris?")
    expect(turns.nth(0).locator(".msg.assistant").last).to_contain_text("It is 18 degrees and sunny.")
    expect(turns.nth(1).locator(".msg.user")).to_have_text("UserAnd tomorrow?")  # not the history again
    # A tool call is folded until clicked; the failed one is marked.
    tool = turns.nth(0).locator(".msg.tool").first
    expect(tool.locator("summary")).to_contain_text("get_weather")
    expect(tool.locator("pre").first).not_to_be_visible()
    tool.locator("summary").click()
    expect(tool.locator("pre").first).to_be_visible()
    expect(tool.locator("pre").first).to_contain_text('"city": "Paris"')
    expect(turns.nth(1).locator(".msg.tool.failed")).to_have_count(1)
    expect(page).to_have_url(f"{server.http_url}/#project=travel&conversation=conv-paris")

    # A thumb on the conversation reaches the store: the mini-map route returns it.
    page.locator(".chat-head .thumb[aria-label='Thumbs up for this conversation']").click()
    chip = page.locator(".chat-head .chip.feedback")
    expect(chip).to_have_attribute("title", re.compile(r"^thumbs up · "))
    expect(chip.locator(".thumb-icon:not(.down)")).to_have_count(1)
    spans = httpx.post(
        f"{server.http_url}/agents/conversations/spans",
        json={"project_id": "travel", "conversation_ids": ["conv-paris"]},
    ).json()
    assert spans["conversations"][0]["spans_feedback"] == [
        {
            "trace_id": None,
            "feedback_type": "wandb.agent_user_feedback",
            "tags": [],
            "ratings": [{"name": "thumbs", "value": 1.0, "confidence": None, "reason": None}],
        }
    ]

    # A new turn, exported while the page is open, appears without a reload.
    expect(page.locator("#live")).to_have_text("live")
    page.evaluate("window.notReloaded = true")
    history += [text("user", "And tomorrow?"), text("assistant", "Probably rain.")]
    agent_turn(tracer, "conv-paris", 3_000, "Should I take an umbrella?", "Yes, take one.", history=history)
    expect(turns).to_have_count(3)
    expect(turns.nth(2).locator(".msg.user")).to_have_text("UserShould I take an umbrella?")
    expect(rows.nth(0)).to_contain_text("3 turns")
    assert page.evaluate("window.notReloaded") is True


def test_search_and_project_picker(page, served, make_provider):
    server = served
    to_travel = make_provider(server, headers={"project_id": "travel"}).get_tracer("agent")
    to_support = make_provider(server, headers={"project_id": "support"}).get_tracer("agent")
    agent_turn(to_travel, "conv-paris", 0, "Weather in Paris?", "Sunny.")
    agent_turn(to_travel, "conv-tokyo", 1_000, "Weather in Tokyo?", "Cloudy.")
    agent_turn(to_support, "ticket-1", 0, "My invoice is wrong", "Let me check.")

    page.goto(f"{server.http_url}/#project=travel")
    rows = page.locator(".conversation")
    expect(rows).to_have_count(2)
    page.locator("#search").fill("tok")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-conversation-id", "conv-tokyo")

    # The search stays while another project is picked.
    page.locator("#project").select_option("support")
    expect(page.locator(".conversations .empty")).to_have_text("Nothing matches.")
    page.locator("#search").fill("")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-conversation-id", "ticket-1")


def test_an_empty_otelite_shows_the_first_spans_as_they_arrive(page, served, make_provider):
    page.goto(f"{served.http_url}/")
    expect(page.locator(".conversations .empty")).to_have_text("No spans yet. Point an OTLP exporter at otelite.")
    expect(page.locator("#live")).to_have_text("live")
    tracer = make_provider(served, headers={"project_id": "first"}).get_tracer("agent")
    agent_turn(tracer, "conv-1", 0, "Hello?", "Hi there.")
    expect(page.locator("#project")).to_have_value("first")
    expect(page.locator(".conversation")).to_have_count(1)
    expect(page.locator(".conversation").first).to_contain_text("1 turn")
