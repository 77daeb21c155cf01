"""federated identities and pending authorizations

Revision ID: 0009
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import idgate.store.models.base

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "federated_identities",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("email_verified", sa.Boolean(), nullable=False),
        sa.Column("login", sa.String(length=255), nullable=True),
        sa.Column(
            "created_at", idgate.store.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "last_login_at", idgate.store.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_federated_identities_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federated_identities")),
        sa.UniqueConstraint("provider", "subject", name="uq_federated_identities_provider_subject"),
    )
    with op.batch_alter_table("federated_identities", schema=None) as batch_op:
        batch_op.create_index("ix_federated_identities_email", ["email"], unique=False)
        batch_op.create_index("ix_federated_identities_user_id", ["user_id"], unique=False)

    op.create_table(
        "pending_authorizations",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("session_key", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("next_path", sa.String(length=1024), nullable=False),
        sa.Column("purpose", sa.String(length=8), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at", idgate.store.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "expires_at", idgate.store.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_pending_authorizations_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_pending_authorizations")),
    )
    with op.batch_alter_table("pending_authorizations", schema=None) as batch_op:
        batch_op.create_index("ix_pending_authorizations_expires_at", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pending_authorizations", schema=None) as batch_op:
        batch_op.drop_index("ix_pending_authorizations_expires_at")

    op.drop_table("pending_authorizations")
    with op.batch_alter_table("federated_identities", schema=None) as batch_op:
        batch_op.drop_index("ix_federated_identities_user_id")
        batch_op.drop_index("ix_federated_identities_email")

    op.drop_table("federated_identities")
