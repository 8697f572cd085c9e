// A job's place in its workflow: the jobs it waits for and those that wait for it, and the workflow's graph
// drawn as columns by depth (a job stands one column right of its deepest dependency). Every node opens its job.

import { get } from "./api.js";
import { $ } from "./dom.js";
import { badge, esc } from "./format.js";

const MAX_DRAWN = 300; // bigger workflows show their counts, not every node

function nodeButton(node, current) {
  const here = node.id === current ? ' aria-current="true"' : "";
  return `<button type="button" class="wf-node st-${esc(node.status)}" data-job="${esc(node.id)}"${here}
    title="${esc(node.job_type)} ${esc(node.id)}: ${esc(node.status)}">${esc(node.job_type)} ${badge(node.status)}</button>`;
}

/** Parents and children of a job, as buttons; an empty string for a job outside any workflow. */
export function relativesHtml(job) {
  const parents = job.parents || [];
  const children = job.children || [];
  if (!parents.length && !children.length && !job.workflow_id) return "";
  const list = (nodes) => nodes.length ? nodes.map((n) => nodeButton(n, job.id)).join(" ") : '<span class="muted">none</span>';
  return `
    <h3>Workflow</h3>
    <dl class="facts">
      <dt>Waits for</dt><dd>${list(parents)}</dd>
      <dt>Then</dt><dd>${list(children)}</dd>
    </dl>
    <div id="workflow-graph" aria-live="polite"></div>`;
}

function depths(nodes, edges) {
  const parents = new Map(nodes.map((n) => [n.id, []]));
  for (const [from, to] of edges) if (parents.has(to)) parents.get(to).push(from);
  const depth = new Map();
  const visit = (id) => {
    if (depth.has(id)) return depth.get(id);
    depth.set(id, 0); // nodes come oldest first and dependencies exist before their dependants: no cycle
    const d = Math.max(-1, ...parents.get(id).filter((p) => parents.has(p)).map(visit)) + 1;
    depth.set(id, d);
    return d;
  };
  nodes.forEach((n) => visit(n.id));
  return depth;
}

/** Read the job's workflow and draw it in #workflow-graph. */
export async function loadWorkflow(job, stillShown) {
  if (!job.workflow_id) return;
  let graph;
  try {
    graph = await get(`/workflows/${job.workflow_id}`);
  } catch { return; /* the graph is a nicety */ }
  const holder = $("workflow-graph");
  if (!holder || !stillShown()) return;
  const counts = Object.entries(graph.counts).map(([s, n]) => `${n} ${esc(s)}`).join(", ");
  const head = `<p class="small">Workflow <span class="mono">${esc(graph.id.slice(0, 8))}</span>: ${badge(graph.status)}
    ${graph.nodes.length} jobs (${counts})</p>`;
  if (graph.nodes.length > MAX_DRAWN) { holder.innerHTML = head; return; }
  const depth = depths(graph.nodes, graph.edges);
  const columns = [];
  for (const node of graph.nodes) (columns[depth.get(node.id)] ||= []).push(node);
  holder.innerHTML = head + `<div class="wf-graph" role="list" aria-label="Workflow jobs by step">${columns.map((col, i) =>
    `<div class="wf-col" role="listitem" aria-label="Step ${i + 1}">${col.map((n) => nodeButton(n, job.id)).join("")}</div>`).join("")}</div>`;
}
