// "Run something": the new-job form (job types and their params' defaults from the task catalogue, /tasks) and
// the upload form, as two tabs. A job created here opens in the detail panel.

import { get, post } from "./api.js";
import { $, setMsg, showBanner } from "./dom.js";
import { noteTypesAndQueues } from "./filters.js";
import { selectJob } from "./job-detail.js";
import { loadJobs } from "./jobs-table.js";
import { state } from "./state.js";

let tasks = [];
let paramsTouched = false; // once the params are edited, choosing another type no longer replaces them

function schemaDefaults(schema) {
  const out = {};
  const props = (schema && schema.properties) || {};
  for (const [name, prop] of Object.entries(props)) {
    if ("default" in prop && prop.default !== null) out[name] = prop.default;
    else if ((schema.required || []).includes(name)) out[name] = prop.type === "array" ? [] : prop.type === "integer" || prop.type === "number" ? 0 : "";
  }
  return out;
}

function onTypeChange() {
  const task = tasks.find((t) => t.name === $("nj-type").value);
  $("nj-desc").textContent = task ? `${task.description || ""} Queue ${task.queue}, priority ${task.priority}, up to ${task.max_attempts} attempts.` : "";
  $("nj-queue").placeholder = task ? task.queue : "default";
  $("nj-priority").placeholder = task ? String(task.priority) : "default";
  if (!paramsTouched && task) $("nj-params").value = JSON.stringify(schemaDefaults(task.params_schema), null, 1).replace(/\n\s*/g, " ");
}

export async function loadTasks() {
  try {
    tasks = await get("/tasks");
  } catch (err) {
    showBanner(`Could not load the task catalogue: ${err.message}`);
    return;
  }
  const select = $("nj-type");
  select.replaceChildren(...tasks.map((t) => new Option(t.name, t.name)));
  if (tasks.some((t) => t.name === "sleep")) select.value = "sleep";
  const up = $("up-type");
  while (up.options.length > 1) up.remove(1);
  for (const t of tasks) if (t.accepts && t.accepts.length) up.add(new Option(t.name, t.name)); // types that take a file
  noteTypesAndQueues(tasks.map((t) => t.name), tasks.map((t) => t.queue));
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

export function wireForms() {
  $("nj-type").addEventListener("change", () => { paramsTouched = false; onTypeChange(); });
  $("nj-params").addEventListener("input", () => { paramsTouched = true; });
  $("new-job").addEventListener("submit", submitNewJob);
  $("upload").addEventListener("submit", submitUpload);
  setupTabs();
}
