// The overview, from /stats and /workers every few seconds: the jobs-by-status chips in the header (which also
// filter the table), the queue-depth and throughput charts, run times per job type and the workers.

import { get } from "./api.js";
import { queueChart, throughputChart } from "./charts.js";
import { $, hideBanner, showBanner } from "./dom.js";
import { noteTypesAndQueues } from "./filters.js";
import { esc, formatAge } from "./format.js";
import { can } from "./session.js";
import { STATUSES, state } from "./state.js";

const STATS_MINUTES = 15;
let busy = false;

export async function loadStats() {
  if (busy || !can("admin")) return; // statistics and workers are for admin keys
  busy = true;
  state.lastStats = Date.now();
  try {
    const [stats, workers] = await Promise.all([get(`/stats?minutes=${STATS_MINUTES}`), get("/workers")]);
    hideBanner();
    renderSummary(stats.by_status, stats.estimated && stats.estimated.counts ? stats.exact_up_to : null);
    queueChart($("queue-chart"), queueRows(stats));
    throughputChart($("throughput-chart"), stats.throughput_per_minute, stats.window_minutes);
    $("throughput-window").textContent = `last ${stats.window_minutes} min`;
    $("failure-rate").textContent = `${(stats.failure_rate * 100).toFixed(1)}%`;
    renderDurations(stats.durations);
    renderWorkers(workers);
    noteTypesAndQueues(Object.keys(stats.by_type), Object.keys(stats.by_queue));
  } catch (err) {
    showBanner(`Could not load statistics: ${err.message}. Retrying…`);
  } finally {
    busy = false;
  }
}

/** Waiting and running jobs per queue, sorted by queue name, for the queue-depth chart. */
function queueRows(stats) {
  const running = {};
  for (const [q, counts] of Object.entries(stats.by_queue)) running[q] = counts.processing || 0;
  const byQueue = new Map();
  for (const q of stats.queues) byQueue.set(q.queue, { queue: q.queue, waiting: q.depth, running: running[q.queue] || 0, oldest_age_seconds: q.oldest_age_seconds });
  for (const [q, n] of Object.entries(running)) if (n && !byQueue.has(q)) byQueue.set(q, { queue: q, waiting: 0, running: n, oldest_age_seconds: 0 });
  return [...byQueue.values()].sort((a, b) => a.queue.localeCompare(b.queue));
}

/** The jobs-by-status chips: drawn once, then their counts change in place (a focused chip keeps focus). */
export function renderSummary(byStatus, exactUpTo = null) {
  const list = $("summary");
  if (!list.children.length) {
    list.innerHTML = STATUSES.map((s) => `
      <li><button type="button" class="chip st-${s}" data-status="${s}" aria-pressed="false"
        title="Show only ${s} jobs"><span class="n"></span> ${s}</button></li>`).join("");
  }
  for (const chip of list.querySelectorAll("[data-status]")) {
    const n = byStatus[chip.dataset.status] || 0;
    // counts above the API's exact bound are estimates from a sample of the jobs
    chip.querySelector(".n").textContent = `${exactUpTo !== null && n > exactUpTo ? "≈" : ""}${n.toLocaleString()}`;
  }
  markStatusFilter();
}

/** Press the chip of the status the table is filtered by (and no other), keeping the counts on them. */
export function markStatusFilter() {
  for (const chip of $("summary").querySelectorAll("[data-status]")) {
    chip.setAttribute("aria-pressed", String(state.filters.status === chip.dataset.status));
  }
}

function renderDurations(rows) {
  $("durations").innerHTML = rows.length ? rows.map((r) => `
    <tr><th scope="row">${esc(r.job_type)}</th><td>${esc(formatAge(r.p50_seconds))}</td><td>${esc(formatAge(r.p95_seconds))}</td>
      <td>${r.finished}</td><td>${(r.failure_rate * 100).toFixed(0)}%</td></tr>`).join("")
    : `<tr><td colspan="5" class="muted">Nothing finished in the last ${STATS_MINUTES} minutes.</td></tr>`;
}

function renderWorkers(workers) {
  const alive = workers.filter((w) => w.alive).length;
  $("workers-count").textContent = `${alive} alive${workers.length > alive ? `, ${workers.length - alive} silent` : ""}`;
  $("workers").innerHTML = workers.length ? workers.map((w) => {
    const health = w.stopping ? "stopping" : w.alive ? "alive" : "silent";
    const queues = w.queues && w.queues.length ? w.queues.join(", ") : "all queues";
    return `<li class="worker ${health}">
      <span class="dot" aria-hidden="true"></span>
      <div><strong>${esc(w.hostname)}</strong> <span class="muted small">pid ${esc(w.pid)}</span> <span class="badge w-${health}">${health}</span>
        <div class="small">${esc(w.jobs_in_hand)} of ${esc(w.concurrency)} slots busy · ${esc(queues)}</div>
        <div class="small muted">heartbeat ${esc(formatAge(w.heartbeat_age_seconds))} ago · <span class="mono" title="${esc(w.id)}">${esc(w.id.slice(0, 8))}</span></div>
        <div class="meter" aria-hidden="true"><span style="width:${Math.min(100, (100 * w.jobs_in_hand) / Math.max(1, w.concurrency))}%"></span></div>
      </div></li>`;
  }).join("") : '<li class="muted">No worker has registered. Start one with <code>python -m app.worker</code>.</li>';
}
