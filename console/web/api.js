// The /v1 API with the signed-in key. SSE through fetch + ReadableStream (EventSource cannot send headers).
const KEY = "riskdesk.key";

export class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  set key(v) { v ? sessionStorage.setItem(KEY, v) : sessionStorage.removeItem(KEY); },
};

async function call(method, path, body, extra = {}) {
  const headers = { "X-API-Key": session.key || "", ...extra };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) {
    let detail = res.statusText;
    try { detail = (await res.json()).detail || detail; } catch (_) { /* not JSON */ }
    throw new ApiError(res.status, detail);
  }
  return res;
}

export const api = {
  me: async () => (await call("GET", "/v1/me")).json(),
  newThread: async () => (await call("POST", "/v1/threads")).json(),
  threads: async (owner) => (await call("GET", `/v1/threads?owner=${encodeURIComponent(owner)}&limit=30`)).json(),
  thread: async (id) => (await call("GET", `/v1/threads/${encodeURIComponent(id)}`)).json(),
  approvals: async () => (await call("GET", "/v1/approvals")).json(),
  decide: async (id, decision, body = {}) =>
    (await call("POST", `/v1/approvals/${encodeURIComponent(id)}/${decision}`, body)).json(),
  audit: async (trace) => (await call("GET", `/v1/audit/${encodeURIComponent(trace)}`)).json(),

  // One turn in a thread; onEvent(name, data) for each progress event; resolves with the AskResult.
  async send(threadId, body, onEvent) {
    const res = await call("POST", `/v1/threads/${encodeURIComponent(threadId)}/messages`, body,
      { Accept: "text/event-stream" });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "", result = null;
    for (;;) {
      const { value, done } = await reader.read();
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
        const payload = JSON.parse(data.join("\n"));
        if (event === "error") throw new ApiError(payload.status || 500, payload.detail);
        if (event === "result") result = payload;
        onEvent(event, payload);
      }
      if (done) break;
    }
    if (!result) throw new ApiError(502, "the stream ended without a result");
    return result;
  },
};
