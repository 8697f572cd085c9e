// The page's elements by id, the error banner and the status line under each form.

export const $ = (id) => document.getElementById(id);

export function showBanner(text) {
  const banner = $("banner");
  banner.textContent = text;
  banner.hidden = false;
}

export function hideBanner() {
  $("banner").hidden = true;
}

export function setMsg(node, text, kind = "ok") {
  node.textContent = text;
  node.className = `form-msg ${kind}`;
}
