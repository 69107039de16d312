// web/src/api.js - every request the page makes: reads, the token-gated actions, and the
// record of which optional endpoints this master lacks (a 404 there degrades the view
// instead of breaking it). Errors carry the master's own text ({"error": "..."}).

const TOKEN_KEY = "udcs.token";
let readsNeedToken = false;

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/* True once a read was refused with 401: the master runs with --auth-reads. */
export function needsReadToken() {
  return readsNeedToken;
}

function headers(extra) {
  const h = { ...extra };
  const t = token();
  if (t) h.Authorization = `Bearer ${t}`;
  return h;
}

async function failure(res) {
  let text = `${res.status} ${res.statusText}`;
  try {
    const body = await res.text();
    try {
      const j = JSON.parse(body);
      if (j && j.error) text = `${res.status}: ${j.error}`;
    } catch {
      if (body) text = `${res.status}: ${body.slice(0, 300)}`;
    }
  } catch {
    /* the body is gone; the status line says enough */
  }
  return new ApiError(res.status, text);
}

export async function getJSON(path) {
  const res = await fetch(path, { headers: headers() });
  if (res.status === 401) readsNeedToken = true;
  if (!res.ok) throw await failure(res);
  return res.json();
}

export async function getText(path) {
  const res = await fetch(path, { headers: headers() });
  if (!res.ok) throw await failure(res);
  return res.text();
}

/* The last `maxBytes` of a text: {text, first, size}, where first > 0 says the text was
 * cut. Asks for a Range; a master that ignores it sends everything and the tail is kept. */
export async function getTextTail(path, maxBytes) {
  const res = await fetch(path, { headers: headers({ Range: `bytes=-${maxBytes}` }) });
  if (res.status === 401) readsNeedToken = true;
  if (res.status === 416) return { text: "", first: 0, size: 0 }; // an empty blob
  if (!res.ok) throw await failure(res);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const m = /^bytes (\d+)-\d+\/(\d+)$/.exec(res.headers.get("Content-Range") || "");
  let first = m ? Number(m[1]) : 0;
  const size = m ? Number(m[2]) : bytes.length;
  let tail = bytes;
  if (!m && bytes.length > maxBytes) {
    first = bytes.length - maxBytes;
    tail = bytes.subarray(first);
  }
  // A cut may fall inside a UTF-8 character: the decoder shows it as one replacement mark.
  return { text: new TextDecoder().decode(tail), first, size };
}

/* GET raw bytes with the token (an <img src> cannot send it under --auth-reads). */
export async function getBlob(path) {
  const res = await fetch(path, { headers: headers() });
  if (res.status === 401) readsNeedToken = true;
  if (!res.ok) throw await failure(res);
  return res.blob();
}

/* GET an endpoint an older master does not have: null on 404, for the view to say so. */
export async function getOptional(path) {
  try {
    return await getJSON(path);
  } catch (e) {
    if (e.status === 404) return null;
    throw e;
  }
}

/* A write: POST or DELETE with the token. Throws ApiError with the master's message. */
export async function act(method, path, body) {
  const init = { method, headers: headers(body ? { "Content-Type": "application/json" } : {}) };
  if (body) init.body = JSON.stringify(body);
  const res = await fetch(path, init);
  if (!res.ok) throw await failure(res);
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

/* A blob as the master stores it, e.g. a unit's stdout ("hex/size" digests). */
export function blobUrl(digest, type) {
  return `/api/blobs/${digest}?type=${encodeURIComponent(type)}`;
}
