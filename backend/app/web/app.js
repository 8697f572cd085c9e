// Skiplock operator dashboard. Plain ES modules, no build step; every figure comes from the JSON API.
//
// Scale: the jobs table only ever holds one page (limit/offset, newest first) and re-reads that page every few
// seconds; live progress of running jobs on screen comes from Server-Sent Events, a few streams at a time (a
// browser keeps at most six HTTP/1.1 connections per server, and the page's own requests need some of them).

import { ApiError, get, post } from "./api.js";
import { formatAge, queueChart, throughputChart } from "./charts.js";

const JOBS_EVERY_MS = 3000;
const STATS_EVERY_MS = 5000;
const STATS_MINUTES = 15;
const MAX_STREAMS = 3;
const PREFIX_SCAN = 500; // a search that may be an id prefix or part of a type name scans this many of the newest jobs
const FINISHED = new Set(["completed", "failed", "cancelled"]);
const STATUSES = ["waiting", "pending", "processing", "retry", "completed", "failed", "cancelled"];
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const $ = (id) => document.getElementById(id);

const state = {
  filters: { status: "", job_type: "", queue: "" },
  search: "",
  limit: 50,
  offset: 0,
  total: 0,
  items: [],
  pageMode: "server", // "server" (limit/offset) or "search" (one bounded result set)
  selectedId: null,
  selected: null,
  detailSig: "",
  tasks: [],
  types: new Set(),
  queues: new Set(),
  streams: new Map(),
  streamFailedAt: new Map(),
  live: true,
  jobsSeq: 0,
  jobsAbort: null,
  lastJobs: 0,
  lastStats: 0,
  statsBusy: false,
};

// -- formatting --------------------------------------------------------------------------------------------

function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function ago(iso) {
  if (!iso) return "–";
  return `${formatAge((Date.now() - new Date(iso).getTime()) / 1000)} ago`;
}

function absolute(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

function timeTag(iso) {
  if (!iso) return '<span class="muted">–</span>';
  return `<time datetime="${esc(iso)}" title="${esc(absolute(iso))}">${esc(ago(iso))}</time>`;
}

function msLabel(ms) {
  const s = ms / 1000;
  const m = Math.floor(s / 60);
  return `${m}:${(s - m * 60).toFixed(1).padStart(4, "0")}`;
}

function pct(job) {
  if (job.status === "completed") return 100;
  return Math.max(0, Math.min(100, Number(job.progress) || 0));
}

function progressHtml(job, big = false) {
  const value = pct(job);
  const label = `${Math.round(value)}%`;
  const msg = job.progress_message ? ` – ${job.progress_message}` : "";
  return `<div class="progress ${big ? "big" : ""} st-${esc(job.status)}" role="progressbar" aria-valuemin="0" aria-valuemax="100"
      aria-valuenow="${Math.round(value)}" aria-valuetext="${esc(label + msg)}" aria-label="Progress of job ${esc(job.id.slice(0, 8))}"
      title="${esc(label + msg)}"><span style="width:${value}%"></span></div><span class="pct">${esc(label)}</span>`;
}

function badge(status, cancelRequested = false) {
  const extra = cancelRequested && !FINISHED.has(status) ? ' <span class="badge cancel-req">stopping</span>' : "";
  return `<span class="badge st-${esc(status)}">${esc(status)}</span>${extra}`;
}

function pretty(value) {
  return esc(JSON.stringify(value, null, 2));
}

// -- banner and messages -------------------------------------------------------------------------------------

function showBanner(text) {
  const banner = $("banner");
  banner.textContent = text;
  banner.hidden = false;
}

function hideBanner() {
  $("banner").hidden = true;
}

function setMsg(node, text, kind = "ok") {
  node.textContent = text;
  node.className = `form-msg ${kind}`;
}

// -- URL state -------------------------------------------------------------------------------------------------

function readUrl() {
  const q = new URLSearchParams(location.search);
  for (const key of Object.keys(state.filters)) state.filters[key] = q.get(key) || "";
  state.search = q.get("q") || "";
  const limit = Number(q.get("limit"));
  if ([25, 50, 100].includes(limit)) state.limit = limit;
  state.offset = Math.max(0, Number(q.get("offset")) || 0);
  state.selectedId = q.get("job") || null;
}

function writeUrl() {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(state.filters)) if (v) q.set(k, v);
  if (state.search) q.set("q", state.search);
  if (state.limit !== 50) q.set("limit", String(state.limit));
  if (state.offset) q.set("offset", String(state.offset));
  if (state.selectedId) q.set("job", state.selectedId);
  const url = `${location.pathname}${q.toString() ? `?${q}` : ""}`;
  if (url !== `${location.pathname}${location.search}`) history.replaceState(null, "", url);
}

function syncFilterInputs() {
  $("f-status").value = state.filters.status;
  $("f-type").value = state.filters.job_type;
  $("f-queue").value = state.filters.queue;
  $("f-limit").value = String(state.limit);
  $("search").value = state.search;
}

// -- select options fed by /tasks and /stats ----------------------------------------------------------------

function fillOptions(select, values, keepFirst = 1) {
  const current = select.value;
  const existing = [...select.options].slice(keepFirst).map((o) => o.value);
  const sorted = [...values].sort();
  if (existing.join("\n") === sorted.join("\n")) return;
  while (select.options.length > keepFirst) select.remove(keepFirst);
  for (const v of sorted) select.add(new Option(v, v));
  if (current && !sorted.includes(current)) select.add(new Option(current, current));
  select.value = current;
}

function noteTypesAndQueues(types, queues) {
  let changed = false;
  for (const t of types) if (t && !state.types.has(t)) { state.types.add(t); changed = true; }
  for (const q of queues) if (q && !state.queues.has(q)) { state.queues.add(q); changed = true; }
  if (changed) {
    fillOptions($("f-type"), state.types);
    fillOptions($("f-queue"), state.queues);
    syncFilterInputs();
  }
}

// -- jobs table ------------------------------------------------------------------------------------------------

/** Turn the search box into server filters where the API has them, else a bounded client-side scan. */
function planSearch() {
  const s = state.search.trim().toLowerCase();
  if (!s) return { kind: "none" };
  if (UUID_RE.test(s)) return { kind: "id", id: s };
  const types = [...state.types];
  if (types.includes(s)) return { kind: "type", type: s };
  const starting = types.filter((t) => t.startsWith(s));
  if (starting.length === 1) return { kind: "type", type: starting[0] };
  const containing = types.filter((t) => t.includes(s));
  const isHex = /^[0-9a-f-]+$/.test(s);
  if (!isHex && containing.length) return { kind: "scan", match: (j) => j.job_type.includes(s), what: `types containing “${s}”` };
  if (isHex && !containing.length) return { kind: "prefix", prefix: s };
  if (isHex) {
    return {
      kind: "scan",
      match: (j) => j.id.startsWith(s) || (containing.length > 0 && j.job_type.includes(s)),
      what: `ids starting with “${s}”`,
    };
  }
  return { kind: "nothing" };
}

function jobsUrl(extra = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...state.filters, ...extra })) if (v !== "" && v != null) q.set(k, String(v));
  return `/jobs?${q}`;
}

async function loadJobs() {
  const seq = ++state.jobsSeq;
  if (state.jobsAbort) state.jobsAbort.abort();
  const abort = new AbortController();
  state.jobsAbort = abort;
  state.lastJobs = Date.now();
  const plan = planSearch();
  const note = $("search-note");
  let items = [];
  let total = 0;
  let mode = "server";
  let noteText = "";
  try {
    if (plan.kind === "none" || plan.kind === "type" || plan.kind === "prefix") {
      const extra = { limit: state.limit, offset: state.offset };
      if (plan.kind === "prefix") {
        extra.id_prefix = plan.prefix;
        noteText = `Showing jobs with ids starting with “${plan.prefix}”.`;
      }
      if (plan.kind === "type") {
        if (state.filters.job_type && state.filters.job_type !== plan.type) {
          noteText = `The search names type “${plan.type}” but the type filter is “${state.filters.job_type}”.`;
        }
        extra.job_type = state.filters.job_type || plan.type;
        if (!noteText) noteText = `Showing jobs of type “${plan.type}”.`;
      }
      const data = await get(jobsUrl(extra), { signal: abort.signal });
      items = data.items;
      total = data.total;
      if (items.length === 0 && total > 0 && state.offset > 0) {
        state.offset = Math.max(0, Math.floor((total - 1) / state.limit) * state.limit);
        return loadJobs();
      }
    } else if (plan.kind === "id") {
      mode = "search";
      try {
        const job = await get(`/jobs/${plan.id}`, { signal: abort.signal });
        items = [job];
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) throw err;
      }
      total = items.length;
      noteText = items.length ? "Showing the job with this id (filters ignored)." : "No job has this id.";
    } else if (plan.kind === "scan") {
      mode = "search";
      const data = await get(jobsUrl({ limit: PREFIX_SCAN, offset: 0 }), { signal: abort.signal });
      items = data.items.filter(plan.match);
      total = items.length;
      noteText = `${items.length} match${items.length === 1 ? "" : "es"} for ${plan.what} among the newest ${Math.min(PREFIX_SCAN, data.total).toLocaleString()} jobs that match the filters.`;
    } else {
      mode = "search";
      noteText = "No job type or id matches this search.";
    }
  } catch (err) {
    if (err.name === "AbortError") return;
    if (seq === state.jobsSeq) showBanner(`Could not load jobs: ${err.message}. Retrying…`);
    return;
  }
  if (seq !== state.jobsSeq) return;
  hideBanner();
  note.textContent = noteText;
  note.hidden = !noteText;
  state.items = items;
  state.total = total;
  state.pageMode = mode;
  noteTypesAndQueues(items.map((j) => j.job_type), items.map((j) => j.queue));
  renderJobs();
  syncStreams();
  $("updated").textContent = `Updated ${new Date().toLocaleTimeString()}`;
}

function rowSig(job) {
  return [job.status, pct(job), job.progress_message, job.attempts, job.max_attempts, job.cancel_requested,
    job.created_at, state.selectedId === job.id].join("|");
}

function rowHtml(job) {
  const selected = state.selectedId === job.id;
  return `
    <td class="col-id"><button type="button" class="link mono" data-open="${esc(job.id)}" aria-label="Details of job ${esc(job.id)}"
      ${selected ? 'aria-current="true"' : ""} title="${esc(job.id)}">${esc(job.id.slice(0, 8))}</button></td>
    <td class="col-type">${esc(job.job_type)}</td>
    <td class="col-queue">${esc(job.queue)}</td>
    <td class="col-status">${badge(job.status, job.cancel_requested)}</td>
    <td class="col-progress"><div class="progress-cell">${progressHtml(job)}</div></td>
    <td class="col-attempts">${job.attempts}/${job.max_attempts}</td>
    <td class="col-created">${timeTag(job.created_at)}</td>`;
}

const rowCache = new Map(); // job id → <tr>

function renderJobs() {
  const body = $("jobs-body");
  const seen = new Set();
  const rows = state.items.map((job) => {
    seen.add(job.id);
    let tr = rowCache.get(job.id);
    if (!tr) {
      tr = document.createElement("tr");
      tr.dataset.id = job.id;
      rowCache.set(job.id, tr);
    }
    const sig = rowSig(job);
    if (tr.dataset.sig !== sig) {
      tr.innerHTML = rowHtml(job);
      tr.dataset.sig = sig;
      tr.dataset.status = job.status;
      tr.classList.toggle("selected", state.selectedId === job.id);
    } else {
      for (const t of tr.querySelectorAll("time")) t.textContent = ago(t.getAttribute("datetime"));
    }
    return tr;
  });
  for (const id of [...rowCache.keys()]) if (!seen.has(id)) rowCache.delete(id);
  const current = [...body.children];
  if (current.length !== rows.length || current.some((tr, i) => tr !== rows[i])) body.replaceChildren(...rows);
  $("jobs-empty").hidden = rows.length > 0;
  const first = state.items.length ? state.offset + 1 : 0;
  const last = state.offset + state.items.length;
  if (state.pageMode === "server") {
    $("page-info").textContent = state.total ? `${first.toLocaleString()}–${last.toLocaleString()} of ${state.total.toLocaleString()}` : "";
    $("prev").disabled = state.offset === 0;
    $("next").disabled = last >= state.total;
  } else {
    $("page-info").textContent = "";
    $("prev").disabled = true;
    $("next").disabled = true;
  }
  $("jobs-total").textContent = `${state.total.toLocaleString()} job${state.total === 1 ? "" : "s"}`;
}

function updateRow(job) {
  const tr = rowCache.get(job.id);
  if (!tr) return;
  tr.innerHTML = rowHtml(job);
  tr.dataset.sig = rowSig(job);
  tr.dataset.status = job.status;
}

// -- live progress (Server-Sent Events) ---------------------------------------------------------------------

function wantedStreams() {
  const wanted = [];
  if (state.selected && !FINISHED.has(state.selected.status)) wanted.push(state.selected.id);
  for (const job of state.items) {
    if (job.status === "processing" && !wanted.includes(job.id)) wanted.push(job.id);
  }
  return wanted.slice(0, MAX_STREAMS);
}

function syncStreams() {
  const wanted = new Set(state.live ? wantedStreams() : []);
  for (const [id, source] of state.streams) {
    if (!wanted.has(id)) {
      source.close();
      state.streams.delete(id);
    }
  }
  for (const id of wanted) {
    if (state.streams.has(id)) continue;
    if (Date.now() - (state.streamFailedAt.get(id) || 0) < 5000) continue;
    const source = new EventSource(`/jobs/${id}/events`);
    const onEvent = (e) => applyEvent(JSON.parse(e.data), source);
    source.addEventListener("state", onEvent);
    source.addEventListener("progress", onEvent);
    source.addEventListener("status", onEvent);
    source.onerror = () => {
      // The server ends the stream when the job finishes; never let EventSource reconnect on its own.
      source.close();
      if (state.streams.get(id) === source) state.streams.delete(id);
      state.streamFailedAt.set(id, Date.now());
    };
    state.streams.set(id, source);
  }
}

function applyEvent(ev, source) {
  const id = ev.id;
  const patch = { status: ev.status, progress: ev.progress ?? 0, progress_message: ev.message ?? null };
  if ("error" in ev) patch.error = ev.error;
  if ("result" in ev) patch.result = ev.result;
  const job = state.items.find((j) => j.id === id);
  if (job) {
    Object.assign(job, patch);
    const tr = rowCache.get(id);
    if (tr && tr.dataset.sig !== rowSig(job)) updateRow(job);
  }
  if (state.selected && state.selected.id === id) {
    const changed = state.selected.status !== ev.status;
    Object.assign(state.selected, patch);
    renderDetail();
    // A new status brings new attempts, times and worker: read the whole job again.
    if (changed && !FINISHED.has(ev.status)) setTimeout(refreshSelected, 100);
  }
  if (FINISHED.has(ev.status)) {
    source.close();
    state.streams.delete(id);
    // Pick up finished_at, attempts, the result and fresh counts.
    setTimeout(() => { refreshSelected(); loadJobs(); loadStats(); }, 150);
  }
}

// -- job detail panel ------------------------------------------------------------------------------------------

async function selectJob(id, job = null, { focus = true } = {}) {
  state.selectedId = id;
  state.selected = job && job.id === id ? job : state.items.find((j) => j.id === id) || null;
  state.detailSig = "";
  writeUrl();
  for (const [rid, tr] of rowCache) tr.classList.toggle("selected", rid === id);
  renderJobs();
  renderDetail();
  if (focus && window.matchMedia("(max-width: 1099px)").matches) {
    $("detail").scrollIntoView({ behavior: "smooth", block: "start" });
  }
  await refreshSelected();
}

async function refreshSelected() {
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
      state.detailSig = "gone";
      return;
    }
  }
  renderDetail();
  syncStreams();
}

function closeDetail() {
  state.selectedId = null;
  state.selected = null;
  state.detailSig = "";
  writeUrl();
  renderJobs();
  $("detail-close").hidden = true;
  $("detail-body").innerHTML = '<p class="muted">Choose a job in the table to see its params, result and errors.</p>';
  syncStreams();
}

function detailSig(job) {
  return [job.id, job.status, job.attempts, job.finished_at, job.started_at, job.error, job.cancel_requested,
    JSON.stringify(job.result)].join("|");
}

function renderDetail() {
  const job = state.selected;
  $("detail-close").hidden = !state.selectedId;
  if (!job) {
    if (state.selectedId && state.detailSig !== "gone") $("detail-body").innerHTML = '<p class="muted">Loading…</p>';
    return;
  }
  const sig = detailSig(job);
  if (sig === state.detailSig) {
    // Only the moving parts: the progress bar and its message.
    const holder = $("detail-progress");
    if (holder) holder.innerHTML = progressHtml(job, true);
    const msg = $("detail-progress-msg");
    if (msg) msg.textContent = job.progress_message || "";
    return;
  }
  const keepMsg = $("action-msg") && $("action-msg").dataset.job === job.id ? $("action-msg").outerHTML : "";
  state.detailSig = sig;
  const duration = job.started_at && job.finished_at
    ? formatAge((new Date(job.finished_at) - new Date(job.started_at)) / 1000) : null;
  const waited = job.started_at ? formatAge((new Date(job.started_at) - new Date(job.created_at)) / 1000) : null;
  const canCancel = !FINISHED.has(job.status);
  const canRetry = job.status === "failed" || job.status === "cancelled";
  $("detail-body").innerHTML = `
    <div class="detail-head">
      <p class="mono small break" title="Job id">${esc(job.id)}</p>
      <p><strong>${esc(job.job_type)}</strong> on queue <strong>${esc(job.queue)}</strong>, priority ${esc(job.priority)}
        ${badge(job.status, job.cancel_requested)}</p>
    </div>
    <div class="detail-progress"><div id="detail-progress" class="progress-cell">${progressHtml(job, true)}</div>
      <p class="small muted" id="detail-progress-msg">${esc(job.progress_message || "")}</p></div>
    <div class="actions">
      <button type="button" class="${canCancel ? "danger" : "ghost"}" data-action="cancel">Cancel job</button>
      <button type="button" class="${canRetry ? "primary" : "ghost"}" data-action="retry">Retry job</button>
    </div>
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
    ${job.error ? `<h3>Error</h3><pre class="error" tabindex="0" aria-label="Error">${esc(job.error)}</pre>` : ""}
    ${resultView(job)}
    <h3>Params</h3>
    <pre tabindex="0" aria-label="Params">${pretty(job.params)}</pre>
    <div id="artifacts"></div>`;
  if (job.status === "completed") loadArtifacts(job.id);
}

function resultView(job) {
  const r = job.result;
  if (r == null) return "";
  let special = "";
  if (Array.isArray(r.variants)) {
    special = clipsView(r);
  } else if (r.restored_url && r.original_url) {
    special = compareView(r.original_url, r.restored_url, "restored document");
  } else if (Array.isArray(r.items) && r.items.some((i) => i.restored_url)) {
    special = r.items.filter((i) => i.restored_url).slice(0, 12)
      .map((i, n) => compareView(i.original_url, i.restored_url, `image ${n + 1}`)).join("");
  }
  return `<h3>Result</h3>${special}
    <details ${special ? "" : "open"}><summary>Result JSON</summary><pre tabindex="0" aria-label="Result">${pretty(r)}</pre></details>`;
}

function clipsView(r) {
  if (!r.variants.length) return '<p class="muted">No clips were proposed for this video.</p>';
  const cards = r.variants.map((v, i) => {
    const range = `${msLabel(v.start_ms)}–${msLabel(v.end_ms)}`;
    const score = v.visual_score != null ? ` · score ${Number(v.visual_score).toFixed(2)}` : "";
    const img = v.thumbnail_url
      ? `<a href="${esc(v.thumbnail_url)}"><img src="${esc(v.thumbnail_url)}" alt="Clip ${i + 1}, ${esc(range)}" loading="lazy" width="160" height="90"></a>`
      : '<div class="no-thumb" aria-hidden="true">no thumbnail</div>';
    return `<figure class="clip">${img}<figcaption>#${i + 1} ${esc(range)}${esc(score)}</figcaption></figure>`;
  }).join("");
  return `<p class="small muted">${r.variants.length} clip${r.variants.length === 1 ? "" : "s"} proposed</p><div class="clips">${cards}</div>`;
}

function compareView(before, after, what) {
  return `
    <div class="compare">
      <div class="compare-stage" style="--split:50%">
        <img src="${esc(before)}" alt="Before: the uploaded ${esc(what)}">
        <img class="after" src="${esc(after)}" alt="After: the ${esc(what)} as restored">
        <span class="tag left" aria-hidden="true">Before</span><span class="tag right" aria-hidden="true">After</span>
      </div>
      <label class="small">Before / after split <input type="range" min="0" max="100" value="50" data-compare></label>
      <p class="small"><a href="${esc(before)}">Open original</a> · <a href="${esc(after)}">Open restored</a></p>
    </div>`;
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

// -- stats, charts and workers -----------------------------------------------------------------------------

async function loadStats() {
  if (state.statsBusy) return;
  state.statsBusy = true;
  state.lastStats = Date.now();
  try {
    const [stats, workers] = await Promise.all([get(`/stats?minutes=${STATS_MINUTES}`), get("/workers")]);
    hideBanner();
    renderSummary(stats.by_status);
    const running = {};
    for (const [q, counts] of Object.entries(stats.by_queue)) running[q] = counts.processing || 0;
    const byQueue = new Map();
    for (const q of stats.queues) byQueue.set(q.queue, { queue: q.queue, waiting: q.depth, running: running[q.queue] || 0, oldest_age_seconds: q.oldest_age_seconds });
    for (const [q, n] of Object.entries(running)) if (n && !byQueue.has(q)) byQueue.set(q, { queue: q, waiting: 0, running: n, oldest_age_seconds: 0 });
    queueChart($("queue-chart"), [...byQueue.values()].sort((a, b) => a.queue.localeCompare(b.queue)));
    throughputChart($("throughput-chart"), stats.throughput_per_minute, stats.window_minutes);
    $("throughput-window").textContent = `last ${stats.window_minutes} min`;
    $("failure-rate").textContent = `${(stats.failure_rate * 100).toFixed(1)}%`;
    renderDurations(stats.durations);
    renderWorkers(workers);
    noteTypesAndQueues(Object.keys(stats.by_type), Object.keys(stats.by_queue));
  } catch (err) {
    showBanner(`Could not load statistics: ${err.message}. Retrying…`);
  } finally {
    state.statsBusy = false;
  }
}

function renderSummary(byStatus) {
  const list = $("summary");
  list.innerHTML = STATUSES.map((s) => `
    <li><button type="button" class="chip st-${s}" data-status="${s}" aria-pressed="${state.filters.status === s}"
      title="Show only ${s} jobs"><span class="n">${(byStatus[s] || 0).toLocaleString()}</span> ${s}</button></li>`).join("");
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

// -- forms --------------------------------------------------------------------------------------------------

function schemaDefaults(schema) {
  const out = {};
  const props = (schema && schema.properties) || {};
  for (const [name, prop] of Object.entries(props)) {
    if ("default" in prop && prop.default !== null) out[name] = prop.default;
    else if ((schema.required || []).includes(name)) out[name] = prop.type === "array" ? [] : prop.type === "integer" || prop.type === "number" ? 0 : "";
  }
  return out;
}

let paramsTouched = false;

function onTypeChange() {
  const task = state.tasks.find((t) => t.name === $("nj-type").value);
  $("nj-desc").textContent = task ? `${task.description || ""} Queue ${task.queue}, priority ${task.priority}, up to ${task.max_attempts} attempts.` : "";
  $("nj-queue").placeholder = task ? task.queue : "default";
  $("nj-priority").placeholder = task ? String(task.priority) : "default";
  if (!paramsTouched && task) $("nj-params").value = JSON.stringify(schemaDefaults(task.params_schema), null, 1).replace(/\n\s*/g, " ");
}

async function loadTasks() {
  try {
    state.tasks = await get("/tasks");
  } catch (err) {
    showBanner(`Could not load the task catalogue: ${err.message}`);
    return;
  }
  const select = $("nj-type");
  select.replaceChildren(...state.tasks.map((t) => new Option(t.name, t.name)));
  if (state.tasks.some((t) => t.name === "sleep")) select.value = "sleep";
  const up = $("up-type");
  while (up.options.length > 1) up.remove(1);
  for (const t of state.tasks) up.add(new Option(t.name, t.name));
  noteTypesAndQueues(state.tasks.map((t) => t.name), state.tasks.map((t) => t.queue));
  onTypeChange();
}

function parseParams(text, msgNode) {
  const raw = text.trim();
  if (!raw) return {};
  try {
    const value = JSON.parse(raw);
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("params must be a JSON object");
    return value;
  } catch (err) {
    setMsg(msgNode, `Params are not a JSON object: ${err.message}`, "error");
    return null;
  }
}

async function showNewJob(id) {
  // The new job is the newest: show the first page (unless filters hide it) and open its details.
  state.offset = 0;
  await loadJobs();
  await selectJob(id, null, { focus: true });
}

async function submitNewJob(event) {
  event.preventDefault();
  const msg = $("nj-msg");
  const params = parseParams($("nj-params").value, msg);
  if (params === null) return;
  const body = { job_type: $("nj-type").value, params };
  const priority = $("nj-priority").value.trim();
  if (priority) body.priority = Number(priority);
  const queue = $("nj-queue").value.trim();
  if (queue) body.queue = queue;
  const button = event.submitter || $("new-job").querySelector("button[type=submit]");
  button.disabled = true;
  setMsg(msg, "Enqueuing…", "info");
  try {
    const data = await post("/jobs", body);
    setMsg(msg, `${data.created ? "Enqueued" : "Already queued (same idempotency key)"}: ${data.job.job_type} job ${data.job.id.slice(0, 8)}.`, "ok");
    await showNewJob(data.job.id);
  } catch (err) {
    setMsg(msg, `Could not enqueue: ${err.message}`, "error");
  } finally {
    button.disabled = false;
  }
}

async function submitUpload(event) {
  event.preventDefault();
  const msg = $("up-msg");
  const file = $("up-file").files[0];
  if (!file) { setMsg(msg, "Choose a file first.", "error"); return; }
  const params = parseParams($("up-params").value, msg);
  if (params === null) return;
  const form = new FormData();
  form.append("file", file);
  if ($("up-type").value) form.append("job_type", $("up-type").value);
  if (Object.keys(params).length) form.append("params", JSON.stringify(params));
  const button = event.submitter || $("upload").querySelector("button[type=submit]");
  button.disabled = true;
  setMsg(msg, `Uploading ${file.name} (${(file.size / 1024).toFixed(0)} KiB)…`, "info");
  try {
    const data = await post("/upload", form);
    setMsg(msg, `Uploaded ${data.kind}: ${data.job_type} job ${data.job_id.slice(0, 8)} created.`, "ok");
    await showNewJob(data.job_id);
  } catch (err) {
    setMsg(msg, `Upload refused: ${err.message}`, "error");
  } finally {
    button.disabled = false;
  }
}

function setupTabs() {
  const tabs = [$("tab-new"), $("tab-upload")];
  const show = (tab) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !on;
    }
  };
  for (const tab of tabs) {
    tab.addEventListener("click", () => show(tab));
    tab.addEventListener("keydown", (e) => {
      if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
      const next = tabs[(tabs.indexOf(tab) + 1) % tabs.length];
      show(next);
      next.focus();
    });
  }
}

// -- wiring -------------------------------------------------------------------------------------------------

function filtersChanged() {
  state.offset = 0;
  writeUrl();
  renderSummary(Object.fromEntries([...$("summary").querySelectorAll(".chip")].map((b) =>
    [b.dataset.status, Number(b.querySelector(".n").textContent.replace(/\D/g, "")) || 0])));
  loadJobs();
}

let searchTimer = null;

function wire() {
  $("f-status").addEventListener("change", (e) => { state.filters.status = e.target.value; filtersChanged(); });
  $("f-type").addEventListener("change", (e) => { state.filters.job_type = e.target.value; filtersChanged(); });
  $("f-queue").addEventListener("change", (e) => { state.filters.queue = e.target.value; filtersChanged(); });
  $("f-limit").addEventListener("change", (e) => { state.limit = Number(e.target.value); filtersChanged(); });
  $("search").addEventListener("input", (e) => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => { state.search = e.target.value.trim(); filtersChanged(); }, 250);
  });
  $("filters").addEventListener("submit", (e) => e.preventDefault());
  $("filters").addEventListener("reset", (e) => {
    e.preventDefault();
    state.filters = { status: "", job_type: "", queue: "" };
    state.search = "";
    syncFilterInputs();
    filtersChanged();
  });
  $("summary").addEventListener("click", (e) => {
    const chip = e.target.closest("[data-status]");
    if (!chip) return;
    state.filters.status = state.filters.status === chip.dataset.status ? "" : chip.dataset.status;
    syncFilterInputs();
    filtersChanged();
  });
  $("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - state.limit); writeUrl(); loadJobs(); });
  $("next").addEventListener("click", () => { state.offset += state.limit; writeUrl(); loadJobs(); });
  $("jobs-body").addEventListener("click", (e) => {
    const tr = e.target.closest("tr[data-id]");
    if (!tr || e.target.closest("a")) return;
    selectJob(tr.dataset.id);
  });
  $("detail-close").addEventListener("click", closeDetail);
  $("detail-body").addEventListener("click", (e) => {
    const button = e.target.closest("[data-action]");
    if (button) act(button.dataset.action);
  });
  $("detail-body").addEventListener("input", (e) => {
    if (!e.target.matches("[data-compare]")) return;
    e.target.closest(".compare").querySelector(".compare-stage").style.setProperty("--split", `${e.target.value}%`);
  });
  $("nj-type").addEventListener("change", () => { paramsTouched = false; onTypeChange(); });
  $("nj-params").addEventListener("input", () => { paramsTouched = true; });
  $("new-job").addEventListener("submit", submitNewJob);
  $("upload").addEventListener("submit", submitUpload);
  $("auto-refresh").addEventListener("change", (e) => {
    state.live = e.target.checked;
    syncStreams();
    if (state.live) { loadJobs(); loadStats(); }
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && state.live) { loadJobs(); loadStats(); }
  });
  setupTabs();
}

function tick() {
  if (document.hidden) return;
  for (const t of document.querySelectorAll("#detail-body time")) t.textContent = ago(t.getAttribute("datetime"));
  if (!state.live) return;
  const now = Date.now();
  if (now - state.lastJobs >= JOBS_EVERY_MS) {
    loadJobs();
    if (state.selectedId && state.selected && !FINISHED.has(state.selected.status) && !state.streams.has(state.selectedId)) refreshSelected();
  }
  if (now - state.lastStats >= STATS_EVERY_MS) loadStats();
}

async function main() {
  readUrl();
  wire();
  syncFilterInputs();
  renderSummary({});
  await Promise.all([loadTasks(), loadStats()]);
  syncFilterInputs();
  await loadJobs();
  if (state.selectedId) selectJob(state.selectedId, null, { focus: false });
  setInterval(tick, 1000);
  window.addEventListener("pagehide", () => { for (const s of state.streams.values()) s.close(); });
}

main();
