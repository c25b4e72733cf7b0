"""idempotency keys; rollout sets count their chunks and are sealed by their first inference

`rollout_sets.n_chunks` numbers appended chunks atomically (an UPDATE that row-locks the set);
`rollout_sets.sealed_at` is set when the first inference is submitted, after which appends get
409. Existing rows get their chunk count, and sets that already have inferences are sealed.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rollout_sets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("n_chunks", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE rollout_sets SET n_chunks = (SELECT COUNT(*) FROM rollout_chunks "
        "WHERE rollout_chunks.rollouts_id = rollout_sets.id)"
    )
    op.execute(
        "UPDATE rollout_sets SET sealed_at = created_at WHERE EXISTS "
        "(SELECT 1 FROM inferences WHERE inferences.rollouts_id = rollout_sets.id)"
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("api_key_id", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("operation", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_idempotency_keys_api_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_idempotency_keys_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("api_key_id", "key", name=op.f("pk_idempotency_keys")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_expires_at"))
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("rollout_sets", schema=None) as batch_op:
        batch_op.drop_column("sealed_at")
        batch_op.drop_column("n_chunks")
