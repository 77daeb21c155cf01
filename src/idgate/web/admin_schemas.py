"""Request and response bodies of the admin API (``/admin/...``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from idgate.core.models import User
from idgate.core.rbac import Role
from idgate.web.schemas import MAX_PASSWORD_FIELD

_STRICT = ConfigDict(strict=True, extra="ignore", hide_input_in_errors=True)


class AdminUserOut(BaseModel):
    id: uuid.UUID
    username: str
    roles: list[str]
    disabled: bool
    created_at: datetime
    revoked_before: datetime | None = Field(
        description="Credentials issued before this instant no longer work."
    )

    @classmethod
    def of(cls, user: User) -> AdminUserOut:
        return cls(
            id=user.id,
            username=user.username,
            roles=list(user.roles),
            disabled=user.disabled,
            created_at=user.created_at,
            revoked_before=user.revoked_before,
        )


class UserPage(BaseModel):
    items: list[AdminUserOut]
    total: int = Field(description="How many users match in all.")
    offset: int
    limit: int


class Reauthenticate(BaseModel):
    """The administrator's own current password, confirming a change of privileges (AZ-02)."""

    model_config = _STRICT

    current_password: str = Field(min_length=1, max_length=MAX_PASSWORD_FIELD)


class RevokeCredentials(BaseModel):
    model_config = _STRICT

    include_api_keys: bool = Field(
        False, description="Also revoke every API key of the user's service accounts."
    )


class RevokedOut(BaseModel):
    revoked_before: datetime


class RoleOut(BaseModel):
    name: str
    description: str
    builtin: bool
    permissions: list[str]

    @classmethod
    def of(cls, role: Role) -> RoleOut:
        return cls(
            name=role.name,
            description=role.description,
            builtin=role.builtin,
            permissions=list(role.permissions),
        )


class RoleIn(BaseModel):
    model_config = _STRICT

    name: str = Field(min_length=1, max_length=64)
    description: str = Field("", max_length=256)
    permissions: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Permissions or patterns, such as 'posts:delete' or 'posts:*'.",
    )
