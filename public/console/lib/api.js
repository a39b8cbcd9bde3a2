// The operator API (PROTOCOL §11) with the admin token. The token lives in this module and in
// sessionStorage (so a reload of the same tab keeps it), never in localStorage, a cookie or a URL:
// it is sent only in the Authorization header of same-origin requests.

const KEY = "supie.console.adminToken";

let token = readStored();

function readStored() {
  try {
    return sessionStorage.getItem(KEY) ?? "";
  } catch {
    return ""; // storage disabled: memory only
  }
}

export function hasToken() {
  return token !== "";
}

/** @param {string} value */
export function setToken(value) {
  token = value.trim();
  try {
    if (token) sessionStorage.setItem(KEY, token);
    else sessionStorage.removeItem(KEY);
  } catch {
    // memory only
  }
}

export class ApiError extends Error {
  /** @param {number} status @param {string} code @param {string} message */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Listeners told when the server refuses the token (the console then asks for it again). */
const unauthorized = new Set();
/** @param {() => void} fn */
export function onUnauthorized(fn) {
  unauthorized.add(fn);
}

/**
 * Calls /api<path>. JSON in and out; a non-2xx answer throws an ApiError with the server's code.
 * @param {string} path
 * @param {{ method?: string, body?: unknown, signal?: AbortSignal }} [opts]
 */
export async function api(path, opts = {}) {
  /** @type {Record<string, string>} */
  const headers = { authorization: `Bearer ${token}` };
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`/api${path}`, {
    method: opts.method ?? "GET",
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: opts.signal,
    cache: "no-store",
    credentials: "omit",
  });
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const err = data?.error ?? {};
    if (res.status === 401) for (const fn of unauthorized) fn();
    throw new ApiError(res.status, err.code ?? `HTTP_${res.status}`, err.message ?? res.statusText);
  }
  return data;
}

/** Path segment for an id: device ids hold ':' which is fine, but never let one change the path. */
export const seg = (/** @type {string} */ s) => encodeURIComponent(s);

/** A readable one-liner for any error, for notices. @param {unknown} err */
export function describe(err) {
  if (err instanceof ApiError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
