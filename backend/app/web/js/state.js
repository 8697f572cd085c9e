// The page's state, shared by its views, and its mirror in the URL (filters, search, page and open job), so that
// a reload or a shared link shows the same view.

export const STATUSES = ["waiting", "pending", "processing", "retry", "completed", "failed", "cancelled"];
export const FINISHED = new Set(["completed", "failed", "cancelled"]);

export const state = {
  filters: { status: "", job_type: "", queue: "" },
  search: "",
  limit: 50,
  offset: 0,
  cursors: [], // cursors[n]: the cursor that reads page n (offset n * limit) under the current filters, once known
  total: 0,
  totalEstimated: false,
  items: [], // the jobs on the table's current page
  pageMode: "server", // "server" (limit/offset) or "search" (one bounded result set)
  selectedId: null,
  selected: null, // the job open in the detail panel, as last read
  types: new Set(), // job types and queues seen so far, for the filters' options and the search
  queues: new Set(),
  live: true,
  lastJobs: 0, // when the jobs and the statistics were last asked for (the refresh tick reads these)
  lastStats: 0,
};

export function readUrl() {
  const q = new URLSearchParams(location.search);
  for (const key of Object.keys(state.filters)) state.filters[key] = q.get(key) || "";
  state.search = q.get("q") || "";
  const limit = Number(q.get("limit"));
  if ([25, 50, 100].includes(limit)) state.limit = limit;
  state.offset = Math.max(0, Number(q.get("offset")) || 0);
  state.selectedId = q.get("job") || null;
}

export function writeUrl() {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(state.filters)) if (v) q.set(k, v);
  if (state.search) q.set("q", state.search);
  if (state.limit !== 50) q.set("limit", String(state.limit));
  if (state.offset) q.set("offset", String(state.offset));
  if (state.selectedId) q.set("job", state.selectedId);
  const url = `${location.pathname}${q.toString() ? `?${q}` : ""}`;
  if (url !== `${location.pathname}${location.search}`) history.replaceState(null, "", url);
}
