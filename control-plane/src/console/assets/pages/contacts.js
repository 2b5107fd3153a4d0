// Contact lists (create, CSV upload with progress and the per-row error report, contacts
// page by page) and the Do-Not-Call list.

import { h, fill, add, clear, field, showErrors, busy, fmt, table, pager } from "../dom.js";
import { get, post, del, query, upload } from "../api.js";
import { progress } from "../charts.js";

export async function lists(main, { search }) {
  const pageNo = Number(search.get("page") || 1);
  const name = field("name", "New list name", "text", { required: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Create list");
  const status = h("p", { class: "status", role: "status" });
  const form = h("form", { class: "card inline-form", novalidate: true }, h("p", { class: "form-error", role: "alert" }), name, submit, status);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    showErrors(form, null);
    try {
      const list = await busy(submit, () => post("/api/v1/contact-lists", { name: name.input.value }), status);
      location.hash = `#/contacts/${list.id}`;
    } catch (error) { showErrors(form, error); }
  });
  const page = await get(`/api/v1/contact-lists${query({ page: pageNo, perPage: 25 })}`);
  add(main, h("h1", {}, "Contact lists"), form,
    table("Contact lists", ["Name", "Contacts", "Created"], page.data.map((l) => [
      h("a", { href: `#/contacts/${l.id}` }, l.name), l.contactCount ?? "—", fmt.time(l.createdAt),
    ]), "No lists yet."),
    pager(page, (n) => { location.hash = `#/contacts?page=${n}`; }));
}

/** The CSV upload box: progress while sending, then accepted / rejected and each bad row. */
function uploader(path, onDone, hint, title = "Upload contacts") {
  const file = field("file", "CSV file", "file", { accept: ".csv,text/csv", hint });
  const submit = h("button", { type: "submit", class: "primary" }, "Upload");
  const status = h("p", { class: "status", role: "status" });
  const bar = h("div", { class: "upload-progress" });
  const report = h("div", { class: "import-report" });
  const form = h("form", { class: "card", novalidate: true }, h("h2", {}, title), h("p", { class: "form-error", role: "alert" }), file, submit, bar, status, report);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    showErrors(form, null);
    clear(report);
    const chosen = file.input.files[0];
    if (!chosen) { showErrors(form, { message: "Choose a CSV file first.", details: [{ field: "file", message: "Choose a file" }] }); return; }
    const onProgress = (fraction) => fill(bar, progress(Math.round(fraction * 100), 100, `Sent ${Math.round(fraction * 100)}% of ${chosen.name}`));
    onProgress(0);
    try {
      const result = await busy(submit, () => upload(path, chosen, onProgress), status);
      clear(bar);
      add(report, 
        h("p", { class: result.rejected ? "notice" : "ok" }, `${result.accepted} rows added, ${result.rejected} rejected.`),
        result.errors.length ? table("Rejected rows", ["Row", "Phone", "Why"], result.errors.map((r) => [r.row, r.phone || "—", r.reason])) : null,
        result.errorsTruncated ? h("p", { class: "muted" }, "Only the first rejected rows are listed.") : null);
      onDone(result);
    } catch (error) {
      clear(bar);
      showErrors(form, error);
    }
  });
  return form;
}

export async function list(main, { id, search }) {
  const pageNo = Number(search.get("page") || 1);
  const q = search.get("q") || "";
  const info = await get(`/api/v1/contact-lists/${id}`);
  const body = h("div", {});
  // The search runs on the server, over the whole list, so it pages like the list does.
  const filter = field("q", "Search by name, email or phone", "search", { value: q });
  const form = h("form", { role: "search", "aria-label": "Search contacts" }, filter, h("button", { type: "submit" }, "Search"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    location.hash = `#/contacts/${id}${query({ q: filter.input.value.trim() || null })}`;
  });
  add(main, h("h1", {}, info.name),
    uploader(`/api/v1/contact-lists/${id}/contacts`, () => draw(), "A header row with a phone column; name, email, timezone and any other columns (variables) are optional."),
    h("section", { class: "card" }, h("h2", {}, "Contacts"), form, body));
  async function draw() {
    const page = await get(`/api/v1/contact-lists/${id}/contacts${query({ q: q || null, page: pageNo, perPage: 50 })}`);
    fill(body,
      table("Contacts", ["Phone", "Name", "Email", "Time zone", "Variables"], page.data.map((c) => [
        c.phone, c.name || "—", c.email || "—", c.timezone || "—",
        Object.entries(c.variables || {}).map(([k, v]) => `${k}=${v}`).join(", ") || "—",
      ]), q ? "No contact matches." : "No contacts yet."),
      pager(page, (n) => { location.hash = `#/contacts/${id}${query({ q: q || null, page: n })}`; }));
  }
  await draw();
}

export async function dnc(main, { search }) {
  const pageNo = Number(search.get("page") || 1);
  const phone = field("phone", "Phone number", "tel", { required: true, placeholder: "+14155550123" });
  const reason = field("reason", "Reason (optional)", "text");
  const submit = h("button", { type: "submit", class: "primary" }, "Add to Do-Not-Call");
  const status = h("p", { class: "status", role: "status" });
  const form = h("form", { class: "card inline-form", novalidate: true }, h("p", { class: "form-error", role: "alert" }), phone, reason, submit, status);
  const body = h("div", {});
  async function draw() {
    const page = await get(`/api/v1/dnc${query({ page: pageNo, perPage: 50 })}`);
    fill(body, 
      table("Do-Not-Call numbers", ["Phone", "Reason", "Added", ""], page.data.map((d) => [
        d.phone, d.reason || "—", fmt.time(d.createdAt),
        h("button", { type: "button", class: "link", "aria-label": `Remove ${d.phone}`, onclick: async (e) => {
          await busy(e.currentTarget, () => del(`/api/v1/dnc/${encodeURIComponent(d.phone)}`), status).catch(() => {});
          draw();
        } }, "Remove"),
      ]), "No numbers on the list."),
      pager(page, (n) => { location.hash = `#/dnc?page=${n}`; }));
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    showErrors(form, null);
    try {
      await busy(submit, () => post("/api/v1/dnc", { phone: phone.input.value, reason: reason.input.value || undefined }), status);
      phone.input.value = "";
      reason.input.value = "";
      await draw();
    } catch (error) { showErrors(form, error); }
  });
  add(main, h("h1", {}, "Do-Not-Call list"), h("p", { class: "muted" }, "No campaign ever dials these numbers."), form,
    uploader("/api/v1/dnc/import", () => draw(), "A header row with a phone column; an optional reason column.", "Upload numbers"), body);
  await draw();
}
