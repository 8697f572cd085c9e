// The jobs table: one page of jobs (newest first) re-read every few seconds, the filters, the search box and the
// pager. Rows are kept between reads and redrawn only when what they show has changed. A page reached by the
// pager is read through the cursor the page before it returned, as fast at any depth (an offset reads every
// job it skips: half a second a page half-way down a million jobs); a page opened from a link, by offset.

import { ApiError, get } from "./api.js";
import { $, hideBanner, showBanner } from "./dom.js";
import { noteTypesAndQueues, syncFilterInputs } from "./filters.js";
import { ago, badge, esc, pct, progressHtml, timeTag } from "./format.js";
import { markStatusFilter } from "./overview.js";
import { state, writeUrl } from "./state.js";
import { syncStreams } from "./streams.js";

const PREFIX_SCAN = 500; // a search that may be an id prefix or part of a type name scans this many of the newest jobs
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SEARCH_DELAY_MS = 250;

const rowCache = new Map(); // job id → <tr>
let loadSeq = 0;
let loadAbort = null;

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

/** One server page of jobs under the filters (and the type or id prefix the search names). Null when the page is
 * past the end: the offset has moved to the last page, ask again. */
async function fetchPage(plan, signal) {
  const pageNo = Math.floor(state.offset / state.limit);
  const cursor = pageNo > 0 && state.offset % state.limit === 0 ? state.cursors[pageNo] : null;
  const extra = cursor ? { limit: state.limit, cursor } : { limit: state.limit, offset: state.offset };
  let note = "";
  if (plan.kind === "prefix") {
    extra.id_prefix = plan.prefix;
    note = `Showing jobs with ids starting with “${plan.prefix}”.`;
  }
  if (plan.kind === "type") {
    if (state.filters.job_type && state.filters.job_type !== plan.type) {
      note = `The search names type “${plan.type}” but the type filter is “${state.filters.job_type}”.`;
    }
    extra.job_type = state.filters.job_type || plan.type;
    if (!note) note = `Showing jobs of type “${plan.type}”.`;
  }
  const data = await get(jobsUrl(extra), { signal });
  if (data.items.length === 0 && data.total > 0 && state.offset > 0) {
    state.offset = Math.max(0, Math.floor((data.total - 1) / state.limit) * state.limit);
    state.cursors = [];
    return null;
  }
  state.cursors[pageNo + 1] = data.next_cursor || null;
  return { items: data.items, total: data.total, estimated: data.total_estimated, mode: "server", note };
}

/** The jobs a search finds that no server filter expresses: one id, or a bounded scan of the newest jobs. */
async function fetchSearch(plan, signal) {
  if (plan.kind === "id") {
    let items = [];
    try {
      items = [await get(`/jobs/${plan.id}`, { signal })];
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw err;
    }
    const note = items.length ? "Showing the job with this id (filters ignored)." : "No job has this id.";
    return { items, total: items.length, mode: "search", note };
  }
  if (plan.kind === "scan") {
    const data = await get(jobsUrl({ limit: PREFIX_SCAN, offset: 0 }), { signal });
    const items = data.items.filter(plan.match);
    const note = `${items.length} match${items.length === 1 ? "" : "es"} for ${plan.what} among the newest ${Math.min(PREFIX_SCAN, data.total).toLocaleString()} jobs that match the filters.`;
    return { items, total: items.length, mode: "search", note };
  }
  return { items: [], total: 0, mode: "search", note: "No job type or id matches this search." };
}

/** Read the table's jobs again; a newer call cancels an older one still in flight. */
export async function loadJobs() {
  const seq = ++loadSeq;
  if (loadAbort) loadAbort.abort();
  const abort = new AbortController();
  loadAbort = abort;
  state.lastJobs = Date.now();
  const plan = planSearch();
  let page;
  try {
    page = ["none", "type", "prefix"].includes(plan.kind) ? await fetchPage(plan, abort.signal) : await fetchSearch(plan, abort.signal);
    if (page === null) return loadJobs();
  } catch (err) {
    if (err.name === "AbortError") return;
    if (seq === loadSeq) showBanner(`Could not load jobs: ${err.message}. Retrying…`);
    return;
  }
  if (seq !== loadSeq) return;
  hideBanner();
  const note = $("search-note");
  note.textContent = page.note;
  note.hidden = !page.note;
  state.items = page.items;
  state.total = page.total;
  state.totalEstimated = Boolean(page.estimated); // above 10,000 the API estimates the total from a sample
  state.pageMode = page.mode;
  noteTypesAndQueues(page.items.map((j) => j.job_type), page.items.map((j) => j.queue));
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

export function renderJobs() {
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
  renderPager();
  const about = state.totalEstimated ? "≈" : "";
  $("jobs-total").textContent = `${about}${state.total.toLocaleString()} job${state.total === 1 ? "" : "s"}`;
}

function renderPager() {
  const first = state.items.length ? state.offset + 1 : 0;
  const last = state.offset + state.items.length;
  if (state.pageMode === "server") {
    const of = `${state.totalEstimated ? "about " : ""}${state.total.toLocaleString()}`;
    $("page-info").textContent = state.total ? `${first.toLocaleString()}–${last.toLocaleString()} of ${of}` : "";
    $("prev").disabled = state.offset === 0;
    $("next").disabled = last >= state.total;
  } else {
    $("page-info").textContent = "";
    $("prev").disabled = true;
    $("next").disabled = true;
  }
}

/** Redraw a job's row (if it is on this page) from `job`. */
export function updateRow(job) {
  const tr = rowCache.get(job.id);
  if (!tr) return;
  tr.innerHTML = rowHtml(job);
  tr.dataset.sig = rowSig(job);
  tr.dataset.status = job.status;
}

/** Apply a live event's fields to a job on this page and redraw its row if what it shows changed. */
export function patchRow(id, patch) {
  const job = state.items.find((j) => j.id === id);
  if (!job) return;
  Object.assign(job, patch);
  const tr = rowCache.get(id);
  if (tr && tr.dataset.sig !== rowSig(job)) updateRow(job);
}

/** Highlight the row of the job open in the detail panel, and no other. */
export function markSelectedRow(id) {
  for (const [rid, tr] of rowCache) tr.classList.toggle("selected", rid === id);
}

function filtersChanged() {
  state.offset = 0;
  state.cursors = []; // they hold pages of the old filters
  writeUrl();
  markStatusFilter();
  loadJobs();
}

function goToPage(offset) {
  state.offset = offset;
  writeUrl();
  loadJobs();
}

export function wireJobsTable() {
  let searchTimer = null;
  $("f-status").addEventListener("change", (e) => { state.filters.status = e.target.value; filtersChanged(); });
  $("f-type").addEventListener("change", (e) => { state.filters.job_type = e.target.value; filtersChanged(); });
  $("f-queue").addEventListener("change", (e) => { state.filters.queue = e.target.value; filtersChanged(); });
  $("f-limit").addEventListener("change", (e) => { state.limit = Number(e.target.value); filtersChanged(); });
  $("search").addEventListener("input", (e) => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => { state.search = e.target.value.trim(); filtersChanged(); }, SEARCH_DELAY_MS);
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
  $("prev").addEventListener("click", () => goToPage(Math.max(0, state.offset - state.limit)));
  $("next").addEventListener("click", () => goToPage(state.offset + state.limit));
}
