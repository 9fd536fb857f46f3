"""Alembic migrations of TinyBase's system tables, shipped in the package.

Run them through :mod:`tinybase.db.migrate` (``tinybase db upgrade``); they also run
automatically at start-up.
"""
