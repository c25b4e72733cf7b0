"""fit diagnostics: what a deep fit measured about itself, kept with the inference so that every
report of it (not only the one against the training reward) carries its quality signals

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inferences") as batch:
        batch.add_column(sa.Column("fit_diagnostics", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inferences") as batch:
        batch.drop_column("fit_diagnostics")
