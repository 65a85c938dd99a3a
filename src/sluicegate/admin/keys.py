"""/admin/keys/{id}: revoking one API key (creating and listing live under /admin/users)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..storage import catalog
from .crud import changed, found
from .routing import AdminRoute
from .runtime import Runtime
from .schemas import KeyOut, errors
from .users import key_view

router = APIRouter(prefix="/admin/keys", tags=["users"], route_class=AdminRoute)


@router.delete(
    "/{key_id}", response_model=KeyOut, summary="Revoke an API key", responses=errors(404)
)
async def revoke_key(key_id: str, runtime: Runtime) -> dict[str, Any]:
    """The key stops working at once and stays listed with `revoked_at` set; revoking a revoked
    key changes nothing. Keys from the config file may be revoked too (a leaked key must not
    wait for a file edit); config reloads keep the revocation."""
    row = found(await catalog.get_key(runtime.db, key_id), "key", key_id)
    if row["revoked_at"] is not None:
        return key_view(row)
    revoked = found(await catalog.revoke_key(runtime.db, key_id), "key", key_id)
    await changed(runtime)
    return key_view(revoked)
