// The details pane: the customer card of the turn (from the tools, GET /v1/desk/customers/ID) and the turn's
// guard verdict, tool calls, citations with their clause text, and its trace id (full, with a copy button).
import { api } from "./api.js";
import { label, t } from "./i18n.js";
import { $, copyText, el, fen, yuan } from "./ui.js";

let shown = null;  // the turn in the pane
let cardKey = null;

export function currentTurn() { return shown; }

export function showDetails(turn) {
  shown = turn;
  $("details-empty").hidden = !!turn;
  $("details-body").hidden = !turn;
  if (!turn) { $("card").hidden = true; cardKey = null; return; }
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
    const args = Object.entries(c.args).filter(([k, v]) => v !== null && k !== "idempotency_key")
      .map(([k, v]) => `${k}=${k === "purpose_category" ? label("purpose", v) : v}`).join(", ");
    const res = c.result || {};
    const reasons = (res.reasons || []).map((k) => label("reason", k)).join(t("sep"));
    tools.append(el("div", { class: "tool" },
      el("div", {}, el("b", {}, label("task", c.tool)), " ", el("span", { class: `badge o-${res.outcome}` }, label("outcome", res.outcome))),
      el("code", {}, args),
      res.deciding_rule ? el("div", { class: "muted" }, `${t("decidingRule")}${t("colon")}${res.deciding_rule}${reasons ? " · " + reasons : ""}`) : null,
      el("details", {}, el("summary", {}, "JSON"), el("pre", {}, JSON.stringify(res, null, 2)))));
  }
  const ul = $("citations");
  ul.replaceChildren();
  if (!r.citations.length) ul.append(el("li", { class: "muted" }, t("noCitations")));
  for (const c of r.citations) {
    const text = turn.clauses?.get(c.clause_id) || c.quote || "";
    const body = el("div", { class: "clause-text", hidden: true }, text);
    const id = `clause-${c.clause_id}`;
    ul.append(el("li", { class: "citation", dataset: { clause: c.clause_id } },
      el("button", { type: "button", class: "clause", "aria-expanded": "false", "aria-controls": id,
        onclick: (ev) => { body.hidden = !body.hidden; ev.currentTarget.setAttribute("aria-expanded", String(!body.hidden)); } },
        el("b", {}, c.clause_id), " ", heading(c.title)),
      Object.assign(body, { id })));
  }
  const copy = el("button", { type: "button", class: "small copy", "data-trace": r.trace_id,
    onclick: async (ev) => { await copyText(r.trace_id); ev.currentTarget.textContent = t("copied"); } }, t("copy"));
  $("meta").replaceChildren(
    el("div", { class: "trace-line" }, `${t("trace")}${t("colon")}`, el("code", { class: "trace" }, r.trace_id), " ", copy),
    el("div", {}, `${t("planner")}${t("colon")}${r.planner}`),
    el("div", {}, [r.customer_id, label("task", r.intent)].filter(Boolean).join(" · ")));
  if (r.customer_id) loadCard(r.customer_id, turn.asOf);
  else { $("card").hidden = true; cardKey = null; }
}

// "中文 / English" clause titles: the operator's half.
export function heading(title) {
  const parts = String(title || "").split(" / ");
  if (parts.length !== 2) return title || "";
  const zh = parts.find((p) => /[\u4e00-\u9fff]/.test(p));
  const en = parts.find((p) => !/[\u4e00-\u9fff]/.test(p));
  if (!zh || !en) return title;
  return document.documentElement.lang.startsWith("zh") ? zh : en;
}

export function openClause(id) {
  const li = document.querySelector(`.citation[data-clause="${CSS.escape(id)}"]`);
  if (!li) return;
  li.querySelector(".clause-text").hidden = false;
  li.querySelector("button.clause").setAttribute("aria-expanded", "true");
  li.scrollIntoView({ block: "nearest" });
  li.classList.add("flash");
  setTimeout(() => li.classList.remove("flash"), 900);
}

async function loadCard(customerId, asOf) {
  const key = `${customerId}@${asOf || ""}`;
  if (key === cardKey && !$("card").hidden) return;
  cardKey = key;
  try {
    const c = await api.card(customerId, asOf || undefined);
    if (cardKey === key) renderCard(c);
  } catch (_) {
    if (cardKey === key) $("card").hidden = true;  // an unknown customer has no card
  }
}

function renderCard(c) {
  const box = $("card");
  const q = c.temp_quota;
  const row = (k, v, cls = "") => [el("dt", {}, k), el("dd", { class: cls }, v)];
  const tq1 = c.tq1_failures.length ? c.tq1_failures.map((k) => label("reason", k)).join(t("sep")) : t("tq1ok");
  box.replaceChildren(
    el("div", { class: "card-head" }, el("h2", {}, `${t("card")} · ${c.customer_id}`), el("span", { class: "muted small" }, t("asOfDay", c.as_of))),
    chart(c),
    el("dl", { class: "facts" },
      row(t("available"), yuan(c.available), "num"),
      row(t("tempQuota"), q ? `${yuan(q.amount)} · ${t("until_", q.expires_on)}` : t("none"), "num"),
      row(t("totalAvailable"), yuan(c.total_available), "num strong"),
      row(t("status"), label("status", c.status)), row(t("riskTier"), c.risk_tier),
      row(t("accountAge"), t("days", c.account_age_days)),
      row(t("overdue"), t("overdueN", c.overdue_records, c.unrepaid_records)),
      row(t("repair"), label("outcome", c.repair_outcome)),
      row(t("tq1"), tq1, c.tq1_failures.length ? "bad" : "")));
  box.hidden = false;
}

// Bars of limit, used and temporary quota, to one scale (integer fen: no float in the arithmetic).
function chart(c) {
  const items = [["baseLimit", c.base_limit, "bar-limit"], ["used", c.used, "bar-used"],
    ["tempQuota", c.temp_quota ? c.temp_quota.amount : "0", "bar-tq"]];
  const max = items.reduce((m, [, v]) => (fen(v) > m ? fen(v) : m), 1n);
  return el("figure", { class: "chart", "aria-label": t("chart") },
    ...items.map(([k, v, cls]) => el("div", { class: "bar-row" },
      el("span", { class: "bar-label" }, t(k)),
      el("span", { class: "bar-track" }, el("span", { class: `bar ${cls}`, style: `width:${Number((fen(v) * 1000n) / max) / 10}%` })),
      el("span", { class: "bar-value num" }, yuan(v)))));
}
