// Live progress through Server-Sent Events: one stream per job that is open in the detail panel or running on
// screen, a few at a time (a browser keeps at most six HTTP/1.1 connections per server, and the page's own
// requests need some of them). A stream ends when its job finishes and never reconnects on its own.

import { FINISHED, state } from "./state.js";

const MAX_STREAMS = 3;
const RETRY_AFTER_MS = 5000;
const open = new Map(); // job id → EventSource
const failedAt = new Map(); // job id → when its stream last failed
let handler = () => {};

/** Call `fn(event)` with every state, progress and status event of every stream. */
export function onStreamEvent(fn) {
  handler = fn;
}

export function hasStream(id) {
  return open.has(id);
}

function wantedStreams() {
  const wanted = [];
  if (state.selected && !FINISHED.has(state.selected.status)) wanted.push(state.selected.id);
  for (const job of state.items) {
    if (job.status === "processing" && !wanted.includes(job.id)) wanted.push(job.id);
  }
  return wanted.slice(0, MAX_STREAMS);
}

/** Open the streams the page now wants and close the others (all of them while live refresh is off). */
export function syncStreams() {
  const wanted = new Set(state.live ? wantedStreams() : []);
  for (const [id, source] of open) {
    if (!wanted.has(id)) {
      source.close();
      open.delete(id);
    }
  }
  for (const id of wanted) {
    if (open.has(id)) continue;
    if (Date.now() - (failedAt.get(id) || 0) < RETRY_AFTER_MS) continue;
    open.set(id, openStream(id));
  }
}

function openStream(id) {
  const source = new EventSource(`/jobs/${id}/events`);
  const onEvent = (e) => {
    const ev = JSON.parse(e.data);
    handler(ev);
    if (FINISHED.has(ev.status)) {
      source.close();
      open.delete(id);
    }
  };
  source.addEventListener("state", onEvent);
  source.addEventListener("progress", onEvent);
  source.addEventListener("status", onEvent);
  source.onerror = () => {
    // The server ends the stream when the job finishes; never let EventSource reconnect on its own.
    source.close();
    if (open.get(id) === source) open.delete(id);
    failedAt.set(id, Date.now());
  };
  return source;
}

export function closeAllStreams() {
  for (const source of open.values()) source.close();
}
