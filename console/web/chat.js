// The conversation: streamed turns, answers with clause chips, outcome and guard badges, and recovery when
// the server cannot be reached (the text is kept, the turn is sent again with the same idempotency key).
import { api, ApiError } from "./api.js";
import { label, t } from "./i18n.js";
import { currentTurn, openClause, showDetails } from "./details.js";
import { $, el, errorText } from "./ui.js";

export const state = { me: null, thread: null, selected: null };
export const EMPTY = $("empty");  // the examples shown in an empty thread (module scripts run after parsing)
const badgeTurns = new WeakMap();  // badge row -> its turn, to re-label on a language switch
let onThreadCreated = () => {};
export function whenThreadCreated(fn) { onThreadCreated = fn; }

// The answer with [CLAUSE-ID] markers as chips that open the clause in the details panel.
export function answerNodes(text, turn) {
  const frag = document.createDocumentFragment();
  const re = /\[([A-Z][A-Z0-9-]+)\]/g;
  let last = 0, m;
  while ((m = re.exec(text))) {
    frag.append(text.slice(last, m.index));
    const id = m[1];
    frag.append(el("button", { type: "button", class: "chip", dataset: { clause: id },
      onclick: (ev) => { ev.stopPropagation(); if (turn) { select(turn); openClause(id); } } }, id));
    last = m.index + m[0].length;
  }
  frag.append(text.slice(last));
  return frag;
}

export function badges(turn) {
  const r = turn.result;
  const row = el("div", { class: "badges" });
  badgeTurns.set(row, turn);
  if (r.outcome) row.append(el("span", { class: `badge o-${r.outcome}` }, label("outcome", r.outcome)));
  row.append(el("span", { class: `badge ${r.guard.grounded ? "ok" : "bad"}` }, (r.guard.grounded ? "✓ " : "✗ ") + t("guard")));
  if (r.approval_id) row.append(el("span", { class: "badge warn" }, `${t("approvalPending")} · ${r.approval_id}`));
  return row;
}

export function relabel() {
  for (const row of document.querySelectorAll(".badges")) if (badgeTurns.has(row)) row.replaceWith(badges(badgeTurns.get(row)));
}

export function userBubble(text) { return el("div", { class: "msg user" }, text); }

// A finished turn: its answer, badges, and a click that shows its details.
export function botBubble(turn, system = false) {
  const b = el("div", { class: `msg bot clickable${system ? " system" : ""}`, tabindex: "0", dataset: { trace: turn.result.trace_id } },
    el("div", { class: "answer" }, answerNodes(turn.result.answer, turn)), badges(turn));
  turn.bubble = b;
  b.addEventListener("click", () => select(turn));
  b.addEventListener("keydown", (ev) => { if (ev.key === "Enter") select(turn); });
  return b;
}

export function select(turn) {
  for (const b of document.querySelectorAll(".msg.selected")) b.classList.remove("selected");
  turn.bubble?.classList.add("selected");
  state.selected = turn;
  showDetails(turn);
}

export function clearChat() {
  EMPTY.hidden = false;
  $("messages").replaceChildren(EMPTY);
  showDetails(null);
}

const newKey = () => (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`);

// Send one message. On a network failure the message goes back into the box, the bubble says what happened,
// and the turn is retried (same idempotency key) as soon as /healthz answers again.
export async function send(message, asOf, key = newKey(), retryBubble = null) {
  const box = $("messages");
  EMPTY.remove();
  if (!retryBubble) box.append(userBubble(message));
  const bot = retryBubble || el("div", { class: "msg bot pending" });
  bot.className = "msg bot pending";
  const steps = el("div", { class: "steps" }, t("thinking"));
  bot.replaceChildren(steps);
  if (!retryBubble) box.append(bot);
  box.scrollTop = box.scrollHeight;
  $("send").disabled = true;
  const turn = { clauses: new Map(), asOf };
  try {
    if (!state.thread) {
      state.thread = (await api.newThread()).thread_id;
      onThreadCreated(state.thread, message);
    }
    const seen = [];
    const result = await api.send(state.thread, { message, as_of: asOf }, (event, data) => {
      if (event in t("steps")) {
        seen.push(t("steps." + event));
        steps.replaceChildren(...seen.map((s, i) => el("span", { class: i === seen.length - 1 ? "step now" : "step" }, s)));
      }
      if (event === "policy_researcher") for (const c of data.clauses || []) turn.clauses.set(c.clause_id, c.text);
      box.scrollTop = box.scrollHeight;
    }, key);
    turn.result = result;
    turn.asOf = asOf || result.tool_calls[0]?.args?.as_of || null;
    const done = botBubble(turn);
    bot.replaceWith(done);
    select(turn);
    $("message").value = "";
    return result;
  } catch (e) {
    bot.className = "msg bot error";
    if (e instanceof ApiError && e.offline) {
      $("message").value = message;  // the typed text is kept
      pending.message = message;
      waitForServer(bot, () => { pending.message = pending.now = null; return send(message, asOf, key, bot); });
    } else {
      bot.replaceChildren(errorText(e));
      if (e instanceof ApiError && e.status === 401) document.dispatchEvent(new Event("riskdesk:signout"));
    }
    return null;
  } finally {
    $("send").disabled = false;
    box.scrollTop = box.scrollHeight;
  }
}

// A turn waiting for the server: Enter on its kept text retries it (same idempotency key), never a second turn.
export const pending = { message: null, now: null };

function waitForServer(bubble, retry) {
  let delay = 2, left = delay;
  const status = el("span", { class: "small" });
  const now = el("button", { type: "button", class: "small retry", onclick: () => { clearInterval(timer); tryAgain(); } }, t("retryNow"));
  bubble.replaceChildren(el("div", {}, t("offline")), el("div", { class: "retry-row" }, status, now));
  pending.now = () => { clearInterval(timer); tryAgain(); };
  const tick = () => { status.textContent = t("retrying", left); };
  tick();
  const tryAgain = async () => {
    if (await api.health()) {
      bubble.replaceChildren(t("serverBack"));
      $("message").value = "";
      retry();
    } else {
      delay = Math.min(delay * 2, 16);
      left = delay;
      tick();
      timer = setInterval(step, 1000);
    }
  };
  const step = () => { left -= 1; tick(); if (left <= 0) { clearInterval(timer); tryAgain(); } };
  let timer = setInterval(step, 1000);
}

export { currentTurn };
