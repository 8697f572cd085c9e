// Who the page acts as. It asks the server (GET /auth/session); when no one is signed in and the server needs
// a key, it shows the sign-in form and trades the key for an HttpOnly session cookie (POST /auth/login). The key
// is never stored: not in localStorage, not in the URL, not in a variable once the form is sent. What the page
// shows follows the scope: a read key gets no cancel, retry or submit controls, only admins get the overview.

import { ApiError, get, post, setCsrfToken } from "./api.js";
import { $, setMsg } from "./dom.js";

const RANKS = { read: 0, write: 1, admin: 2 };

export const session = { owner: null, scope: null, via: null };

/** Whether the signed-in scope includes `scope` ("read", "write" or "admin"). */
export function can(scope) {
  return session.scope !== null && RANKS[session.scope] >= RANKS[scope];
}

function apply(info) {
  Object.assign(session, { owner: info.owner, scope: info.scope, via: info.via });
  setCsrfToken(info.csrf_token || null);
  document.body.dataset.scope = info.scope;
  document.body.classList.remove("signed-out");
  $("signin").hidden = true;
  $("whoami-text").textContent = info.via === "open" ? `${info.owner} · ${info.scope} (no key needed here)` : `${info.owner} · ${info.scope}`;
  $("sign-out").hidden = info.via !== "cookie";
  $("whoami").hidden = false;
}

function askForKey() {
  document.body.classList.add("signed-out");
  $("signin").hidden = false;
  $("signin-key").focus();
  return new Promise((resolve) => {
    $("signin-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const field = $("signin-key");
      const key = field.value.trim();
      if (!key) return;
      setMsg($("signin-msg"), "Signing in…", "info");
      try {
        const info = await post("/auth/login", { key });
        field.value = "";
        setMsg($("signin-msg"), "", "ok");
        resolve(info);
      } catch (err) {
        setMsg($("signin-msg"), err instanceof ApiError ? err.message : `Failed: ${err.message}`, "error");
      }
    });
  });
}

/** Resolve once the page knows who it acts as: an existing session, the open local mode, or a fresh sign-in. */
export async function signIn() {
  const info = await get("/auth/session");
  apply(info.authenticated ? info : await askForKey());
}

async function signOut() {
  try {
    await post("/auth/logout");
  } finally {
    location.replace("/dashboard");
  }
}

export function wireSession() {
  $("sign-out").addEventListener("click", signOut);
  // The session ended elsewhere (signed out in another tab, expired, or its key revoked): start again.
  window.addEventListener("skiplock:unauthorized", () => location.replace("/dashboard"), { once: true });
}
