// Values as text (ages, times) and the small HTML fragments that the jobs table and the job detail both show:
// status badges, progress bars, relative times. esc() makes any text safe to put into HTML.

import { FINISHED } from "./state.js";

export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

export function formatAge(seconds) {
  if (seconds == null || Number.isNaN(seconds)) return "–";
  const s = Math.max(0, seconds);
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.round((s % 86400) / 3600)} h`;
}

export function ago(iso) {
  if (!iso) return "–";
  return `${formatAge((Date.now() - new Date(iso).getTime()) / 1000)} ago`;
}

function absolute(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

export function timeTag(iso) {
  if (!iso) return '<span class="muted">–</span>';
  return `<time datetime="${esc(iso)}" title="${esc(absolute(iso))}">${esc(ago(iso))}</time>`;
}

export function pct(job) {
  if (job.status === "completed") return 100;
  return Math.max(0, Math.min(100, Number(job.progress) || 0));
}

export function progressHtml(job, big = false) {
  const value = pct(job);
  const label = `${Math.round(value)}%`;
  const msg = job.progress_message ? ` – ${job.progress_message}` : "";
  return `<div class="progress ${big ? "big" : ""} st-${esc(job.status)}" role="progressbar" aria-valuemin="0" aria-valuemax="100"
      aria-valuenow="${Math.round(value)}" aria-valuetext="${esc(label + msg)}" aria-label="Progress of job ${esc(job.id.slice(0, 8))}"
      title="${esc(label + msg)}"><span style="width:${value}%"></span></div><span class="pct">${esc(label)}</span>`;
}

export function badge(status, cancelRequested = false) {
  const extra = cancelRequested && !FINISHED.has(status) ? ' <span class="badge cancel-req">stopping</span>' : "";
  return `<span class="badge st-${esc(status)}">${esc(status)}</span>${extra}`;
}

export function pretty(value) {
  return esc(JSON.stringify(value, null, 2));
}
