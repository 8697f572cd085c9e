// A finished job's result in the detail panel: clip thumbnails for a video, before/after views for restored
// documents, and always the result as JSON.

import { esc, pretty } from "./format.js";

function msLabel(ms) {
  const s = ms / 1000;
  const m = Math.floor(s / 60);
  return `${m}:${(s - m * 60).toFixed(1).padStart(4, "0")}`;
}

export function resultView(job) {
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

/** Move the before/after split of a compare view when its slider moves (`event` bubbles from the detail panel). */
export function onCompareInput(event) {
  if (!event.target.matches("[data-compare]")) return;
  event.target.closest(".compare").querySelector(".compare-stage").style.setProperty("--split", `${event.target.value}%`);
}
