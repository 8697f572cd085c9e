// The job detail panel: the chosen job's params, progress, attempts and times, error, result and files, with
// cancel and retry. The chosen job is in the URL (?job=…), so a reload opens it again.

import { ApiError, get, post } from "./api.js";
import { $, setMsg } from "./dom.js";
import { ago, badge, esc, formatAge, pretty, progressHtml, timeTag } from "./format.js";
import { onCompareInput, resultView } from "./job-result.js";
import { loadJobs, markSelectedRow, renderJobs, updateRow } from "./jobs-table.js";
import { loadStats } from "./overview.js";
import { FINISHED, state, writeUrl } from "./state.js";
import { can } from "./session.js";
import { syncStreams } from "./streams.js";
import { loadWorkflow, relativesHtml } from "./workflow-view.js";

const NOTHING_CHOSEN = '<p class="muted">Choose a job in the table to see its params, result and errors.</p>';
let shownSig = ""; // what the panel shows, so that a refresh with nothing new only moves the progress bar

export async function selectJob(id, job = null, { focus = true } = {}) {
  state.selectedId = id;
  state.selected = job && job.id === id ? job : state.items.find((j) => j.id === id) || null;
  shownSig = "";
  writeUrl();
  markSelectedRow(id);
  renderJobs();
  renderDetail();
  if (focus && window.matchMedia("(max-width: 1099px)").matches) {
    $("detail").scrollIntoView({ behavior: "smooth", block: "start" });
  }
  await refreshSelected();
}

/** Read the chosen job again (and its row with it). */
export async function refreshSelected() {
  const id = state.selectedId;
  if (!id) return;
  try {
    const job = await get(`/jobs/${id}`);
    if (state.selectedId !== id) return;
    state.selected = job;
    const inTable = state.items.find((j) => j.id === id);
    if (inTable) { Object.assign(inTable, job); updateRow(inTable); }
  } catch (err) {
    if (state.selectedId !== id) return;
    if (err instanceof ApiError && err.status === 404) {
      state.selected = null;
      $("detail-body").innerHTML = `<p class="muted">Job ${esc(id)} no longer exists.</p>`;
      shownSig = "gone";
      return;
    }
  }
  renderDetail();
  syncStreams();
}

function closeDetail() {
  state.selectedId = null;
  state.selected = null;
  shownSig = "";
  writeUrl();
  renderJobs();
  $("detail-close").hidden = true;
  $("detail-body").innerHTML = NOTHING_CHOSEN;
  syncStreams();
}

/** Apply a live event's fields to the chosen job, if it is this one, and show them. */
export function patchDetail(id, patch) {
  if (!state.selected || state.selected.id !== id) return;
  const changed = state.selected.status !== patch.status;
  Object.assign(state.selected, patch);
  renderDetail();
  // A new status brings new attempts, times and worker: read the whole job again.
  if (changed && !FINISHED.has(patch.status)) setTimeout(refreshSelected, 100);
}

function signature(job) {
  return [job.id, job.status, job.attempts, job.finished_at, job.started_at, job.error, job.cancel_requested,
    JSON.stringify(job.result), JSON.stringify(job.parents), JSON.stringify(job.children)].join("|");
}

function renderDetail() {
  const job = state.selected;
  $("detail-close").hidden = !state.selectedId;
  if (!job) {
    if (state.selectedId && shownSig !== "gone") $("detail-body").innerHTML = '<p class="muted">Loading…</p>';
    return;
  }
  const sig = signature(job);
  if (sig === shownSig) {
    // Only the moving parts: the progress bar and its message.
    const holder = $("detail-progress");
    if (holder) holder.innerHTML = progressHtml(job, true);
    const msg = $("detail-progress-msg");
    if (msg) msg.textContent = job.progress_message || "";
    return;
  }
  // A message about the last cancel or retry stays while the panel shows the same job.
  const keepMsg = $("action-msg") && $("action-msg").dataset.job === job.id ? $("action-msg").outerHTML : "";
  shownSig = sig;
  $("detail-body").innerHTML = detailHtml(job, keepMsg);
  if (job.status === "completed") loadArtifacts(job.id);
  loadWorkflow(job, () => state.selectedId === job.id);
}

function detailHtml(job, keepMsg) {
  const duration = job.started_at && job.finished_at
    ? formatAge((new Date(job.finished_at) - new Date(job.started_at)) / 1000) : null;
  const waited = job.started_at ? formatAge((new Date(job.started_at) - new Date(job.created_at)) / 1000) : null;
  const canCancel = !FINISHED.has(job.status);
  const canRetry = job.status === "failed" || job.status === "cancelled";
  return `
    <div class="detail-head">
      <p class="mono small break" title="Job id">${esc(job.id)}</p>
      <p><strong>${esc(job.job_type)}</strong> on queue <strong>${esc(job.queue)}</strong>, priority ${esc(job.priority)}
        ${badge(job.status, job.cancel_requested)}</p>
    </div>
    <div class="detail-progress"><div id="detail-progress" class="progress-cell">${progressHtml(job, true)}</div>
      <p class="small muted" id="detail-progress-msg">${esc(job.progress_message || "")}</p></div>
    ${can("write") ? `<div class="actions">
      <button type="button" class="${canCancel ? "danger" : "ghost"}" data-action="cancel">Cancel job</button>
      <button type="button" class="${canRetry ? "primary" : "ghost"}" data-action="retry">Retry job</button>
    </div>` : ""}
    ${keepMsg || `<p class="form-msg" id="action-msg" role="alert" data-job="${esc(job.id)}"></p>`}
    <dl class="facts">
      <dt>Attempts</dt><dd>${job.attempts} of ${job.max_attempts}</dd>
      <dt>Created</dt><dd>${timeTag(job.created_at)}</dd>
      ${Math.abs(new Date(job.run_at) - new Date(job.created_at)) > 1000 ? `<dt>Runs at</dt><dd>${timeTag(job.run_at)}</dd>` : ""}
      <dt>Started</dt><dd>${timeTag(job.started_at)}${waited ? ` <span class="muted small">(waited ${esc(waited)})</span>` : ""}</dd>
      <dt>Finished</dt><dd>${timeTag(job.finished_at)}${duration ? ` <span class="muted small">(ran ${esc(duration)})</span>` : ""}</dd>
      ${job.locked_by ? `<dt>Worker</dt><dd class="mono small break">${esc(job.locked_by)}</dd>` : ""}
      ${job.asset_id ? `<dt>Asset</dt><dd><a href="/assets/${esc(job.asset_id)}/file">uploaded file</a> · <a href="/assets/${esc(job.asset_id)}">asset record</a></dd>` : ""}
    </dl>
    ${relativesHtml(job)}
    ${job.error ? `<h3>Error</h3><pre class="error" tabindex="0" aria-label="Error">${esc(job.error)}</pre>` : ""}
    ${resultView(job)}
    <h3>Params</h3>
    <pre tabindex="0" aria-label="Params">${pretty(job.params)}</pre>
    <div id="artifacts"></div>`;
}

async function loadArtifacts(id) {
  try {
    const files = await get(`/jobs/${id}/artifacts`);
    const holder = $("artifacts");
    if (!holder || state.selectedId !== id || !files.length) return;
    holder.innerHTML = `<h3>Files</h3><ul class="files">${files.slice(0, 50).map((f) =>
      `<li><a href="${esc(f.url)}">${esc(f.name)}</a> <span class="muted small">${(f.size_bytes / 1024).toFixed(1)} KiB</span></li>`).join("")}</ul>`;
  } catch { /* files are a nicety */ }
}

async function act(action) {
  const job = state.selected;
  if (!job) return;
  const msg = $("action-msg");
  setMsg(msg, action === "cancel" ? "Cancelling…" : "Re-queuing…", "info");
  msg.dataset.job = job.id;
  try {
    const updated = await post(`/jobs/${job.id}/${action}`);
    const text = action === "cancel"
      ? (updated.status === "cancelled" ? "Cancelled." : "Cancel requested: the worker is stopping the job.")
      : `Re-queued with fresh attempts (now ${updated.status}).`;
    state.selected = updated;
    renderDetail();
    setMsg($("action-msg"), text, "ok");
    $("action-msg").dataset.job = updated.id;
  } catch (err) {
    setMsg($("action-msg"), err instanceof ApiError ? `Not possible: ${err.message}` : `Failed: ${err.message}`, "error");
  }
  loadJobs();
  loadStats();
  syncStreams();
}

/** Update the relative times the panel shows ("3 s ago"). */
export function refreshDetailTimes() {
  for (const t of $("detail-body").querySelectorAll("time")) t.textContent = ago(t.getAttribute("datetime"));
}

export function wireDetail() {
  // A job id in the table opens the job here.
  $("jobs-body").addEventListener("click", (e) => {
    const tr = e.target.closest("tr[data-id]");
    if (!tr || e.target.closest("a")) return;
    selectJob(tr.dataset.id);
  });
  $("detail-close").addEventListener("click", closeDetail);
  $("detail-body").addEventListener("click", (e) => {
    const button = e.target.closest("[data-action]");
    if (button) act(button.dataset.action);
    const node = e.target.closest("[data-job]");
    if (node) selectJob(node.dataset.job);
  });
  $("detail-body").addEventListener("input", onCompareInput);
}
