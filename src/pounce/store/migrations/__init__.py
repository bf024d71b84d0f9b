"""Alembic migrations of the one schema shared by SQLite and PostgreSQL."""
