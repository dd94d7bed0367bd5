"""Liveness and readiness probes (no API key)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from console.api.models import Health
from console.api.state import StateDep

router = APIRouter(tags=["probes"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health,
            responses={503: {"model": Health, "description": "Still loading, or the ledger is unreachable"}})
def readyz(state: StateDep) -> Any:
    """Readiness: the desk is open and the ledger answers."""
    if state.desk is None:
        return JSONResponse(Health(status="unavailable" if state.error else "starting",
                                   detail=state.error or "loading the knowledge base").model_dump(), status_code=503)
    if state.turns is not None and not state.turns.alive():
        return JSONResponse(Health(status="unavailable", detail="no turn process is running").model_dump(),
                            status_code=503)
    try:
        state.desk.ledger.customer_ids()
    except Exception as e:  # noqa: BLE001
        return JSONResponse(Health(status="unavailable", detail=f"ledger: {type(e).__name__}").model_dump(),
                            status_code=503)
    return Health(status="ok")
