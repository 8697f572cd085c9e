// Keeping the page current: a tick every second re-reads the jobs table every few seconds and the statistics a
// little less often (while live refresh is on and the tab is visible), and live events from the progress streams
// are applied to the table row and the detail panel as they come.

import { $ } from "./dom.js";
import { patchDetail, refreshDetailTimes, refreshSelected } from "./job-detail.js";
import { loadJobs, patchRow } from "./jobs-table.js";
import { loadStats } from "./overview.js";
import { FINISHED, state } from "./state.js";
import { closeAllStreams, hasStream, onStreamEvent, syncStreams } from "./streams.js";

const TICK_MS = 1000;
const JOBS_EVERY_MS = 3000;
const STATS_EVERY_MS = 5000;

function applyEvent(ev) {
  const patch = { status: ev.status, progress: ev.progress ?? 0, progress_message: ev.message ?? null };
  if ("error" in ev) patch.error = ev.error;
  if ("result" in ev) patch.result = ev.result;
  patchRow(ev.id, patch);
  patchDetail(ev.id, patch);
  if (FINISHED.has(ev.status)) {
    // Pick up finished_at, attempts, the result and fresh counts.
    setTimeout(() => { refreshSelected(); loadJobs(); loadStats(); }, 150);
  }
}

function tick() {
  if (document.hidden) return;
  refreshDetailTimes();
  if (!state.live) return;
  const now = Date.now();
  if (now - state.lastJobs >= JOBS_EVERY_MS) {
    loadJobs();
    if (state.selectedId && state.selected && !FINISHED.has(state.selected.status) && !hasStream(state.selectedId)) refreshSelected();
  }
  if (now - state.lastStats >= STATS_EVERY_MS) loadStats();
}

export function wireLive() {
  onStreamEvent(applyEvent);
  $("auto-refresh").addEventListener("change", (e) => {
    state.live = e.target.checked;
    syncStreams();
    if (state.live) { loadJobs(); loadStats(); }
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && state.live) { loadJobs(); loadStats(); }
  });
}

export function startTicking() {
  setInterval(tick, TICK_MS);
  window.addEventListener("pagehide", closeAllStreams);
}
