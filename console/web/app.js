// The operator console: sign in, threads, streamed answers, a details panel per turn, approvals.
import { api, ApiError, session } from "./api.js";
import { applyStrings, getLang, setLang, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const RANK = { viewer: 0, operator: 1, supervisor: 2 };
const state = { me: null, thread: null, turns: new Map(), selected: null, serverThreads: [] };
const EMPTY = $("empty");  // the examples shown in an empty thread (module scripts run after parsing)

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  return node;
}

// ------------------------------------------------------------------ sign in
async function signIn(key) {
  session.key = key;
  try {
    state.me = await api.me();
  } catch (e) {
    session.key = null;
    state.me = null;
    throw e;
  }
  $("signin").hidden = true;
  $("app").hidden = false;
  $("signout").hidden = false;
  $("who").hidden = false;
  renderWho();
  renderThreads();
  loadThreads();
  const approvalsVisible = RANK[state.me.role] >= RANK.operator;
  $("approvals-box").hidden = !approvalsVisible;
  if (approvalsVisible) loadApprovals();
  $("message").focus();
}

function renderWho() {
  if (state.me) $("who").textContent = `${state.me.name} · ${t("role." + state.me.role)}`;
}

function signOut() {
  session.key = null;
  location.reload();
}

// ------------------------------------------------------------------ threads
const threadsKey = () => `riskdesk.threads.${state.me.name}`;
const savedThreads = () => JSON.parse(sessionStorage.getItem(threadsKey()) || "[]");

function rememberThread(id, title) {
  const list = savedThreads().filter((x) => x.id !== id);
  list.unshift({ id, title: title.slice(0, 40) });
  sessionStorage.setItem(threadsKey(), JSON.stringify(list.slice(0, 30)));
  renderThreads();
}

// The server lists this key's threads (GET /v1/threads); this tab remembers the first message of the
// threads it opened as their titles.
async function loadThreads() {
  try {
    state.serverThreads = await api.threads(state.me.name);
    renderThreads();
  } catch (e) {
    toast(e);
  }
}

function renderThreads() {
  const ul = $("threads");
  ul.replaceChildren();
  const titles = new Map(savedThreads().map((x) => [x.id, x.title]));
  const list = savedThreads().map((x) => x.id);
  for (const th of state.serverThreads) if (!titles.has(th.thread_id)) list.push(th.thread_id);
  const info = new Map(state.serverThreads.map((th) => [th.thread_id, th]));
  if (!list.length) ul.append(el("li", { class: "muted" }, t("noThreads")));
  for (const id of list) {
    const th = info.get(id);
    const title = titles.get(id) || (th ? `${th.created_at.slice(0, 16).replace("T", " ")} · ${t("turnsN")(th.turns)}` : id);
    ul.append(el("li", { class: id === state.thread ? "active" : "" },
      el("button", { type: "button", class: "thread", title: id, onclick: () => openThread(id) }, title)));
  }
}

function newThread() {
  state.thread = null;
  EMPTY.hidden = false;
  $("messages").replaceChildren(EMPTY);
  showDetails(null);
  renderThreads();
  $("message").focus();
}

async function openThread(id) {
  try {
    const view = await api.thread(id);
    state.thread = id;
    const box = $("messages");
    box.replaceChildren();
    const turns = [...view.turns];
    for (const m of view.messages) {
      if (m.role === "operator") box.append(bubble("user", m.text));
      else {
        const trace = turns.shift();
        const b = bubble("bot", m.text);
        if (trace) {
          b.classList.add("clickable");
          b.addEventListener("click", () => showAudit(trace.trace_id, b));
        }
        box.append(b);
      }
    }
    renderThreads();
    box.scrollTop = box.scrollHeight;
  } catch (e) {
    toast(e);
  }
}

// ------------------------------------------------------------------ chat
function bubble(kind, text) {
  const b = el("div", { class: `msg ${kind}` });
  if (kind === "bot") b.append(answerNodes(text));
  else b.textContent = text;
  return b;
}

// The answer with [CLAUSE-ID] markers as chips that open the clause in the details panel.
function answerNodes(text, turn) {
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

async function send(message) {
  const asOf = $("as-of").value || null;
  const box = $("messages");
  EMPTY.remove();
  box.append(bubble("user", message));
  const bot = el("div", { class: "msg bot pending" });
  const steps = el("div", { class: "steps" }, t("thinking"));
  bot.append(steps);
  box.append(bot);
  box.scrollTop = box.scrollHeight;
  $("send").disabled = true;
  const turn = { clauses: new Map(), bubble: bot };
  try {
    if (!state.thread) {
      state.thread = (await api.newThread()).thread_id;
      rememberThread(state.thread, message);
    }
    const seen = [];
    const result = await api.send(state.thread, { message, as_of: asOf }, (event, data) => {
      if (event in (t("steps") || {})) {
        seen.push(t("steps." + event));
        steps.replaceChildren(...seen.map((s, i) => el("span", { class: i === seen.length - 1 ? "step now" : "step" }, s)));
      }
      if (event === "policy_researcher") for (const c of data.clauses || []) turn.clauses.set(c.clause_id, c.text);
      if (event === "compliance_reviewer" && data.reply) {
        bot.querySelector(".answer")?.remove();
        bot.append(el("div", { class: "answer" }, answerNodes(data.reply)));
      }
      box.scrollTop = box.scrollHeight;
    });
    turn.result = result;
    bot.classList.remove("pending");
    bot.replaceChildren(el("div", { class: "answer" }, answerNodes(result.answer, turn)), badges(result));
    bot.classList.add("clickable");
    bot.addEventListener("click", () => select(turn));
    state.turns.set(result.trace_id, turn);
    select(turn);
    if (result.approval_id) loadApprovals();
  } catch (e) {
    bot.classList.remove("pending");
    bot.classList.add("error");
    bot.replaceChildren(`${t("error")}: ${e.message}`);
    if (e instanceof ApiError && e.status === 401) signOut();
  } finally {
    $("send").disabled = false;
    box.scrollTop = box.scrollHeight;
  }
}

const badgeResults = new WeakMap();  // badge row -> its AskResult, to re-label on a language switch

function badges(r) {
  const row = el("div", { class: "badges" });
  badgeResults.set(row, r);
  if (r.outcome) row.append(el("span", { class: `badge o-${r.outcome}` }, t("outcomes." + r.outcome)));
  row.append(el("span", { class: `badge ${r.guard.grounded ? "ok" : "bad"}` }, r.guard.grounded ? "✓ " + t("guard") : "✗ " + t("guard")));
  if (r.approval_id) row.append(el("span", { class: "badge warn" }, `${t("approvalPending")} · ${r.approval_id}`));
  return row;
}

// ------------------------------------------------------------------ details panel
function select(turn) {
  for (const b of document.querySelectorAll(".msg.selected")) b.classList.remove("selected");
  turn.bubble?.classList.add("selected");
  state.selected = turn;
  showDetails(turn);
}

function showDetails(turn) {
  $("details-empty").hidden = !!turn;
  $("details-body").hidden = !turn;
  if (!turn) return;
  const r = turn.result;
  const g = r.guard;
  $("guard").replaceChildren(
    el("div", { class: `verdict ${g.grounded ? "ok" : "bad"}` }, g.grounded ? "✓ " + t("grounded") : "✗ " + t("ungrounded")),
    el("div", { class: "muted" }, `${g.checked_claims} ${t("claims")}`),
    ...(g.ungrounded || []).map((u) => el("div", { class: "bad" }, u)));
  const tools = $("tools");
  tools.replaceChildren();
  if (!r.tool_calls.length) tools.append(el("p", { class: "muted" }, t("noTools")));
  for (const c of r.tool_calls) {
    const args = Object.entries(c.args).filter(([, v]) => v !== null).map(([k, v]) => `${k}=${v}`).join(", ");
    const res = c.result || {};
    tools.append(el("div", { class: "tool" },
      el("div", {}, el("b", {}, c.tool), " ", el("span", { class: `badge o-${res.outcome}` }, t("outcomes." + res.outcome))),
      el("code", {}, args),
      res.deciding_rule ? el("div", { class: "muted" }, `${res.deciding_rule} · ${(res.reasons || []).join(", ")}`) : null,
      el("details", {}, el("summary", {}, "JSON"), el("pre", {}, JSON.stringify(res, null, 2)))));
  }
  const ul = $("citations");
  ul.replaceChildren();
  if (!r.citations.length) ul.append(el("li", { class: "muted" }, t("noCitations")));
  for (const c of r.citations) {
    const text = turn.clauses?.get(c.clause_id) || c.quote;
    const body = el("div", { class: "clause-text", hidden: true }, text);
    const li = el("li", { class: "citation", dataset: { clause: c.clause_id } },
      el("button", { type: "button", class: "clause", onclick: () => { body.hidden = !body.hidden; } },
        el("b", {}, c.clause_id), " ", c.title),
      body);
    ul.append(li);
  }
  $("meta").replaceChildren(
    el("div", {}, `${t("trace")}: `, el("code", {}, r.trace_id.slice(0, 12))),
    el("div", {}, `${t("planner")}: ${r.planner}`),
    r.customer_id ? el("div", {}, `${r.customer_id} · ${r.intent}`) : el("div", {}, r.intent));
}

function openClause(id) {
  const li = document.querySelector(`.citation[data-clause="${CSS.escape(id)}"]`);
  if (!li) return;
  li.querySelector(".clause-text").hidden = false;
  li.scrollIntoView({ block: "nearest" });
  li.classList.add("flash");
  setTimeout(() => li.classList.remove("flash"), 900);
}

// A turn loaded from history: its audit record (masked) fills the panel.
async function showAudit(traceId, b) {
  try {
    const rec = await api.audit(traceId);
    const turn = {
      bubble: b, clauses: new Map(),
      result: {
        trace_id: rec.trace_id, planner: rec.planner, intent: rec.plan?.intent || "", customer_id: rec.plan?.customer_id,
        guard: rec.guard, tool_calls: rec.tool_calls,
        citations: rec.cited.map((id) => ({ clause_id: id, title: "", quote: "" })),
      },
    };
    select(turn);
  } catch (e) {
    toast(e);
  }
}

// ------------------------------------------------------------------ approvals
// Money arrives as a decimal string ("8000.00"): grouped by thousands as text, never through a float.
function yuan(amount) {
  const [whole, fen = ""] = String(amount).split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return /^0*$/.test(fen) ? grouped : `${grouped}.${fen.padEnd(2, "0")}`;
}

async function loadApprovals() {
  if (!state.me || RANK[state.me.role] < RANK.operator) return;
  const ul = $("approvals");
  try {
    const items = await api.approvals();
    ul.replaceChildren();
    if (!items.length) ul.append(el("li", { class: "muted" }, t("noPending")));
    const canDecide = state.me.role === "supervisor";
    for (const a of items) {
      const li = el("li", { class: "approval", dataset: { approval: a.approval_id } },
        el("div", {}, el("b", {}, a.customer_id), ` ¥${yuan(a.amount)}`),
        el("div", { class: "muted" }, a.purpose),
        el("div", { class: "muted small" },
          `${a.approval_id} · ${a.requested_on} · ${a.requested_by || "—"} · ${a.reasons.join(", ")}`));
      if (canDecide) {
        // four eyes: the requester never approves their own request (the service refuses it with 403)
        const own = a.requested_by && a.requested_by === state.me.name;
        li.append(el("div", { class: "actions" },
          own ? null : el("button", { type: "button", class: "small primary approve", onclick: () => decide(a, "approve") }, t("approve")),
          el("button", { type: "button", class: "small danger reject", onclick: () => decide(a, "reject") }, t("reject"))));
      }
      ul.append(li);
    }
  } catch (e) {
    toast(e);
  }
}

async function decide(a, decision) {
  try {
    const asOf = $("as-of").value || null;
    const r = await api.decide(a.approval_id, decision, { as_of: asOf });
    const box = $("messages");
    EMPTY.remove();
    const turn = { clauses: new Map(), result: r };
    const b = el("div", { class: "msg bot system clickable" }, el("div", { class: "answer" }, answerNodes(r.answer, turn)), badges(r));
    turn.bubble = b;
    b.addEventListener("click", () => select(turn));
    box.append(b);
    box.scrollTop = box.scrollHeight;
    select(turn);
  } catch (e) {
    toast(e);
  }
  loadApprovals();
}

// ------------------------------------------------------------------ misc
function toast(e) {
  const n = el("div", { class: "toast", role: "alert" }, `${t("error")}: ${e.message || e}`);
  document.body.append(n);
  setTimeout(() => n.remove(), 5000);
  if (e instanceof ApiError && e.status === 401) signOut();
}

function init() {
  setLang(getLang());
  $("lang").addEventListener("click", () => {
    setLang(getLang() === "zh" ? "en" : "zh");
    renderWho();
    renderThreads();
    for (const row of document.querySelectorAll(".badges")) if (badgeResults.has(row)) row.replaceWith(badges(badgeResults.get(row)));
    if (state.selected) showDetails(state.selected);
    loadApprovals();
  });
  $("signout").addEventListener("click", signOut);
  $("signin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("signin-error").textContent = "";
    try {
      await signIn($("apikey").value.trim());
    } catch (e) {
      $("signin-error").textContent = e.status === 401 ? t("badKey") : e.message;
    }
  });
  $("composer").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = $("message").value.trim();
    if (!text || $("send").disabled) return;
    $("message").value = "";
    send(text);
  });
  $("message").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      $("composer").requestSubmit();
    }
  });
  for (const b of EMPTY.querySelectorAll(".example")) {
    b.addEventListener("click", () => { $("message").value = b.textContent; $("message").focus(); });
  }
  $("new-thread").addEventListener("click", newThread);
  $("refresh-approvals").addEventListener("click", loadApprovals);
  if (session.key) signIn(session.key).catch(() => {});
}

init();
