"""The customer ledger: a real database (SQLite embedded, any SQLAlchemy URL such as PostgreSQL).

It stands in for the lender's core system. Fixture files are validated in full before anything
is written; a bad file names the customer and the field and loads nothing.
"""
from __future__ import annotations

import datetime as dt
import json
import threading
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, Iterator

from contextlib import contextmanager, nullcontext
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import bindparam, create_engine, event, func, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from storage import normalise, store_url
from storage.migrate import ensure
from storage.schema import (  # noqa: F401 - the ledger's tables, imported from here by the tools
    approvals_t, customers_t, ledger_meta, overdue_t, requests_t, temp_quotas_t,
)
from tools.money import Yuan, from_fen, to_fen

SAMPLE_LEDGER = Path(__file__).parent / "data" / "sample_ledger.json"


class LedgerError(ValueError):
    """A fixture or store problem, with a message that says what and where."""


# ---------------------------------------------------------------- fixture schema (pydantic)

class RiskTier(str, Enum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"


class AccountStatus(str, Enum):
    active = "active"
    frozen = "frozen"
    closed = "closed"


class Product(str, Enum):
    credit_card = "credit_card"
    consumer_loan = "consumer_loan"
    housing_loan = "housing_loan"
    business_loan = "business_loan"
    credit_line = "credit_line"
    cash_loan = "cash_loan"


class CreditLine(BaseModel):
    limit: Yuan = Field(ge=0)
    used: Yuan = Field(ge=0)


class TempQuota(BaseModel):
    amount: Yuan = Field(gt=0)
    purpose: str
    granted_on: dt.date
    expires_on: dt.date

    def active_on(self, day: dt.date) -> bool:
        return self.granted_on <= day <= self.expires_on


class OverdueRecord(BaseModel):
    record_id: str = Field(min_length=1)
    institution: str
    product: Product
    amount: Yuan = Field(gt=0)
    overdue_since: dt.date
    repaid_on: dt.date | None = None


class CustomerRecord(BaseModel):
    """One customer as it appears in a fixture file (extra fields allowed and kept)."""

    model_config = ConfigDict(extra="allow")

    customer_id: str = Field(min_length=1, max_length=32)
    name: str
    id_number: str
    phone: str
    occupation: str = ""
    risk_tier: RiskTier
    kyc_verified: bool
    opened_on: dt.date
    status: AccountStatus
    credit_line: CreditLine
    temp_quotas: list[TempQuota] = Field(default_factory=list)
    overdue_records: list[OverdueRecord] = Field(default_factory=list)

    @field_validator("temp_quotas", "overdue_records", mode="before")
    @classmethod
    def _none_is_empty(cls, v: Any) -> Any:
        return [] if v is None else v


class LedgerFile(BaseModel):
    customers: list[CustomerRecord]


def parse_ledger(raw: str | bytes, source: str = "<ledger>") -> LedgerFile:
    """Validate a whole fixture; raise LedgerError naming the customer and the field."""
    try:
        data = json.loads(raw, parse_float=Decimal)
    except json.JSONDecodeError as e:
        raise LedgerError(f"{source}: not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("customers"), list):
        raise LedgerError(f'{source}: expected an object with a "customers" list')
    customers, problems, seen = [], [], set()
    for i, item in enumerate(data["customers"]):
        who = item.get("customer_id") if isinstance(item, dict) else None
        label = f"customer {who}" if who else f"customer #{i + 1}"
        try:
            c = CustomerRecord.model_validate(item)
        except ValidationError as e:
            for err in e.errors():
                field = ".".join(str(p) for p in err["loc"]) or "(record)"
                problems.append(f"{label}: field {field}: {err['msg']}")
            continue
        if c.customer_id in seen:
            problems.append(f"{label}: field customer_id: duplicate id")
        seen.add(c.customer_id)
        ids = [r.record_id for r in c.overdue_records]
        if len(ids) != len(set(ids)):
            problems.append(f"{label}: field overdue_records: duplicate record_id")
        for j, q in enumerate(c.temp_quotas):
            if q.expires_on < q.granted_on:
                problems.append(f"{label}: field temp_quotas.{j}.expires_on: before granted_on")
        customers.append(c)
    if problems:
        raise LedgerError(f"{source}: nothing loaded; " + "; ".join(problems))
    return LedgerFile(customers=customers)


# ---------------------------------------------------------------- storage (SQLAlchemy Core)
# The tables live with every other table in storage/schema.py; migrations in storage/migrations/ledger.
metadata = ledger_meta


def default_url() -> str:
    """RISKDESK_LEDGER_URL, else RISKDESK_DATABASE_URL (the shared database), else $RISKDESK_HOME/ledger.sqlite3."""
    return store_url("ledger")


class Ledger:
    """The store. `Ledger.open(url)`; `Ledger.memory()` for tests; `with ledger.write() as conn:`.

    `sandbox` is True for a store loaded from a fixture file (`Ledger.from_file`, `--ledger FILE`, the
    evals): a throwaway copy where any as-of date may date a grant. On a persistent store (False) grants
    and decisions are dated by the deployment's clock, never by a request (agents/clock.py)."""

    def __init__(self, engine: Engine, sandbox: bool = False):
        self.engine = engine
        self.sandbox = sandbox
        # One shared in-memory connection must not interleave transactions across threads.
        self._mutex = threading.RLock() if isinstance(engine.pool, StaticPool) else nullcontext()
        ensure(engine, "ledger")  # the schema at this code's revision (storage/migrate.py)

    @classmethod
    def open(cls, url: str | None = None) -> "Ledger":
        url = normalise(url or default_url())
        if url.startswith("sqlite"):
            if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
                Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            memory = url in ("sqlite://", "sqlite:///:memory:")
            engine = create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": 30},
                poolclass=StaticPool if memory else None,
            )
            _serialise_sqlite_writes(engine)
        else:
            # no ping before each checkout (a round trip per transaction): a connection the server dropped fails
            # one statement, SQLAlchemy then discards the pool, and the next transaction reconnects
            engine = create_engine(url, pool_size=10, max_overflow=20, pool_recycle=1800)
        return cls(engine)

    @classmethod
    def memory(cls) -> "Ledger":
        return cls.open("sqlite://")

    @classmethod
    def from_file(cls, path: str | Path, url: str = "sqlite://") -> "Ledger":
        """A fresh store (in memory by default) loaded from a fixture file."""
        p = Path(path)
        try:
            raw = p.read_bytes()
        except OSError as e:
            raise LedgerError(f"{p}: cannot read ledger file ({e.strerror})") from None
        fixture = parse_ledger(raw, source=str(p))
        ledger = cls.open(url)
        ledger.load(fixture)
        ledger.sandbox = True
        return ledger

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction; SQLite takes its write lock at BEGIN so check-then-write is atomic."""
        with self._mutex, self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One read-only transaction: a consistent snapshot (SQLite: a deferred BEGIN, so readers never take
        the write lock nor wait for a writer's commit; WAL lets them read beside it). Nothing may be written in it."""
        with self._mutex, self.engine.connect() as conn:
            conn.execution_options(**{_READ_ONLY: True})
            yield conn

    def is_empty(self) -> bool:
        with self.read() as conn:
            return conn.execute(select(customers_t.c.customer_id).limit(1)).first() is None

    def load(self, fixture: LedgerFile, replace: bool = False) -> int:
        """Insert every customer in one transaction; any conflict loads nothing."""
        with self.write() as conn:
            if replace:
                for t in (requests_t, approvals_t, temp_quotas_t, overdue_t, customers_t):
                    conn.execute(t.delete())
            existing = {r[0] for r in conn.execute(select(customers_t.c.customer_id))}
            clash = sorted(existing & {c.customer_id for c in fixture.customers})
            if clash:
                raise LedgerError(f"customer {clash[0]}: already in the ledger; nothing loaded")
            _insert(conn, fixture)
        return len(fixture.customers)

    def seed_sample(self) -> bool:
        """Load the sample ledger into an empty store; True if this call did. Several processes or hosts
        starting together on one new store seed it once (SQLite: the write lock taken at BEGIN; PostgreSQL:
        an advisory lock for the transaction, as there is no row to lock yet)."""
        fixture = parse_ledger(SAMPLE_LEDGER.read_bytes(), str(SAMPLE_LEDGER))
        with self.write() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SEED_LOCK})
            if conn.execute(select(customers_t.c.customer_id).limit(1)).first() is not None:
                return False
            _insert(conn, fixture)
        return True

    def customer(self, customer_id: str, conn: Connection | None = None) -> CustomerRecord | None:
        """The customer as a validated record, or None. Reads within `conn` when given."""
        if conn is None:
            with self.read() as c:
                return self.customer(customer_id, c)
        key = {"customer_id": customer_id}  # statements built once (_CUSTOMER_*), the id as a parameter
        row = conn.execute(_CUSTOMER_ROW, key).mappings().first()
        if row is None:
            return None
        quotas = conn.execute(_CUSTOMER_QUOTAS, key).mappings()
        records = conn.execute(_CUSTOMER_RECORDS, key).mappings()
        return CustomerRecord(
            customer_id=row["customer_id"], name=row["name"], id_number=row["id_number"],
            phone=row["phone"], occupation=row["occupation"], risk_tier=row["risk_tier"],
            kyc_verified=row["kyc_verified"], opened_on=row["opened_on"], status=row["status"],
            credit_line=CreditLine(limit=from_fen(row["limit_fen"]), used=from_fen(row["used_fen"])),
            temp_quotas=[TempQuota(amount=from_fen(q["amount_fen"]), purpose=q["purpose"],
                                   granted_on=q["granted_on"], expires_on=q["expires_on"]) for q in quotas],
            overdue_records=[OverdueRecord(record_id=r["record_id"], institution=r["institution"],
                                           product=r["product"], amount=from_fen(r["amount_fen"]),
                                           overdue_since=r["overdue_since"], repaid_on=r["repaid_on"])
                             for r in records],
            **json.loads(row["extra"]),
        )

    def customer_ids(self) -> list[str]:
        with self.read() as conn:
            return [r[0] for r in conn.execute(select(customers_t.c.customer_id).order_by(customers_t.c.customer_id))]

    def has_customer(self, token: str) -> bool:
        """Is `token` a customer id of this ledger (any letter case)? The masker spares such tokens."""
        with self.read() as conn:
            return conn.execute(_HAS_CUSTOMER, {"key": token.lower()}).first() is not None

    def names(self) -> list[str]:
        """Every customer name: what the masker must hide from logs, audit records and LLMs."""
        with self.read() as conn:
            return [r[0] for r in conn.execute(select(customers_t.c.name))]

    def lock_customer(self, conn: Connection, customer_id: str) -> None:
        """Row lock on PostgreSQL-like servers; SQLite already holds the write lock (BEGIN IMMEDIATE)."""
        if conn.dialect.name != "sqlite":
            conn.execute(select(customers_t.c.customer_id)
                         .where(customers_t.c.customer_id == customer_id).with_for_update())


_SEED_LOCK = 0x72697364  # the advisory lock key of seeding an empty store
_READ_ONLY = "riskdesk_read_only"  # execution option of Ledger.read(): SQLite begins it deferred
_CUSTOMER_ROW = select(customers_t).where(customers_t.c.customer_id == bindparam("customer_id"))
_CUSTOMER_QUOTAS = (select(temp_quotas_t).where(temp_quotas_t.c.customer_id == bindparam("customer_id"))
                    .order_by(temp_quotas_t.c.granted_on, temp_quotas_t.c.grant_id))
_CUSTOMER_RECORDS = (select(overdue_t).where(overdue_t.c.customer_id == bindparam("customer_id"))
                     .order_by(overdue_t.c.record_id))
_HAS_CUSTOMER = select(customers_t.c.customer_id).where(func.lower(customers_t.c.customer_id) == bindparam("key")).limit(1)


def _insert(conn: Connection, fixture: LedgerFile) -> None:
    for c in fixture.customers:
        conn.execute(customers_t.insert().values(
            customer_id=c.customer_id, name=c.name, id_number=c.id_number, phone=c.phone,
            occupation=c.occupation, risk_tier=c.risk_tier.value,
            kyc_verified=c.kyc_verified, opened_on=c.opened_on, status=c.status.value,
            limit_fen=to_fen(c.credit_line.limit), used_fen=to_fen(c.credit_line.used),
            extra=json.dumps(c.model_extra or {}, ensure_ascii=False, sort_keys=True, default=str),
        ))
        for q in c.temp_quotas:
            conn.execute(temp_quotas_t.insert().values(
                customer_id=c.customer_id, amount_fen=to_fen(q.amount), purpose=q.purpose,
                granted_on=q.granted_on, expires_on=q.expires_on))
        for r in c.overdue_records:
            conn.execute(overdue_t.insert().values(
                customer_id=c.customer_id, record_id=r.record_id, institution=r.institution,
                product=r.product.value, amount_fen=to_fen(r.amount),
                overdue_since=r.overdue_since, repaid_on=r.repaid_on))


def _serialise_sqlite_writes(engine: Engine) -> None:
    """pysqlite defers BEGIN; take the write lock up front so check-then-grant cannot race. A read
    (Ledger.read) begins deferred: it takes no write lock, and in WAL mode reads a snapshot beside a writer."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):  # noqa: ANN001
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA foreign_keys=ON")
        dbapi_conn.execute("PRAGMA busy_timeout=30000")
        dbapi_conn.execute("PRAGMA journal_mode=WAL")

    @event.listens_for(engine, "begin")
    def _begin(conn):  # noqa: ANN001
        # on the driver's connection: the statement needs none of SQLAlchemy's execution machinery
        conn.connection.dbapi_connection.execute("BEGIN" if conn.get_execution_options().get(_READ_ONLY) else "BEGIN IMMEDIATE")
