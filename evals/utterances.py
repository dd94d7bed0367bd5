"""Intent accuracy and slot F1 of the message reader on the labelled utterance set (evals/utterances/).

    python -m evals.utterances            # train and dev (what the reader may be tuned on)
    python -m evals.utterances --split test   # the held-out split: report it, never tune on it

Each utterance is read with the rules planner against the third lender's ledger (evals/fixtures/lender3_ledger.json),
as a single message with no conversation. Slots scored: customer ids, amount (or its problem), date (or its problem),
purpose category (the real use). Slot F1 is micro-averaged over (slot, value) pairs.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
UTTERANCES = HERE / "utterances"
LEDGER = HERE / "fixtures" / "lender3_ledger.json"
TODAY = dt.date(2026, 11, 23)


def load(split: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (UTTERANCES / f"{split}.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]


def _gold_slots(u: dict[str, Any]) -> set[tuple[str, str]]:
    slots = {("customer", c) for c in u.get("customer_ids") or []}
    if u.get("amount_problem"):
        slots.add(("amount", "problem"))
    elif u.get("amount") is not None and u["intent"] == "temp_quota":
        slots.add(("amount", str(Decimal(str(u["amount"])).normalize())))
    if u.get("date_problem"):
        slots.add(("date", "problem"))
    elif u.get("as_of"):
        slots.add(("date", u["as_of"]))
    if u["intent"] == "temp_quota" and u.get("purpose_category"):
        slots.add(("purpose", u["purpose_category"]))
    return slots


def _read_slots(reading: Any, res: Any, u: dict[str, Any]) -> set[tuple[str, str]]:
    slots = {("customer", c) for c in reading.customers} | {("customer", t) for t in reading.unknown_ids}
    if reading.amount_problem and reading.amount_problem != "several":
        slots.add(("amount", "problem"))
    elif reading.amount is not None and res.plan.intent.value == "temp_quota":
        slots.add(("amount", str(reading.amount.normalize())))
    if reading.date_problem is not None:
        slots.add(("date", "problem"))
    elif res.plan.as_of:
        slots.add(("date", res.plan.as_of.isoformat()))
    if res.plan.intent.value == "temp_quota" and u["intent"] == "temp_quota":
        cat = reading.purpose.category.value if reading.purpose.category else ("unclassified" if reading.purpose.stated else None)
        if cat:
            slots.add(("purpose", cat))
    return slots


def evaluate(split: str, verbose: bool = False) -> dict[str, Any]:
    from agents.conversation import Conversation
    from agents.linking import CustomerLinker
    from agents.planner_rules import RulesPlanner
    from tools.ledger import Ledger

    planner = RulesPlanner(CustomerLinker(Ledger.from_file(LEDGER)))
    rows = load(split)
    correct, by_intent, by_lang = 0, defaultdict(Counter), defaultdict(Counter)
    tp = fp = fn = 0
    errors = []
    for u in rows:
        res, reading = planner.resolve(u["text"], Conversation(), TODAY)
        got = res.plan.intent.value
        ok = got == u["intent"]
        correct += ok
        by_intent[u["intent"]]["n"] += 1
        by_intent[u["intent"]]["ok"] += ok
        by_lang[u["lang"]]["n"] += 1
        by_lang[u["lang"]]["ok"] += ok
        gold, pred = _gold_slots(u), _read_slots(reading, res, u)
        tp, fp, fn = tp + len(gold & pred), fp + len(pred - gold), fn + len(gold - pred)
        if not ok or gold != pred:
            errors.append({"id": u["id"], "text": u["text"], "intent": u["intent"], "got": got,
                           "missing": sorted(gold - pred), "extra": sorted(pred - gold)})
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    out = {"split": split, "n": len(rows), "intent_accuracy": round(correct / len(rows), 4),
           "slot_precision": round(p, 4), "slot_recall": round(r, 4), "slot_f1": round(2 * p * r / (p + r) if p + r else 0, 4),
           "by_intent": {k: round(v["ok"] / v["n"], 4) for k, v in sorted(by_intent.items())},
           "by_language": {k: round(v["ok"] / v["n"], 4) for k, v in sorted(by_lang.items())}}
    if verbose:
        out["errors"] = errors
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", action="append", choices=["train", "dev", "test"])
    ap.add_argument("--errors", action="store_true", help="list the misread utterances")
    args = ap.parse_args()
    for split in args.split or ["train", "dev"]:
        res = evaluate(split, verbose=args.errors)
        errors = res.pop("errors", [])
        print(json.dumps(res, ensure_ascii=False))
        for e in errors:
            print("   ", json.dumps(e, ensure_ascii=False))


if __name__ == "__main__":
    main()
