// Threads: the list (titled by the first message, with customers, outcomes and time), search and filters,
// CSV export within the key's rights, and reopening a thread exactly as it was shown live.
import { api } from "./api.js";
import { label, outcomes, t } from "./i18n.js";
import { botBubble, clearChat, EMPTY, select, state, userBubble } from "./chat.js";
import { $, el, errorText, localTime, toast } from "./ui.js";

const OPEN = "riskdesk.open";  // the open thread survives a reload
let rows = [];
let switchTo = () => {};
export function onOpen(fn) { switchTo = fn; }

export function filters() {
  return { q: $("q").value.trim(), customer: $("f-customer").value.trim(), outcome: $("f-outcome").value,
    operator: $("f-operator").value.trim(), since: $("f-since").value, until: $("f-until").value };
}

export function fillOutcomes() {
  const sel = $("f-outcome");
  const keep = sel.value;
  sel.replaceChildren(el("option", { value: "" }, t("anyOutcome")),
    ...outcomes().map((o) => el("option", { value: o }, label("outcome", o))));
  sel.value = keep;
}

export async function loadThreads() {
  try {
    rows = await api.threads(filters());
    renderThreads();
  } catch (e) {
    toast(errorText(e));
  }
}

export function renderThreads() {
  const ul = $("threads");
  ul.replaceChildren();
  if (!rows.length) ul.append(el("li", { class: "muted" }, t("noThreads")));
  for (const th of rows) {
    const meta = [th.customers.join(", "), th.outcomes.length ? label("outcome", th.outcomes[th.outcomes.length - 1]) : "",
      localTime(th.last_turn_at || th.created_at), t("turnsN", th.turns)].filter(Boolean).join(" · ");
    ul.append(el("li", { class: th.thread_id === state.thread ? "active" : "" },
      el("button", { type: "button", class: "thread", title: th.thread_id, dataset: { thread: th.thread_id },
        "aria-current": th.thread_id === state.thread ? "true" : false, onclick: () => openThread(th.thread_id) },
        el("span", { class: "thread-title" }, th.title || th.thread_id),
        el("span", { class: "thread-meta" }, meta + (th.owner !== state.me?.name ? ` · ${th.owner}` : "")))));
  }
}

export function remember(id) {
  id ? sessionStorage.setItem(OPEN, id) : sessionStorage.removeItem(OPEN);
}

export function restore() {
  const id = sessionStorage.getItem(OPEN);
  if (id) openThread(id, false);
}

// Every turn as it was shown live (GET /v1/desk/threads/ID/turns): the message, the answer with its badges,
// and the details (citations with their clause text, the customer card as of the turn's day).
export async function openThread(id, focusChat = true) {
  try {
    const turns = await api.turns(id);
    state.thread = id;
    remember(id);
    clearChat();
    const box = $("messages");
    if (turns.length) EMPTY.remove();
    let last = null;
    for (const r of turns) {
      const decision = /^\/(approve|reject) /.test(r.message);
      if (!decision) box.append(userBubble(r.message));
      const turn = { result: r, asOf: r.as_of, clauses: new Map(Object.entries(r.clause_texts || {})) };
      box.append(botBubble(turn, decision));
      last = turn;
    }
    if (last) select(last);
    renderThreads();
    box.scrollTop = box.scrollHeight;
    if (focusChat) switchTo("chat");
  } catch (e) {
    remember(null);
    toast(errorText(e));
  }
}

export function newThread() {
  state.thread = null;
  remember(null);
  clearChat();
  renderThreads();
  switchTo("chat");
  $("message").focus();
}

export async function exportCsv(kind) {
  try {
    const blob = await api.csv(kind, filters());
    const a = el("a", { href: URL.createObjectURL(blob), download: `${kind}.csv` });
    document.body.append(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  } catch (e) {
    toast(errorText(e));
  }
}

export function wireSearch() {
  let timer = null;
  const later = () => { clearTimeout(timer); timer = setTimeout(loadThreads, 250); };
  $("search").addEventListener("submit", (ev) => { ev.preventDefault(); loadThreads(); });
  for (const id of ["q", "f-customer", "f-operator"]) $(id).addEventListener("input", later);
  for (const id of ["f-outcome", "f-since", "f-until"]) $(id).addEventListener("change", loadThreads);
  $("export-decisions").addEventListener("click", () => exportCsv("decisions"));
  $("export-audit").addEventListener("click", () => exportCsv("audit"));
  $("new-thread").addEventListener("click", newThread);
}
