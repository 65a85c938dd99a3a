"""Migration scripts, loaded by Alembic from their paths (hence the numeric file names)."""
