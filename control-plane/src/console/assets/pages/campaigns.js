// Campaigns: the list with progress, the create/edit form (the API's 422 details beside
// each field), the lifecycle buttons (only the transitions the lifecycle allows are
// enabled), and a detail page with progress, results and the attempts with the engine's
// decisions.

import { h, fill, add, field, showErrors, busy, fmt, pill, table, pager } from "../dom.js";
import { get, post, put, query } from "../api.js";
import { hbars, progress } from "../charts.js";
import { subscribe } from "../events.js";

// Which statuses each action may start from (the API's lifecycle, domain/campaign).
const ACTIONS = [
  ["start", "Start", ["draft"]],
  ["pause", "Pause", ["running"]],
  ["resume", "Resume", ["paused", "error"]],
  ["stop", "Stop", ["running", "paused", "error"]],
];
const EDITABLE = ["draft", "paused"];
const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

function progressOf(status) {
  const p = status.progress;
  const finished = p.done + p.exhausted + p.skipped + p.canceled;
  return progress(finished, p.total, `${finished} of ${p.total} contacts finished · ${p.inProgress} in progress`);
}

/** The lifecycle buttons for a campaign; onChange(newCampaign) after an action. */
export function lifecycle(campaign, onChange) {
  const status = h("p", { class: "status", role: "status" });
  const buttons = ACTIONS.map(([action, label, from]) => {
    const allowed = from.includes(campaign.status);
    const button = h("button", {
      type: "button", class: action === "stop" ? "danger" : "", disabled: !allowed, "data-action": action,
      title: allowed ? `${label} the campaign` : `Not allowed while ${campaign.status}`,
    }, label);
    button.addEventListener("click", async () => {
      if (action === "stop" && !confirm("Stop this campaign for good? It cannot be restarted.")) return;
      try {
        const updated = await busy(button, () => post(`/api/v1/campaigns/${campaign.id}/${action}`), status);
        onChange(updated);
      } catch { /* shown in status */ }
    });
    return button;
  });
  return h("div", { class: "actions", role: "group", "aria-label": "Campaign actions" }, buttons, status);
}

export async function list(main, { search }) {
  const pageNo = Number(search.get("page") || 1);
  add(main, h("div", { class: "page-head" }, h("h1", {}, "Campaigns"), h("a", { class: "button primary", href: "#/campaigns/new" }, "New campaign")));
  const body = h("div", {});
  add(main, body);
  async function draw() {
    const page = await get(`/api/v1/campaigns${query({ page: pageNo, perPage: 25 })}`);
    const statuses = await Promise.all(page.data.map((c) => get(`/api/v1/campaigns/${c.id}/status`).catch(() => null)));
    fill(body, 
      table("Campaigns", ["Name", "Status", "Progress", "Created", ""], page.data.map((c, i) => [
        h("a", { href: `#/campaigns/${c.id}` }, c.name), pill(c.status),
        statuses[i] ? progressOf(statuses[i]) : "—", fmt.time(c.createdAt),
        EDITABLE.includes(c.status) ? h("a", { href: `#/campaigns/${c.id}/edit` }, "Edit") : "",
      ]), "No campaigns yet: create one to start calling."),
      pager(page, (n) => { location.hash = `#/campaigns?page=${n}`; }));
  }
  await draw();
  let pending = null;
  const stop = subscribe((e) => {
    if (!e.kind.startsWith("campaign.") && e.kind !== "call.updated") return;
    if (!pending) pending = setTimeout(() => { pending = null; draw().catch(() => {}); }, 1000);
  });
  return () => { stop(); clearTimeout(pending); };
}

function options(page, empty) {
  return [["", empty], ...page.data.map((x) => [x.id, x.name])];
}

export async function edit(main, { id }) {
  const [assistants, lists, trunks, existing] = await Promise.all([
    get("/api/v1/assistants?perPage=100"), get("/api/v1/contact-lists?perPage=100"), get("/api/v1/trunks?perPage=100"),
    id ? get(`/api/v1/campaigns/${id}`) : null,
  ]);
  const c = existing || {};
  const sched = c.schedule || { timezone: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC", callingDays: DAYS.slice(0, 5), startHour: 9, endHour: 18 };
  const f = {
    name: field("name", "Name", "text", { required: true, value: c.name }),
    assistantId: field("assistantId", "Assistant", "select", { required: true, value: c.assistantId, options: options(assistants, "Choose an assistant") }),
    contactListId: field("contactListId", "Contact list", "select", { required: true, value: c.contactListId, options: options(lists, "Choose a contact list") }),
    trunkId: field("trunkId", "Trunk", "select", { required: true, value: c.trunkId, options: options(trunks, "Choose a trunk") }),
    timezone: field("schedule.timezone", "Time zone of the calling window", "text", { value: sched.timezone, hint: "An IANA name such as America/New_York. Contacts' own zones apply too." }),
    startHour: field("schedule.startHour", "Calling starts at (hour)", "number", { value: sched.startHour, min: 0, max: 23 }),
    endHour: field("schedule.endHour", "Calling ends at (hour)", "number", { value: sched.endHour, min: 1, max: 24 }),
    maxConcurrentCalls: field("maxConcurrentCalls", "Most calls at once", "number", { value: c.maxConcurrentCalls ?? 5, min: 1 }),
    maxAttempts: field("maxAttempts", "Most attempts per contact", "number", { value: c.maxAttempts ?? 3, min: 1 }),
    callsPerMinute: field("callsPerMinute", "Calls per minute (optional)", "number", { value: c.callsPerMinute, min: 1 }),
    dailyCap: field("dailyCap", "Calls per day (optional)", "number", { value: c.dailyCap, min: 1 }),
    monthlyCents: field("budget.monthlyCents", "Monthly budget in cents (optional)", "number", { value: c.budget?.monthlyCents, min: 1 }),
    perCallCents: field("budget.perCallCents", "Most one call may cost, in cents (optional)", "number", { value: c.budget?.perCallCents, min: 1 }),
    outside: field("allowOutsideLegalHours", "Allow calls outside the legal calling hours (only where you have consent)", "checkbox", { value: c.allowOutsideLegalHours }),
    prompt: field("campaignPrompt", "Campaign instructions for the assistant (optional)", "textarea", { value: c.campaignPrompt, rows: 3 }),
  };
  const days = h("fieldset", { class: "field days", "data-field": "schedule.callingDays" },
    h("legend", {}, "Calling days"),
    DAYS.map((d) => h("label", {}, h("input", { type: "checkbox", name: "day", value: d, checked: sched.callingDays.includes(d) }), ` ${d}`)),
    h("p", { class: "field-error", role: "alert" }));
  const submit = h("button", { type: "submit", class: "primary" }, id ? "Save changes" : "Create campaign");
  const status = h("p", { class: "status", role: "status" });
  const form = h("form", { class: "card form", novalidate: true },
    h("p", { class: "form-error", role: "alert" }),
    f.name, f.assistantId, f.contactListId, f.trunkId,
    h("div", { class: "row" }, f.timezone, f.startHour, f.endHour), days,
    h("div", { class: "row" }, f.maxConcurrentCalls, f.maxAttempts, f.callsPerMinute, f.dailyCap),
    h("div", { class: "row" }, f.monthlyCents, f.perCallCents), f.outside, f.prompt,
    h("div", { class: "actions" }, submit, h("a", { href: id ? `#/campaigns/${id}` : "#/campaigns" }, "Cancel")), status);
  const num = (wrap) => (wrap.input.value === "" ? undefined : Number(wrap.input.value));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const budget = { monthlyCents: num(f.monthlyCents), perCallCents: num(f.perCallCents) };
    const body = {
      name: f.name.input.value, assistantId: f.assistantId.input.value || null, contactListId: f.contactListId.input.value || null,
      trunkId: f.trunkId.input.value || null,
      schedule: { timezone: f.timezone.input.value, callingDays: [...days.querySelectorAll("input:checked")].map((i) => i.value),
        startHour: num(f.startHour), endHour: num(f.endHour) },
      maxConcurrentCalls: num(f.maxConcurrentCalls), maxAttempts: num(f.maxAttempts), callsPerMinute: num(f.callsPerMinute),
      dailyCap: num(f.dailyCap), allowOutsideLegalHours: f.outside.input.checked, campaignPrompt: f.prompt.input.value || undefined,
      budget: budget.monthlyCents || budget.perCallCents ? budget : undefined,
    };
    showErrors(form, null);
    try {
      const saved = await busy(submit, () => (id ? put(`/api/v1/campaigns/${id}`, body) : post("/api/v1/campaigns", body)), status);
      location.hash = `#/campaigns/${saved.id}`;
    } catch (error) {
      showErrors(form, error);
    }
  });
  add(main, h("h1", {}, id ? `Edit ${c.name}` : "New campaign"), form);
  if (!assistants.data.length || !lists.data.length || !trunks.data.length) {
    form.prepend(h("p", { class: "notice" }, "A campaign needs an assistant, a contact list and a trunk: ",
      h("a", { href: "#/assistants/new" }, "assistants"), ", ", h("a", { href: "#/contacts" }, "contact lists"), ", ", h("a", { href: "#/trunks" }, "trunks"), "."));
  }
  f.name.input.focus();
}

export async function detail(main, { id, search }) {
  const attemptsPage = Number(search.get("page") || 1);
  const head = h("div", {});
  const body = h("div", {});
  add(main, head, body);
  async function draw() {
    const [c, status, stats, attempts] = await Promise.all([
      get(`/api/v1/campaigns/${id}`), get(`/api/v1/campaigns/${id}/status`), get(`/api/v1/campaigns/${id}/stats`),
      get(`/api/v1/campaigns/${id}/attempts${query({ page: attemptsPage, perPage: 25 })}`),
    ]);
    const p = status.progress;
    const next = attempts.data.filter((a) => a.state === "pending").map((a) => a.nextAttemptAt).sort()[0];
    fill(head, 
      h("div", { class: "page-head" }, h("h1", {}, c.name, " ", pill(c.status)),
        EDITABLE.includes(c.status) ? h("a", { class: "button", href: `#/campaigns/${id}/edit` }, "Edit") : null),
      c.statusReason ? h("p", { class: "notice" }, c.statusReason) : null,
      lifecycle(c, () => draw()));
    fill(body, 
      h("div", { class: "grid2" },
        h("section", { class: "card" }, h("h2", {}, "Progress"), progressOf(status),
          h("dl", { class: "facts" },
            h("dt", {}, "Done"), h("dd", {}, p.done), h("dt", {}, "In progress"), h("dd", {}, p.inProgress),
            h("dt", {}, "Remaining"), h("dd", {}, p.pending), h("dt", {}, "Exhausted / skipped"), h("dd", {}, `${p.exhausted} / ${p.skipped}`),
            h("dt", {}, "Next attempt due"), h("dd", {}, next ? fmt.time(next) : "—"),
            h("dt", {}, "Calls"), h("dd", {}, stats.callsTotal), h("dt", {}, "Answer rate"), h("dd", {}, fmt.pct(stats.answerRate)),
            h("dt", {}, "Spend"), h("dd", {}, fmt.money(stats.totalCostCents)),
            h("dt", {}, "Window"), h("dd", {}, `${c.schedule.callingDays.join(", ")} ${c.schedule.startHour}:00–${c.schedule.endHour}:00 ${c.schedule.timezone}`))),
        h("section", { class: "card" }, h("h2", {}, "Results"), hbars("Outcomes", Object.entries(stats.outcomes)),
          h("h2", {}, "Call statuses"), hbars("Call statuses", Object.entries(stats.byStatus)))),
      h("section", { class: "card" }, h("h2", {}, "Attempts"),
        table("Attempts and the engine's decisions", ["Contact", "State", "Tries", "Last result", "Decisions", "Call"], attempts.data.map((a) => [
          `${a.name || ""} ${a.phone}`.trim(), pill(a.state), a.attempts, fmt.label(a.lastResult || a.skipReason),
          h("ul", { class: "decisions" }, a.decisions.map((d) => h("li", {}, h("time", { datetime: d.at }, new Date(d.at).toLocaleTimeString()), ` ${fmt.label(d.decision)}${d.detail ? ` — ${d.detail}` : ""}`))),
          a.lastCallId ? h("a", { href: `#/calls/${a.lastCallId}` }, "Open call") : "—",
        ])),
        pager(attempts, (n) => { location.hash = `#/campaigns/${id}?page=${n}`; })));
  }
  await draw();
  let pending = null;
  const stop = subscribe((e) => {
    if (e.campaignId !== id) return;
    if (!pending) pending = setTimeout(() => { pending = null; draw().catch(() => {}); }, 800);
  });
  return () => { stop(); clearTimeout(pending); };
}
