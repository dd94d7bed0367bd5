"""The rules planner: deterministic, no model. The embedded default and the LLM's fallback.

It reads the message (agents/reading.py: customers linked to the ledger, amounts, dates, intent, purpose) and
reads it against the conversation so far (agents/conversation.py), giving a Plan or a clarifying question.
"""
from __future__ import annotations

import datetime as dt

from agents.conversation import Conversation, Resolution, resolve
from agents.linking import CustomerLinker
from agents.plan import Plan
from agents.reading import Reader, Reading


class RulesPlanner:
    name = "rules"

    def __init__(self, linker: CustomerLinker | None = None):
        self.reader = Reader(linker)

    def read(self, message: str, today: dt.date, focus: str | None = None) -> Reading:
        return self.reader.read(message, today, focus=focus)

    def resolve(self, message: str, conv: Conversation | None, today: dt.date) -> tuple[Resolution, Reading]:
        conv = conv or Conversation()
        reading = self.read(message, today, conv.focus)
        return resolve(reading, conv), reading

    def plan(self, message: str, previous: Plan | None = None, today: dt.date | None = None) -> Plan:
        """The plan alone (no conversation beyond the previous plan): for callers that only route."""
        conv = Conversation(last_plan=previous, focus=previous.customer_id if previous else None)
        res, _ = self.resolve(message, conv, today or dt.date(2026, 1, 1))
        return res.plan
