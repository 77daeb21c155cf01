"""browser sessions

Revision ID: 0006
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import idgate.store.models.base

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "browser_sessions",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("public_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at", idgate.store.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "last_seen_at", idgate.store.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "expires_at", idgate.store.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "keep_until", idgate.store.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "signed_in_at", idgate.store.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "authenticated_at", idgate.store.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_browser_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_browser_sessions")),
        sa.UniqueConstraint("public_id", name=op.f("uq_browser_sessions_public_id")),
    )
    with op.batch_alter_table("browser_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_browser_sessions_keep_until", ["keep_until"], unique=False)
        batch_op.create_index("ix_browser_sessions_user_id", ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("browser_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_browser_sessions_user_id")
        batch_op.drop_index("ix_browser_sessions_keep_until")

    op.drop_table("browser_sessions")
