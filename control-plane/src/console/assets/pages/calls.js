// Calls: the log (filters, paging) and a call's page: the transcript as a timeline beside
// the recording player (a click on a line seeks to it), per-turn latency, cost, outcome,
// end reason and the engine's decisions for the attempt.

import { h, fill, add, field, fmt, pill, table, pager } from "../dom.js";
import { get, query } from "../api.js";
import { subscribe } from "../events.js";

const STATUSES = ["queued", "initiated", "ringing", "in_progress", "completed", "busy", "no_answer", "failed", "canceled"];
const OUTCOMES = ["interested", "not_interested", "callback", "do_not_call", "voicemail", "wrong_number"];

export async function log(main, { search }) {
  const pageNo = Number(search.get("page") || 1);
  const campaigns = await get("/api/v1/campaigns?perPage=100");
  const filters = {
    campaignId: field("campaignId", "Campaign", "select", { value: search.get("campaignId") || "", options: [["", "All campaigns"], ...campaigns.data.map((c) => [c.id, c.name])] }),
    status: field("status", "Status", "select", { value: search.get("status") || "", options: [["", "Any status"], ...STATUSES.map((s) => [s, fmt.label(s)])] }),
    outcome: field("outcome", "Outcome", "select", { value: search.get("outcome") || "", options: [["", "Any outcome"], ...OUTCOMES.map((s) => [s, fmt.label(s)])] }),
    from: field("from", "From (day)", "date", { value: search.get("from") || "" }),
    to: field("to", "To (day, included)", "date", { value: search.get("to") || "" }),
  };
  const form = h("form", { class: "card filters", "aria-label": "Filter calls" }, Object.values(filters), h("button", { type: "submit" }, "Apply"));
  const params = () => Object.fromEntries(Object.entries(filters).map(([k, f]) => [k, f.input.value]));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    location.hash = `#/calls${query(params())}`;
  });
  const body = h("div", {});
  add(main, h("h1", {}, "Calls"), form, body);
  const current = { campaignId: search.get("campaignId"), status: search.get("status"), outcome: search.get("outcome"), from: search.get("from"), to: search.get("to") };
  async function draw() {
    // Days are the operator's own: their local midnights go to the API as instants.
    const range = { from: dayStart(current.from, 0), to: dayStart(current.to, 1) };
    const page = await get(`/api/v1/calls${query({ ...current, ...range, page: pageNo, perPage: 25 })}`);
    fill(body, 
      table("Calls", ["To", "Status", "Outcome", "Ended because", "Duration", "Cost", "Started"], page.data.map((c) => [
        h("a", { href: `#/calls/${c.id}` }, c.to), pill(c.status), fmt.label(c.outcome), fmt.label(c.endReason),
        fmt.duration(c.durationSec), fmt.money(c.costCents), fmt.time(c.startedAt || c.createdAt),
      ]), "No calls match."),
      pager(page, (n) => { location.hash = `#/calls${query({ ...current, page: n })}`; }));
  }
  await draw();
  let pending = null;
  const stop = subscribe((e) => {
    if (pageNo !== 1 || !e.kind.startsWith("call.") || e.kind === "call.transcript") return;
    if (!pending) pending = setTimeout(() => { pending = null; draw().catch(() => {}); }, 1000);
  });
  return () => { stop(); clearTimeout(pending); };
}

/** The instant of local midnight `days` after the date `day` (YYYY-MM-DD), or null. */
function dayStart(day, days) {
  if (!day) return null;
  const [y, m, d] = day.split("-").map(Number);
  return new Date(y, m - 1, d + days).toISOString();
}

// The recording through fetch (the cookie session), played from a blob: seeking works on
// the whole file without the server having to answer range requests.
async function player(callId, recording, status) {
  const audio = h("audio", { controls: true, preload: "auto", class: "player", "aria-label": "Call recording (stereo: agent left, callee right)" });
  status.textContent = "Loading the recording…";
  const response = await fetch(`/api/v1/calls/${callId}/recordings/${recording.id}/audio`, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`The recording could not be loaded (${response.status})`);
  audio.src = URL.createObjectURL(await response.blob());
  status.textContent = `${recording.channels === 2 ? "Stereo" : "Mono"} ${recording.format}, ${fmt.duration(recording.durationSec)}`;
  return audio;
}

export async function call(main, { id }) {
  const c = await get(`/api/v1/calls/${id}`);
  const [transcript, recordings] = await Promise.all([get(`/api/v1/calls/${id}/transcript`), get(`/api/v1/calls/${id}/recordings`)]);
  let decisions = [];
  if (c.campaignId) {
    // The attempt's decisions: the campaign's attempts page that holds this call.
    const attempts = await get(`/api/v1/campaigns/${c.campaignId}/attempts?perPage=500`).catch(() => ({ data: [] }));
    decisions = attempts.data.find((a) => a.lastCallId === id || a.contactId === c.contactId)?.decisions || [];
  }
  const status = h("p", { class: "status", role: "status" });
  const playerSlot = h("div", { class: "player-slot" }, status);
  let audio = null;
  const lines = transcript.entries.map((entry) => {
    const line = h("li", { class: `line line-${entry.speaker}` },
      h("button", { type: "button", class: "seek", "data-start-ms": entry.startMs,
        "aria-label": `Play from ${(entry.startMs / 1000).toFixed(1)} seconds: ${entry.speaker} says ${entry.text}` },
        h("span", { class: "at" }, `${(entry.startMs / 1000).toFixed(1)}s`), h("span", { class: "who" }, entry.speaker === "agent" ? "Agent" : "Callee"),
        h("span", { class: "said" }, entry.text)));
    line.querySelector("button").addEventListener("click", () => {
      if (!audio) return;
      audio.currentTime = entry.startMs / 1000;
      audio.play().catch(() => {});
    });
    return line;
  });
  const timeline = h("ol", { class: "timeline", "aria-label": "Transcript" }, lines);
  const turns = Array.isArray(c.latency?.turns) ? c.latency.turns : [];
  const breakdown = Object.entries(c.costBreakdown || {}).filter(([, v]) => typeof v === "number");
  add(main, 
    h("div", { class: "page-head" }, h("h1", {}, `Call to ${c.to} `, pill(c.status)),
      c.campaignId ? h("a", { href: `#/campaigns/${c.campaignId}` }, "Campaign") : null),
    h("dl", { class: "facts card" },
      h("dt", {}, "Outcome"), h("dd", { "data-testid": "outcome" }, fmt.label(c.outcome)),
      h("dt", {}, "Ended because"), h("dd", {}, fmt.label(c.endReason)),
      h("dt", {}, "Answered by"), h("dd", {}, fmt.label(c.answeredBy)),
      h("dt", {}, "Duration"), h("dd", {}, fmt.duration(c.durationSec)),
      h("dt", {}, "Cost"), h("dd", {}, fmt.money(c.costCents)),
      h("dt", {}, "From"), h("dd", {}, c.from || "—"),
      h("dt", {}, "Started"), h("dd", {}, fmt.time(c.startedAt)),
      c.outcomeNotes ? [h("dt", {}, "Notes"), h("dd", {}, c.outcomeNotes)] : null),
    h("div", { class: "call-layout" },
      h("section", { class: "card" }, h("h2", {}, "Transcript"), lines.length ? timeline : h("p", { class: "empty" }, "No transcript.")),
      h("section", { class: "card" }, h("h2", {}, "Recording"), playerSlot,
        h("h2", {}, "Cost breakdown"),
        table("Cost breakdown", ["Part", "Cost"], breakdown.map(([k, v]) => [fmt.label(k), fmt.money(v)]), "No cost recorded."),
        h("h2", {}, "Turn latency"),
        table("Turn latency", ["Turn", "End of speech → audio", "LLM first token", "TTS first byte"], turns.map((t, i) => [
          i + 1, fmt.ms(t.endOfSpeechToAudioMs), fmt.ms(t.llmFirstTokenMs), fmt.ms(t.ttsFirstByteMs)]), "No turns measured."),
        h("h2", {}, "Engine decisions"),
        decisions.length ? h("ul", { class: "decisions" }, decisions.map((d) => h("li", {}, `${fmt.time(d.at)} ${fmt.label(d.decision)}${d.detail ? ` — ${d.detail}` : ""}`)))
          : h("p", { class: "empty" }, "No decisions recorded."))));
  if (recordings.data.length) {
    try {
      audio = await player(id, recordings.data[0], status);
      playerSlot.prepend(audio);
      // Highlight the line being played.
      audio.addEventListener("timeupdate", () => {
        const ms = audio.currentTime * 1000;
        transcript.entries.forEach((entry, i) => lines[i].classList.toggle("playing", ms >= entry.startMs && ms < Math.max(entry.endMs, entry.startMs + 500)));
      });
    } catch (error) {
      status.textContent = error.message;
    }
  } else {
    status.textContent = "No recording for this call.";
  }
}
