"""Audit records: one per turn, personal data masked, stored in SQLite (or any SQLAlchemy URL).

Masked twice over: the operator's message is masked before the turn starts (agents/desk.py), and every
string of a record is masked again when it is written and when it is read back.

A record holds the masked message, the plan, the planner backend and model, which planner each slot of the
plan came from (and why, when the rules' reading replaced the model's), LLM calls and tokens, retrieved clause ids,
tool calls with arguments and results, the draft and delivered replies, both guard verdicts,
the roles that acted, and per-node timings.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterator

from pydantic import BaseModel, Field
from sqlalchemy import create_engine, event, func, select
from sqlalchemy.engine import Engine

from agents.contract import GuardVerdict, ToolCall
from storage import normalise, sqlite_path, store_url
from storage.migrate import ensure
from storage.schema import audit_t, threads_t  # noqa: F401 - imported from here by others
from tools.privacy import Keep, mask_text

# The tables (audit, service_threads, approval_threads) live in storage/schema.py; migrations in
# storage/migrations/audit.


class AuditRecord(BaseModel):
    trace_id: str
    thread_id: str
    created_at: str = Field(description="Wall-clock time the record was written (UTC); rules never read it.")
    caller: str = Field(default="cli", description="Who called: 'cli', an API key's name, 'python'.")
    role: str
    as_of: str
    message: str
    plan: dict[str, Any] | None = None
    planner: str
    llm_model: str | None = None
    planner_fallback: str | None = None
    agents: list[str] = Field(default_factory=list, description="The team members that acted, in order.")
    retrieved: list[str] = Field(default_factory=list)
    cited: list[str] = Field(default_factory=list)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    draft: str | None = None
    draft_source: str = "template"
    draft_guard: GuardVerdict | None = None
    reply: str
    guard: GuardVerdict
    quoted: list[str] = Field(default_factory=list, description="Operator text the delivered reply quotes, marked "
                              "as theirs (所述用途「…」 / stated purpose \"…\"); the guard read no claim inside these.")
    revisions: int = 0
    llm_calls: int = 0
    llm_tokens: int | None = Field(default=None, description="Tokens of the turn's LLM calls, as the endpoint reported "
                                   "them (None: no LLM configured).")
    slot_sources: dict[str, dict[str, Any]] = Field(default_factory=dict, description=(
        "The LLM plan checked slot by slot (agents/plan_check.py): slot -> {source: llm|rules, reason, proposed}. "
        "Empty when the LLM planner was not asked (none configured, or the rules asked a question)."))
    timings_ms: dict[str, float] = Field(default_factory=dict)


def masked(record: AuditRecord, names: list[str] | tuple[str, ...] = (), keep: Keep | None = None) -> AuditRecord:
    """Mask ID numbers, phone numbers (any notation) and the given customer names in every string of the
    record, nested or not; `keep` spares tokens such as the ledger's customer ids. Numbers in the record are
    not text and are left alone (a JSON number is never rewritten)."""
    data = record.model_dump(mode="json")
    texts = "\n".join(_strings({k: v for k, v in data.items() if k not in _OWN_IDS}))
    if mask_text(texts, tuple(names), keep) == texts:  # one pass when there is nothing to mask
        return record
    return AuditRecord.model_validate(mask_strings(data, names, keep))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


_OWN_IDS = frozenset({"trace_id", "approval_id"})


def mask_strings(value: Any, names: list[str] | tuple[str, ...] = (), keep: Keep | None = None) -> Any:
    """`mask_text` applied to every string inside dicts and lists."""
    if isinstance(value, str):
        return mask_text(value, tuple(names), keep)
    if isinstance(value, dict):  # ids the desk makes itself (hex) are no personal data: a digit run in one is not a phone
        return {k: v if k in _OWN_IDS else mask_strings(v, names, keep) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_strings(v, names, keep) for v in value]
    return value


def default_audit_url() -> str:
    """RISKDESK_AUDIT_URL, else RISKDESK_DATABASE_URL (the shared database), else $RISKDESK_HOME/audit.sqlite3."""
    return store_url("audit")


class AuditLog:
    def __init__(self, url: str | None = None):
        url = normalise(url or default_audit_url())
        if (path := sqlite_path(url)) is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = ({"connect_args": {"check_same_thread": False, "timeout": 30}} if url.startswith("sqlite")
                                  else {"pool_size": 10, "max_overflow": 20, "pool_recycle": 1800})
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            _wal(self.engine)
        ensure(self.engine, "audit")  # the schema at this code's revision (storage/migrate.py)
        self._mask_names: tuple[str, ...] = ()
        self._keep: Keep | None = None

    def mask_with(self, names: list[str] | tuple[str, ...], keep: Keep | None = None) -> None:
        """Names to mask and tokens to spare (the ledger's) when records are read back: records written before
        masking covered every notation are masked on the way out as well."""
        self._mask_names, self._keep = tuple(names), keep

    def _read(self, raw: str) -> AuditRecord:
        return masked(AuditRecord.model_validate_json(raw), self._mask_names, self._keep)

    def write(self, record: AuditRecord, owner: str | None = None) -> None:
        """Store one turn's record; with `owner`, claim the record's thread for it in the same transaction
        (a thread keeps its first owner)."""
        self.write_rows([(audit_row(record), owner)])

    def write_rows(self, group: list[tuple[dict[str, str], str | None]]) -> None:
        """Store records as rows (audit_row) in one transaction, each with the owner that claims its thread or
        None, in order (a thread keeps its first owner): one commit for the group."""
        claims = [{"thread_id": row["thread_id"], "owner": owner, "created_at": row["created_at"]}
                  for row, owner in group if owner is not None]
        with self.engine.begin() as conn:
            conn.execute(_INSERT_RECORD, [row for row, _ in group])  # one statement built once; rows as parameters
            if claims and conn.dialect.name in ("sqlite", "postgresql"):  # INSERT … ON CONFLICT DO NOTHING, in order
                conn.execute(_claim_statement(conn.dialect.name), claims)
            else:
                for c in claims:
                    _claim(conn, c["thread_id"], c["owner"], c["created_at"])

    def claim_thread(self, thread_id: str, owner: str) -> None:
        """Open a thread for `owner` (no-op when the thread already has an owner)."""
        with self.engine.begin() as conn:
            _claim(conn, thread_id, owner, now_utc())

    def thread(self, thread_id: str) -> Any:
        """The thread's row (thread_id, owner, created_at), or None."""
        with self.engine.connect() as conn:
            return conn.execute(select(threads_t).where(threads_t.c.thread_id == thread_id)).first()

    def threads(self, owner: str | None = None, limit: int = 50, before: str | None = None) -> list[dict[str, Any]]:
        """Threads newest first (of one owner, or all), each with its turn count and last turn time."""
        turns = (select(audit_t.c.thread_id, func.count().label("turns"), func.max(audit_t.c.created_at).label("last_turn_at"))
                 .group_by(audit_t.c.thread_id).subquery())
        q = (select(threads_t, func.coalesce(turns.c.turns, 0).label("turns"), turns.c.last_turn_at)
             .outerjoin(turns, turns.c.thread_id == threads_t.c.thread_id))
        if owner is not None:
            q = q.where(threads_t.c.owner == owner)
        if before is not None:
            q = q.where(threads_t.c.created_at < before)
        q = q.order_by(threads_t.c.created_at.desc(), threads_t.c.thread_id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def get(self, trace_id: str) -> AuditRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(audit_t.c.record).where(audit_t.c.trace_id == trace_id)).first()
        return self._read(row[0]) if row else None

    def records(self, caller: str | None = None, limit: int = 500) -> list[AuditRecord]:
        """The newest records first (of one caller, or everyone's), at most `limit`."""
        q = select(audit_t.c.record).order_by(audit_t.c.created_at.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        out = [self._read(r[0]) for r in rows]
        return [r for r in out if caller is None or r.caller == caller]

    def matching(self, prefix: str, limit: int = 2) -> list[str]:
        """Trace ids starting with `prefix` (at most `limit`): a unique prefix names one record."""
        if not prefix or not all(c.isalnum() or c in "_-" for c in prefix):
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(select(audit_t.c.trace_id).where(audit_t.c.trace_id.startswith(prefix, autoescape=True))
                                .order_by(audit_t.c.trace_id).limit(limit)).all()
        return [r[0] for r in rows]

    def for_thread(self, thread_id: str) -> list[AuditRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(audit_t.c.record).where(audit_t.c.thread_id == thread_id)
                                .order_by(audit_t.c.created_at)).all()
        return [self._read(r[0]) for r in rows]


def audit_row(record: AuditRecord) -> dict[str, str]:
    """The audit table's row for a record."""
    return {"trace_id": record.trace_id, "thread_id": record.thread_id, "created_at": record.created_at,
            "record": record.model_dump_json()}


_INSERT_RECORD = audit_t.insert()
_CLAIMS: dict[str, Any] = {}  # dialect name -> INSERT ... ON CONFLICT DO NOTHING on service_threads, built once


def _claim_statement(dialect: str) -> Any:
    if dialect not in _CLAIMS:
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        _CLAIMS[dialect] = insert(threads_t).on_conflict_do_nothing(index_elements=["thread_id"])
    return _CLAIMS[dialect]


def _claim(conn: Any, thread_id: str, owner: str, created_at: str) -> None:
    values = {"thread_id": thread_id, "owner": owner, "created_at": created_at}
    if conn.dialect.name in ("sqlite", "postgresql"):
        conn.execute(_claim_statement(conn.dialect.name), values)
    elif conn.execute(select(threads_t.c.thread_id).where(threads_t.c.thread_id == thread_id)).first() is None:
        conn.execute(threads_t.insert().values(**values))


def _wal(engine: Engine) -> None:
    """Write-ahead log: one fsync per committed record instead of a journal file per write, and readers
    (the service, `riskdesk audit show`) never block the writer. Every commit is still durable."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):  # noqa: ANN001
        dbapi_conn.execute("PRAGMA busy_timeout=30000")
        dbapi_conn.execute("PRAGMA journal_mode=WAL")


def now_utc() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
