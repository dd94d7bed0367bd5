// Small DOM helpers shared by the console's modules.
import { t } from "./i18n.js";

export const $ = (id) => document.getElementById(id);

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) node.append(c instanceof Node ? c : String(c));
  return node;
}

// Money arrives as a decimal string ("8000.00"): grouped by thousands as text, never through a float.
export function yuan(amount) {
  if (amount === null || amount === undefined) return "—";
  const [whole, fen = ""] = String(amount).split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return "¥" + (/^0*$/.test(fen) ? grouped : `${grouped}.${fen.padEnd(2, "0")}`);
}

// A decimal string as integer fen (BigInt), for proportions in the card's chart.
export function fen(amount) {
  const [whole, f = ""] = String(amount ?? "0").split(".");
  return BigInt(whole || "0") * 100n + BigInt((f + "00").slice(0, 2));
}

export function toast(message, kind = "bad") {
  const n = el("div", { class: `toast ${kind}`, role: kind === "bad" ? "alert" : "status" }, message);
  $("toasts").append(n);
  setTimeout(() => n.remove(), 6000);
}

export function errorText(e) {
  if (e && e.offline) return t("offline");
  return `${t("error")}: ${e?.message || e}`;
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch (_) {  // no clipboard API (an insecure origin): a hidden field and the copy command
    const area = el("textarea", { class: "sr-only", "aria-hidden": "true" });
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
}

export const localTime = (iso) => (iso ? iso.slice(0, 16).replace("T", " ") : "");
