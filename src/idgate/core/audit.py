"""Security events, recorded in the same transaction as the change that caused them.

Services create :class:`AuditEvent` objects and add them to the unit of work's audit repository;
they are stored with the change (or not at all) and, once committed, written to the log as JSON
lines. Like Django's ``user_logged_in`` / ``user_login_failed`` signals, these are the hook points
for monitoring.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from idgate.core.models import RequestOrigin


class AuditEventType(StrEnum):
    """Stable names of the security events idgate records."""

    USER_REGISTERED = "user.registered"
    USER_CREATED = "user.created"
    LOGIN_SUCCEEDED = "login.succeeded"
    LOGIN_FAILED = "login.failed"
    PASSWORD_REHASHED = "password.rehashed"  # noqa: S105 - an event name
    PASSWORD_CHANGED = "password.changed"  # noqa: S105 - an event name
    ROLE_GRANTED = "role.granted"
    ROLE_REVOKED = "role.revoked"
    KEY_GENERATED = "key.generated"
    LOGIN_THROTTLED = "login.throttled"
    LOGIN_UNTHROTTLED = "login.unthrottled"
    RATE_LIMITED = "rate_limit.exceeded"
    USER_DISABLED = "user.disabled"
    USER_ENABLED = "user.enabled"
    USER_DELETED = "user.deleted"
    USER_CREDENTIALS_REVOKED = "user.credentials_revoked"
    ROLE_CREATED = "role.created"
    ROLE_DELETED = "role.deleted"
    PERMISSION_GRANTED = "role.permission_granted"
    PERMISSION_REVOKED = "role.permission_revoked"
    REAUTHENTICATION_FAILED = "reauthentication.failed"
    ACCESS_DENIED = "access.denied"
    SERVICE_ACCOUNT_CREATED = "service_account.created"
    SERVICE_ACCOUNT_DELETED = "service_account.deleted"
    API_KEY_CREATED = "api_key.created"
    API_KEY_ROTATED = "api_key.rotated"
    API_KEY_REVOKED = "api_key.revoked"
    API_KEY_REJECTED = "api_key.rejected"
    SESSION_CREATED = "session.created"
    SESSION_ROTATED = "session.rotated"
    SESSION_DESTROYED = "session.destroyed"
    CSRF_REFUSED = "csrf.refused"
    SOCIAL_LOGIN_SUCCEEDED = "social.login_succeeded"
    SOCIAL_LOGIN_FAILED = "social.login_failed"
    IDENTITY_LINKED = "social.identity_linked"
    IDENTITY_UNLINKED = "social.identity_unlinked"
    TOKEN_ISSUED = "token.issued"  # noqa: S105 - an event name
    KEY_ROTATED = "key.rotated"
    TOKEN_REFRESHED = "token.refreshed"  # noqa: S105 - an event name
    REFRESH_FAILED = "refresh.failed"
    REFRESH_REUSE_DETECTED = "refresh.reuse_detected"
    REFRESH_RACE_LOST = "refresh.race_lost"
    TOKENS_REVOKED = "tokens.revoked"
    LOGOUT = "logout"
    LOGOUT_ALL = "logout.all"


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"


@dataclass(frozen=True)
class AuditEvent:
    """One security event. ``details`` never holds a secret (no password, token or key)."""

    id: uuid.UUID
    type: str
    at: datetime
    outcome: Outcome = Outcome.SUCCESS
    actor_id: uuid.UUID | None = None
    subject_id: uuid.UUID | None = None
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        type: AuditEventType | str,
        at: datetime,
        origin: RequestOrigin,
        *,
        outcome: Outcome = Outcome.SUCCESS,
        actor_id: uuid.UUID | None = None,
        subject_id: uuid.UUID | None = None,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditEvent:
        return cls(
            id=uuid.uuid4(),
            type=str(type),
            at=at,
            outcome=outcome,
            actor_id=actor_id,
            subject_id=subject_id,
            ip=origin.ip,
            user_agent=(origin.user_agent or None) and origin.user_agent[:512],
            request_id=origin.request_id,
            reason=reason,
            details=dict(details or {}),
        )

    def as_log_record(self) -> dict[str, Any]:
        """Return the event as a flat dict for a JSON log line."""
        return {
            "audit_id": str(self.id),
            "event": self.type,
            "at": self.at.isoformat(),
            "outcome": str(self.outcome),
            "actor_id": str(self.actor_id) if self.actor_id else None,
            "subject_id": str(self.subject_id) if self.subject_id else None,
            "ip": self.ip,
            "user_agent": self.user_agent,
            "request_id": self.request_id,
            "reason": self.reason,
            "details": self.details,
        }
