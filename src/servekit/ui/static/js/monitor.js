// Live monitoring: the server's own metrics (GET /monitor/snapshot, summed over its processes and
// workers), sampled every few seconds; rates and percentiles come from the change between samples.
import { chartsAvailable, liveChart, missingChartsNote, pushSample } from "./charts.js";
import { call } from "./api.js";
import { h, message } from "./dom.js";

const EVERY_MS = 3000;
const KEEP = 100; // five minutes of samples

// The q-quantile of the observations between two cumulative histograms, interpolated in its
// bucket as Prometheus's histogram_quantile does; above the last bound, that bound.
export function quantile(q, before, after) {
  const total = after.count - (before ? before.count : 0);
  if (!(total > 0)) return null;
  const counts = after.counts.map((c, i) => c - (before ? before.counts[i] : 0));
  const rank = q * total;
  for (let i = 0; i < counts.length; i += 1) {
    if (counts[i] >= rank) {
      const lower = i === 0 ? 0 : after.buckets[i - 1];
      const below = i === 0 ? 0 : counts[i - 1];
      const inBucket = counts[i] - below;
      return inBucket > 0 ? lower + ((after.buckets[i] - lower) * (rank - below)) / inBucket : after.buckets[i];
    }
  }
  return after.buckets[after.buckets.length - 1] ?? null;
}

const CHARTS = [
  ["requests", "Requests per second", "req/s"],
  ["errors", "Errors (5xx) per second", "req/s"],
  ["latency", "Prediction latency", "ms"],
  ["predictions", "Predictions per second, by model", "rows/s"],
  ["ood", "Out-of-distribution warnings per predicted row", "share"],
  ["batch", "Mean batch size, by model", "rows"],
  ["queue", "Queue depth, by model (rows; jobs in distributed mode)", "waiting"],
  ["cpu", "CPU (all processes)", "cores"],
  ["memory", "Memory (all processes)", "MiB"],
  ["accuracy", "Feedback accuracy, by model", "share"],
];

function rate(after, before, seconds) {
  return seconds > 0 ? Math.max(0, after - before) / seconds : 0;
}

function samples(now, before) {
  const dt = now.time - before.time;
  // A model by its name, and by name and version where it serves several.
  const named = (m, all) => (all.filter((x) => x.name === m.name).length > 1 ? `${m.name} v${m.version}` : m.name);
  const models = Object.fromEntries(before.models.map((m) => [`${m.name}/${m.version}`, m]));
  const by = (fn) =>
    Object.fromEntries(
      now.models.map((m) => {
        const old = models[`${m.name}/${m.version}`];
        return [named(m, now.models), old ? fn(m, old) : null];
      }),
    );
  const ms = (q) => {
    const v = quantile(q, before.latency, now.latency);
    return v === null ? null : v * 1000;
  };
  return {
    requests: { requests: rate(now.requests.total, before.requests.total, dt) },
    errors: { "5xx": rate(now.requests.errors, before.requests.errors, dt), "4xx": rate(now.requests.client_errors, before.requests.client_errors, dt) },
    latency: { p50: ms(0.5), p95: ms(0.95), p99: ms(0.99) },
    predictions: by((m, b) => rate(m.predictions, b.predictions, dt)),
    ood: by((m, b) => {
      const rows = m.predictions - b.predictions;
      return rows > 0 ? (m.ood_warnings - b.ood_warnings) / rows : null;
    }),
    batch: by((m, b) => {
      const calls = m.batch.count - b.batch.count;
      return calls > 0 ? (m.batch.sum - b.batch.sum) / calls : null;
    }),
    queue: by((m) => m.queue_depth),
    cpu: { cores: rate(now.processes.cpu_seconds, before.processes.cpu_seconds, dt) },
    memory: { MiB: now.processes.memory_bytes / 2 ** 20 },
    accuracy: by((m) => m.feedback.accuracy),
  };
}

export async function monitorPage(main) {
  main.append(h("h1", {}, "Monitor"));
  if (!chartsAvailable()) {
    main.append(missingChartsNote());
    return null;
  }
  let status = h("p", { class: "hint", "aria-live": "polite" }, "Sampling every few seconds…");
  const grid = h("div", { class: "charts" });
  const charts = {};
  for (const [key, title, unit] of CHARTS) {
    const canvas = h("canvas", { role: "img", "aria-label": title, id: `chart-${key}` });
    grid.append(h("figure", { class: "chart" }, canvas));
    charts[key] = liveChart(canvas, title, unit);
  }
  main.append(status, grid);
  let before = null;
  let stopped = false;
  const tick = async () => {
    try {
      const now = await call("GET", "/monitor/snapshot");
      if (stopped) return;
      if (before) {
        const label = new Date(now.time * 1000).toLocaleTimeString();
        for (const [key, values] of Object.entries(samples(now, before))) pushSample(charts[key], label, values, KEEP);
      }
      before = now;
      status.textContent = `${now.processes.count} process(es)${now.workers === null ? "" : `, ${now.workers} worker(s)`}; last sample ${new Date(now.time * 1000).toLocaleTimeString()}.`;
    } catch (exc) {
      status.replaceWith((status = message("error", `Could not read the metrics: ${exc.message}`)));
    }
  };
  await tick();
  const timer = window.setInterval(tick, EVERY_MS);
  return () => {
    stopped = true;
    window.clearInterval(timer);
    for (const chart of Object.values(charts)) chart.destroy();
  };
}
