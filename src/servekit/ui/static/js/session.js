// The sign-in box in the header, and what the page knows about the server.
import { ApiError, call, currentUser, signIn, signOut } from "./api.js";
import { clear, field, h, message } from "./dom.js";

let service = null;

export async function serverStatus(refresh = false) {
  if (service === null || refresh) service = await call("GET", "/");
  return service;
}

export function renderSession(box) {
  const user = currentUser();
  document.getElementById("nav-admin").hidden = !(user && user.role === "admin");
  if (user) {
    clear(
      box,
      h("span", { class: "who" }, `Signed in as ${user.name} (${user.email})`),
      h("button", { type: "button", onclick: () => signOut() }, "Sign out"),
    );
    return;
  }
  const email = field("Email", h("input", { type: "email", name: "username", autocomplete: "username", required: true }));
  const password = field("Password", h("input", { type: "password", name: "password", autocomplete: "current-password", required: true }));
  const status = h("div", { class: "sign-in-status" });
  const form = h(
    "form",
    { class: "sign-in", "aria-label": "Sign in" },
    email.el,
    password.el,
    h("button", { type: "submit" }, "Sign in"),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(status);
    try {
      await signIn(email.control.value, password.control.value);
    } catch (exc) {
      clear(status, message("error", exc instanceof ApiError ? exc.message : String(exc)));
      password.control.focus();
    }
  });
  clear(box, form);
}

// What a page says to a visitor who has not signed in.
export async function signedOutNote(what) {
  if (currentUser()) return null;
  const status = await serverStatus();
  return status.anonymous_predictions
    ? message("info", `This server answers predictions without signing in. Sign in (top right) to ${what}.`)
    : message("info", `This server needs you to sign in (top right) to predict and to ${what}.`);
}
