// Assistants (prompt, first message, voice, tools; versions with a diff), trunks (and
// Twilio provisioning), API keys and workers.

import { h, fill, add, clear, field, showErrors, busy, fmt, table, pager } from "../dom.js";
import { get, post, put, del, query } from "../api.js";

/** A form wired to the API: fields, a submit button, 422 details beside their fields. */
function apiForm(title, fields, submitText, send, done) {
  const submit = h("button", { type: "submit", class: "primary" }, submitText);
  const status = h("p", { class: "status", role: "status" });
  const form = h("form", { class: "card form", novalidate: true }, title ? h("h2", {}, title) : null,
    h("p", { class: "form-error", role: "alert" }), fields, h("div", { class: "actions" }, submit), status);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    showErrors(form, null);
    try {
      done(await busy(submit, send, status));
    } catch (error) {
      showErrors(form, error);
    }
  });
  return form;
}

const lines = (text) => text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);

export async function assistants(main, { search }) {
  const page = await get(`/api/v1/assistants${query({ page: search.get("page") || 1, perPage: 25 })}`);
  add(main, h("div", { class: "page-head" }, h("h1", {}, "Assistants"), h("a", { class: "button primary", href: "#/assistants/new" }, "New assistant")),
    table("Assistants", ["Name", "Version", "Voice", "Updated"], page.data.map((a) => [
      h("a", { href: `#/assistants/${a.id}` }, a.name), `v${a.version}`, `${a.tts.provider} ${a.tts.voice}`, fmt.time(a.updatedAt),
    ]), "No assistants yet."),
    pager(page, (n) => { location.hash = `#/assistants?page=${n}`; }));
}

// A line diff of two texts (longest common subsequence; prompts are short).
function diff(before, after) {
  const a = before.split("\n");
  const b = after.split("\n");
  const lcs = Array.from({ length: a.length + 1 }, () => new Array(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const out = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) { out.push(h("span", { class: "same" }, `  ${a[i]}`)); i++; j++; }
    else if (j < b.length && (i >= a.length || lcs[i][j + 1] >= lcs[i + 1][j])) { out.push(h("ins", {}, `+ ${b[j]}`)); j++; }
    else { out.push(h("del", {}, `- ${a[i]}`)); i++; }
  }
  return h("pre", { class: "diff" }, out.map((line) => [line, "\n"]));
}

// Versions carry the definition's fields beside name and version.
const describe = (v) => [`name: ${v.name}`, `first message: ${v.firstMessage || ""}`, `voice: ${v.tts.provider} ${v.tts.voice}`,
  `voicemail: ${v.voicemailMessage || ""}`, `max duration: ${v.maxDurationSec}s`,
  `end call tool: ${v.tools.endCall}`, `transfer to: ${v.tools.transferTo || ""}`, "prompt:", v.systemPrompt].join("\n");

export async function assistantForm(main, { id }) {
  const a = id ? await get(`/api/v1/assistants/${id}`) : null;
  const d = a || {};
  const f = {
    name: field("name", "Name", "text", { required: true, value: a?.name }),
    systemPrompt: field("systemPrompt", "Prompt", "textarea", { required: true, rows: 6, value: d.systemPrompt, hint: "{{name}} and other contact variables are filled in per call." }),
    firstMessage: field("firstMessage", "First message", "text", { value: d.firstMessage }),
    voicemailMessage: field("voicemailMessage", "Voicemail message", "text", { value: d.voicemailMessage }),
    ttsProvider: field("tts.provider", "Voice provider", "select", { value: d.tts?.provider || "elevenlabs", options: [["elevenlabs", "ElevenLabs"], ["deepgram", "Deepgram"], ["openai", "OpenAI"]] }),
    voice: field("tts.voice", "Voice", "text", { value: d.tts?.voice || "rachel" }),
    maxDurationSec: field("maxDurationSec", "Longest call (seconds)", "number", { value: d.maxDurationSec ?? 300, min: 10 }),
    endCall: field("tools.endCall", "The assistant may end the call", "checkbox", { value: d.tools ? d.tools.endCall : true }),
    transferTo: field("tools.transferTo", "Transfer number (optional)", "tel", { value: d.tools?.transferTo }),
  };
  const send = () => {
    const body = {
      name: f.name.input.value, systemPrompt: f.systemPrompt.input.value, firstMessage: f.firstMessage.input.value || undefined,
      voicemailMessage: f.voicemailMessage.input.value || undefined, maxDurationSec: Number(f.maxDurationSec.input.value),
      tts: { provider: f.ttsProvider.input.value, voice: f.voice.input.value },
      tools: { endCall: f.endCall.input.checked, transferTo: f.transferTo.input.value || undefined },
    };
    return id ? put(`/api/v1/assistants/${id}`, body) : post("/api/v1/assistants", body);
  };
  add(main, h("h1", {}, a ? `${a.name} (v${a.version})` : "New assistant"),
    apiForm(null, Object.values(f), a ? "Save a new version" : "Create assistant", send, (saved) => {
      if (id) { clear(main); assistantForm(main, { id }); } else location.hash = `#/assistants/${saved.id}`;
    }));
  f.name.input.focus();
  if (a) {
    const versions = await get(`/api/v1/assistants/${id}/versions`);
    const list = (versions.data || versions).slice().sort((x, y) => y.version - x.version);
    add(main, h("section", { class: "card" }, h("h2", {}, "Version history"),
      list.map((v, i) => h("details", { open: i === 0 && list.length > 1 },
        h("summary", {}, `v${v.version} · ${fmt.time(v.createdAt)}`),
        list[i + 1] ? diff(describe(list[i + 1]), describe(v)) : h("pre", { class: "diff" }, describe(v))))));
  }
}

export async function trunks(main) {
  const body = h("div", {});
  async function draw() {
    const page = await get("/api/v1/trunks?perPage=100");
    fill(body, table("Trunks", ["Name", "Provider", "Mode", "Numbers", "Calls/s", ""], page.data.map((t) => [
      t.name, t.provider, fmt.label(t.mode), t.numbers.join(", "), t.callsPerSecond,
      h("button", { type: "button", class: "link", "aria-label": `Delete trunk ${t.name}`, onclick: async (e) => {
        if (!confirm(`Delete trunk ${t.name}?`)) return;
        await busy(e.currentTarget, () => del(`/api/v1/trunks/${t.id}`)).catch((error) => alert(error.message));
        draw();
      } }, "Delete"),
    ]), "No trunks yet."));
  }
  const t = {
    name: field("name", "Name", "text", { required: true }),
    provider: field("provider", "Provider", "select", { value: "twilio", options: [["twilio", "Twilio"], ["telnyx", "Telnyx"], ["other", "Other SIP"]] }),
    mode: field("mode", "Mode", "select", { value: "twilio_stream", options: [["twilio_stream", "Twilio media stream"], ["livekit_sip", "LiveKit SIP"]] }),
    numbers: field("numbers", "Caller numbers (one a line)", "textarea", { rows: 2, placeholder: "+14155550100" }),
    address: field("address", "SIP address (LiveKit SIP)", "text"),
    cps: field("callsPerSecond", "Calls per second", "number", { value: 1, step: "any", min: 0.1 }),
  };
  const create = apiForm("Add a trunk", Object.values(t), "Add trunk", () => post("/api/v1/trunks", {
    name: t.name.input.value, provider: t.provider.input.value, mode: t.mode.input.value, numbers: lines(t.numbers.input.value),
    address: t.address.input.value || undefined, callsPerSecond: Number(t.cps.input.value) || undefined,
  }), () => { create.reset(); draw(); });
  const tw = {
    name: field("name", "Name", "text", { required: true }),
    numbers: field("numbers", "Numbers you own at Twilio (one a line)", "textarea", { rows: 2 }),
    accountSid: field("accountSid", "Account SID (optional: the deployment's)", "text"),
    authToken: field("authToken", "Auth token (optional)", "password", { autocomplete: "off" }),
  };
  const provision = apiForm("Provision a Twilio SIP trunk", Object.values(tw), "Provision", () => post("/api/v1/trunks/twilio", {
    name: tw.name.input.value, numbers: lines(tw.numbers.input.value),
    accountSid: tw.accountSid.input.value || undefined, authToken: tw.authToken.input.value || undefined,
  }), () => { provision.reset(); draw(); });
  add(main, h("h1", {}, "Trunks"), body, h("div", { class: "grid2" }, create, provision));
  await draw();
}

export async function apiKeys(main) {
  const body = h("div", {});
  const shown = h("div", { role: "status" });
  async function draw() {
    const page = await get("/api/v1/api-keys?perPage=100");
    fill(body, table("API keys", ["Name", "Prefix", "Created", "Last used", ""], page.data.map((k) => [
      k.name, h("code", {}, k.prefix), fmt.time(k.createdAt), fmt.time(k.lastUsedAt),
      k.revokedAt ? `revoked ${fmt.time(k.revokedAt)}` : h("button", { type: "button", class: "link", "aria-label": `Revoke key ${k.name}`, onclick: async (e) => {
        if (!confirm(`Revoke ${k.name}? Programs using it stop working.`)) return;
        await busy(e.currentTarget, () => del(`/api/v1/api-keys/${k.id}`)).catch((error) => alert(error.message));
        draw();
      } }, "Revoke"),
    ]), "No API keys."));
  }
  const name = field("name", "Key name", "text", { required: true });
  const form = apiForm("Create an API key", [name], "Create key", () => post("/api/v1/api-keys", { name: name.input.value }), (created) => {
    form.reset();
    fill(shown, h("div", { class: "notice" }, h("p", {}, `Key "${created.name}" — copy it now, it is shown only once:`), h("code", { class: "secret" }, created.key)));
    draw();
  });
  add(main, h("h1", {}, "API keys"), form, shown, body);
  await draw();
}

export async function workers(main) {
  const list = await get("/api/v1/workers");
  add(main, h("h1", {}, "Workers"), h("p", { class: "muted" }, "Agent workers shared by the deployment, from their heartbeats."),
    table("Workers", ["Worker", "Mode", "Calls", "Capacity", "State", "Last heartbeat"], list.data.map((w) => [
      w.id, fmt.label(w.mode), w.activeCalls, w.capacity, w.alive ? (w.draining ? "draining" : "alive") : "silent", fmt.time(w.lastHeartbeatAt),
    ]), "No worker has reported in."));
}
