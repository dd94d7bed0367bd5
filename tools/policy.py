"""The lender's policy: every parameter of the rules as versioned data (TOML), read into pydantic models.

The file is a list of versions (`[[versions]]`, each with `id` and `effective_from`). A later version lists
only what it changes; the rest carries over from the version before it. The rules read the version in force
on the decision's `as_of` (`in_force(as_of)`); the first version also answers dates before it. The check order
and the logic stay in tools/temp_quota.py and tools/repair_check.py: only numbers, lists and dates live here.

A bad file fails at load with the file, the version, the key and the reason (PolicyError); nothing decides on
a half-read policy. The policy in force is the shipped file (tools/data/policy.toml), or the file named by
`--policy FILE` / $RISKDESK_POLICY (`use()`).
"""
from __future__ import annotations

import bisect
import datetime as dt
import os
import threading
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Iterable

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from tools.ledger import RiskTier
from tools.purpose import Purpose

SHIPPED_POLICY = Path(__file__).parent / "data" / "policy.toml"
POLICY_ENV = "RISKDESK_POLICY"


class PolicyError(ValueError):
    """A bad policy file: names the file, the version, the key and the reason."""

    def __init__(self, path: str, reason: str, version: str | None = None, key: str | None = None):
        self.path, self.version, self.key, self.reason = str(path), version, key, reason
        where = [self.path] + ([f"version {version}"] if version else []) + ([key] if key else [])
        super().__init__(": ".join(where) + f": {reason}")


def _no_float(v: Any) -> Any:
    if isinstance(v, float):
        raise ValueError("money and ratios are an integer or a decimal string (\"20000.00\"), never a float")
    if isinstance(v, bool):
        raise ValueError("a number is required, not true/false")
    if isinstance(v, str):
        try:
            return Decimal(v.replace(",", "").strip())
        except ArithmeticError:
            raise ValueError(f"{v!r} is not a number") from None
    return v


def _is_date(v: Any) -> Any:
    if isinstance(v, dt.datetime) or not isinstance(v, dt.date):
        raise ValueError("a date is required (YYYY-MM-DD, unquoted)")
    return v


def _is_int(v: Any) -> Any:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError("a whole number is required")
    return v


Money = Annotated[Decimal, BeforeValidator(_no_float), Field(ge=0, le=10_000_000, decimal_places=2)]
Ratio = Annotated[Decimal, BeforeValidator(_no_float), Field(gt=0, le=100, decimal_places=4)]
Day = Annotated[dt.date, BeforeValidator(_is_date)]
Days = Annotated[int, BeforeValidator(_is_int), Field(ge=1, le=3660)]
Years = Annotated[int, BeforeValidator(_is_int), Field(ge=1, le=100)]
ClauseId = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9_.-]*$")]

# the rule each parameter belongs to: its clause is the one cited for that rule
PARAMETER_RULES: dict[str, str] = {
    "min_account_age_days": "TQ1", "eligible_tiers": "TQ1", "allowed_purposes": "TQ2", "prohibited_purposes": "TQ2",
    "cap_floor": "TQ3", "cap_ceiling": "TQ3", "cap_multiplier": "TQ3", "auto_approval_tiers": "TQ5",
    "auto_approval_max": "TQ5", "validity_days": "TQ6",
    "window_start": "R1", "window_end": "R1", "max_single_amount": "R2", "repay_by": "R3", "early_repaid_by": "R3",
    "early_hidden_from": "R3", "ordinary_retention_years": "R3",
}


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def values(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in type(self).model_fields if k != "clauses"}


class TempQuotaParams(_Params):
    """TQ1-TQ6 parameters (临时额度参数)."""

    min_account_age_days: Days = Field(description="TQ1: account opened at least this many days before the request.")
    eligible_tiers: tuple[RiskTier, ...] = Field(min_length=1, description="TQ1: risk tiers that may ask.")
    auto_approval_tiers: tuple[RiskTier, ...] = Field(description="TQ5: tiers approved at once (else a supervisor).")
    allowed_purposes: tuple[Purpose, ...] = Field(min_length=1, description="TQ2: allowed purpose categories.")
    prohibited_purposes: tuple[Purpose, ...] = Field(description="TQ2: denied purpose categories.")
    cap_floor: Money = Field(description="TQ3: the cap is never below this (yuan).")
    cap_ceiling: Money = Field(description="TQ3: the cap is never above this (yuan).")
    cap_multiplier: Ratio = Field(description="TQ3: cap = min(ceiling, max(floor, multiplier x base limit)).")
    auto_approval_max: Money = Field(description="TQ5: the largest amount approved without a supervisor (yuan).")
    validity_days: Days = Field(description="TQ6: a grant is valid this many days, counting the grant date.")
    clauses: dict[str, ClauseId] = Field(default_factory=dict, description="Parameter -> the clause that states it.")

    @model_validator(mode="after")
    def _coherent(self) -> "TempQuotaParams":
        if self.cap_floor > self.cap_ceiling:
            raise ValueError(f"cap_floor {self.cap_floor} is above cap_ceiling {self.cap_ceiling}")
        if both := set(self.allowed_purposes) & set(self.prohibited_purposes):
            raise ValueError(f"purposes both allowed and prohibited: {sorted(p.value for p in both)}")
        if extra := set(self.auto_approval_tiers) - set(self.eligible_tiers):
            raise ValueError(f"auto_approval_tiers {sorted(t.value for t in extra)} are not eligible_tiers")
        return self


class RepairParams(_Params):
    """R1-R3 parameters (一次性信用修复参数)."""

    window_start: Day = Field(description="R1: first day an overdue record may have arisen.")
    window_end: Day = Field(description="R1: last day an overdue record may have arisen.")
    max_single_amount: Money = Field(description="R2: the largest single overdue amount that qualifies (yuan).")
    repay_by: Day = Field(description="R3: repaid in full on or before this day.")
    early_repaid_by: Day = Field(description="R3: repaid on or before this day: hidden from early_hidden_from.")
    early_hidden_from: Day = Field(description="R3: the day early-repaid records stop being shown.")
    ordinary_retention_years: Years = Field(description="R3: the ordinary rule keeps a record this many years.")
    clauses: dict[str, ClauseId] = Field(default_factory=dict, description="Parameter -> the clause that states it.")

    @model_validator(mode="after")
    def _coherent(self) -> "RepairParams":
        if self.window_start > self.window_end:
            raise ValueError(f"window_start {self.window_start} is after window_end {self.window_end}")
        if self.early_repaid_by > self.repay_by:
            raise ValueError(f"early_repaid_by {self.early_repaid_by} is after repay_by {self.repay_by}")
        return self


TABLES: dict[str, type[_Params]] = {"temp_quota": TempQuotaParams, "repair": RepairParams}


class PolicyVersion(BaseModel):
    """One version, with every parameter resolved (carried over from earlier versions)."""
    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=64)
    effective_from: dt.date
    temp_quota: TempQuotaParams
    repair: RepairParams
    changes: tuple[str, ...] = Field(default=(), description="table.key the file sets in this version")

    def clause_for(self, parameter: str) -> str | None:
        table = self.temp_quota if parameter in TempQuotaParams.model_fields else self.repair
        return table.clauses.get(parameter)

    def rule_clause(self, rule: str) -> str | None:
        """The clause this version names for a rule's parameters (None: a rule without parameters)."""
        for p, r in PARAMETER_RULES.items():
            if r == rule and (c := self.clause_for(p)):
                return c
        return None

    def value(self, parameter: str) -> Any:
        table = self.temp_quota if parameter in TempQuotaParams.model_fields else self.repair
        return getattr(table, parameter)


class Policy(BaseModel):
    model_config = ConfigDict(frozen=True)

    source: str
    versions: tuple[PolicyVersion, ...]

    def in_force(self, as_of: dt.date) -> PolicyVersion:
        """The version in force on `as_of`; the first version also answers dates before it."""
        i = bisect.bisect_right([v.effective_from for v in self.versions], as_of) - 1
        return self.versions[max(i, 0)]

    def version(self, version_id: str) -> PolicyVersion:
        for v in self.versions:
            if v.id == version_id:
                return v
        raise PolicyError(self.source, f"no version {version_id!r} (versions: {', '.join(v.id for v in self.versions)})")

    def period(self, v: PolicyVersion) -> tuple[dt.date, dt.date | None]:
        """The days a version governs: from its effective_from to the day before the next one (None: open)."""
        i = self.versions.index(v)
        nxt = self.versions[i + 1].effective_from - dt.timedelta(days=1) if i + 1 < len(self.versions) else None
        return v.effective_from, nxt


def _where(loc: Iterable[Any]) -> str:
    """The key of an error's location; a list position is said in the reason instead."""
    return ".".join(str(p) for p in loc if not isinstance(p, int))


def parse_policy(data: dict[str, Any], source: str) -> Policy:
    """Validate a policy read from TOML; every problem names the version and the key."""
    if set(data) - {"versions"}:
        raise PolicyError(source, f"unknown top-level key(s) {sorted(set(data) - {'versions'})} (expected [[versions]])")
    raw = data.get("versions")
    if not isinstance(raw, list) or not raw:
        raise PolicyError(source, "no versions: the file needs at least one [[versions]] table")
    seen_ids: set[str] = set()
    seen_days: dict[dt.date, str] = {}
    previous: dict[str, dict[str, Any]] = {}
    versions: list[PolicyVersion] = []
    for n, entry in enumerate(raw, start=1):
        vid = str(entry.get("id") or f"#{n}") if isinstance(entry, dict) else f"#{n}"
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not entry["id"].strip():
            raise PolicyError(source, "every version needs an id (a string)", vid, "id")
        if unknown := set(entry) - {"id", "effective_from", *TABLES}:
            raise PolicyError(source, f"unknown key (expected id, effective_from, {', '.join(TABLES)})", vid,
                              sorted(unknown)[0])
        try:
            day = _is_date(entry.get("effective_from"))
        except ValueError as e:
            raise PolicyError(source, str(e), vid, "effective_from") from None
        if vid in seen_ids:
            raise PolicyError(source, "two versions with the same id", vid, "id")
        if day in seen_days:
            raise PolicyError(source, f"two versions with the same effective_from {day} ({seen_days[day]} and {vid})",
                              vid, "effective_from")
        if versions and day < versions[-1].effective_from:
            raise PolicyError(source, f"versions must be listed in date order: {day} is before "
                                      f"{versions[-1].effective_from} ({versions[-1].id})", vid, "effective_from")
        seen_ids.add(vid)
        seen_days[day] = vid
        changes: list[str] = []
        resolved: dict[str, dict[str, Any]] = {}
        for table, model in TABLES.items():
            given = entry.get(table, {})
            if not isinstance(given, dict):
                raise PolicyError(source, "must be a table", vid, table)
            clauses = given.get("clauses", {})
            if not isinstance(clauses, dict):
                raise PolicyError(source, "must be a table of parameter = \"CLAUSE-ID\"", vid, f"{table}.clauses")
            for p in clauses:
                if p not in model.model_fields or p == "clauses":
                    raise PolicyError(source, "unknown parameter in clauses", vid, f"{table}.clauses.{p}")
            merged = {**previous.get(table, {}), **{k: v for k, v in given.items() if k != "clauses"}}
            merged["clauses"] = {**previous.get(table, {}).get("clauses", {}), **clauses}
            changes += [f"{table}.{k}" for k in given if k != "clauses"] + [f"{table}.clauses.{k}" for k in clauses]
            resolved[table] = merged
        if not changes:
            raise PolicyError(source, "empty version: it changes no parameter", vid)
        models = {}
        for table, model in TABLES.items():
            try:
                models[table] = model.model_validate(resolved[table])
            except ValidationError as e:
                err = e.errors()[0]
                first = str(err["msg"]).removeprefix("Value error, ").split(" ", 1)[0]
                key = f"{table}.{_where(err['loc'])}" if err["loc"] else \
                    f"{table}.{first}" if first in model.model_fields else table
                reason = "unknown key" if err["type"] == "extra_forbidden" else \
                    "missing (the first version must set every parameter)" if err["type"] == "missing" else \
                    err["msg"].removeprefix("Value error, ")
                if positions := [p for p in err["loc"] if isinstance(p, int)]:
                    reason = f"item {positions[0] + 1}: {reason} (got {err.get('input')!r})"
                raise PolicyError(source, reason, vid, key) from None
        versions.append(PolicyVersion(id=vid, effective_from=day, changes=tuple(changes), **models))
        previous = resolved
    return Policy(source=source, versions=tuple(versions))


def load_policy(path: str | Path) -> Policy:
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise PolicyError(str(p), f"cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise PolicyError(str(p), "not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PolicyError(str(p), f"not valid TOML: {e}") from None
    return parse_policy(data, str(p))


# ---------------------------------------------------------------- the policy in force in this process

_active: Policy | None = None
_lock = threading.Lock()


def active() -> Policy:
    """The policy this process decides with: $RISKDESK_POLICY if set, else the shipped file (loaded once)."""
    global _active
    if _active is None:
        with _lock:
            if _active is None:
                _active = load_policy(os.environ.get(POLICY_ENV) or SHIPPED_POLICY)
    return _active


def use(path: str | Path | None) -> Policy:
    """Decide with this file from now on (None: back to $RISKDESK_POLICY or the shipped file). Loaded in full
    first: a bad file raises PolicyError and the policy in force does not change. The path is exported to
    $RISKDESK_POLICY so that worker processes decide with the same file."""
    global _active
    policy = load_policy(path) if path is not None else load_policy(os.environ.get(POLICY_ENV) or SHIPPED_POLICY)
    with _lock:
        _active = policy
        if path is not None:
            os.environ[POLICY_ENV] = str(Path(path).expanduser().resolve())
    return policy


def in_force(as_of: dt.date) -> PolicyVersion:
    return active().in_force(as_of)


def to_toml_data(policy: Policy) -> dict[str, Any]:
    """The policy in the file format: the first version in full, each later one with only what it changes."""
    out, before = [], None
    for v in policy.versions:
        entry: dict[str, Any] = {"id": v.id, "effective_from": v.effective_from}
        for table in TABLES:
            now = getattr(v, table)
            prev = getattr(before, table) if before else None
            vals = {k: _plain(x) for k, x in now.values().items() if prev is None or getattr(prev, k) != x}
            clauses = {k: c for k, c in now.clauses.items() if prev is None or prev.clauses.get(k) != c}
            if clauses:
                vals["clauses"] = clauses
            if vals:
                entry[table] = vals
        out.append(entry)
        before = v
    return {"versions": out}


def _plain(x: Any) -> Any:
    if isinstance(x, Decimal):
        return int(x) if x == x.to_integral_value() else str(x)
    if isinstance(x, tuple):
        return [getattr(i, "value", i) for i in x]
    return x


def dump_toml(policy: Policy) -> str:
    import tomli_w
    head = ("# riskdesk policy (rule parameters), exported from " + Path(policy.source).name + ".\n"
            "# Each [[versions]] lists what it changes; the rest carries over. Money: integer or decimal string.\n\n")
    return head + tomli_w.dumps(to_toml_data(policy))
