"""The LLM composer: a short reply in the operator's language from the evidence only.

The prompt carries the masked operator message, the evidence (tool results and cited clause
texts, as sorted JSON, masked as well) and the deterministic template reply. The model may only
restate facts from the evidence and cites clause ids in square brackets. Its draft is checked
afterwards by the compliance reviewer (agents.guard); nothing here trusts it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from agents.llm import LLMClient, LLMUnavailable, Usage, dumps
from tools.privacy import Keep, mask_text

MAX_REPLY_CHARS = 1200
MAX_REPLY_TOKENS = 200
STOP = ["\n"]  # one paragraph, on one line: small models ramble on after it

_SYSTEM = {
    "en": ("You write replies for operators of a consumer-credit risk desk. Decisions were already made by "
           "rules; you only explain them. Use only facts found in the evidence JSON: do not add numbers, "
           "dates, ids or outcomes that are not in it. Cite clause ids in square brackets, like [LENDER-TQ-TQ1]. "
           "Write in English, at most four sentences. If unsure, restate the template reply."),
    "zh": ("你为消费信贷风控台的操作员撰写回复。决定已由规则作出，你只负责解释。只能使用证据JSON中的事实：不得添加证据中没有的"
           "金额、日期、编号或结论。用方括号引用条款编号，例如[LENDER-TQ-TQ1]。用中文回答，最多四句话。"
           "如不确定，就复述模板回复。"),
}


@dataclass
class ComposeOutcome:
    text: str | None
    error: str | None = None
    raw: str = ""
    usage: Usage = field(default_factory=Usage)


class LLMComposer:
    name = "llm"

    def __init__(self, client: LLMClient, *, names: Sequence[str] = (), keep: Keep | None = None) -> None:
        self.client = client
        self.names = tuple(names)
        self.keep = keep  # tokens never masked: the ledger's customer ids, whatever they look like

    def messages(self, language: Literal["zh", "en"], message: str, evidence: dict[str, Any],
                 template_reply: str) -> list[dict[str, str]]:
        lang = "zh" if language == "zh" else "en"
        mask = lambda s: mask_text(s, self.names, self.keep)  # noqa: E731
        payload = mask(dumps(evidence))
        if lang == "zh":
            user = (f"操作员的消息：\n{mask(message)}\n\n证据（JSON）：\n{payload}\n\n"
                    f"模板回复：\n{mask(template_reply)}\n\n请用中文写出简短的回复。")
        else:
            user = (f"Operator message:\n{mask(message)}\n\nEvidence (JSON):\n{payload}\n\n"
                    f"Template reply:\n{mask(template_reply)}\n\nWrite the short reply in English.")
        return [{"role": "system", "content": _SYSTEM[lang]}, {"role": "user", "content": user}]

    def compose(self, language: Literal["zh", "en"], message: str, evidence: dict[str, Any],
                template_reply: str) -> ComposeOutcome:
        try:
            reply = self.client.text(self.messages(language, message, evidence, template_reply),
                                     stop=STOP, max_tokens=MAX_REPLY_TOKENS)
        except LLMUnavailable as e:
            return ComposeOutcome(text=None, error=f"llm_unavailable: {e}")
        text = reply.text.strip()
        if not text:
            return ComposeOutcome(text=None, error="empty_reply", raw=reply.text, usage=reply.usage)
        # A reply cut off by the token cap may end mid-figure ("¥4,30"): never pass it on.
        if reply.finish_reason == "length" or len(text) > MAX_REPLY_CHARS:
            return ComposeOutcome(text=None, error="too_long", raw=reply.text, usage=reply.usage)
        return ComposeOutcome(text=text, raw=reply.text, usage=reply.usage)
