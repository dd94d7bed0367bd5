"""Pydantic models of the knowledge base: a clause, a search hit, an ingest report."""
from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

OPEN_END = 99991231  # effective_to "open", as integer metadata


def date_int(d: dt.date | None) -> int:
    """YYYYMMDD as an int (None = open-ended)."""
    return OPEN_END if d is None else d.year * 10000 + d.month * 100 + d.day


def int_date(n: int) -> dt.date | None:
    return None if n >= OPEN_END else dt.date(n // 10000, n // 100 % 100, n % 100)


class Clause(BaseModel):
    """One clause of a policy document, in Chinese and English."""
    model_config = ConfigDict(frozen=True)

    clause_id: str
    doc_id: str
    title: str
    issuer: str
    text_zh: str
    text_en: str
    effective_from: dt.date
    effective_to: dt.date | None = Field(default=None, description="None = open-ended")
    version: str
    source: str

    def in_force(self, as_of: dt.date) -> bool:
        return self.effective_from <= as_of and (self.effective_to is None or as_of <= self.effective_to)


class ClauseHit(BaseModel):
    """A search result: the clause text in the query's language and a fused score (higher is better)."""
    clause_id: str
    doc_id: str
    title: str
    text: str
    language: str
    score: float
    effective_from: dt.date
    effective_to: dt.date | None = None


class IngestReport(BaseModel):
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    documents: int = 0
    clauses: int = 0
