"""POST /admin/reload: re-read the config file through the runtime, report what it says."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..config import ConfigError
from ..errors import InvalidRequest
from .routing import AdminRoute
from .runtime import Runtime
from .schemas import errors

router = APIRouter(prefix="/admin", tags=["config"], route_class=AdminRoute)


@router.post("/reload", summary="Re-read the config file", responses=errors(400))
async def reload_config(runtime: Runtime) -> dict[str, Any]:
    """Re-reads the config file and applies it at once; config-sourced backends, models and
    users are replaced by the file's. An invalid file changes nothing and gets a 400 listing
    every problem with its path."""
    try:
        return await runtime.reload_config()
    except ConfigError as exc:
        raise InvalidRequest(f"The config file is invalid: {'; '.join(exc.problems)}") from exc
