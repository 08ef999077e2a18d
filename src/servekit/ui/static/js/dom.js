// Building the page from values without ever parsing them as HTML: every string becomes a text
// node, every attribute is set one by one. No innerHTML anywhere, so a model's or a user's text
// (a NER input, a label, a comment) is shown as text, never run.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export function number(x) {
  if (typeof x !== "number") return String(x);
  if (Number.isInteger(x)) return x.toLocaleString("en");
  const abs = Math.abs(x);
  if (abs >= 1000) return x.toLocaleString("en", { maximumFractionDigits: 2 });
  return String(Number(x.toPrecision(4)));
}

export function percent(x) {
  return `${(100 * x).toFixed(1)}%`;
}

let ids = 0;
export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

// A labelled field: the label, the control, a hint, and a place for the server's message.
export function field(labelText, control, hint) {
  const id = control.id || uid("f");
  control.id = id;
  const error = h("p", { class: "field-error", id: `${id}-error`, role: "alert" });
  const hintEl = hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null;
  control.setAttribute("aria-describedby", [hintEl && hintEl.id, error.id].filter(Boolean).join(" "));
  const warn = h("div", { class: "field-warnings", id: `${id}-warnings` });
  return { el: h("div", { class: "field" }, h("label", { for: id }, labelText), control, hintEl, error, warn), control, error, warn };
}

export function message(kind, ...text) {
  return h("p", { class: `message ${kind}`, role: kind === "error" ? "alert" : "status" }, ...text);
}
