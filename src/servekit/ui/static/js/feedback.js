// Feedback on one answer: right or not, the right label or the true
// value, a score and a comment, sent to /feedback and confirmed.
import { call, currentUser } from "./api.js";
import { clear, field, h, message } from "./dom.js";

const CLASSIFIERS = ["classification", "image_classification"];
const VALUES = ["regression", "forecasting"];

export function feedbackForm(model, row) {
  const section = h("section", { class: "feedback", "aria-label": "Feedback" }, h("h3", {}, "Feedback"));
  if (!currentUser()) {
    section.append(message("info", "Sign in (top right) to send feedback on this answer."));
    return section;
  }
  const fields = [];
  let right = null;
  let label = null;
  let value = null;
  if (CLASSIFIERS.includes(model.task)) {
    const yes = h("input", { type: "radio", name: `right-${row.id}`, value: "yes", id: `right-yes-${row.id}`, checked: true });
    const no = h("input", { type: "radio", name: `right-${row.id}`, value: "no", id: `right-no-${row.id}` });
    right = yes;
    fields.push(h("fieldset", {}, h("legend", {}, `Was "${row.prediction}" right?`), yes, h("label", { for: yes.id }, "Yes"), no, h("label", { for: no.id }, "No")));
    label = field("The right label (when it was not)", h("select", { name: "label" }, (model.outputs.labels || []).map((l) => h("option", { value: l }, l))));
    fields.push(label.el);
  } else if (VALUES.includes(model.task)) {
    value = field(model.task === "forecasting" ? "The true value of the first step" : "The true value", h("input", { type: "number", step: "any", name: "value" }));
    fields.push(value.el);
  }
  const score = field("Score (optional, e.g. 1 to 5)", h("input", { type: "number", step: "any", name: "score" }));
  const comment = field("Comment (optional)", h("textarea", { name: "comment", rows: 2, maxlength: 2000 }));
  const status = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "feedback-form", novalidate: true }, fields, score.el, comment.el, h("button", { type: "submit" }, "Send feedback"), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(status);
    const sent = { prediction_id: row.id, comment: comment.control.value };
    if (right) sent.label = right.checked ? String(row.prediction) : label.control.value;
    if (value && value.control.value !== "") sent.value = Number(value.control.value);
    if (score.control.value !== "") sent.score = Number(score.control.value);
    try {
      const saved = await call("POST", "/feedback", { json: sent });
      const verdict = saved.correct === true ? " (the prediction was right)" : saved.correct === false ? " (the prediction was wrong)" : "";
      status.append(message("ok", `Thank you: feedback ${saved.id} saved${verdict}.`));
    } catch (exc) {
      status.append(message("error", exc.message));
    }
  });
  section.append(form);
  return section;
}
