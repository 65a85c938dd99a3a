"""Admin API (SPEC 5): the catalog and the request log over HTTP, for the master key only.

- `app.py`          build_admin_app(runtime): routers, error handlers, OpenAPI at /docs
- `openapi.py`      the OpenAPI document with the error statuses the API really answers
- `runtime.py`      AdminRuntime, what the composition root must provide
- `auth.py`         master-key guard in front of every /admin path
- `errors.py`       admin error kinds, storage error mapping, the error JSON
- `routing.py`      AdminRoute: every exception becomes an error response
- `schemas.py`      bodies (the config file's models) and response shapes
- `crud.py`         404, read-only, validation and change-notification helpers
- `backends.py`, `models.py`, `users.py` (and keys), `keys.py`, `permissions.py`: one router
  per resource
- `analytics.py`    request-log queries and usage totals
- `reload.py`       POST /admin/reload
"""

from .app import build_admin_app
from .runtime import AdminRuntime

__all__ = ["AdminRuntime", "build_admin_app"]
