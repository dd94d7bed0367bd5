"""One turn's audit record."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from starlette.exceptions import HTTPException

from agents.audit import AuditRecord
from agents.contract import ROLE_RANK
from console.api.errors import ERRORS, NOT_FOUND
from console.api.state import DeskDep, Viewer

router = APIRouter(tags=["audit"])


@router.get("/v1/audit/{trace_id}", response_model=AuditRecord, responses={**ERRORS, **NOT_FOUND})
def audit(trace_id: Annotated[str, PathParam(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")], who: Viewer,
          desk: DeskDep) -> AuditRecord:
    """One turn's audit record (personal data masked). Supervisors read any; others their own turns."""
    record = desk.audit.get(trace_id)
    if record is None or (record.caller != who.name and ROLE_RANK[who.role] < ROLE_RANK["supervisor"]):
        raise HTTPException(404, f"no audit record with trace id {trace_id!r}")
    return record
