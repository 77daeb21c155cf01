"""Provider accounts linked to idgate accounts, and trips to a provider in progress."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from idgate.store.models.base import Base, UTCDateTime


class FederatedIdentityRow(Base):
    __tablename__ = "federated_identities"
    __table_args__ = (
        # The key of an identity: never the email (SECURITY.md OC-04).
        UniqueConstraint("provider", "subject", name="uq_federated_identities_provider_subject"),
        Index("ix_federated_identities_user_id", "user_id"),
        Index("ix_federated_identities_email", "email"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(255))
    # As the provider said at the last login, lower-cased.
    email: Mapped[str | None] = mapped_column(String(320))
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    login: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PendingAuthorizationRow(Base):
    __tablename__ = "pending_authorizations"
    __table_args__ = (Index("ix_pending_authorizations_expires_at", "expires_at"),)

    # SHA-256 (hex) of the state; the raw state only travels in the redirect.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The browser session it belongs to (SHA-256 of its cookie, like browser_sessions.key).
    session_key: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(32))
    # Kept at most 10 minutes, until the browser comes back; sent to the provider's token
    # endpoint, so stored as is.
    code_verifier: Mapped[str] = mapped_column(String(128))
    nonce: Mapped[str] = mapped_column(String(64))
    next_path: Mapped[str] = mapped_column(String(1024))
    purpose: Mapped[str] = mapped_column(String(8))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
