// Small hand-drawn SVG charts: queue depth (horizontal bars) and throughput per minute (stacked columns).

import { formatAge } from "./format.js";

const NS = "http://www.w3.org/2000/svg";

function el(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function tip(node, text) {
  node.appendChild(el("title", {}, text));
  return node;
}

function niceMax(value) {
  if (value <= 4) return 4;
  const pow = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * pow >= value) return step * pow;
  }
  return 10 * pow;
}

function empty(container, text) {
  const p = document.createElement("p");
  p.className = "muted small chart-empty";
  p.textContent = text;
  container.replaceChildren(p);
}

/** queues: [{queue, waiting, running, oldest_age_seconds}] */
export function queueChart(container, queues) {
  if (!queues.length) {
    empty(container, "No jobs waiting or running.");
    return;
  }
  const W = 320, row = 30, labelW = 78, valueW = 64;
  const H = queues.length * row + 4;
  const max = Math.max(1, ...queues.map((q) => q.waiting + q.running));
  const barW = W - labelW - valueW - 8;
  const summary = queues.map((q) => `${q.queue}: ${q.waiting} waiting, ${q.running} running`).join("; ");
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img", "aria-label": `Queue depth. ${summary}` });
  queues.forEach((q, i) => {
    const y = i * row + 4;
    const label = q.queue.length > 11 ? `${q.queue.slice(0, 10)}…` : q.queue;
    svg.appendChild(tip(el("text", { x: 0, y: y + 14, class: "label" }, label), q.queue));
    svg.appendChild(el("rect", { x: labelW, y: y + 2, width: barW, height: 16, rx: 3, class: "track" }));
    const waitW = (q.waiting / max) * barW;
    const runW = (q.running / max) * barW;
    if (runW > 0) {
      svg.appendChild(tip(el("rect", { x: labelW, y: y + 2, width: Math.max(2, runW), height: 16, rx: 3, class: "bar-running" }),
        `${q.queue}: ${q.running} running`));
    }
    if (waitW > 0) {
      svg.appendChild(tip(el("rect", { x: labelW + runW, y: y + 2, width: Math.max(2, waitW), height: 16, rx: 3, class: "bar-waiting" }),
        `${q.queue}: ${q.waiting} waiting, oldest ${formatAge(q.oldest_age_seconds)}`));
    }
    svg.appendChild(el("text", { x: W, y: y + 14, "text-anchor": "end", class: "value" }, `${q.waiting}/${q.running}`));
    if (q.waiting && q.oldest_age_seconds) {
      svg.appendChild(el("text", { x: labelW + 2, y: y + 28, class: "note" }, `oldest waiting ${formatAge(q.oldest_age_seconds)}`));
    }
  });
  const legend = document.createElement("p");
  legend.className = "small legend";
  legend.innerHTML = '<span class="key running"></span>running <span class="key waiting"></span>waiting · numbers: waiting/running';
  container.replaceChildren(svg, legend);
}

/** perMinute: [{minute (ISO), completed, failed, cancelled}] over the last `minutes` minutes. */
export function throughputChart(container, perMinute, minutes) {
  const byMinute = new Map(perMinute.map((m) => [new Date(m.minute).getTime(), m]));
  const now = new Date();
  now.setSeconds(0, 0);
  const slots = [];
  for (let i = minutes - 1; i >= 0; i -= 1) {
    const t = now.getTime() - i * 60000;
    const m = byMinute.get(t) || { completed: 0, failed: 0, cancelled: 0 };
    slots.push({ t, completed: m.completed, failed: m.failed, cancelled: m.cancelled });
  }
  const total = slots.reduce((a, s) => a + s.completed + s.failed + s.cancelled, 0);
  const W = 320, H = 120, left = 30, bottom = 18, top = 6;
  const max = niceMax(Math.max(...slots.map((s) => s.completed + s.failed + s.cancelled)));
  const plotH = H - bottom - top;
  const slotW = (W - left) / slots.length;
  const svg = el("svg", {
    viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img",
    "aria-label": `Jobs finished per minute over the last ${minutes} minutes: ${total} in all.`,
  });
  for (const frac of [0, 0.5, 1]) {
    const y = top + plotH * (1 - frac);
    svg.appendChild(el("line", { x1: left, x2: W, y1: y, y2: y, class: "grid" }));
    svg.appendChild(el("text", { x: left - 4, y: y + 4, "text-anchor": "end", class: "axis" }, String(Math.round(max * frac))));
  }
  const fmt = (t) => new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  slots.forEach((s, i) => {
    const x = left + i * slotW + 1;
    let y = top + plotH;
    for (const kind of ["completed", "failed", "cancelled"]) {
      if (!s[kind]) continue;
      const h = Math.max(1.5, (s[kind] / max) * plotH);
      y -= h;
      svg.appendChild(tip(el("rect", { x, y, width: Math.max(1, slotW - 2), height: h, class: `bar-${kind}` }),
        `${fmt(s.t)}: ${s[kind]} ${kind}`));
    }
    if (i === 0 || i === slots.length - 1 || (slots.length > 6 && i === Math.floor(slots.length / 2))) {
      const anchor = i === 0 ? "start" : i === slots.length - 1 ? "end" : "middle";
      const tx = i === slots.length - 1 ? W : i === 0 ? left : x + slotW / 2;
      svg.appendChild(el("text", { x: tx, y: H - 4, "text-anchor": anchor, class: "axis" }, fmt(s.t)));
    }
  });
  container.replaceChildren(svg);
}
