// The console's chrome in Chinese and English. Internal codes (outcomes, reasons, purposes, roles) are named
// by the server's message catalogue (GET /v1/desk/labels, agents/i18n); answers come in the operator's language.
export const STRINGS = {
  zh: {
    subtitle: "风控助手", signInTitle: "登录", signInHint: "输入 API 密钥。密钥仅保存在本标签页（sessionStorage）。",
    apiKey: "API 密钥", signIn: "登录", signOut: "退出", badKey: "密钥无效",
    tabChat: "对话", tabInbox: "审批", tabDetails: "详情", threads: "会话", newThread: "新会话", noThreads: "暂无会话", turnsN: (n) => `${n} 轮`,
    search: "搜索会话", searchHint: "搜索：客户号、内容…", filters: "筛选与导出", customer: "客户", outcome: "结果",
    operator: "操作人", since: "起始日期", until: "截止日期", anyOutcome: "全部结果",
    exportDecisions: "导出决定（CSV）", exportAudit: "导出审计记录（CSV）",
    pending: "待审批", live: "实时", noPending: "没有待审批的临时额度", approve: "批准", reject: "驳回",
    ownRequest: "这是您本人提交的申请：须由另一位主管审批（双人复核）。",
    requestedBy: "申请人", age: (n) => (n === 0 ? "今天提交" : `已等待 ${n} 天`), daysLeft: (n) => `剩余 ${n} 天可审批`,
    decidingRule: "依据规则", requesterWords: "申请人原话", openThread: "打开会话",
    confirmApprove: "确认批准", confirmReject: "确认驳回", approveTitle: "批准这笔临时额度？", rejectTitle: "驳回这笔临时额度？",
    reasonOptional: "备注（可选）", reasonRequired: "驳回理由（必填，申请人会看到）", reasonMissing: "请填写驳回理由。",
    cancel: "取消", close: "关闭", decided: "已处理",
    emptyHint: "用中文或英文提问，例如：", messageLabel: "向风控助手提问", asOf: "评估日期",
    asOfHint: (d) => `留空即今天（${d}）`, composerHint: "Enter 发送 · Shift+Enter 换行 · ? 快捷键",
    send: "发送", thinking: "处理中…",
    details: "本轮详情", detailsEmpty: "点选一条回答，查看客户卡片、工具调用、引用条款和核验结果。",
    guard: "核验", grounded: "已核验：回答中的数字、日期、编号均有依据", ungrounded: "未通过核验", claims: "项已核对",
    toolCalls: "工具调用", noTools: "本轮未调用工具", citations: "引用条款", noCitations: "无引用",
    trace: "追踪号", copy: "复制", copied: "已复制", planner: "规划器", approvalPending: "待主管审批",
    card: "客户卡片", asOfDay: (d) => `截至 ${d}`, baseLimit: "基础额度", used: "已用", available: "可用",
    tempQuota: "临时额度", until_: (d) => `有效至 ${d}`, none: "无", totalAvailable: "总可用（TQ7）",
    riskTier: "风险等级", accountAge: "开户时长", days: (n) => `${n} 天`, overdue: "逾期记录",
    overdueN: (n, u) => (n ? `${n} 条（未还清 ${u} 条）` : "无"), repair: "一次性信用修复", status: "账户状态",
    tq1: "临时额度申请条件（TQ1）", tq1ok: "满足", chart: "额度构成",
    steps: { supervisor: "理解请求", risk_operator: "调用工具", policy_researcher: "检索条款",
      composer: "撰写回答", compliance_reviewer: "合规核验", deliver: "完成", await_approval: "等待审批" },
    error: "出错了", offline: "无法连接服务器。您输入的内容已保留；服务器恢复后将自动重发。",
    retrying: (s) => `${s} 秒后重试…`, retryNow: "立即重试", serverBack: "服务器已恢复，正在重发…",
    streamLost: "实时更新已断开，正在重连…",
    sep: "；", colon: "：", shortcuts: "键盘快捷键", keys: [["Enter", "发送"], ["Shift+Enter", "换行"], ["?", "显示快捷键"], ["/", "搜索会话"],
      ["n", "下一条待审批"], ["a", "批准选中的待审批"], ["r", "驳回选中的待审批"], ["Esc", "关闭对话框"]],
  },
  en: {
    subtitle: "risk desk", signInTitle: "Sign in", signInHint: "Enter your API key. It is kept in this tab only (sessionStorage).",
    apiKey: "API key", signIn: "Sign in", signOut: "Sign out", badKey: "Unknown API key",
    tabChat: "Chat", tabInbox: "Approvals", tabDetails: "Details", threads: "Threads", newThread: "New thread", noThreads: "No threads yet",
    turnsN: (n) => `${n} turn${n === 1 ? "" : "s"}`,
    search: "Search threads", searchHint: "Search: customer id, words…", filters: "Filters and export", customer: "Customer",
    outcome: "Outcome", operator: "Operator", since: "From", until: "To", anyOutcome: "Any outcome",
    exportDecisions: "Export decisions (CSV)", exportAudit: "Export audit records (CSV)",
    pending: "Pending approvals", live: "live", noPending: "No temporary quota awaits approval", approve: "Approve", reject: "Reject",
    ownRequest: "You requested this: another supervisor must decide it (maker-checker).",
    requestedBy: "Requested by", age: (n) => (n === 0 ? "requested today" : `waiting ${n} day${n === 1 ? "" : "s"}`),
    daysLeft: (n) => `${n} day${n === 1 ? "" : "s"} left to decide`,
    decidingRule: "Deciding rule", requesterWords: "Requester's words", openThread: "Open thread",
    confirmApprove: "Approve", confirmReject: "Reject", approveTitle: "Approve this temporary quota?",
    rejectTitle: "Reject this temporary quota?", reasonOptional: "Note (optional)",
    reasonRequired: "Reason (required; the requester will read it)", reasonMissing: "Give a reason for the rejection.",
    cancel: "Cancel", close: "Close", decided: "Decided",
    emptyHint: "Ask in Chinese or English, for example:", messageLabel: "Ask the risk desk", asOf: "As of",
    asOfHint: (d) => `empty = today (${d})`, composerHint: "Enter to send · Shift+Enter new line · ? shortcuts",
    send: "Send", thinking: "Working…",
    details: "Turn details", detailsEmpty: "Select an answer to see the customer card, tool calls, cited clauses and guard verdict.",
    guard: "Guard", grounded: "Grounded: every number, date and id in the reply has evidence", ungrounded: "Not grounded",
    claims: "claims checked", toolCalls: "Tool calls", noTools: "No tool was called", citations: "Citations",
    noCitations: "No citations", trace: "Trace", copy: "Copy", copied: "Copied", planner: "Planner",
    approvalPending: "Awaiting a supervisor",
    card: "Customer card", asOfDay: (d) => `as of ${d}`, baseLimit: "Base limit", used: "Used", available: "Available",
    tempQuota: "Temporary quota", until_: (d) => `until ${d}`, none: "none", totalAvailable: "Total available (TQ7)",
    riskTier: "Risk tier", accountAge: "Account age", days: (n) => `${n} days`, overdue: "Overdue records",
    overdueN: (n, u) => (n ? `${n} (${u} unrepaid)` : "none"), repair: "One-time credit repair", status: "Account status",
    tq1: "Quota conditions (TQ1)", tq1ok: "met", chart: "Credit at a glance",
    steps: { supervisor: "Planning", risk_operator: "Calling tools", policy_researcher: "Finding clauses",
      composer: "Composing", compliance_reviewer: "Checking the reply", deliver: "Done", await_approval: "Awaiting approval" },
    error: "Error", offline: "Cannot reach the server. Your message is kept and will be sent again when the server is back.",
    retrying: (s) => `retrying in ${s} s…`, retryNow: "Retry now", serverBack: "The server is back; sending again…",
    streamLost: "Live updates lost; reconnecting…",
    sep: "; ", colon: ": ", shortcuts: "Keyboard shortcuts", keys: [["Enter", "send"], ["Shift+Enter", "new line"], ["?", "this sheet"],
      ["/", "search threads"], ["n", "next pending approval"], ["a", "approve the selected approval"],
      ["r", "reject the selected approval"], ["Esc", "close a dialog"]],
  },
};

let lang = sessionStorage.getItem("riskdesk.lang") || ((navigator.language || "zh").startsWith("zh") ? "zh" : "en");
const catalogue = { zh: null, en: null };  // the server's labels of internal codes, per language

export function getLang() { return lang; }

export function setLang(value) {
  lang = value;
  sessionStorage.setItem("riskdesk.lang", value);
  document.documentElement.lang = value === "zh" ? "zh-CN" : "en";
  applyStrings();
}

export function t(key, ...args) {
  let v = STRINGS[lang];
  for (const p of key.split(".")) v = v && v[p];
  if (typeof v === "function") return v(...args);
  return v ?? key;
}

export function setLabels(l, labels) { catalogue[l] = labels; }
export function haveLabels(l) { return !!catalogue[l]; }

// An internal code in the operator's words (never the raw key): the catalogue, else the code humanised.
export function label(kind, code) {
  if (code === null || code === undefined || code === "") return "—";
  const v = catalogue[lang]?.[kind]?.[code];
  return v ?? String(code).replaceAll("_", " ");
}

export function outcomes() { return Object.keys(catalogue[lang]?.outcome || {}); }

export function applyStrings(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-label]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nLabel));
    el.title = t(el.dataset.i18nLabel);
  }
  const btn = document.getElementById("lang");
  if (btn) {
    btn.textContent = lang === "zh" ? "EN" : "中文";
    btn.lang = lang === "zh" ? "en" : "zh-CN";
    btn.setAttribute("aria-label", lang === "zh" ? "EN: switch to English" : "中文：切换到中文");
  }
}
