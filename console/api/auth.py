"""Who an API key is (the console's sign-in check)."""
from __future__ import annotations

from fastapi import APIRouter

from console.api.errors import ERRORS
from console.api.models import WhoAmI
from console.api.state import Viewer

router = APIRouter(tags=["auth"])


@router.get("/v1/me", response_model=WhoAmI, responses={401: ERRORS[401]})
def me(who: Viewer) -> WhoAmI:
    """Who this API key is: its name and role (the console's sign-in check)."""
    return WhoAmI(name=who.name, role=who.role)
