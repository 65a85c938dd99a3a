"""Alembic environment: runs the migrations on the connection `storage.migrate` hands over.

`migrate.upgrade` passes an open connection already inside its transaction (and, on
PostgreSQL, holding the migration advisory lock) in `config.attributes["connection"]`. Without
one (the `alembic` command line with `sqlalchemy.url` set), an async engine is built here.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from sluicegate.storage.tables import metadata


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_on_url(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(run_on)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
elif (given := context.config.attributes.get("connection")) is not None:
    run_on(given)
else:
    asyncio.run(run_on_url(context.config.get_main_option("sqlalchemy.url") or ""))
