// The supervisors' inbox (operators see it read-only): the pending list pushed over SSE, each request's age,
// the requester's words, the deciding rule and reasons; approve with confirmation, reject with a required
// reason; maker-checker shown (no approve button on your own request). A decision is shown in the thread
// it belongs to, never in whichever thread happens to be open.
import { api, ApiError } from "./api.js";
import { label, t } from "./i18n.js";
import { state } from "./chat.js";
import { openThread, loadThreads } from "./threads.js";
import { $, el, errorText, toast, yuan } from "./ui.js";

let items = [];
let focused = null;  // the approval id the keyboard acts on
let watcher = null;

const canDecide = () => state.me?.role === "supervisor";

export function startInbox() {
  if (watcher) watcher.abort();
  watcher = new AbortController();
  const signal = watcher.signal;
  const loop = async () => {
    while (!signal.aborted) {
      try {
        $("live").textContent = t("live");
        await api.watchApprovals((list) => { items = list; render(); }, signal);
      } catch (e) {
        if (signal.aborted) return;
        if (e instanceof ApiError && e.status === 401) { document.dispatchEvent(new Event("riskdesk:signout")); return; }
        $("live").textContent = t("streamLost");
      }
      await new Promise((r) => setTimeout(r, 3000));  // reconnect
    }
  };
  loop();
}

export function stopInbox() { watcher?.abort(); watcher = null; }

export function render() {
  const n = items.length;
  for (const id of ["inbox-count", "inbox-count-tab"]) $(id).textContent = n ? String(n) : "";
  const ul = $("approvals");
  ul.replaceChildren();
  if (!n) ul.append(el("li", { class: "muted" }, t("noPending")));
  for (const a of items) {
    const reasons = a.reasons.map((k) => label("reason", k)).join(t("sep"));
    const purpose = a.category ? `${a.purpose} (${label("purpose", a.category)})` : a.purpose;
    const li = el("li", { class: `approval${a.approval_id === focused ? " focused" : ""}`, tabindex: "-1",
      dataset: { approval: a.approval_id } },
      el("div", { class: "approval-head" }, el("b", {}, a.customer_id), el("span", { class: "num" }, yuan(a.amount)),
        el("span", { class: "badge warn" }, t("age", a.age_days))),
      el("div", {}, purpose),
      el("div", { class: "small" }, `${t("decidingRule")}${t("colon")}${a.deciding_rule} · ${reasons}`),
      el("div", { class: "small muted" }, `${t("requestedBy")}${t("colon")}${a.requested_by || "—"} · ${a.requested_on} · ${t("daysLeft", a.days_left)}`),
      a.requester_message ? el("blockquote", { class: "words", "aria-label": t("requesterWords") }, a.requester_message) : null,
      el("div", { class: "small muted" }, el("code", {}, a.approval_id)));
    const actions = el("div", { class: "actions" });
    if (a.thread_id && (a.requested_by === state.me?.name || canDecide())) {
      actions.append(el("button", { type: "button", class: "small ghost open", onclick: () => openThread(a.thread_id) }, t("openThread")));
    }
    if (canDecide()) {
      if (a.own) li.append(el("p", { class: "own small" }, t("ownRequest")));
      else actions.append(el("button", { type: "button", class: "small primary approve", onclick: () => ask(a, "approve") }, t("approve")));
      actions.append(el("button", { type: "button", class: "small danger reject", onclick: () => ask(a, "reject") }, t("reject")));
    }
    li.append(actions);
    ul.append(li);
  }
}

// The confirmation dialog: a reason is required to reject; the decision is dated by the server's clock
// (a sandbox ledger takes the as-of date of the composer).
export function ask(a, decision) {
  const dlg = $("decide");
  $("decide-title").textContent = t(decision === "approve" ? "approveTitle" : "rejectTitle");
  $("decide-summary").replaceChildren(
    el("div", {}, el("b", {}, a.customer_id), " ", yuan(a.amount), " · ", a.purpose),
    el("div", { class: "small muted" }, `${a.approval_id} · ${t("requestedBy")}: ${a.requested_by || "—"}`));
  $("decide-reason-label").textContent = t(decision === "approve" ? "reasonOptional" : "reasonRequired");
  const reason = $("decide-reason");
  reason.value = "";
  reason.setAttribute("aria-required", String(decision === "reject"));
  $("decide-error").textContent = "";
  const confirm = $("decide-confirm");
  confirm.textContent = t(decision === "approve" ? "confirmApprove" : "confirmReject");
  confirm.className = decision === "approve" ? "primary" : "danger-solid";
  dlg.dataset.approval = a.approval_id;
  dlg.dataset.decision = decision;
  dlg.showModal();
  reason.focus();
}

async function confirmDecision(ev) {
  ev.preventDefault();
  const dlg = $("decide");
  const id = dlg.dataset.approval, decision = dlg.dataset.decision;
  const reason = $("decide-reason").value.trim();
  if (decision === "reject" && !reason) { $("decide-error").textContent = t("reasonMissing"); $("decide-reason").focus(); return; }
  $("decide-confirm").disabled = true;
  try {
    const r = await api.decide(id, decision, { reason, as_of: $("as-of").value || null });
    dlg.close();
    $("inbox-status").textContent = `${t("decided")}${t("colon")}${r.answer.replace(/\s*\[[A-Z][A-Z0-9-]+\]/g, "").trim()}`;
    items = items.filter((a) => a.approval_id !== id);
    render();
    loadThreads();
    if (r.thread_id && !r.thread_id.toLowerCase().startsWith("approval-")) openThread(r.thread_id, false);
  } catch (e) {
    $("decide-error").textContent = errorText(e);
  } finally {
    $("decide-confirm").disabled = false;
  }
}

// Keyboard: n = next pending approval, a / r = approve / reject it.
export function nextApproval() {
  if (!items.length) return false;
  const i = items.findIndex((a) => a.approval_id === focused);
  focused = items[(i + 1) % items.length].approval_id;
  render();
  document.querySelector(`.approval[data-approval="${CSS.escape(focused)}"]`)?.focus();
  return true;
}

export function decideFocused(decision) {
  const a = items.find((x) => x.approval_id === focused);
  if (!a || !canDecide() || (decision === "approve" && a.own)) return false;
  ask(a, decision);
  return true;
}

export function wireInbox() {
  $("decide-form").addEventListener("submit", confirmDecision);
  $("decide-cancel").addEventListener("click", () => $("decide").close());
}

export { toast };
