// A user's own recent predictions and feedback.
import { call, currentUser } from "./api.js";
import { h, message, number } from "./dom.js";

function shown(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return number(value);
  if (typeof value === "string") return value;
  const text = JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}…` : text;
}

export async function historyPage(main) {
  main.append(h("h1", {}, "My predictions and feedback"));
  if (!currentUser()) {
    main.append(message("info", "Sign in (top right) to see your predictions and feedback."));
    return;
  }
  const [predictions, feedback] = await Promise.all([call("GET", "/predictions?limit=20"), call("GET", "/feedback")]);
  main.append(
    h("h2", {}, "Recent predictions"),
    predictions.length
      ? h(
          "table",
          { class: "history" },
          h("thead", {}, h("tr", {}, ["When", "Model", "Input", "Answer", "Warnings"].map((c) => h("th", { scope: "col" }, c)))),
          h(
            "tbody",
            {},
            predictions.map((p) =>
              h("tr", {}, h("td", {}, new Date(p.created_at).toLocaleString()), h("td", {}, `${p.model} v${p.version}`), h("td", {}, shown(p.inputs)), h("td", {}, shown(p.output.prediction ?? p.output)), h("td", {}, String(p.warnings.length))),
            ),
          ),
        )
      : h("p", {}, "No predictions yet."),
    h("h2", {}, "Feedback"),
    feedback.length
      ? h(
          "table",
          { class: "history" },
          h("thead", {}, h("tr", {}, ["When", "Model", "Prediction", "Label / value", "Right?", "Score", "Comment"].map((c) => h("th", { scope: "col" }, c)))),
          h(
            "tbody",
            {},
            feedback.map((f) =>
              h("tr", {}, h("td", {}, new Date(f.created_at).toLocaleString()), h("td", {}, f.model), h("td", {}, shown(f.prediction)), h("td", {}, shown(f.label ?? f.value)), h("td", {}, f.correct === null ? "" : f.correct ? "yes" : "no"), h("td", {}, shown(f.score)), h("td", {}, f.comment)),
            ),
          ),
        )
      : h("p", {}, "No feedback yet."),
  );
}
