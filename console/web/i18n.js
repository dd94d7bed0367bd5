// UI chrome in Chinese and English. Answers come from the desk in the operator's own language.
export const STRINGS = {
  zh: {
    subtitle: "风控助手",
    signInTitle: "登录",
    signInHint: "输入 API 密钥。密钥仅保存在本标签页（sessionStorage）。",
    apiKey: "API 密钥",
    signIn: "登录",
    signOut: "退出",
    badKey: "密钥无效",
    threads: "会话",
    newThread: "新会话",
    noThreads: "暂无会话",
    turnsN: (n) => `${n} 轮`,
    pending: "待审批",
    refresh: "刷新",
    noPending: "没有待审批的临时额度",
    approve: "批准",
    reject: "拒绝",
    emptyHint: "用中文或英文提问，例如：",
    asOf: "评估日期",
    send: "发送",
    thinking: "处理中…",
    details: "本轮详情",
    detailsEmpty: "点选一条回答，查看工具调用、引用条款和核验结果。",
    guard: "核验",
    grounded: "已核验：回答中的数字、日期、编号均有依据",
    ungrounded: "未通过核验",
    claims: "项已核对",
    toolCalls: "工具调用",
    noTools: "本轮未调用工具",
    citations: "引用条款",
    noCitations: "无引用",
    trace: "追踪号",
    planner: "规划器",
    outcome: "结果",
    approvalPending: "待主管审批",
    role: { viewer: "查看员", operator: "操作员", supervisor: "主管" },
    steps: {
      supervisor: "理解请求", risk_operator: "调用工具", policy_researcher: "检索条款",
      composer: "撰写回答", compliance_reviewer: "合规核验", deliver: "完成", await_approval: "等待审批",
    },
    outcomes: {
      found: "已查到", not_found: "未找到", approved: "已批准", needs_approval: "需审批", denied: "已拒绝",
      eligible: "符合条件", partially_eligible: "部分符合", ineligible: "不符合", no_records: "无记录",
    },
    error: "出错了",
    approvedBy: "审批完成",
  },
  en: {
    subtitle: "risk desk",
    signInTitle: "Sign in",
    signInHint: "Enter your API key. It is kept in this tab only (sessionStorage).",
    apiKey: "API key",
    signIn: "Sign in",
    signOut: "Sign out",
    badKey: "Unknown API key",
    threads: "Threads",
    newThread: "New thread",
    noThreads: "No threads yet",
    turnsN: (n) => `${n} turn${n === 1 ? "" : "s"}`,
    pending: "Pending approvals",
    refresh: "Refresh",
    noPending: "No temporary quota awaits approval",
    approve: "Approve",
    reject: "Reject",
    emptyHint: "Ask in Chinese or English, for example:",
    asOf: "As of",
    send: "Send",
    thinking: "Working…",
    details: "Turn details",
    detailsEmpty: "Select an answer to see its tool calls, cited clauses and guard verdict.",
    guard: "Guard",
    grounded: "Grounded: every number, date and id in the reply has evidence",
    ungrounded: "Not grounded",
    claims: "claims checked",
    toolCalls: "Tool calls",
    noTools: "No tool was called",
    citations: "Citations",
    noCitations: "No citations",
    trace: "Trace",
    planner: "Planner",
    outcome: "Outcome",
    approvalPending: "Awaiting a supervisor",
    role: { viewer: "viewer", operator: "operator", supervisor: "supervisor" },
    steps: {
      supervisor: "Planning", risk_operator: "Calling tools", policy_researcher: "Finding clauses",
      composer: "Composing", compliance_reviewer: "Checking the reply", deliver: "Done", await_approval: "Awaiting approval",
    },
    outcomes: {
      found: "found", not_found: "not found", approved: "approved", needs_approval: "needs approval", denied: "denied",
      eligible: "eligible", partially_eligible: "partially eligible", ineligible: "ineligible", no_records: "no records",
    },
    error: "Error",
    approvedBy: "Decided",
  },
};

let lang = sessionStorage.getItem("riskdesk.lang") || ((navigator.language || "zh").startsWith("zh") ? "zh" : "en");

export function getLang() { return lang; }

export function setLang(value) {
  lang = value;
  sessionStorage.setItem("riskdesk.lang", value);
  document.documentElement.lang = value === "zh" ? "zh-CN" : "en";
  applyStrings();
}

export function t(key) {
  const parts = key.split(".");
  let v = STRINGS[lang];
  for (const p of parts) v = v && v[p];
  return v ?? key;
}

export function applyStrings(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  const msg = document.getElementById("message");
  if (msg) msg.placeholder = lang === "zh" ? "输入问题，Enter 发送，Shift+Enter 换行" : "Ask a question — Enter to send, Shift+Enter for a new line";
  const btn = document.getElementById("lang");
  if (btn) btn.textContent = lang === "zh" ? "EN" : "中文";
}
