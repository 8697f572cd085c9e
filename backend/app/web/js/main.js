// Skiplock operator dashboard: the entry module. Plain ES modules, no build step; every figure comes from the
// JSON API. Each view wires its own controls; this reads the URL, loads the first data and starts the refresh.

import { syncFilterInputs } from "./filters.js";
import { loadTasks, wireForms } from "./forms.js";
import { selectJob, wireDetail } from "./job-detail.js";
import { loadJobs, wireJobsTable } from "./jobs-table.js";
import { startTicking, wireLive } from "./live.js";
import { loadStats, renderSummary } from "./overview.js";
import { signIn, wireSession } from "./session.js";
import { readUrl, state } from "./state.js";

async function main() {
  wireSession();
  await signIn();
  readUrl();
  wireJobsTable();
  wireDetail();
  wireForms();
  wireLive();
  syncFilterInputs();
  renderSummary({});
  await Promise.all([loadTasks(), loadStats()]);
  syncFilterInputs();
  await loadJobs();
  if (state.selectedId) selectJob(state.selectedId, null, { focus: false });
  startTicking();
}

main();
