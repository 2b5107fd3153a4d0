// The live wall: every call not yet over, updated from the event stream without
// reloading (status, duration ticking, latest transcript line), with a hang-up button.

import { h, add, clear, fmt, pill } from "../dom.js";
import { get, post } from "../api.js";
import { subscribe } from "../events.js";

const LIVE = ["queued", "initiated", "ringing", "in_progress"];

export async function render(main) {
  const connection = h("span", { class: "connection", role: "status" }, "connecting…");
  const wall = h("ul", { class: "wall", "aria-label": "Live calls", "aria-live": "polite" });
  const empty = h("p", { class: "empty" }, "No call is live right now.");
  const ended = h("ul", { class: "recent", "aria-label": "Recently ended" });
  add(main, h("div", { class: "page-head" }, h("h1", {}, "Live calls"), connection), wall, empty,
    h("h2", {}, "Just ended"), ended);
  const calls = new Map();

  function card(c) {
    const hangup = h("button", { type: "button", class: "danger", "aria-label": `Hang up the call to ${c.to}` }, "Hang up");
    const state = h("p", { class: "status", role: "status" });
    hangup.addEventListener("click", async () => {
      hangup.disabled = true;
      state.textContent = "Hanging up…";
      try {
        await post(`/api/v1/calls/${c.callId}/end`);
        state.textContent = "Hang-up sent";
      } catch (error) {
        state.textContent = error.message;
        hangup.disabled = false;
      }
    });
    const el = h("li", { class: "live-card", "data-call-id": c.callId },
      h("div", { class: "live-head" }, h("a", { href: `#/calls/${c.callId}` }, c.to), h("span", { class: "live-status" })),
      h("p", { class: "live-duration" }), h("p", { class: "live-line muted" }, "—"), hangup, state);
    return el;
  }

  function update(c) {
    let entry = calls.get(c.callId);
    if (!entry) {
      entry = { data: {}, el: card(c) };
      calls.set(c.callId, entry);
      wall.append(entry.el);
    }
    Object.assign(entry.data, c);
    clear(entry.el.querySelector(".live-status")).append(pill(entry.data.status));
    if (!LIVE.includes(entry.data.status)) {
      entry.el.remove();
      calls.delete(c.callId);
      finished(entry.data);
    }
    empty.hidden = calls.size > 0;
  }

  // An ended call's line; later events (outcome, end reason, cost) redraw the same line.
  const endedLines = new Map();
  function finished(c, atEnd = false) {
    const line = h("li", { "data-call-id": c.callId }, h("a", { href: `#/calls/${c.callId}` }, c.to || c.callId), " ", pill(c.status),
      c.outcome ? ` ${fmt.label(c.outcome)}` : "", c.endReason ? ` — ${fmt.label(c.endReason)}` : "");
    const old = endedLines.get(c.callId);
    if (old) old.el.replaceWith(line);
    else if (atEnd) ended.append(line);
    else ended.prepend(line);
    endedLines.set(c.callId, { data: c, el: line });
    while (ended.children.length > 20) {
      endedLines.delete(ended.lastChild.dataset.callId);
      ended.lastChild.remove();
    }
  }

  function tick() {
    const now = Date.now();
    for (const { data, el } of calls.values()) {
      const since = data.answeredAt || data.startedAt;
      el.querySelector(".live-duration").textContent = since ? `${data.answeredAt ? "Talking" : "Dialing"} for ${fmt.duration((now - Date.parse(since)) / 1000)}` : "Waiting to dial";
    }
  }

  // Subscribe first, then load the current calls: nothing that changes in between is lost.
  const stop = subscribe((e) => {
    if ((e.kind === "call.created" || e.kind === "call.updated") && endedLines.has(e.callId)) finished({ ...endedLines.get(e.callId).data, ...e });
    else if (e.kind === "call.created" || e.kind === "call.updated") update(e);
    else if (e.kind === "call.transcript" && calls.has(e.callId)) {
      calls.get(e.callId).el.querySelector(".live-line").textContent = `${e.speaker === "agent" ? "Agent" : "Callee"}: ${e.text}`;
    }
  }, (state) => { connection.textContent = state === "live" ? "● live" : state; });
  for (const status of LIVE) {
    const page = await get(`/api/v1/calls?status=${status}&perPage=200`);
    for (const c of page.data) {
      if (!calls.has(c.id)) update({ callId: c.id, to: c.to, status: c.status, startedAt: c.startedAt, answeredAt: c.answeredAt, campaignId: c.campaignId });
    }
  }
  const recent = await get("/api/v1/calls?perPage=20");
  for (const c of recent.data) {
    if (!LIVE.includes(c.status) && !calls.has(c.id) && !endedLines.has(c.id)) {
      finished({ callId: c.id, to: c.to, status: c.status, outcome: c.outcome, endReason: c.endReason }, true);
    }
  }
  empty.hidden = calls.size > 0;
  tick();
  const timer = setInterval(tick, 1000);
  return () => { stop(); clearInterval(timer); };
}
