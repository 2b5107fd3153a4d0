// Overview: today's activity from GET /api/v1/overview, refreshed as events arrive.

import { h, fill, add, fmt } from "../dom.js";
import { get, query } from "../api.js";
import { bars, hbars, progress } from "../charts.js";
import { subscribe } from "../events.js";

function tile(label, value, note) {
  return h("div", { class: "tile" }, h("p", { class: "tile-label" }, label), h("p", { class: "tile-value" }, value), note ? h("p", { class: "muted" }, note) : null);
}

export async function render(main) {
  const timezone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const body = h("div", {});
  add(main, h("h1", {}, "Overview"), body);
  async function draw() {
    const o = await get(`/api/v1/overview${query({ timezone })}`);
    const budget = o.monthlyBudgetCents;
    fill(body, 
      h("section", { class: "tiles", "aria-label": "Today" },
        tile("Live calls", o.liveCalls),
        tile("Calls today", o.callsToday),
        tile("Answer rate", fmt.pct(o.answerRate), `${o.answeredToday} answered`),
        tile("Spend today", fmt.money(o.spendTodayCents)),
        tile("Turn latency p50", fmt.ms(o.turnLatencyP50Ms), `p95 ${fmt.ms(o.turnLatencyP95Ms)} over ${o.turnsToday} turns`)),
      h("section", { class: "card" }, h("h2", {}, "Spend this month"),
        budget ? progress(o.spendMonthCents, budget, `${fmt.money(o.spendMonthCents)} of ${fmt.money(budget)} budget (open campaigns)`)
          : h("p", {}, `${fmt.money(o.spendMonthCents)} — no monthly budget on the open campaigns`)),
      h("div", { class: "grid2" },
        h("section", { class: "card" }, h("h2", {}, `Calls per hour (${o.timezone})`),
          bars("Calls per hour today", o.callsPerHour, o.callsPerHour.map((_, i) => String(i)), { every: 3 })),
        h("section", { class: "card" }, h("h2", {}, "Outcomes today"),
          hbars("Outcomes today", Object.entries(o.outcomes)),
          h("h2", {}, "Call statuses today"),
          hbars("Call statuses today", Object.entries(o.statuses)))));
  }
  await draw();
  // Redraw at most once a second while events arrive.
  let pending = null;
  const stop = subscribe(() => {
    if (!pending) pending = setTimeout(() => { pending = null; draw().catch(() => {}); }, 1000);
  });
  return () => { stop(); clearTimeout(pending); };
}
