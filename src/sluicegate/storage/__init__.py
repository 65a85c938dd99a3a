"""Persistence: the catalog and request log in SQLite or PostgreSQL (SQLAlchemy Core, Alembic).

db.py           Database: engine, SQLite pragmas, read/transaction, error mapping
tables.py       the schema and its indexes
migrate.py      upgrade(url): Alembic head, serialised across processes
migrations/     Alembic env and hand-written revisions
version.py      meta.catalog_version: read, bump, lock
rows.py         row dicts and catalog inserts shared by the repositories
catalog.py      backends, models, users, API keys, permissions; load_all
config_sync.py  sync_config: the config file's entities as source='config' rows
request_log.py  request rows: insert, query, usage, retention
"""
