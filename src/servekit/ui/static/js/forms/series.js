// A form for a forecaster: the horizon, and optionally a recent history to forecast on from.
import { field, h } from "../dom.js";
import { makeForm } from "./common.js";

// "2026-06-01,123.4" or "123.4" per line: dates if every line has one, else values after a start.
export function parseHistory(text) {
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  const rows = lines.map((line) => line.split(/[,;\t ]+/));
  const dated = rows.length > 0 && rows.every((r) => r.length === 2);
  return {
    dates: dated ? rows.map((r) => r[0]) : null,
    values: rows.map((r) => Number(r[r.length - 1])),
  };
}

export function seriesForm(model) {
  const spec = model.series;
  const trained = model.training_series || {};
  const horizon = field(
    "Horizon",
    h("input", { type: "number", name: "horizon", min: 1, max: spec.max_horizon, step: 1, value: (model.example && model.example.horizon) || 1 }),
    `How many steps (${spec.frequency}) to forecast: 1 to ${spec.max_horizon}.`,
  );
  const history = field(
    `History (${spec.value_name}${spec.unit ? ` in ${spec.unit}` : ""}, optional)`,
    h("textarea", { name: "history", rows: 6, placeholder: "2026-06-01,123.4\n2026-06-02,125.0\n…" }),
    `One value per line, oldest first, as "date,value" (or values only, with the first date below); ${spec.min_history} to ${spec.max_history} of them. Empty: the forecast starts after the training series${trained.end ? ` (which ends ${trained.end})` : ""}.`,
  );
  const start = field("First date of the history (when it has no dates)", h("input", { type: "text", name: "start", placeholder: "2026-06-01" }));
  const fields = [horizon, history, start];
  return {
    action: "Forecast",
    ...makeForm(fields, { horizon, history, start, values: history, dates: history, [spec.value_name]: history }),
    request() {
      const body = { horizon: Number(horizon.control.value) };
      const text = history.control.value.trim();
      if (text) {
        const parsed = parseHistory(text);
        body.history = parsed.dates ? { dates: parsed.dates, values: parsed.values } : { values: parsed.values };
        if (!parsed.dates && start.control.value.trim()) body.history.start = start.control.value.trim();
      }
      return { path: model.endpoints.predict, body: { json: body } };
    },
    history() {
      const text = history.control.value.trim();
      if (text) return parseHistory(text);
      const recent = trained.recent;
      return recent && recent.values.length ? { ...recent, training: true } : null;
    },
  };
}
