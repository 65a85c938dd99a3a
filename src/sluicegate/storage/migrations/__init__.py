"""Alembic migrations of the storage schema, shipped as plain modules inside the package."""
