"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-24 23:56:22.885243
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("name", name=op.f("uq_projects_name")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_api_keys_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_table(
        "artifacts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_artifacts_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artifacts")),
    )
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_artifacts_project_id"), ["project_id"], unique=False)

    op.create_table(
        "environments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_environments_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_environments")),
    )
    with op.batch_alter_table("environments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_environments_project_id_created_at"),
            ["project_id", "created_at"],
            unique=False,
        )

    op.create_table(
        "rollout_sets",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("split", sa.String(length=50), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("training_reward", sa.JSON(), nullable=True),
        sa.Column("n_trajectories", sa.Integer(), nullable=False),
        sa.Column("n_transitions", sa.Integer(), nullable=False),
        sa.Column("statistics", sa.JSON(), nullable=False),
        sa.Column("identifiability", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_rollout_sets_environment_id_environments"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_rollout_sets_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollout_sets")),
    )
    with op.batch_alter_table("rollout_sets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rollout_sets_environment_id"), ["environment_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_rollout_sets_project_id_created_at_id"),
            ["project_id", "created_at", "id"],
            unique=False,
        )

    op.create_table(
        "inferences",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("rollouts_id", sa.String(length=40), nullable=False),
        sa.Column("environment_id", sa.String(length=40), nullable=False),
        sa.Column("algorithm", sa.String(length=30), nullable=False),
        sa.Column("reward_model", sa.String(length=30), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_token", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verdict", sa.String(length=40), nullable=True),
        sa.Column("epic", sa.Float(), nullable=True),
        sa.Column("curve", sa.JSON(), nullable=True),
        sa.Column("log", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_inferences_environment_id_environments"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_inferences_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rollouts_id"],
            ["rollout_sets.id"],
            name=op.f("fk_inferences_rollouts_id_rollout_sets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inferences")),
    )
    with op.batch_alter_table("inferences", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inferences_environment_id"), ["environment_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_inferences_project_id_created_at_id"),
            ["project_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_inferences_project_id_epic_id"),
            ["project_id", "epic", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_inferences_project_id_status_created_at_id"),
            ["project_id", "status", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_inferences_project_id_verdict_created_at_id"),
            ["project_id", "verdict", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_inferences_rollouts_id"), ["rollouts_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_inferences_status_lease_expires_at"),
            ["status", "lease_expires_at"],
            unique=False,
        )

    op.create_table(
        "rollout_chunks",
        sa.Column("rollouts_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("artifact_id", sa.String(length=40), nullable=False),
        sa.Column("n_trajectories", sa.Integer(), nullable=False),
        sa.Column("n_transitions", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["artifact_id"], ["artifacts.id"], name=op.f("fk_rollout_chunks_artifact_id_artifacts")
        ),
        sa.ForeignKeyConstraint(
            ["rollouts_id"],
            ["rollout_sets.id"],
            name=op.f("fk_rollout_chunks_rollouts_id_rollout_sets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("rollouts_id", "position", name=op.f("pk_rollout_chunks")),
    )
    op.create_table(
        "rollout_tags",
        sa.Column("rollouts_id", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["rollouts_id"],
            ["rollout_sets.id"],
            name=op.f("fk_rollout_tags_rollouts_id_rollout_sets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("rollouts_id", "key", name=op.f("pk_rollout_tags")),
    )
    with op.batch_alter_table("rollout_tags", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rollout_tags_key_value"), ["key", "value"], unique=False
        )

    op.create_table(
        "divergence_reports",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("inference_id", sa.String(length=40), nullable=False),
        sa.Column("against", sa.String(length=20), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["inference_id"],
            ["inferences.id"],
            name=op.f("fk_divergence_reports_inference_id_inferences"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_divergence_reports")),
        sa.UniqueConstraint(
            "inference_id", "against", name=op.f("uq_divergence_reports_inference_id")
        ),
    )
    with op.batch_alter_table("divergence_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_divergence_reports_inference_id"), ["inference_id"], unique=False
        )

    op.create_table(
        "inferred_rewards",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("inference_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("artifact_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["artifact_id"],
            ["artifacts.id"],
            name=op.f("fk_inferred_rewards_artifact_id_artifacts"),
        ),
        sa.ForeignKeyConstraint(
            ["inference_id"],
            ["inferences.id"],
            name=op.f("fk_inferred_rewards_inference_id_inferences"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inferred_rewards")),
        sa.UniqueConstraint("inference_id", name=op.f("uq_inferred_rewards_inference_id")),
    )


def downgrade() -> None:
    op.drop_table("inferred_rewards")
    with op.batch_alter_table("divergence_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_divergence_reports_inference_id"))

    op.drop_table("divergence_reports")
    with op.batch_alter_table("rollout_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rollout_tags_key_value"))

    op.drop_table("rollout_tags")
    op.drop_table("rollout_chunks")
    with op.batch_alter_table("inferences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inferences_status_lease_expires_at"))
        batch_op.drop_index(batch_op.f("ix_inferences_rollouts_id"))
        batch_op.drop_index(batch_op.f("ix_inferences_project_id_verdict_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_inferences_project_id_status_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_inferences_project_id_epic_id"))
        batch_op.drop_index(batch_op.f("ix_inferences_project_id_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_inferences_environment_id"))

    op.drop_table("inferences")
    with op.batch_alter_table("rollout_sets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rollout_sets_project_id_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_rollout_sets_environment_id"))

    op.drop_table("rollout_sets")
    with op.batch_alter_table("environments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_environments_project_id_created_at"))

    op.drop_table("environments")
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_artifacts_project_id"))

    op.drop_table("artifacts")
    op.drop_table("api_keys")
    op.drop_table("projects")
