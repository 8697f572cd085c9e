// The filter form's inputs: kept in step with the page's state, and the type and queue choices fed by every job
// type and queue the page has seen (the task catalogue, the statistics, the jobs on screen).

import { $ } from "./dom.js";
import { state } from "./state.js";

export function syncFilterInputs() {
  $("f-status").value = state.filters.status;
  $("f-type").value = state.filters.job_type;
  $("f-queue").value = state.filters.queue;
  $("f-limit").value = String(state.limit);
  $("search").value = state.search;
}

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

export function noteTypesAndQueues(types, queues) {
  let changed = false;
  for (const t of types) if (t && !state.types.has(t)) { state.types.add(t); changed = true; }
  for (const q of queues) if (q && !state.queues.has(q)) { state.queues.add(q); changed = true; }
  if (changed) {
    fillOptions($("f-type"), state.types);
    fillOptions($("f-queue"), state.queues);
    syncFilterInputs();
  }
}
