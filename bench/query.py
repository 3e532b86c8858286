"""Query benchmark: the API's read routes on a big store, and how they grow with it.

    python bench/query.py                    # 100k spans, then grown to 1M (several minutes)
    python bench/query.py --spans 100000     # one quick size
    python bench/query.py --sizes 50000,200000 --db /tmp/q.db   # keep the store for re-runs

The store is written directly through the SQLite store's `write_spans` in big batches
(realistic GenAI turns: invoke_agent root naming the conversation, chat, execute_tool,
chat, with message content), conversation by conversation: 25 turns of 4 spans each,
so 1,000,000 spans are 10,000 conversations of 25 turns. At each size `otelite serve`
runs on the file and a client times, over HTTP on loopback:

  chat      POST /agents/conversations/chat, a whole 25-turn conversation   p50 / p99
  mini-map  POST /agents/conversations/spans for 1,000 conversations        p50 / p99
  list      POST /agents/conversations, first page (when the route exists)  p50 / p99

Targets at 1M spans (issue 5): chat p50 < 15 ms, p99 < 50 ms; mini-map p50 < 150 ms;
list page < 30 ms; the look-ups should stay flat from 100k to 1M.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import httpx
import orjson
from ingest import WORDS, load, machine, start_server

from otelite.store.model import SpanRow
from otelite.store.sqlite import SQLiteStore

PROJECT = "bench"
TURNS = 25
SPANS_PER_TURN = 4
SPANS_PER_CONVERSATION = TURNS * SPANS_PER_TURN


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choices(WORDS, k=words))


def conversation_rows(rng: random.Random, index: int, start_ns: int) -> list[SpanRow]:
    """One conversation of 25 turns, as the collector would have normalised it."""
    conversation = f"conv-{index:07d}"
    rows: list[SpanRow] = []
    history: list[dict] = []
    ms = 1_000_000
    for turn in range(TURNS):
        trace = f"{rng.getrandbits(128):032x}"
        root, chat1, tool, chat2 = (f"{rng.getrandbits(64):016x}" for _ in range(4))
        t0 = start_ns + turn * 90_000 * ms
        call_id = f"call_{rng.getrandbits(40):010x}"
        # ticketN: a word only this conversation's users type, for the list's text search.
        user = {"role": "user", "parts": [{"type": "text", "content": f"ticket{index:07d} " + _text(rng, 20)}]}
        call = {
            "role": "assistant",
            "parts": [
                {"type": "tool_call", "id": call_id, "name": "lookup_order", "arguments": {"order_id": f"A{turn}"}}
            ],
        }
        result = {"role": "tool", "parts": [{"type": "tool_call_response", "id": call_id, "response": _text(rng, 25)}]}
        answer = {"role": "assistant", "parts": [{"type": "text", "content": _text(rng, 50)}], "finish_reason": "stop"}
        common = {
            "project_id": PROJECT,
            "trace_id": trace,
            "kind": "CLIENT",
            "status": "OK",
            "status_message": "",
            "agent_name": "support",
            "provider": "openai",
            "resource": {"service.name": "support-agent"},
            "scope": {"name": "bench", "version": "1"},
        }
        chat_common = dict(common, request_model="gpt-4o", response_model="gpt-4o-2024-08-06", operation_name="chat")
        rows.append(
            SpanRow(
                span_id=chat1,
                parent_span_id=root,
                name="chat gpt-4o",
                start_ns=t0 + 5 * ms,
                end_ns=t0 + 900 * ms,
                input_tokens=300 + 40 * turn,
                output_tokens=20,
                **chat_common,
                content={"input_messages": [*history, user], "output_messages": [call]},
            )
        )
        rows.append(
            SpanRow(
                span_id=tool,
                parent_span_id=root,
                name="execute_tool lookup_order",
                start_ns=t0 + 905 * ms,
                end_ns=t0 + 1100 * ms,
                operation_name="execute_tool",
                tool_name="lookup_order",
                tool_call_id=call_id,
                **common,
                content={"tool_arguments": f'{{"order_id": "A{turn}"}}', "tool_result": result["parts"][0]["response"]},
            )
        )
        rows.append(
            SpanRow(
                span_id=chat2,
                parent_span_id=root,
                name="chat gpt-4o",
                start_ns=t0 + 1105 * ms,
                end_ns=t0 + 2600 * ms,
                input_tokens=400 + 40 * turn,
                output_tokens=120,
                **chat_common,
                content={"input_messages": [*history, user, call, result], "output_messages": [answer]},
            )
        )
        rows.append(
            SpanRow(
                span_id=root,
                parent_span_id=None,
                name="invoke_agent support",
                start_ns=t0,
                end_ns=t0 + 2610 * ms,
                conversation_id=conversation,
                operation_name="invoke_agent",
                **{k: v for k, v in common.items()},
                content={"input_messages": [user], "output_messages": [answer]},
            )
        )
        # The SDK re-sends the history with every call; keep the last few turns of it.
        history = [*history, user, answer][-6:]
    return rows


def build(path: Path, start: int, spans: int, batch_spans: int = 20_000) -> None:
    """Grow the store at `path` from `start` to `spans` spans (whole conversations)."""
    store = SQLiteStore(path)
    rng = random.Random(start)
    base_ns = 1_750_000_000 * 10**9
    conversations = range(start // SPANS_PER_CONVERSATION, spans // SPANS_PER_CONVERSATION)
    pending: list[SpanRow] = []
    written = start
    started = time.perf_counter()
    for index in conversations:
        # Conversations start a minute apart, so their turns interleave in time.
        pending += conversation_rows(rng, index, base_ns + index * 60 * 10**9)
        if len(pending) >= batch_spans or index == conversations[-1]:
            store.write_spans(pending)
            written += len(pending)
            pending = []
            rate = (written - start) / (time.perf_counter() - started)
            print(f"  store: {written:,}/{spans:,} spans ({rate:,.0f}/s)", flush=True)
    store.close()


def timed(client: httpx.Client, path: str, body: dict, runs: int) -> tuple[list[float], httpx.Response]:
    times = []
    response = None
    for _ in range(runs):
        t0 = time.perf_counter()
        response = client.post(path, json=body)
        times.append((time.perf_counter() - t0) * 1000)
        response.raise_for_status()
    assert response is not None
    return times, response


def curl_times(port: int, path: str, body: dict, runs: int) -> list[float]:
    with tempfile.NamedTemporaryFile("wb", suffix=".json") as file:
        file.write(orjson.dumps(body))
        file.flush()
        command = [
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{time_total}\n",
            "-H",
            "content-type: application/json",
            "--data-binary",
            f"@{file.name}",
            f"http://127.0.0.1:{port}{path}",
        ]
        times = []
        for _ in range(runs):
            status, total = subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()
            assert status == "200", status
            times.append(float(total) * 1000)
        return times


def pct(times: list[float], p: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def measure(path: Path, spans: int, runs: int, seed: int = 7) -> dict[str, tuple[float, float]]:
    conversations = spans // SPANS_PER_CONVERSATION
    rng = random.Random(seed)
    server = start_server(path)
    results: dict[str, tuple[float, float]] = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.http_port}", timeout=60) as client:
            # chat: random whole conversations (25 turns, all on one page)
            chat_times: list[float] = []
            for _ in range(runs):
                body = {
                    "project_id": PROJECT,
                    "conversation_id": f"conv-{rng.randrange(conversations):07d}",
                    "limit": 50,
                }
                times, response = timed(client, "/agents/conversations/chat", body, 1)
                assert response.json()["total_turns"] == TURNS, response.text[:300]
                chat_times += times
            results["chat (25 turns)"] = (pct(chat_times, 50), pct(chat_times, 99))

            # mini-map: 1,000 conversations (100,000 spans in the answer)
            first = rng.randrange(max(1, conversations - 1000))
            ids = [f"conv-{i:07d}" for i in range(first, min(conversations, first + 1000))]
            times, response = timed(
                client,
                "/agents/conversations/spans",
                {"project_id": PROJECT, "conversation_ids": ids},
                max(5, runs // 10),
            )
            answered = sum(len(c["spans"]) for c in response.json()["conversations"])
            assert answered == len(ids) * SPANS_PER_CONVERSATION, answered
            results[f"mini-map ({len(ids):,} conversations, {answered:,} spans)"] = (pct(times, 50), pct(times, 99))
            if shutil.which("curl"):
                # 13.8 MB of JSON: a Python client spends a good part of the time above
                # receiving it; curl's own timer shows what the server takes.
                times = curl_times(
                    server.http_port,
                    "/agents/conversations/spans",
                    {"project_id": PROJECT, "conversation_ids": ids},
                    max(5, runs // 10),
                )
                results["mini-map by curl"] = (pct(times, 50), pct(times, 99))

            # conversation list: first page, newest first (the route is issue 7's)
            if client.post("/agents/conversations", json={"project_id": PROJECT}).status_code != 404:
                times, response = timed(client, "/agents/conversations", {"project_id": PROJECT}, runs)
                assert len(response.json()["conversations"]) == min(50, conversations), response.text[:300]
                results["list first page (50)"] = (pct(times, 50), pct(times, 99))
                times, response = timed(
                    client, "/agents/conversations", {"project_id": PROJECT, "offset": conversations // 2}, runs
                )
                results["list middle page"] = (pct(times, 50), pct(times, 99))
                search_times: list[float] = []
                for _ in range(max(5, runs // 4)):
                    wanted = rng.randrange(conversations)
                    body = {"project_id": PROJECT, "search": f"ticket{wanted:07d} refund"}
                    times, response = timed(client, "/agents/conversations", body, 1)
                    found = [c["conversation_id"] for c in response.json()["conversations"]]
                    assert f"conv-{wanted:07d}" in found, found[:5]
                    search_times += times
                results["list search (2 words)"] = (pct(search_times, 50), pct(search_times, 99))
    finally:
        server.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--sizes", default="100000,1000000", help="store sizes in spans, grown in order (default 100000,1000000)"
    )
    parser.add_argument("--spans", type=int, help="one size only (same as --sizes N)")
    parser.add_argument("--runs", type=int, default=200, help="requests per measurement (mini-map: a tenth)")
    parser.add_argument("--db", help="store file to build into (and reuse: it is grown, never rebuilt)")
    args = parser.parse_args()
    sizes = [args.spans] if args.spans else [int(s) for s in args.sizes.split(",")]

    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="otelite-query-") as tmp:
        path = Path(args.db) if args.db else Path(tmp) / "query.db"
        table: dict[int, dict[str, tuple[float, float]]] = {}
        for size in sizes:
            have = _count(path)
            if have < size:
                print(
                    f"building the store up to {size:,} spans ({size // SPANS_PER_CONVERSATION:,} conversations x {TURNS} turns) ...",
                    flush=True,
                )
                build(path, have, size)
            print(f"measuring at {size:,} spans ({load()}) ...", flush=True)
            table[size] = measure(path, size, args.runs)
            for name, (p50, p99) in table[size].items():
                print(f"  {name:<50} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms", flush=True)
        if len(table) > 1:
            small, big = min(table), max(table)
            print(f"growth from {small:,} to {big:,} spans (p50 ratio):")
            for name_small, (p50_small, _) in table[small].items():
                key = name_small.split(" (")[0]
                match = next(((n, v) for n, v in table[big].items() if n.split(" (")[0] == key), None)
                if match:
                    print(f"  {key:<20} {p50_small:7.1f} ms -> {match[1][0]:7.1f} ms  ({match[1][0] / p50_small:.2f}x)")


def _count(path: Path) -> int:
    if not path.exists():
        return 0
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM spans").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


if __name__ == "__main__":
    main()
