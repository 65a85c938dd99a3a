"""Shared building blocks of the config models: the strict base class and bounded field types.

Kept apart from `schema.py` so the section modules (`content.py`) can use them without an
import cycle; `schema.py` re-exports them for existing callers.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# Bounds of what the catalog stores (storage/tables.py; the admin API takes these models as
# bodies): names are VARCHAR(200) and counts INTEGER, 32-bit on PostgreSQL. A value past them
# would fail in the database, as a 500; here it is a 400 naming the field, and the admin API's
# OpenAPI schema shows the bound. Free text (URLs, credentials) gets a generous bound too.
NAME_MAX = 200
TEXT_MAX = 4096
INT_MAX = 2**31 - 1

Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX)]
Text = Annotated[str, Field(max_length=TEXT_MAX)]
# RFC 9110 field names (tokens) and values (no CR, LF or NUL): anything else breaks every
# request sent to the backend.
HeaderName = Annotated[
    str, Field(min_length=1, max_length=NAME_MAX, pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
]
HeaderValue = Annotated[str, Field(max_length=TEXT_MAX, pattern=r"^[^\r\n\x00]*$")]


class Strict(BaseModel):
    """Base for every config section: unknown keys are errors.

    Lax coercion stays on because `${PORT:-4100}` arrives as the string "4100"; numbers become
    strings where a string is expected (a numeric key in `api_keys` is still a key). Infinity
    and NaN are refused (JSON's 1e400 parses as infinity, which no response could encode).
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, coerce_numbers_to_str=True, allow_inf_nan=False
    )
