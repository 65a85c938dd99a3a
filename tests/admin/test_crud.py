"""crud helpers that no current route reaches: a config field the catalog has no column for."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field
from sqlalchemy import Column, MetaData, String, Table

from sluicegate.admin.crud import refuse_unstorable, stored_fields
from sluicegate.errors import InvalidRequest


class Entry(BaseModel):
    name: str
    tags: list[str] = Field(default_factory=list)
    keys: list[str] = Field(default_factory=list)


TABLE = Table("entries", MetaData(), Column("name", String))


def test_a_field_without_a_column_is_refused_unless_left_at_its_default() -> None:
    refuse_unstorable(TABLE, Entry(name="a", tags=[]), Entry)
    refuse_unstorable(TABLE, Entry(name="a", keys=["k"]), Entry, handled=["keys"])
    with pytest.raises(InvalidRequest) as caught:
        refuse_unstorable(TABLE, Entry(name="a", tags=["x"]), Entry)
    assert caught.value.param == "tags"


def test_a_null_column_gives_the_field_its_default() -> None:
    row = {"id": "1", "name": "a", "tags": None, "keys": ["k"]}
    assert stored_fields(row, Entry) == {"name": "a", "keys": ["k"]}
