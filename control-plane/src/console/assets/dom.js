// DOM helpers: every page is built with these calls, never from HTML strings, so text
// from the API can never become markup (and the strict CSP needs no inline anything).

const SVG_NS = "http://www.w3.org/2000/svg";

function apply(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") el.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.setAttribute("class", value);
    else if (key === "value" && "value" in el) el.value = value;
    else if (key === "checked" || key === "disabled" || key === "selected") el[key] = Boolean(value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** An HTML element: h("button", {class: "primary", onclick}, "Save"). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

/** An SVG element, same shape as h(). */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

/** Appends children, skipping null, undefined and false (native append would print them). */
export function add(el, ...children) {
  append(el, children);
  return el;
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  return add(clear(el), ...children);
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

let fieldSeq = 0;

/**
 * A labelled form field with a slot for its error: the API's 422 details are shown in
 * the slot whose name matches the detail's field.
 * kind: "text", "number", "email", "password", "textarea", "select", "checkbox", "file".
 */
export function field(name, label, kind = "text", opts = {}) {
  const id = `f-${name.replace(/[^a-zA-Z0-9]/g, "-")}-${++fieldSeq}`;
  const errId = `${id}-error`;
  const common = { id, name, "aria-describedby": opts.hint ? `${errId} ${id}-hint` : errId };
  let input;
  if (kind === "textarea") {
    input = h("textarea", { ...common, rows: opts.rows || 4, required: opts.required });
    input.value = opts.value ?? "";
  } else if (kind === "select") {
    input = h("select", { ...common, required: opts.required },
      (opts.options || []).map(([value, text]) => h("option", { value, selected: String(opts.value ?? "") === String(value) }, text)));
  } else {
    input = h("input", {
      ...common, type: kind, required: opts.required, min: opts.min, max: opts.max, step: opts.step,
      placeholder: opts.placeholder, autocomplete: opts.autocomplete, accept: opts.accept,
      multiple: opts.multiple,
    });
    if (kind === "checkbox") input.checked = Boolean(opts.value);
    else if (kind !== "file" && opts.value !== undefined && opts.value !== null) input.value = opts.value;
  }
  const wrap = h("div", { class: `field field-${kind}`, "data-field": name },
    kind === "checkbox" ? h("label", { for: id }, input, " ", label) : [h("label", { for: id }, label), input],
    opts.hint ? h("p", { class: "hint", id: `${id}-hint` }, opts.hint) : null,
    h("p", { class: "field-error", id: errId, role: "alert" }));
  wrap.input = input;
  return wrap;
}

/** Shows an API error on a form: each detail beside its field, the rest on top. */
export function showErrors(form, error) {
  for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  const banner = form.querySelector(".form-error");
  if (banner) banner.textContent = "";
  // The banner says it; the busy status line need not repeat it.
  for (const el of form.querySelectorAll(".status")) el.textContent = "";
  if (!error) return;
  const leftover = [];
  for (const detail of error.details || []) {
    const slot = findSlot(form, detail.field || "");
    if (slot) {
      slot.querySelector(".field-error").textContent += (slot.querySelector(".field-error").textContent ? "; " : "") + detail.message;
      const input = slot.querySelector("input, select, textarea");
      if (input) input.setAttribute("aria-invalid", "true");
    } else {
      leftover.push(`${detail.field}: ${detail.message}`);
    }
  }
  if (banner) banner.textContent = [error.message, ...leftover].join(" — ");
  const first = form.querySelector("[aria-invalid]");
  if (first) first.focus();
}

// "schedule.startHour" finds the field named so, or failing that its parent ("schedule").
function findSlot(form, name) {
  let key = name.replace(/\[\d+\]/g, "");
  while (key) {
    const slot = form.querySelector(`[data-field="${CSS.escape(key)}"]`);
    if (slot) return slot;
    key = key.includes(".") ? key.slice(0, key.lastIndexOf(".")) : "";
  }
  return null;
}

/** A busy state for a button while an action runs; shows the error near it. */
export async function busy(button, action, status) {
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  if (status) status.textContent = "Working…";
  try {
    const result = await action();
    if (status) status.textContent = "";
    return result;
  } catch (error) {
    if (status) status.textContent = error.message || String(error);
    throw error;
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = label;
  }
}

export const fmt = {
  money(cents) {
    return cents === null || cents === undefined ? "—" : `$${(Number(cents) / 100).toFixed(2)}`;
  },
  pct(ratio) {
    return `${Math.round(Number(ratio || 0) * 1000) / 10}%`;
  },
  ms(value) {
    return value === null || value === undefined ? "—" : `${Math.round(value)} ms`;
  },
  duration(sec) {
    if (sec === null || sec === undefined) return "—";
    const s = Math.max(0, Math.round(sec));
    return s >= 60 ? `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s` : `${s}s`;
  },
  time(iso) {
    return iso ? new Date(iso).toLocaleString() : "—";
  },
  label(value) {
    return value ? String(value).replace(/_/g, " ") : "—";
  },
};

/** A status pill. */
export function pill(value) {
  return h("span", { class: `pill pill-${value || "none"}` }, fmt.label(value));
}

/** A table with a caption (for screen readers), headings and rows of cells. */
export function table(caption, headings, rows, empty = "Nothing yet.") {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h("div", { class: "table-wrap" }, h("table", {},
    h("caption", { class: "sr-only" }, caption),
    h("thead", {}, h("tr", {}, headings.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c)))))));
}

/** Previous / next links for a page of results. */
export function pager(page, onGo) {
  const pages = Math.max(1, Math.ceil(page.total / page.perPage));
  const prev = h("button", { type: "button", disabled: page.page <= 1, onclick: () => onGo(page.page - 1) }, "← Previous");
  const next = h("button", { type: "button", disabled: page.page >= pages, onclick: () => onGo(page.page + 1) }, "Next →");
  return h("nav", { class: "pager", "aria-label": "Pages" }, prev, h("span", {}, `Page ${page.page} of ${pages} · ${page.total} in all`), next);
}
