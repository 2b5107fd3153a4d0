// Sign in and register. The server answers with cookies (an HttpOnly session and the
// CSRF token); this page never sees the session token.

import { h, add, field, showErrors, busy } from "../dom.js";
import { post } from "../api.js";

function page(main, title, fields, submitText, path, other) {
  const status = h("p", { class: "status", role: "status" });
  const submit = h("button", { type: "submit", class: "primary" }, submitText);
  const form = h("form", { class: "card auth", novalidate: true },
    h("h1", {}, title),
    h("p", { class: "form-error", role: "alert" }),
    fields, submit, status, other);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = Object.fromEntries(new FormData(form).entries());
    showErrors(form, null);
    try {
      await busy(submit, () => post(path, body), status);
      location.hash = "#/";
    } catch (error) {
      showErrors(form, error);
    }
  });
  add(main, h("div", { class: "auth-wrap" }, form));
  fields[0].input.focus();
}

export function signIn(main) {
  page(main, "Sign in to the console", [
    field("email", "Email", "email", { required: true, autocomplete: "username" }),
    field("password", "Password", "password", { required: true, autocomplete: "current-password" }),
  ], "Sign in", "/console/session",
  h("p", {}, "No account yet? ", h("a", { href: "#/register" }, "Register an organization")));
}

export function register(main) {
  page(main, "Register an organization", [
    field("organizationName", "Organization name", "text", { required: true, autocomplete: "organization" }),
    field("email", "Email", "email", { required: true, autocomplete: "username" }),
    field("password", "Password", "password", { required: true, autocomplete: "new-password", hint: "At least 8 characters." }),
  ], "Create account", "/console/register",
  h("p", {}, "Already registered? ", h("a", { href: "#/signin" }, "Sign in")));
}
