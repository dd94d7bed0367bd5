"""Installment repayment check (分期还款资格核查), the sample lender's own rules IP1–IP3.

IP1 standing: account active, KYC verified, no overdue record still unrepaid on the as-of date.
IP2 balance: at least 600 yuan used on the credit line can be converted into installments.
IP3 terms: risk tier A or B up to 12 monthly installments, tier C up to 6; tier D cannot convert.
The first failing rule decides an ineligible result and is the one cited.
"""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from tools.dates import AsOf
from tools.errors import validate_input
from tools.money import Yuan, fmt_yuan
from tools.registry import Tool

MIN_BALANCE = Decimal("600")
TERMS = {"A": 12, "B": 12, "C": 6}
HERE = Path(__file__).resolve().parent
CLAUSES = {"IP1": "LENDER-IP-IP1", "IP2": "LENDER-IP-IP2", "IP3": "LENDER-IP-IP3"}


class InstallmentInput(BaseModel):
    """Check whether a customer's used balance can be repaid in monthly installments (分期还款), and in how many."""

    customer_id: str = Field(min_length=1, max_length=32, description="Customer id as the ledger holds it.")
    as_of: AsOf


class InstallmentResult(BaseModel):
    tool: Literal["installment_check"] = "installment_check"
    outcome: Literal["eligible", "ineligible", "not_found"]
    customer_id: str
    as_of: dt.date
    balance: Yuan | None = Field(default=None, description="The used balance that would be converted.")
    max_terms: int | None = Field(default=None, description="IP3: the most monthly installments.")
    monthly_amount: Yuan | None = Field(default=None, description="balance / max_terms, to the fen.")
    deciding_rule: Literal["IP1", "IP2", "IP3"] | None = None
    reasons: list[str] = Field(default_factory=list)
    rules_applied: list[str] = Field(default_factory=list)


def installment_check(ledger, customer_id: str, as_of: dt.date) -> InstallmentResult:  # noqa: ANN001
    a = validate_input(InstallmentInput, "installment check", customer_id=customer_id, as_of=as_of)
    c = ledger.customer(a.customer_id)
    if c is None:
        return InstallmentResult(outcome="not_found", customer_id=a.customer_id, as_of=a.as_of)
    base = dict(customer_id=c.customer_id, as_of=a.as_of, balance=c.credit_line.used)
    reasons = []
    if c.status.value != "active":
        reasons.append(f"account_{c.status.value}")
    if not c.kyc_verified:
        reasons.append("kyc_not_verified")
    if any(r.repaid_on is None or r.repaid_on > a.as_of for r in c.overdue_records):
        reasons.append("unrepaid_overdue")
    if reasons:
        return InstallmentResult(**base, outcome="ineligible", deciding_rule="IP1", reasons=reasons, rules_applied=["IP1"])
    if c.credit_line.used < MIN_BALANCE:
        return InstallmentResult(**base, outcome="ineligible", deciding_rule="IP2", reasons=["balance_below_600"],
                                 rules_applied=["IP1", "IP2"])
    terms = TERMS.get(c.risk_tier.value)
    if terms is None:
        return InstallmentResult(**base, outcome="ineligible", deciding_rule="IP3",
                                 reasons=[f"risk_tier_{c.risk_tier.value.lower()}"], rules_applied=["IP1", "IP2", "IP3"])
    monthly = (c.credit_line.used / terms).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return InstallmentResult(**base, outcome="eligible", max_terms=terms, monthly_amount=monthly,
                             rules_applied=["IP1", "IP2", "IP3"])


_WHY = {"IP1": ("the account is not in good standing", "账户状态不符合（需正常、已实名认证、无未还清逾期）"),
        "IP2": ("the used balance is below the minimum that can be converted", "已用额度低于可分期的最低金额"),
        "IP3": ("the risk tier cannot convert to installments", "该风险等级不能办理分期")}


def reply(lang: str, r: dict) -> str:
    """The template reply: every figure from the result, the deciding clause cited."""
    zh = lang == "zh"
    cid = r["customer_id"]
    if r["outcome"] == "not_found":
        return f"账本中未找到客户{cid}。" if zh else f"Customer {cid} was not found in the ledger."
    if r["outcome"] == "eligible":
        bal, mon = fmt_yuan(Decimal(r["balance"])), fmt_yuan(Decimal(r["monthly_amount"]))
        if zh:
            return (f"客户{cid}（截至{r['as_of']}）符合分期还款条件：已用额度¥{bal}最多可分{r['max_terms']}期，"
                    f"每期约¥{mon} [{CLAUSES['IP3']}]。")
        return (f"{cid} as of {r['as_of']} is eligible for installment repayment: the used balance ¥{bal} can be "
                f"repaid in up to {r['max_terms']} monthly installments of about ¥{mon} [{CLAUSES['IP3']}].")
    rule = r["deciding_rule"]
    en, zh_why = _WHY[rule]
    if zh:
        return f"客户{cid}（截至{r['as_of']}）不符合分期还款条件：{zh_why} [{CLAUSES[rule]}]。"
    return f"{cid} as of {r['as_of']} is not eligible for installment repayment: {en} [{CLAUSES[rule]}]."


TOOL = Tool(
    "installment_check", InstallmentInput, InstallmentResult, installment_check,
    rules=dict(CLAUSES), writes=False, role="viewer",
    keywords=("分期还款", "分期", "installment", "installments", "instalment", "instalments"),
    reply=reply, corpus=HERE / "corpus", evals=HERE / "evals" / "installment.yaml", source="riskdesk-installment")
