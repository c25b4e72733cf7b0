"""rollout set summaries: what pages and submit-time checks need of the arrays

Existing rows keep NULL and get their summary computed from the stored chunks, and stored,
the first time a page or `POST /v1/inferences` needs it (`rollouts.service.summary_of`).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rollout_sets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("summary", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rollout_sets", schema=None) as batch_op:
        batch_op.drop_column("summary")
