"""``_function_call.error_traceback``: the traceback of a failed call, for admins only;
an index for the admin's newest-first listing.

Revision ID: 0002_function_call_traceback
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_function_call_traceback"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("_function_call") as batch:
        batch.add_column(sa.Column("error_traceback", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("_function_call") as batch:
        batch.drop_column("error_traceback")
