// The /v1 API with the signed-in key. SSE through fetch + ReadableStream (EventSource cannot send headers).
const KEY = "riskdesk.key";

export class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
  get offline() { return this.status === 0; }  // the server could not be reached at all
}

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  set key(v) { v ? sessionStorage.setItem(KEY, v) : sessionStorage.removeItem(KEY); },
};

async function call(method, path, body, extra = {}, signal) {
  const headers = { "X-API-Key": session.key || "", ...extra };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(path, { method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, "offline");  // a network failure: no response at all
  }
  if (!res.ok) {
    let detail = res.statusText;
    try { detail = (await res.json()).detail || detail; } catch (_) { /* not JSON */ }
    throw new ApiError(res.status, detail);
  }
  return res;
}

const q = (params) => {
  const s = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== ""));
  return s.toString() ? `?${s}` : "";
};

// Server-Sent Events from a fetch response: onEvent(name, data) per event; resolves when the stream ends.
async function readEvents(res, onEvent) {
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    let chunk;
    try { chunk = await reader.read(); } catch (e) { throw new ApiError(0, "offline"); }
    const { value, done } = chunk;
    if (value) buffer += value.replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (!data.length) continue;  // a ping / comment
      onEvent(event, JSON.parse(data.join("\n")));
    }
    if (done) return;
  }
}

export const api = {
  health: async () => { try { return (await fetch("/healthz", { cache: "no-store" })).ok; } catch (_) { return false; } },
  me: async () => (await call("GET", "/v1/me")).json(),
  labels: async (lang) => (await call("GET", `/v1/desk/labels${q({ lang })}`)).json(),
  newThread: async () => (await call("POST", "/v1/threads")).json(),
  threads: async (filters) => (await call("GET", `/v1/desk/threads${q(filters)}`)).json(),
  turns: async (id) => (await call("GET", `/v1/desk/threads/${encodeURIComponent(id)}/turns`)).json(),
  card: async (id, asOf) => (await call("GET", `/v1/desk/customers/${encodeURIComponent(id)}${q({ as_of: asOf })}`)).json(),
  inbox: async () => (await call("GET", "/v1/desk/approvals")).json(),
  decide: async (id, decision, body = {}) =>
    (await call("POST", `/v1/approvals/${encodeURIComponent(id)}/${decision}`, body)).json(),
  audit: async (trace) => (await call("GET", `/v1/audit/${encodeURIComponent(trace)}`)).json(),
  csv: async (kind, filters) => (await call("GET", `/v1/desk/export/${kind}.csv${q(filters)}`)).blob(),

  // The pending list, pushed by the server; resolves when the stream ends (the caller reconnects).
  async watchApprovals(onList, signal) {
    const res = await call("GET", "/v1/desk/approvals/stream", undefined, { Accept: "text/event-stream" }, signal);
    await readEvents(res, (event, data) => { if (event === "approvals") onList(data); });
  },

  // One turn in a thread; onEvent(name, data) for each progress event; resolves with the AskResult. The
  // idempotency key makes a retry after a network failure safe: the turn is granted at most once.
  async send(threadId, body, onEvent, idempotencyKey) {
    const res = await call("POST", `/v1/threads/${encodeURIComponent(threadId)}/messages`, body,
      { Accept: "text/event-stream", "Idempotency-Key": idempotencyKey });
    let result = null;
    await readEvents(res, (event, payload) => {
      if (event === "error") throw new ApiError(payload.status || 500, payload.detail);
      if (event === "result") result = payload;
      onEvent(event, payload);
    });
    if (!result) throw new ApiError(0, "the stream ended without a result");
    return result;
  },
};
