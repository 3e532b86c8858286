// otelite's page: plain JavaScript over the JSON API, no build step, no dependencies.
// It reads POST /agents/conversations (list), /agents/conversations/spans (mini-maps),
// /agents/conversations/chat (chat view), writes POST /agents/feedback, and listens to
// GET /agents/events (server-sent events) to refetch what changed.
"use strict";

const PAGE_SIZE = 50;
const TURNS_PER_PAGE = 50;
const USER_FEEDBACK = "wandb.agent_user_feedback";
// A thumb is a rating named "thumbs": 1 up, -1 down.
const THUMBS = "thumbs";

const state = {
  projects: [],
  project: null,
  search: "",
  offset: 0,
  conversation: null, // the open conversation's id
  turnOffset: 0, // how many of its newest turns are skipped (paging back in a long one)
  openTraceIds: new Set(),
  openDetails: new Set(), // keys of <details> the user opened, kept across refetches
};

// ---------- small helpers ----------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    const error = new Error(`${method} ${path}: ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return response.status === 204 ? null : response.json();
}

function formatMs(ms) {
  if (ms === null || ms === undefined) return "";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

function formatTime(iso) {
  const date = new Date(iso);
  const today = new Date().toDateString() === date.toDateString();
  return today ? date.toLocaleTimeString() : date.toLocaleString();
}

function formatTokens(n) {
  return n >= 10000 ? `${(n / 1000).toFixed(1)}k` : String(n);
}

function pretty(value) {
  if (value === null || value === undefined) return "";
  if (typeof value !== "string") return JSON.stringify(value, null, 2);
  try {
    return JSON.stringify(JSON.parse(value), null, 2);
  } catch {
    return value;
  }
}

function operationKind(name) {
  const op = (name || "").toLowerCase();
  if (["chat", "text_completion", "generate_content", "completion", "llm"].includes(op) || op.startsWith("chat ")) return "model";
  if (op === "execute_tool" || op.startsWith("execute_tool") || op === "tool") return "tool";
  if (["invoke_agent", "create_agent", "agent", "handoff"].includes(op) || op.startsWith("invoke_agent")) return "agent";
  if (["embeddings", "retrieval", "retriever"].includes(op)) return "retrieval";
  return "other";
}

// A thumb drawn inline (no icon font, no emoji font needed); down is up turned over.
function thumb(up) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", `thumb-icon${up ? "" : " down"}`);
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", "M2 10h4v11H2z M8 10l4-8c1.5 0 2.5 1 2.5 2.5V9h5.5a2 2 0 0 1 2 2.3l-1.4 8A2 2 0 0 1 18.6 21H8z");
  svg.append(path);
  return svg;
}

// <details> that remember being opened, so a live refetch does not fold them again.
function details(key, summary, ...body) {
  const el = h("details", { "data-key": key, open: state.openDetails.has(key) }, h("summary", {}, summary), ...body);
  el.addEventListener("toggle", () => (el.open ? state.openDetails.add(key) : state.openDetails.delete(key)));
  return el;
}

// ---------- URL hash: #project=...&conversation=... ----------

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  return { project: params.get("project"), conversation: params.get("conversation") };
}

function writeHash() {
  const params = new URLSearchParams();
  if (state.project) params.set("project", state.project);
  if (state.conversation) params.set("conversation", state.conversation);
  history.replaceState(null, "", `#${params}`);
}

// ---------- projects ----------

async function loadProjects() {
  const { projects } = await api("GET", "/agents/projects");
  state.projects = projects;
  const select = document.getElementById("project");
  const wanted = state.project || readHash().project;
  select.replaceChildren(
    ...projects.map((p) => h("option", { value: p.project_id }, `${p.project_id} (${p.conversation_count})`)),
  );
  if (wanted && !projects.some((p) => p.project_id === wanted)) {
    select.append(h("option", { value: wanted }, `${wanted} (0)`));
  }
  state.project = wanted || (projects[0] && projects[0].project_id) || null;
  if (state.project) select.value = state.project;
}

// ---------- conversation list with mini-maps ----------

// Loads can overlap (typing, live refetches, paging): only the latest one may draw.
let listGeneration = 0;
let chatGeneration = 0;

async function loadConversations() {
  const generation = ++listGeneration;
  const list = document.getElementById("conversations");
  if (!state.project) {
    list.replaceChildren(h("li", { class: "empty" }, "No spans yet. Point an OTLP exporter at otelite."));
    return;
  }
  const page = await api("POST", "/agents/conversations", {
    project_id: state.project,
    limit: PAGE_SIZE,
    offset: state.offset,
    search: state.search || null,
  });
  const ids = page.conversations.map((c) => c.conversation_id);
  const minimaps = await loadMinimaps(ids);
  if (generation !== listGeneration) return;
  document.getElementById("list-count").textContent =
    page.total === 0 ? "No conversations" : `${state.offset + 1}–${state.offset + page.conversations.length} of ${page.total}`;
  document.getElementById("newer").disabled = state.offset === 0;
  document.getElementById("older").disabled = !page.has_more;
  list.replaceChildren(...page.conversations.map((c) => conversationRow(c, minimaps.get(c.conversation_id))));
  if (page.total === 0) list.append(h("li", { class: "empty" }, state.search ? "Nothing matches." : "No conversations yet."));
}

async function loadMinimaps(ids) {
  const byId = new Map();
  if (ids.length === 0) return byId;
  try {
    const { conversations } = await api("POST", "/agents/conversations/spans", {
      project_id: state.project,
      conversation_ids: ids,
    });
    for (const entry of conversations) byId.set(entry.conversation_id, entry);
  } catch (error) {
    console.warn("mini-maps unavailable", error);
  }
  return byId;
}

function conversationRow(c, minimap) {
  const selected = c.conversation_id === state.conversation;
  return h(
    "li",
    {
      class: `conversation${selected ? " selected" : ""}`,
      "data-conversation-id": c.conversation_id,
      tabindex: 0,
      onclick: () => openConversation(c.conversation_id),
      onkeydown: (e) => e.key === "Enter" && openConversation(c.conversation_id),
    },
    h(
      "div",
      { class: "row-head" },
      h("span", { class: "conversation-id", title: c.conversation_id }, c.conversation_id),
      h("time", { datetime: c.last_activity_at, title: `started ${c.started_at}` }, formatTime(c.last_activity_at)),
    ),
    minimap ? miniMap(minimap.spans) : null,
    h(
      "div",
      { class: "row-stats" },
      h("span", {}, `${c.turn_count} turn${c.turn_count === 1 ? "" : "s"}`),
      h("span", {}, `${c.span_count} spans`),
      c.error_count ? h("span", { class: "error-text" }, `${c.error_count} error${c.error_count === 1 ? "" : "s"}`) : null,
      h("span", { title: "input / output tokens" }, `${formatTokens(c.input_tokens)} → ${formatTokens(c.output_tokens)} tok`),
      minimap ? feedbackSummary(minimap.spans_feedback) : null,
    ),
    h("div", { class: "row-tags" }, c.agents.map((a) => h("span", { class: "chip agent" }, a)), c.models.map((m) => h("span", { class: "chip model" }, m))),
  );
}

// One segment per span in start order, width by duration, colour by kind and status.
function miniMap(spans) {
  return h(
    "div",
    { class: "minimap", role: "img", "aria-label": `${spans.length} spans` },
    spans.map((s) =>
      h("span", {
        class: `seg op-${operationKind(s.operation_name)}${s.status === "ERROR" ? " status-error" : ""}`,
        style: `flex-grow: ${Math.max(s.duration_ms, 1)}`,
        title: `${s.operation_name} · ${formatMs(s.duration_ms)} · ${s.status}`,
      }),
    ),
  );
}

function feedbackSummary(items) {
  if (!items || items.length === 0) return null;
  let up = 0;
  let down = 0;
  for (const item of items) {
    for (const rating of item.ratings || []) {
      if (rating.name === THUMBS && rating.value > 0) up += 1;
      if (rating.name === THUMBS && rating.value < 0) down += 1;
    }
  }
  return h("span", { class: "feedback-summary" }, up ? [thumb(true), ` ${up} `] : null, down ? [thumb(false), ` ${down}`] : null);
}

// ---------- chat view ----------

async function openConversation(id) {
  if (state.conversation !== id) state.turnOffset = 0;
  state.conversation = id;
  writeHash();
  for (const row of document.querySelectorAll(".conversation")) {
    row.classList.toggle("selected", row.dataset.conversationId === id);
  }
  await loadChat();
}

async function loadChat() {
  const generation = ++chatGeneration;
  const pane = document.getElementById("chat");
  const id = state.conversation;
  if (!id) return;
  let chat;
  let spans;
  try {
    [chat, spans] = await Promise.all([
      api("POST", "/agents/conversations/chat", {
        project_id: state.project,
        conversation_id: id,
        include_feedback: true,
        limit: TURNS_PER_PAGE,
        offset: state.turnOffset,
      }),
      loadMinimaps([id]).then((m) => m.get(id)),
    ]);
  } catch (error) {
    if (generation === chatGeneration) {
      pane.replaceChildren(h("p", { class: "empty error-text" }, `Could not load the conversation (${error.message}).`));
    }
    return;
  }
  if (generation !== chatGeneration) return; // a later load (or another conversation) wins
  const errorSpans = new Set((spans ? spans.spans : []).filter((s) => s.status === "ERROR").map((s) => s.span_id));
  state.openTraceIds = new Set(chat.turns.map((t) => t.trace_id));
  const scroll = pane.scrollTop;
  pane.replaceChildren(
    ...[h(
      "header",
      { class: "chat-head" },
      h("h2", { title: id }, id),
      h("div", { class: "chat-meta" }, `${chat.total_turns} turn${chat.total_turns === 1 ? "" : "s"}`),
      spans ? miniMap(spans.spans) : null,
      feedbackBar(null, chat.feedback || []),
    ),
    chat.has_more ? turnPager(`${chat.total_turns - chat.offset - chat.turns.length} older turns`, TURNS_PER_PAGE) : null,
    h("ol", { class: "turns" }, chat.turns.map((turn) => turnView(turn, errorSpans))),
    state.turnOffset > 0 ? turnPager(`${state.turnOffset} newer turns`, -TURNS_PER_PAGE) : null,
    ].filter(Boolean),
  );
  pane.scrollTop = scroll;
}

function turnPager(label, step) {
  return h(
    "p",
    { class: "older-turns" },
    h("button", { type: "button", onclick: () => { state.turnOffset = Math.max(0, state.turnOffset + step); loadChat(); } }, `Show ${label}`),
  );
}

function turnView(turn, errorSpans) {
  return h(
    "li",
    { class: "turn", "data-trace-id": turn.trace_id },
    h(
      "div",
      { class: "turn-head" },
      h("span", { class: "turn-name" }, turn.root_span_name || "turn"),
      turn.provider ? h("span", { class: "chip" }, turn.provider) : null,
      h("span", { class: "muted" }, formatMs(turn.total_duration_ms)),
      feedbackBar(turn.trace_id, turn.feedback || []),
    ),
    h("ol", { class: "messages" }, turn.messages.map((m) => messageView(m, errorSpans.has(m.span_id)))),
  );
}

function messageView(m, errorSpan) {
  const payload = m[m.type] || m.assistant_message || m.tool_call || m.agent_start || {};
  const failed = errorSpan || payload.status === "ERROR";
  const cls = failed ? " failed" : "";
  const who = m.agent_name ? h("span", { class: "who" }, m.agent_name) : null;
  if (m.user_message) {
    return h("li", { class: `msg user${cls}` }, h("div", { class: "role" }, "User"), h("div", { class: "text" }, m.user_message.text || ""), refs(m.user_message.content_refs));
  }
  if (m.assistant_message) {
    const a = m.assistant_message;
    const usage = [a.model, a.input_tokens != null ? `in ${a.input_tokens}` : null, a.output_tokens != null ? `out ${a.output_tokens}` : null,
      a.reasoning_tokens ? `reasoning ${a.reasoning_tokens}` : null, formatMs(a.duration_ms)].filter(Boolean).join(" · ");
    return h(
      "li",
      { class: `msg assistant${cls}` },
      h("div", { class: "role" }, "Assistant ", who),
      a.reasoning_content ? details(`reasoning:${m.span_id}`, "Reasoning", h("div", { class: "reasoning" }, a.reasoning_content)) : null,
      a.text ? h("div", { class: "text" }, a.text) : null,
      refs(a.content_refs),
      h("div", { class: "usage" }, usage),
    );
  }
  if (m.tool_call) {
    const t = m.tool_call;
    return h(
      "li",
      { class: `msg tool${cls}` },
      details(
        `tool:${m.span_id}:${t.tool_name}`,
        h("span", {}, h("span", { class: "badge" }, "tool"), " ", h("span", { class: "tool-name" }, t.tool_name || "(unnamed tool)"), " ", h("span", { class: "muted" }, formatMs(t.duration_ms)), failed ? h("span", { class: "error-text" }, " failed") : null),
        h("div", { class: "label" }, "Arguments"),
        h("pre", {}, pretty(t.tool_arguments)),
        h("div", { class: "label" }, "Result"),
        h("pre", {}, t.tool_result == null ? "(none)" : pretty(t.tool_result)),
        refs(t.content_refs),
      ),
    );
  }
  if (m.agent_start) {
    const s = m.agent_start;
    const instructions = Array.isArray(s.system_instructions)
      ? s.system_instructions.map((p) => (typeof p === "string" ? p : p.content || JSON.stringify(p))).join("\n")
      : s.system_instructions;
    return h(
      "li",
      { class: `msg event${cls}` },
      h("span", {}, "▶ ", who || "agent", " started", s.model ? ` (${s.model})` : ""),
      instructions ? details(`instructions:${m.span_id}`, "System instructions", h("pre", {}, instructions)) : null,
      s.tool_definitions ? details(`tools:${m.span_id}`, "Tool definitions", h("pre", {}, pretty(s.tool_definitions))) : null,
    );
  }
  if (m.agent_handoff) {
    return h("li", { class: `msg event${cls}` }, `⇢ handoff from ${m.agent_handoff.from_agent || "?"} to ${m.agent_handoff.to_agent || "?"}`);
  }
  if (m.context_compacted) {
    const c = m.context_compacted;
    return h(
      "li",
      { class: `msg event${cls}` },
      `⋯ context compacted${c.compaction_items_before != null ? `: ${c.compaction_items_before} → ${c.compaction_items_after ?? "?"} items` : ""}`,
      c.compaction_summary ? details(`compaction:${m.span_id}`, "Summary", h("div", { class: "text" }, c.compaction_summary)) : null,
    );
  }
  return h("li", { class: "msg event" }, "(unknown message)");
}

function refs(contentRefs) {
  if (!contentRefs || contentRefs.length === 0) return null;
  return h("div", { class: "refs" }, contentRefs.map((r) => h("span", { class: "chip" }, typeof r === "string" ? r : JSON.stringify(r))));
}

// ---------- feedback ----------

function feedbackBar(traceId, items) {
  const chips = [];
  for (const item of items) {
    const remove = item.id
      ? h("button", { type: "button", class: "remove", title: "Delete this feedback", "aria-label": "Delete feedback", onclick: () => deleteFeedback(item.id) }, "×")
      : null;
    const labels = [];
    for (const rating of item.ratings || []) {
      labels.push(rating.name === THUMBS ? thumb(rating.value > 0) : `${rating.name}: ${rating.value} `);
    }
    for (const tag of item.tags || []) labels.push(`#${tag} `);
    const kind = item.feedback_type === USER_FEEDBACK ? "" : " monitor";
    const what = (item.ratings || []).map((r) => (r.name === THUMBS ? (r.value > 0 ? "thumbs up" : "thumbs down") : r.name)).concat(item.tags || []);
    chips.push(h("span", { class: `chip feedback${kind}`, title: `${what.join(", ")} · ${item.created_at || item.feedback_type}` }, labels, remove));
  }
  const tagInput = h("input", { class: "tag-input", placeholder: "+ tag", "aria-label": "Add a tag", size: 8 });
  tagInput.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && tagInput.value.trim()) {
      sendFeedback(traceId, { tags: [tagInput.value.trim()], ratings: [] });
      tagInput.value = "";
    }
  });
  const scope = traceId ? "this turn" : "this conversation";
  return h(
    "div",
    { class: "feedback-bar", "data-scope": traceId ? "turn" : "conversation" },
    chips,
    h("button", { type: "button", class: "thumb", title: `Thumbs up for ${scope}`, "aria-label": `Thumbs up for ${scope}`, onclick: () => sendFeedback(traceId, { tags: [], ratings: [{ name: THUMBS, value: 1 }] }) }, thumb(true)),
    h("button", { type: "button", class: "thumb", title: `Thumbs down for ${scope}`, "aria-label": `Thumbs down for ${scope}`, onclick: () => sendFeedback(traceId, { tags: [], ratings: [{ name: THUMBS, value: -1 }] }) }, thumb(false)),
    tagInput,
  );
}

async function sendFeedback(traceId, { tags, ratings }) {
  try {
    await api("POST", "/agents/feedback", {
      project_id: state.project,
      conversation_id: state.conversation,
      trace_id: traceId,
      feedback_type: USER_FEEDBACK,
      tags,
      ratings,
    });
  } catch (error) {
    alert(`Could not save feedback: ${error.message}`);
    return;
  }
  await Promise.all([loadChat(), loadConversations()]);
}

async function deleteFeedback(id) {
  try {
    await api("DELETE", `/agents/feedback/${encodeURIComponent(id)}?project_id=${encodeURIComponent(state.project)}`);
  } catch (error) {
    alert(`Could not delete feedback: ${error.message}`);
    return;
  }
  await Promise.all([loadChat(), loadConversations()]);
}

// ---------- live updates ----------

let refreshTimer = null;
let pending = { list: false, chat: false, projects: false };

function scheduleRefresh(what) {
  pending = { list: pending.list || what.list, chat: pending.chat || what.chat, projects: pending.projects || what.projects };
  if (refreshTimer) return;
  // Coalesce bursts: one refetch for the many commits of a busy agent.
  refreshTimer = setTimeout(async () => {
    const todo = pending;
    pending = { list: false, chat: false, projects: false };
    refreshTimer = null;
    try {
      if (todo.projects) await loadProjects();
      if (todo.list) await loadConversations();
      if (todo.chat) await loadChat();
    } catch (error) {
      console.warn("refresh failed", error);
    }
  }, 250);
}

function touchesOpenConversation(event) {
  const id = state.conversation;
  if (!id) return false;
  if (event.truncated) return true;
  return event.conversation_ids.includes(id) || event.trace_ids.includes(id) || event.trace_ids.some((t) => state.openTraceIds.has(t));
}

function listen() {
  const live = document.getElementById("live");
  const source = new EventSource("/agents/events");
  source.addEventListener("ready", () => {
    live.textContent = "live";
    live.classList.add("on");
    scheduleRefresh({ list: true, chat: true, projects: true });
  });
  source.addEventListener("resync", () => scheduleRefresh({ list: true, chat: true, projects: true }));
  source.addEventListener("spans", (message) => {
    const event = JSON.parse(message.data);
    const known = state.projects.some((p) => p.project_id === event.project_id);
    if (state.project === null) {
      // The first spans ever: their project becomes the shown one.
      scheduleRefresh({ projects: true, list: true });
      return;
    }
    if (event.project_id !== state.project) {
      scheduleRefresh({ projects: true });
      return;
    }
    // A chat turn can be named by its root only after its children arrived, so any
    // new trace may belong to the open conversation: refetch it too.
    scheduleRefresh({ list: true, projects: !known, chat: touchesOpenConversation(event) || event.conversation_ids.length === 0 });
  });
  source.addEventListener("error", () => {
    live.textContent = "reconnecting…";
    live.classList.remove("on");
  });
}

// ---------- start ----------

async function start() {
  const fromHash = readHash();
  state.project = fromHash.project;
  state.conversation = fromHash.conversation;
  document.getElementById("project").addEventListener("change", (e) => {
    state.project = e.target.value;
    state.conversation = null;
    state.offset = 0;
    writeHash();
    document.getElementById("chat").replaceChildren(h("p", { class: "empty" }, "Pick a conversation on the left."));
    loadConversations();
  });
  let searchTimer = null;
  document.getElementById("search").addEventListener("input", (e) => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      state.search = e.target.value.trim();
      state.offset = 0;
      loadConversations();
    }, 200);
  });
  document.getElementById("newer").addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - PAGE_SIZE);
    loadConversations();
  });
  document.getElementById("older").addEventListener("click", () => {
    state.offset += PAGE_SIZE;
    loadConversations();
  });
  await loadProjects();
  await loadConversations();
  if (state.conversation) await loadChat();
  listen();
}

start();
