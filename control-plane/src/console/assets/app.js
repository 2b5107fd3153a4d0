// The console's shell: who is signed in, the navigation, and a hash router that draws
// one page at a time into <main>. Pages are modules exporting render(main, params),
// which may return a cleanup function (to close event subscriptions, timers).

import { h, clear } from "./dom.js";
import { get, del, whenSignedOut } from "./api.js";
import * as auth from "./pages/auth.js";
import * as overview from "./pages/overview.js";
import * as campaigns from "./pages/campaigns.js";
import * as contacts from "./pages/contacts.js";
import * as calls from "./pages/calls.js";
import * as live from "./pages/live.js";
import * as settings from "./pages/settings.js";

const NAV = [
  ["#/", "Overview"],
  ["#/live", "Live calls"],
  ["#/campaigns", "Campaigns"],
  ["#/contacts", "Contact lists"],
  ["#/dnc", "Do-Not-Call"],
  ["#/calls", "Calls"],
  ["#/assistants", "Assistants"],
  ["#/trunks", "Trunks"],
  ["#/api-keys", "API keys"],
  ["#/workers", "Workers"],
];

// [pattern, page, title]: the first match wins; ":name" parts become params.
const ROUTES = [
  ["/signin", auth.signIn, "Sign in", true],
  ["/register", auth.register, "Register", true],
  ["/", overview.render, "Overview"],
  ["/live", live.render, "Live calls"],
  ["/campaigns", campaigns.list, "Campaigns"],
  ["/campaigns/new", campaigns.edit, "New campaign"],
  ["/campaigns/:id/edit", campaigns.edit, "Edit campaign"],
  ["/campaigns/:id", campaigns.detail, "Campaign"],
  ["/contacts", contacts.lists, "Contact lists"],
  ["/contacts/:id", contacts.list, "Contact list"],
  ["/dnc", contacts.dnc, "Do-Not-Call"],
  ["/calls", calls.log, "Calls"],
  ["/calls/:id", calls.call, "Call"],
  ["/assistants", settings.assistants, "Assistants"],
  ["/assistants/new", settings.assistantForm, "New assistant"],
  ["/assistants/:id", settings.assistantForm, "Assistant"],
  ["/trunks", settings.trunks, "Trunks"],
  ["/api-keys", settings.apiKeys, "API keys"],
  ["/workers", settings.workers, "Workers"],
];

let session = null;
let cleanup = null;

function match(path) {
  for (const [pattern, page, title, open] of ROUTES) {
    const want = pattern.split("/");
    const got = path.split("/");
    if (want.length !== got.length) continue;
    const params = {};
    if (want.every((part, i) => (part.startsWith(":") ? ((params[part.slice(1)] = decodeURIComponent(got[i])), true) : part === got[i]))) {
      return { page, title, open, params };
    }
  }
  return null;
}

function current() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, search] = raw.split("?");
  return { path, search: new URLSearchParams(search || "") };
}

function shell(main) {
  const app = document.getElementById("app");
  clear(app);
  const here = `#${current().path}`;
  const nav = h("nav", { class: "sidebar", "aria-label": "Console" },
    h("div", { class: "brand" }, h("img", { src: "/assets/favicon.svg", alt: "", width: 24, height: 24 }), " Outbound"),
    h("ul", {}, NAV.map(([href, text]) => h("li", {}, h("a", {
      href, "aria-current": (href === "#/" ? here === "#/" : here.startsWith(href)) ? "page" : false,
    }, text)))),
    h("div", { class: "who" },
      h("p", {}, session.organizationName), h("p", { class: "muted" }, session.email),
      h("button", { type: "button", class: "link", onclick: signOut }, "Sign out")));
  const toggle = h("button", { type: "button", class: "menu-toggle", "aria-expanded": "false", onclick: () => {
    const open = nav.classList.toggle("open");
    toggle.setAttribute("aria-expanded", String(open));
  } }, "Menu");
  app.append(h("header", { class: "topbar" }, toggle, h("span", {}, "Outbound console")), nav, main);
}

async function signOut() {
  try { await del("/console/session"); } finally {
    session = null;
    location.hash = "#/signin";
  }
}

async function route() {
  if (cleanup) { try { cleanup(); } catch { /* a page's cleanup never blocks the next */ } }
  cleanup = null;
  const { path, search } = current();
  const found = match(path);
  const main = h("main", { id: "main", tabindex: "-1" });
  if (!found) {
    document.getElementById("app").replaceChildren(main);
    main.append(h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/" }, "Back to the overview")));
    return;
  }
  if (!found.open && !session) {
    try { session = await get("/console/session"); } catch { session = null; }
    if (!session) { location.hash = "#/signin"; return; }
  }
  document.title = `${found.title} · Outbound console`;
  if (found.open) {
    document.getElementById("app").replaceChildren(main);
  } else {
    shell(main);
  }
  try {
    cleanup = (await found.page(main, { ...found.params, search, signedIn: (s) => { session = s; } })) || null;
  } catch (error) {
    main.append(h("p", { class: "form-error", role: "alert" }, error.message || String(error)));
  }
  main.focus({ preventScroll: true });
}

whenSignedOut(() => {
  session = null;
  if (!match(current().path)?.open) location.hash = "#/signin";
});
window.addEventListener("hashchange", route);
route();
