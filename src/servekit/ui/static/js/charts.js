// Charts, drawn with Chart.js (fetched from the npm registry at setup: see servekit/ui/assets.py).
import { h } from "./dom.js";

export function chartsAvailable() {
  return typeof window.Chart === "function";
}

export function missingChartsNote() {
  return h("p", { class: "message error", role: "alert" }, "Charts need Chart.js, which setup fetches: run `python -m servekit.ui.assets` and reload.");
}

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563"];
export const color = (i) => COLORS[i % COLORS.length];

export function forecastChart(canvas, history, rows, series) {
  if (!chartsAvailable()) {
    canvas.replaceWith(missingChartsNote());
    return null;
  }
  const past = history ? history.values : [];
  const pastLabels = history ? (history.dates || past.map((_, i) => `t-${past.length - i}`)) : [];
  const labels = [...pastLabels, ...rows.map((r) => r.date)];
  const pad = (values) => [...past.map(() => null), ...values];
  return new window.Chart(canvas, {
    type: "line",
    data: {
      labels,
      datasets: [
        { label: history && history.training ? "Training series (its end)" : "History", data: [...past, ...rows.map(() => null)], borderColor: color(6), pointRadius: 0 },
        { label: "Lower", data: pad(rows.map((r) => r.lower)), borderColor: "rgba(37,99,235,0.3)", pointRadius: 0 },
        { label: "Upper", data: pad(rows.map((r) => r.upper)), borderColor: "rgba(37,99,235,0.3)", backgroundColor: "rgba(37,99,235,0.15)", fill: "-1", pointRadius: 0 },
        { label: "Forecast", data: pad(rows.map((r) => r.forecast)), borderColor: color(0) },
      ],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: { y: { title: { display: true, text: `${series.value_name}${series.unit ? ` (${series.unit})` : ""}` } } },
    },
  });
}

// A line chart over time whose datasets grow as samples arrive.
export function liveChart(canvas, title, unit) {
  return new window.Chart(canvas, {
    type: "line",
    data: { labels: [], datasets: [] },
    options: {
      animation: false,
      maintainAspectRatio: false,
      plugins: { title: { display: true, text: title } },
      scales: { y: { beginAtZero: true, title: { display: Boolean(unit), text: unit } } },
    },
  });
}

export function pushSample(chart, label, values, keep) {
  chart.data.labels.push(label);
  for (const [name, value] of Object.entries(values)) {
    let dataset = chart.data.datasets.find((d) => d.label === name);
    if (!dataset) {
      const i = chart.data.datasets.length;
      dataset = { label: name, data: chart.data.labels.slice(0, -1).map(() => null), borderColor: color(i), backgroundColor: color(i), pointRadius: 2 };
      chart.data.datasets.push(dataset);
    }
    dataset.data.push(value);
  }
  for (const dataset of chart.data.datasets) while (dataset.data.length < chart.data.labels.length) dataset.data.push(null);
  while (chart.data.labels.length > keep) {
    chart.data.labels.shift();
    for (const dataset of chart.data.datasets) dataset.data.shift();
  }
  chart.update();
}
