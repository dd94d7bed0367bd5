// The operator console: sign in, panels (side by side on a desk, tabs on a phone), chat, threads, the
// approvals inbox, the details pane, keyboard shortcuts. Modules: chat, threads, inbox, details, ui.
import { api, session } from "./api.js";
import { applyStrings, getLang, haveLabels, label, setLabels, setLang, t } from "./i18n.js";
import { EMPTY, pending, relabel, send, state, whenThreadCreated } from "./chat.js";
import { currentTurn, showDetails } from "./details.js";
import { decideFocused, nextApproval, render as renderInbox, startInbox, stopInbox, wireInbox } from "./inbox.js";
import { fillOutcomes, loadThreads, onOpen, remember, renderThreads, restore, wireSearch } from "./threads.js";
import { $, el, errorText } from "./ui.js";

const RANK = { viewer: 0, operator: 1, supervisor: 2 };

// ------------------------------------------------------------------ panels / tabs
function showTab(name) {
  $("app").dataset.tab = name;
  for (const b of document.querySelectorAll(".tabs [role=tab]")) {
    const on = b.dataset.tab === name;
    b.setAttribute("aria-selected", String(on));
    b.tabIndex = on ? 0 : -1;
  }
}

// ------------------------------------------------------------------ sign in
async function loadLabels() {
  const l = getLang();
  if (!haveLabels(l)) setLabels(l, await api.labels(l));
}

async function signIn(key) {
  session.key = key;
  try {
    state.me = await api.me();
    await loadLabels();
  } catch (e) {
    session.key = null;
    state.me = null;
    throw e;
  }
  $("signin").hidden = true;
  $("app").hidden = false;
  for (const id of ["signout", "who", "keys-help"]) $(id).hidden = false;
  renderWho();
  fillOutcomes();
  const inbox = RANK[state.me.role] >= RANK.operator;
  $("panel-inbox").hidden = !inbox;
  $("tab-inbox").hidden = !inbox;
  $("f-operator-box").hidden = state.me.role !== "supervisor";
  if (inbox) startInbox();
  await loadThreads();
  restore();
  showTab("chat");
  $("message").focus();
}

function renderWho() {
  if (state.me) $("who").textContent = `${state.me.name} · ${label("role", state.me.role)}`;
}

function signOut() {
  stopInbox();
  session.key = null;
  remember(null);
  location.reload();
}

function todayHint() {
  const d = new Date();
  const day = `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  $("asof-hint").textContent = $("as-of").value ? "" : t("asOfHint", day);
}

// ------------------------------------------------------------------ keyboard
function typing(ev) {
  const n = ev.target;
  return n instanceof HTMLElement && (n.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(n.tagName));
}

function shortcutSheet() {
  $("shortcut-list").replaceChildren(...t("keys").flatMap(([k, what]) => [el("dt", {}, el("kbd", {}, k)), el("dd", {}, what)]));
  $("shortcuts").showModal();
}

function onKey(ev) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || document.querySelector("dialog[open]") || typing(ev) || !state.me) return;
  const act = {
    "?": shortcutSheet,
    "/": () => { showTab("threads"); $("q").focus(); },
    n: () => { if (!$("panel-inbox").hidden) { showTab("inbox"); nextApproval(); } },
    a: () => decideFocused("approve"),
    r: () => decideFocused("reject"),
  }[ev.key];
  if (act) { ev.preventDefault(); act(); }
}

// ------------------------------------------------------------------ boot
function init() {
  setLang(getLang());
  todayHint();
  whenThreadCreated((id) => { remember(id); });
  onOpen(showTab);
  wireSearch();
  wireInbox();
  document.addEventListener("riskdesk:signout", signOut);
  document.addEventListener("keydown", onKey);
  for (const b of document.querySelectorAll(".tabs [role=tab]")) b.addEventListener("click", () => showTab(b.dataset.tab));
  $("lang").addEventListener("click", async () => {
    setLang(getLang() === "zh" ? "en" : "zh");
    todayHint();
    if (state.me) {
      try { await loadLabels(); } catch (e) { /* labels fall back to the codes humanised */ }
      renderWho();
      fillOutcomes();
      renderThreads();
      relabel();
      renderInbox();
      const turn = currentTurn();
      if (turn) showDetails(turn);
    }
  });
  $("signout").addEventListener("click", signOut);
  $("keys-help").addEventListener("click", shortcutSheet);
  $("shortcuts-close").addEventListener("click", () => $("shortcuts").close());
  $("as-of").addEventListener("change", todayHint);
  $("signin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("signin-error").textContent = "";
    try {
      await signIn($("apikey").value.trim());
    } catch (e) {
      $("signin-error").textContent = e.status === 401 ? t("badKey") : errorText(e);
    }
  });
  $("composer").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = $("message").value.trim();
    if (!text || $("send").disabled) return;
    if (pending.now && text === pending.message) { pending.now(); return; }  // the kept text: retry that turn
    $("message").value = "";
    const r = await send(text, $("as-of").value || null);
    if (r) loadThreads();
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
  if (session.key) signIn(session.key).catch(() => { session.key = null; });
}

init();
