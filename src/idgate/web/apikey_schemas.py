"""Request and response bodies for service accounts and their API keys."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from idgate.core.apikeys import ApiKey, NewApiKey, ServiceAccount

_STRICT = ConfigDict(strict=True, extra="ignore", hide_input_in_errors=True)


class ServiceAccountIn(BaseModel):
    model_config = _STRICT

    name: str = Field(min_length=1, max_length=64)
    description: str = Field("", max_length=256)


class ServiceAccountOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    owner_id: uuid.UUID
    created_at: datetime

    @classmethod
    def of(cls, account: ServiceAccount) -> ServiceAccountOut:
        return cls(
            id=account.id,
            name=account.name,
            description=account.description,
            owner_id=account.owner_id,
            created_at=account.created_at,
        )


class ApiKeyIn(BaseModel):
    model_config = _STRICT

    name: str = Field("", max_length=64)
    scopes: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Permissions the key may use, such as 'reports:read' or 'posts:*'; each must "
        "be held by the service account's owner and by you.",
    )
    expires_in_days: int | None = Field(
        None,
        ge=1,
        le=3650,
        description="Days until the key expires; default: the server's setting (90 days).",
    )
    never_expires: bool = Field(False, description="Create a key without an expiry.")


class RotateIn(BaseModel):
    model_config = _STRICT

    grace_seconds: int = Field(
        0, ge=0, le=7 * 24 * 3600, description="How long the old key keeps working (default 0)."
    )


class ApiKeyOut(BaseModel):
    """A key as listings show it: never the key itself, only its last four characters."""

    id: uuid.UUID
    service_account_id: uuid.UUID
    name: str
    hint: str = Field(description="'idg_...' and the last four characters of the key.")
    scopes: list[str]
    status: str = Field(description="active, expired or revoked")
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="Precise to about a minute.")
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey, now: datetime) -> ApiKeyOut:
        return cls(
            id=key.id,
            service_account_id=key.service_account_id,
            name=key.name,
            hint=key.hint,
            scopes=list(key.scopes),
            status=key.status(now),
            created_at=key.created_at,
            expires_at=key.expires_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


class NewApiKeyOut(BaseModel):
    """The answer to creating or rotating a key: the only time the full key is shown."""

    api_key: str = Field(description="The key. Store it now: idgate keeps only its hash.")
    key: ApiKeyOut

    @classmethod
    def of(cls, new: NewApiKey, now: datetime) -> NewApiKeyOut:
        return cls(api_key=new.secret, key=ApiKeyOut.of(new.key, now))
