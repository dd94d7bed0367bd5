"""Temporary-quota approvals: list them (operators and supervisors), approve or reject (supervisors)."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from starlette.exceptions import HTTPException

from agents.contract import ApprovalDecision, AskResult
from agents.desk import Desk
from console.api.errors import CONFLICT, ERRORS, NOT_FOUND, check_day, check_text
from console.api.models import DecisionRequest
from console.api.state import ApprovalId, DeskDep, Operator, StateDep, Supervisor, _State
from console.api_keys import ApiKey
from tools.approvals import Approval, get_approval

router = APIRouter(tags=["approvals"])


@router.get("/v1/approvals", response_model=list[Approval], responses=ERRORS)
def approvals(who: Operator, desk: DeskDep,
              status: Annotated[Literal["pending", "approved", "rejected", "expired", "all"], Query()] = "pending"
              ) -> list[Approval]:
    """Temporary-quota approvals (pending by default). Operators and supervisors. Pending approvals past
    their decide-by day are marked expired as they are listed."""
    return desk.approvals(None if status == "all" else status)


def decide(state: _State, decision: str, approval_id: str, body: DecisionRequest | None, who: ApiKey,
           desk: Desk) -> AskResult:
    body = body or DecisionRequest()
    check_text("body", reason=body.reason)
    check_day(["body", "as_of"], body.as_of)
    if get_approval(desk.ledger, approval_id) is None:
        raise HTTPException(404, f"no approval with id {approval_id!r}")
    with state.locks("a:" + approval_id):
        return desk.decide(approval_id, ApprovalDecision(decision=decision, supervisor=who.name, reason=body.reason,
                                                         as_of=body.as_of), role=who.role, caller=who.name)


@router.post("/v1/approvals/{approval_id}/approve", response_model=AskResult,
             responses={**ERRORS, **NOT_FOUND, **CONFLICT})
async def approve(approval_id: ApprovalId, who: Supervisor, desk: DeskDep, state: StateDep,
                  body: DecisionRequest | None = None) -> AskResult:
    """Approve a pending temporary quota (supervisor; the key's name is the approver, dated today). Twice is
    a no-op; approving a rejected or expired one, or while another quota's validity overlaps (TQ4), is 409;
    the requester approving their own request is 403; an `as_of` other than today on a persistent store
    is 422. A failed approve changes nothing: the next approve or reject is decided afresh."""
    return await state.in_pool(decide, state, "approve", approval_id, body, who, desk)


@router.post("/v1/approvals/{approval_id}/reject", response_model=AskResult,
             responses={**ERRORS, **NOT_FOUND, **CONFLICT})
async def reject(approval_id: ApprovalId, who: Supervisor, desk: DeskDep, state: StateDep,
                 body: DecisionRequest | None = None) -> AskResult:
    """Reject a pending temporary quota (supervisor), always possible while it is pending. Twice, or on an
    expired one, is a no-op; rejecting an approved one is 409."""
    return await state.in_pool(decide, state, "reject", approval_id, body, who, desk)
