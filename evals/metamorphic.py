"""The metamorphic suite: every core case rewritten so that only its surface changes.

Each variant changes one thing the operator might write differently; what the agent decides must
not change: the intent, the customer, the outcome, the deciding rule and the ledger's end state
(modulo a renamed id). Transformations (pure functions, seeded, deterministic):

    id:<format>        every customer renamed, in the fixture, the message and the expectations:
                       digits (4402198812), cus (CUS-004417, typed in lower case), zx (ZX2024-0917),
                       m (m_20931), fullwidth (CUS-… in the ledger, typed ＣＵＳ－００４４１７)
    amount:<notation>  4千, 四千元, ¥4,000.00, 4k, RMB 4000, 4000块, 0.4万 (exactly the same value)
    date:<notation>    2026年1月15日, 2026-01-15, 2026/1/15, 15/01/2026 (day > 12 only), Jan 15, 2026,
                       15 January 2026; a case with no date in its message gets its date written in
                       ("as of …" / "截至…") and is run on another session date, one on which
                       the rules decide differently (so a reply on the session date fails)
    lang:twin          the generator's twin in the other language (same rule path, same customer)
    lang:glossary      the message translated with the generator's own templates and purposes
    filler, typo, order  polite filler; one adjacent-letter swap or dropped letter in one English
                       keyword; the customer id moved to the end ("…, for customer X" / "…，客户X")

    .venv/bin/python -m evals.metamorphic [--out FILE]   # counts per transformation; optionally dump YAML

`riskdesk eval run metamorphic` builds the suite from evals/suites/core.yaml on the fly: the core
cases that have a variant (tag `meta:original`) and their variants (tags `meta:<transformation>`,
`meta_of:<original id>`, `meta_rename:<old>><new>`). evals/invariance.py scores it.
"""
from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import random
import re
from decimal import Decimal
from typing import Any, Callable

from evals import generate as G
from evals import oracle as O
from evals.cases import Case, dump_suite, load_suite
from evals.invariance import ORIGINAL, transformation
from evals.notations import (AMOUNT_NOTATIONS, DATE_NOTATIONS, ID_FORMATS, date_span, id_map, rename_fixture,
                             rewrite_amount, sub_ids, typed_id, with_date)

SEED = 13
SUITE = "metamorphic"
# session dates tried for a case whose date is written into its message: the first on which the rules
# (evals/oracle.py) decide differently, so that a reply on the session date instead fails the case
DATE_SHIFTS = tuple(dt.timedelta(days=n) for n in (30, -30, 90, -90, 180, -180, 365, -365))

# ---------------------------------------------------------------- wording
FILLER = {"zh": (["麻烦帮我看一下，", "你好，", "您好，请问", "在吗？"], ["，谢谢", "，麻烦了", "～多谢", ""]),
          "en": (["hi, quick one: ", "hello, ", "hey team, ", "morning! "], [" thx", ", thanks!", " pls", ""])}
KEYWORDS = ("credit", "limit", "available", "quota", "temporary", "repair", "repaired", "eligible", "overdue",
            "records", "request", "check", "approved", "automatically", "purposes", "prohibited", "requirements",
            "eligibility", "financing", "materials", "subsidy", "interest", "valid", "maximum", "amount", "checks")


def filler(msg: str, lang: str, rng: random.Random) -> str:
    pre, post = FILLER[lang]
    return rng.choice(pre) + msg + rng.choice(post)


def typo(msg: str, rng: random.Random) -> str | None:
    """One adjacent-letter swap or one dropped letter inside one English keyword."""
    hits = [m for m in re.finditer(r"[A-Za-z]+", msg) if m.group(0).lower() in KEYWORDS]
    if not hits:
        return None
    m = rng.choice(hits)
    w = m.group(0)
    i = rng.randint(1, len(w) - 2)
    if rng.random() < 0.5 and w[i] != w[i + 1]:
        new = w[:i] + w[i + 1] + w[i] + w[i + 2:]
    else:
        new = w[:i] + w[i + 1:]
    return msg[:m.start()] + new + msg[m.end():]


# The generator's templates with the customer id moved (to the end; to the front where it already ends).
ID_LAST = {
    "What's {c}'s available credit?": "What's the available credit, for customer {c}?",
    "How much credit does {c} have left?": "How much credit is left, for customer {c}?",
    "Check the credit limit for {c}": "{c}: check the credit limit",
    "{c} credit limit please": "credit limit please, for customer {c}",
    "查一下{c}的额度": "查一下额度，客户{c}",
    "{c}还有多少可用额度？": "还有多少可用额度？客户{c}",
    "{c}的信用额度是多少": "信用额度是多少，客户{c}",
    "帮我看看{c}的剩余额度": "帮我看看剩余额度，客户{c}",
    "{c} temp quota {a} {p}": "temp quota {a} {p}, for customer {c}",
    "Please request a temporary quota of {a} yuan for {c} {p}": "Please request a temporary quota of {a} yuan {p}, for customer {c}",
    "Temporary quota for {c}: {a} yuan {p}": "Temporary quota: {a} yuan {p}, for customer {c}",
    "给{c}申请{a}元临时额度，{p}": "申请{a}元临时额度，{p}，客户{c}",
    "{c}要临时额度{a}元，{p}": "要临时额度{a}元，{p}，客户{c}",
    "帮{c}开{a}元临额，{p}": "开{a}元临额，{p}，客户{c}",
    "Is {c} eligible for the one-time credit repair?": "Eligible for the one-time credit repair? customer {c}",
    "Check the credit repair for {c}": "{c}: check the credit repair",
    "Can {c}'s overdue records be repaired under the PBOC one-time credit repair?":
        "Can the overdue records be repaired under the PBOC one-time credit repair, for customer {c}?",
    "{c}能做信用修复吗？": "能做信用修复吗？客户{c}",
    "查一下{c}的一次性信用修复": "查一下一次性信用修复，客户{c}",
    "{c}的逾期记录能修复吗": "逾期记录能修复吗，客户{c}",
}
TEMPLATES = {("limit", "zh"): G.LIMIT_ZH, ("limit", "en"): G.LIMIT_EN, ("tq", "zh"): G.TQ_ZH, ("tq", "en"): G.TQ_EN,
             ("repair", "zh"): G.REPAIR_ZH, ("repair", "en"): G.REPAIR_EN}
_SLOT = {"c": r"[A-Za-z0-9_-]+", "a": r"\d+(?:\.\d+)?", "p": r".+"}


def parse_template(msg: str, lang: str) -> tuple[str, int, str, dict[str, str]] | None:
    """(kind, index, template, slots) of the generator template the message was written from."""
    for (kind, tl), temps in TEMPLATES.items():
        if tl != lang:
            continue
        for i, t in enumerate(temps):
            rx = re.sub(r"\\\{([cap])\\\}", lambda m: f"(?P<{m.group(1)}>{_SLOT[m.group(1)]})", re.escape(t))
            m = re.fullmatch(rx, msg)
            if m:
                return kind, i, t, m.groupdict()
    return None


def id_last(msg: str, lang: str) -> str | None:
    p = parse_template(msg, lang)
    return None if p is None else ID_LAST[p[2]].format(**p[3])


def translate(msg: str, lang: str) -> str | None:
    """zh <-> en with the generator's templates (the next template, so not the twin's wording) and
    its purpose phrases as the glossary."""
    p = parse_template(msg, lang)
    if p is None:
        return None
    kind, i, _, slots = p
    other = "en" if lang == "zh" else "zh"
    if "p" in slots:
        key = next((k for k, v in G.PURPOSES.items() if v[0 if lang == "zh" else 1] == slots["p"]), None)
        if key is None:
            return None
        slots["p"] = G.PURPOSES[key][0 if other == "zh" else 1]
    temps = TEMPLATES[(kind, other)]
    return temps[(i + 1) % len(temps)].format(**slots)


# ---------------------------------------------------------------- cases
def _mentioned(case: dict) -> list[str]:
    """Customer ids the case's expectations name (tool args, customer, end state)."""
    ids = []
    for t in case["turns"]:
        e = t.get("expect") or {}
        ids += [e.get("customer_id")] + [(c.get("args") or {}).get("customer_id") for c in e.get("tool_calls") or []]
    es = case.get("end_state") or {}
    ids += [g["customer_id"] for g in (es.get("grants") or []) + (es.get("approvals") or [])]
    return list(dict.fromkeys(i for i in ids if i))


def _variant(orig: dict, name: str, **changes: Any) -> dict:
    v = copy.deepcopy(orig)
    v.update(changes)
    v["id"] = f"{orig['id']}--{name.replace(':', '-')}"
    v["tags"] = [t for t in v.get("tags", []) if not t.startswith("meta")] + [f"meta:{name}", f"meta_of:{orig['id']}"]
    return v


def _says(case: dict) -> list[int]:
    return [i for i, t in enumerate(case["turns"]) if t.get("say") is not None]


def _map_strings(obj: Any, f: Callable[[str], str]) -> Any:
    if isinstance(obj, str):
        return f(obj)
    if isinstance(obj, list):
        return [_map_strings(x, f) for x in obj]
    if isinstance(obj, dict):
        return {k: _map_strings(v, f) for k, v in obj.items()}
    return obj


@functools.lru_cache(maxsize=16)
def _fixture(raw: bytes) -> dict:
    """A case's ledger fixture, parsed once per distinct fixture (never mutated: renaming copies it)."""
    return json.loads(raw)


@functools.lru_cache(maxsize=64)
def _renamed(raw: bytes, fmt: str, seed: int) -> dict:
    """The fixture with every customer renamed into `fmt`: one renaming per fixture, shared by its cases."""
    fixture = _fixture(raw)
    return rename_fixture(fixture, id_map([c["customer_id"] for c in fixture.get("customers", [])], fmt, (), seed))


def id_variants(case: dict, raw: bytes, seed: int) -> list[dict]:
    ids = _mentioned(case)
    ledger_ids = [c["customer_id"] for c in _fixture(raw).get("customers", [])]
    if not ids or not any(i in t.get("say", "") for t in case["turns"] if t.get("say") for i in ids):
        return []
    out = []
    for fmt in ID_FORMATS:
        full = id_map(ledger_ids, fmt, ids, seed)
        used = {k: full[k] for k in ids}
        typed = {k: typed_id(fmt, v, k in ledger_ids) for k, v in full.items()}
        v = _variant(case, f"id:{fmt}", ledger=_renamed(raw, fmt, seed))
        for t in v["turns"]:
            if t.get("say") is not None:
                t["say"] = sub_ids(t["say"], typed)
            t["expect"] = _map_strings(t.get("expect") or {}, lambda s: sub_ids(s, full))
        v["end_state"] = _map_strings(v.get("end_state") or {}, lambda s: sub_ids(s, full))
        v["tags"] += [f"meta_rename:{k}>{used[k]}" for k in ids]
        out.append(v)
    return out


def amount_variants(case: dict) -> list[dict]:
    out = []
    for notation in AMOUNT_NOTATIONS:
        v, changed = _variant(case, f"amount:{notation}"), False
        for i in _says(case):
            calls = (case["turns"][i].get("expect") or {}).get("tool_calls") or []
            amounts = {Decimal(str(c["args"]["amount"])) for c in calls if "amount" in (c.get("args") or {})}
            if len(amounts) == 1:
                new = rewrite_amount(case["turns"][i]["say"], amounts.pop(), notation, case["language"])
                if new is not None:
                    v["turns"][i]["say"], changed = new, True
        if changed:
            out.append(v)
    return out


def _decided(intent: str, customer: dict | None, day: dt.date) -> str:
    res = O.limit_decide(customer, day) if intent == "limit_lookup" else O.repair_decide(customer, day)
    return json.dumps(res, default=str, sort_keys=True)


def session_day(case: dict, fixture: dict, day: dt.date) -> dt.date:
    """The session date for a case asked 'as of `day`' in its message (see DATE_SHIFTS)."""
    cid = (case["turns"][0].get("expect") or {}).get("customer_id")
    customer = next((c for c in fixture.get("customers", []) if c["customer_id"] == cid), None)
    asked = _decided(case["intent"], customer, day)
    return next((day + s for s in DATE_SHIFTS if _decided(case["intent"], customer, day + s) != asked), day + DATE_SHIFTS[0])


def date_variants(case: dict, fixture: dict, seed: int) -> list[dict]:
    says = _says(case)
    dated = [i for i in says if date_span(case["turns"][i]["say"])]
    session = None
    if dated:
        day = date_span(case["turns"][dated[0]]["say"])[2]
    elif len(case["turns"]) == 1 and says and case["intent"] in ("limit_lookup", "repair_check"):
        day, dated = dt.date.fromisoformat(str(case["as_of"])), says
        session = session_day(case, fixture, day)
    else:
        return []
    out = []
    for notation in DATE_NOTATIONS:
        rng = random.Random(f"{seed}:{case['id']}:date:{notation}")
        new = with_date(case["turns"][dated[0]]["say"], day, notation, case["language"], rng)
        if new is None:
            continue
        v = _variant(case, f"date:{notation}")
        v["turns"][dated[0]]["say"] = new
        if session is not None:
            v["as_of"] = session.isoformat()
        out.append(v)
    return out


def twin_id(case_id: str) -> str:
    parts = case_id.split("-")
    return "-".join({"zh": "en", "en": "zh"}.get(p, p) for p in parts)


def lang_variants(case: dict, by_id: dict[str, dict]) -> list[dict]:
    out = []
    twin = by_id.get(twin_id(case["id"]))
    if twin is not None and twin["id"] != case["id"]:
        out.append(_variant({**copy.deepcopy(twin), "id": case["id"], "tags": case.get("tags", [])}, "lang:twin"))
    says = _says(case)
    moved = {i: translate(case["turns"][i]["say"], case["language"]) for i in says}
    if says and all(moved.values()):
        v = _variant(case, "lang:glossary", language="en" if case["language"] == "zh" else "zh")
        for i, msg in moved.items():
            v["turns"][i]["say"] = msg
        out.append(v)
    return out


def wording_variants(case: dict, seed: int) -> list[dict]:
    out = []
    says = _says(case)
    if not says:
        return out
    lang, first = case["language"], says[0]
    v = _variant(case, "filler")
    v["turns"][first]["say"] = filler(case["turns"][first]["say"], lang, random.Random(f"{seed}:{case['id']}:filler"))
    out.append(v)
    rng = random.Random(f"{seed}:{case['id']}:typo")
    for i in says:
        new = typo(case["turns"][i]["say"], rng) if lang == "en" else None
        if new is not None:
            v = _variant(case, "typo")
            v["turns"][i]["say"] = new
            out.append(v)
            break
    if _mentioned(case):
        v, changed = _variant(case, "order"), False
        for i in says:
            new = id_last(case["turns"][i]["say"], lang)
            if new is not None:
                v["turns"][i]["say"], changed = new, True
        if changed:
            out.append(v)
    return out


def _plain(case: Case) -> dict:
    """The case as it was written (fields left unset stay unset: `outcome: null` is not a default)."""
    return case.model_dump(mode="json", exclude={"suite", "source_dir"}, exclude_unset=True)


def variants_of(case: Case, by_id: dict[str, dict], seed: int = SEED) -> list[dict]:
    d = _plain(case)
    raw = case.ledger_json()
    return (id_variants(d, raw, seed) + amount_variants(d) + date_variants(d, _fixture(raw), seed) + lang_variants(d, by_id)
            + wording_variants(d, seed))


def build(core: list[Case] | None = None, seed: int = SEED) -> list[Case]:
    """The suite: each core case that has a variant (tagged meta:original), followed by its variants."""
    core = core if core is not None else load_suite("core")
    by_id = {c.id: _plain(c) for c in core}
    out: list[Case] = []
    for case in core:
        vs = variants_of(case, by_id, seed)
        if not vs:
            continue
        extra = {"source_dir": case.source_dir} if not isinstance(case.ledger, dict) and case.ledger != "sample" else {}
        out.append(case.model_copy(update={"suite": SUITE, "tags": case.tags + [ORIGINAL]}))
        out += [Case.model_validate({**v, "suite": SUITE, **extra}) for v in vs]
    return out


def counts(cases: list[Case]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in cases:
        t = transformation(c.tags)
        if t:
            out[t] = out.get(t, 0) + 1
    return dict(sorted(out.items()))


def main(argv: list[str] | None = None) -> None:
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="write the suite as YAML (for reading; the CLI builds it on the fly)")
    args = ap.parse_args(argv)
    cases = build()
    n = counts(cases)
    print(f"{len(cases) - sum(n.values())} originals, {sum(n.values())} variants")
    for k, v in n.items():
        print(f"  {k:18s} {v}")
    if args.out:
        from pathlib import Path
        dump_suite([_plain(c) for c in cases], Path(args.out))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
