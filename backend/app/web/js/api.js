// Thin fetch wrapper: JSON in and out, and errors that carry the API's `detail` message.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** The API's `detail` (a string, or FastAPI's list of validation errors) as one readable line. */
export function describeDetail(detail) {
  if (detail == null) return "";
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => {
      const loc = (d.loc || []).filter((p) => p !== "body").join(".");
      return loc ? `${loc}: ${d.msg}` : d.msg;
    }).join("; ");
  }
  return JSON.stringify(detail);
}

// The signed-in session's CSRF token, sent with every state-changing request (never the key itself).
let csrfToken = null;

export function setCsrfToken(token) {
  csrfToken = token;
}

export async function request(method, url, body, { signal } = {}) {
  const init = { method, headers: { Accept: "application/json" }, signal, credentials: "same-origin" };
  if (method !== "GET" && csrfToken) init.headers["X-CSRF-Token"] = csrfToken;
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  let data = null;
  const text = await response.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (response.status === 401 && url !== "/auth/login") window.dispatchEvent(new Event("skiplock:unauthorized"));
  if (!response.ok) {
    const message = describeDetail(data && data.detail) || `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, message);
  }
  return data;
}

export const get = (url, opts) => request("GET", url, undefined, opts);
export const post = (url, body, opts) => request("POST", url, body, opts);
