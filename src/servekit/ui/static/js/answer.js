// An answer: the prediction, its score, probabilities as bars, entities, a forecast's chart,
// each warning in plain words, and the feedback form.
import { forecastChart } from "./charts.js";
import { clear, h, number, percent } from "./dom.js";
import { feedbackForm } from "./feedback.js";

function bars(probabilities) {
  const entries = Object.entries(probabilities).sort((a, b) => b[1] - a[1]);
  return h(
    "ul",
    { class: "bars", "aria-label": "Probabilities" },
    entries.map(([label, p]) => {
      const bar = h("span", { class: "bar" });
      bar.style.width = `${Math.max(0, Math.min(1, p)) * 100}%`;
      return h("li", {}, h("span", { class: "bar-label" }, label), h("span", { class: "bar-track" }, bar), h("span", { class: "bar-value" }, percent(p)));
    }),
  );
}

// The text with each entity marked, built from offsets: the text is never parsed as HTML.
export function highlighted(text, entities) {
  const parts = [];
  let at = 0;
  for (const entity of [...entities].sort((a, b) => a.start - b.start)) {
    if (entity.start < at) continue;
    parts.push(text.slice(at, entity.start));
    parts.push(h("mark", { class: "entity", title: entity.label }, text.slice(entity.start, entity.end), h("span", { class: "entity-label" }, entity.label)));
    at = entity.end;
  }
  parts.push(text.slice(at));
  return h("p", { class: "entities-text" }, parts);
}

function body(model, row, form) {
  if (model.task === "ner") {
    const text = form.text();
    return [
      h("h3", {}, "Entities"),
      row.entities.length ? highlighted(text, row.entities) : h("p", {}, "No entities found."),
      h("h3", {}, "Redacted text"),
      h("p", { class: "redacted" }, row.anonymized_text),
    ];
  }
  if (model.task === "forecasting") {
    const rows = row.prediction;
    const unit = model.series.unit ? ` ${model.series.unit}` : "";
    const canvas = h("canvas", { role: "img", "aria-label": `Forecast of ${model.series.value_name} with its ${percent(row.interval)} interval` });
    const chartBox = h("div", { class: "chart" }, canvas);
    const table = h(
      "table",
      {},
      h("caption", {}, `Forecast with its ${percent(row.interval)} interval`),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Date"), h("th", { scope: "col" }, "Forecast"), h("th", { scope: "col" }, "Lower"), h("th", { scope: "col" }, "Upper"))),
      h("tbody", {}, rows.map((r) => h("tr", {}, h("td", {}, r.date), h("td", {}, number(r.forecast) + unit), h("td", {}, number(r.lower)), h("td", {}, number(r.upper))))),
    );
    queueMicrotask(() => forecastChart(canvas, form.history(), rows, model.series));
    return [chartBox, table];
  }
  const predicted = typeof row.prediction === "number" ? number(row.prediction) : String(row.prediction);
  const unit = model.outputs && model.outputs.unit ? ` ${model.outputs.unit}` : "";
  const parts = [h("p", { class: "prediction" }, h("span", { class: "prediction-name" }, `${(model.outputs && model.outputs.name) || "prediction"}: `), h("strong", { class: "prediction-value" }, predicted + unit))];
  if (row.probabilities) {
    parts.push(h("p", { class: "score" }, `Score: ${percent(Math.max(...Object.values(row.probabilities)))}`));
    parts.push(bars(row.probabilities));
  }
  return parts;
}

export function showAnswer(section, model, row, form) {
  const warnings = row.warnings || [];
  clear(
    section,
    h("h2", {}, "Answer"),
    body(model, row, form),
    warnings.length
      ? h("div", { class: "warnings" }, h("h3", {}, `${warnings.length} warning(s): this input is unlike the training data`), h("ul", {}, warnings.map((w) => h("li", { class: "warning" }, h("strong", {}, `${w.feature}: `), w.message))))
      : h("p", { class: "no-warnings" }, "No warnings: the input looks like the training data."),
    h("p", { class: "hint" }, "Prediction id ", h("code", {}, row.id)),
    feedbackForm(model, row),
  );
}
