// The API, called from the page. The access token lives in this module's memory only: never in
// localStorage, sessionStorage or a cookie, so no script can read it from storage and no other
// site can make the browser send it (no CSRF). Signing out, or reloading the page, forgets it.

let token = null;
let me = null;
const listeners = new Set();

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `the server answered ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

export function onSession(listener) {
  listeners.add(listener);
}

export function currentUser() {
  return me;
}

function changed() {
  for (const listener of listeners) listener(me);
}

export async function call(method, path, { json, form } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body, credentials: "omit" });
  } catch (exc) {
    throw new ApiError(0, { message: `the server could not be reached (${exc.message})` });
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    if (response.status === 401 && token) {
      token = null;
      me = null;
      changed();
    }
    throw new ApiError(response.status, data);
  }
  return data;
}

export async function signIn(email, password) {
  const form = new URLSearchParams({ username: email, password });
  const answer = await call("POST", "/auth/token", { form });
  token = answer.access_token;
  try {
    me = await call("GET", "/users/me");
  } catch (exc) {
    token = null;
    throw exc;
  }
  changed();
  return me;
}

export function signOut() {
  token = null;
  me = null;
  changed();
}
