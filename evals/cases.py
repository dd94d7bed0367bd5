"""The case format: one operator conversation, its ledger fixture and what must be true afterwards.

A suite is a YAML file (a list of cases, or {"cases": [...]}) or a JSONL file (one case a line) in
`evals/suites/`. Expectations judge the end state the agent leaves (the ledger, the outcome the
tools returned, the approvals) and a few properties of the reply (required citations, strings that
must or must not appear); never the wording as a whole.

    - id: tq-auto-zh-C1002
      tags: [rule:TQ5, path:auto]
      language: zh
      intent: temp_quota
      as_of: 2026-11-23
      ledger: sample                 # default; or a path (relative to the suite file) or {"customers": [...]}
      turns:
        - say: 给C1002申请4000元临时额度，买电动车送外卖
          expect:
            intent: temp_quota
            outcome: approved
            tool_calls: [{tool: temp_quota, args: {customer_id: C1002, amount: 4000}}]
            citations: [LENDER-TQ-TQ5, LENDER-TQ-TQ6]
            contains: ["2026-12-22"]
      end_state:                     # omitted = nothing may be written
        grants: [{customer_id: C1002, amount: 4000, granted_on: 2026-11-23, expires_on: 2026-12-22}]

A turn may instead be a supervisor decision on an approval created earlier in the case:

        - decide: approve            # or reject
          approval_from: 0           # the turn whose result carried the approval id
          role: supervisor
          expect: {outcome: approved}
"""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

SUITES_DIR = Path(__file__).parent / "suites"
BASELINES_DIR = Path(__file__).parent / "baselines"

Role = Literal["viewer", "operator", "supervisor"]
ABSENT = object()


class ToolExpect(BaseModel):
    """A tool call the turn must make; `args` are the key arguments (a subset, compared by value)."""

    model_config = ConfigDict(extra="forbid")
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)


class Expect(BaseModel):
    """What must hold after one turn. A field left out is not checked; `outcome: null` means the
    tools must not have produced an outcome (nothing was decided)."""

    model_config = ConfigDict(extra="forbid")
    intent: str | None = None
    outcome: str | None = None
    outcome_in: list[str] | None = Field(default=None, description="Any of these outcomes is right.")
    customer_id: str | None = None
    tool_calls: list[ToolExpect] | None = Field(
        default=None, description="Exactly these calls (names and key args); [] means no tool may be called.")
    citations: list[str] = Field(default_factory=list, description="Clause ids the reply must cite.")
    citations_allowed: list[str] = Field(default_factory=list,
                                         description="Clause ids that may also be cited without counting against precision.")
    extra_citations_ok: bool = Field(default=False, description="Any other citation is fine (not scored for precision).")
    min_citations: int = 0
    contains: list[str] = Field(default_factory=list, description="Each must appear in the reply.")
    contains_any: list[str] = Field(default_factory=list, description="At least one must appear in the reply.")
    not_contains: list[str] = Field(default_factory=list, description="None may appear in the reply (case-insensitive).")
    approval_pending: bool | None = Field(default=None, description="The turn leaves a pending approval (or not).")
    error: str | None = Field(default=None, description="The turn must raise this exception class (e.g. PermissionDenied).")

    def checks_outcome(self) -> bool:
        return "outcome" in self.model_fields_set


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    say: str | None = None
    decide: Literal["approve", "reject"] | None = None
    approval_from: int | None = Field(default=None, description="Index of the earlier turn that created the approval.")
    approval_id: str | None = Field(default=None, description="A literal approval id (e.g. a made-up one).")
    supervisor: str = "lee"
    reason: str = ""
    role: Role | None = None
    as_of: dt.date | None = None
    expect: Expect = Field(default_factory=Expect)

    @model_validator(mode="after")
    def _one_kind(self) -> "Turn":
        if (self.say is None) == (self.decide is None):
            raise ValueError("a turn is either `say` (an operator message) or `decide` (a supervisor decision)")
        if self.decide and self.approval_from is None and self.approval_id is None:
            raise ValueError("a decision turn needs approval_from (turn index) or approval_id")
        return self


class GrantExpect(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: str
    amount: Decimal
    granted_on: dt.date | None = None
    expires_on: dt.date | None = None


class ApprovalExpect(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: str
    amount: Decimal
    status: Literal["pending", "approved", "rejected"]


class EndState(BaseModel):
    """Every write the case may leave in the ledger: these grants and approvals, and nothing else."""

    model_config = ConfigDict(extra="forbid")
    grants: list[GrantExpect] = Field(default_factory=list)
    approvals: list[ApprovalExpect] = Field(default_factory=list)


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    tags: list[str] = Field(default_factory=list)
    language: Literal["zh", "en"]
    intent: str = Field(description="The case's main intent, for per-intent reporting.")
    as_of: dt.date
    role: Role = "operator"
    ledger: str | dict[str, Any] = "sample"
    turns: list[Turn] = Field(min_length=1)
    end_state: EndState = Field(default_factory=EndState)
    note: str = ""
    suite: str = ""
    source_dir: str = ""

    def ledger_json(self) -> bytes:
        """The fixture as JSON bytes ("sample" = the shipped sample ledger)."""
        if isinstance(self.ledger, dict):
            return json.dumps(self.ledger, ensure_ascii=False, default=str).encode()
        if self.ledger == "sample":
            from tools.ledger import SAMPLE_LEDGER
            return SAMPLE_LEDGER.read_bytes()
        path = Path(self.ledger)
        if not path.is_absolute():
            path = Path(self.source_dir or SUITES_DIR) / path
        return path.read_bytes()

    def customer_pii(self) -> list[str]:
        """ID numbers and phone numbers of every customer in the fixture: none may appear unmasked."""
        data = json.loads(self.ledger_json())
        out: list[str] = []
        for c in data.get("customers", []):
            out += [str(c.get("id_number", "")), str(c.get("phone", ""))]
        return [s for s in out if len(s) >= 7]


def _records(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    data = yaml.safe_load(text)
    if isinstance(data, dict):
        data = data.get("cases", [])
    return list(data or [])


def suite_path(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.exists():
        return p
    for ext in (".yaml", ".yml", ".jsonl"):
        q = SUITES_DIR / f"{name_or_path}{ext}"
        if q.exists():
            return q
    from tools.registry import plugins
    if (tool := plugins().get(name_or_path)) is not None and tool.evals is not None:  # a lender's tool's own cases
        return tool.evals
    raise FileNotFoundError(f"no suite {name_or_path!r} (looked for a file, and for {SUITES_DIR}/{name_or_path}.yaml|jsonl)")


def load_suite(name_or_path: str) -> list[Case]:
    """Load and validate a suite; a bad case names the suite, the case and the field."""
    path = suite_path(name_or_path)
    name = path.stem
    cases: list[Case] = []
    seen: set[str] = set()
    for i, rec in enumerate(_records(path)):
        try:
            case = Case.model_validate({**rec, "suite": name, "source_dir": str(path.parent)})
        except Exception as e:  # pydantic.ValidationError, with the case named
            raise ValueError(f"{path}: case #{i + 1} ({rec.get('id', '?')}): {e}") from None
        if case.id in seen:
            raise ValueError(f"{path}: duplicate case id {case.id}")
        seen.add(case.id)
        cases.append(case)
    return cases


def dump_suite(cases: list[dict[str, Any]], path: Path) -> None:
    """Write cases as YAML (used by the generator)."""
    path.write_text(yaml.safe_dump(cases, allow_unicode=True, sort_keys=False, width=120), encoding="utf-8")
