"""Request and response bodies. Strict types: a number is not a password, a list is not a name.

Unknown fields are ignored, so a client cannot set ``role`` or ``is_admin`` by sending them
(SECURITY.md AZ-04).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from idgate.core.tokens.service import TokenPair

_STRICT = ConfigDict(strict=True, extra="ignore", hide_input_in_errors=True)

#: Generous bounds for what the schema accepts; the password policy decides the real limits.
MAX_USERNAME_FIELD = 256
MAX_PASSWORD_FIELD = 4096


class Credentials(BaseModel):
    """A username and password, as the tutorial sends them to /register and /login."""

    model_config = _STRICT

    username: str = Field(min_length=1, max_length=MAX_USERNAME_FIELD)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_FIELD)


#: RFC 6749 client identifiers as idgate accepts them (``core.tokens.refresh``).
CLIENT_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
#: Generous, so an access token sent by mistake gets ``invalid_grant`` rather than a 422.
MAX_REFRESH_TOKEN_FIELD = 8192


class LoginRequest(Credentials):
    """Credentials; the device token an earlier login to this account returned (if any); and
    optionally the client the token pair is for (default ``idgate``)."""

    device_token: str | None = Field(
        None,
        max_length=256,
        description="The device_token of an earlier successful login to this account: "
        "failed logins elsewhere do not throttle this client.",
    )
    client_id: str | None = Field(None, pattern=CLIENT_ID_PATTERN)


class RefreshRequest(BaseModel):
    """A refresh token to exchange, and the client it was issued to (default ``idgate``)."""

    model_config = _STRICT

    refresh_token: str = Field(min_length=1, max_length=MAX_REFRESH_TOKEN_FIELD)
    client_id: str | None = Field(None, pattern=CLIENT_ID_PATTERN)


class LogoutRequest(BaseModel):
    """Optionally, the refresh token whose session ends (when no access token is at hand)."""

    model_config = _STRICT

    refresh_token: str | None = Field(None, min_length=1, max_length=MAX_REFRESH_TOKEN_FIELD)
    client_id: str | None = Field(None, pattern=CLIENT_ID_PATTERN)


class PasswordChange(BaseModel):
    """The current password (re-authentication, PW-09) and the new one."""

    model_config = _STRICT

    current_password: str = Field(min_length=1, max_length=MAX_PASSWORD_FIELD)
    new_password: str = Field(min_length=1, max_length=MAX_PASSWORD_FIELD)


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - RFC 6750 token type
    expires_in: int = Field(description="Seconds until the access token expires.")


class TokenPairResponse(TokenResponse):
    refresh_token: str = Field(
        description="Opaque; exchange it at POST /token/refresh. Each one works once."
    )
    refresh_expires_in: int = Field(
        description="Seconds until the refresh token expires if it is not used."
    )

    @classmethod
    def of(cls, pair: TokenPair) -> TokenPairResponse:
        return cls(
            access_token=pair.access.token,
            expires_in=pair.access.expires_in,
            refresh_token=pair.refresh_token,
            refresh_expires_in=pair.refresh_expires_in,
        )


class LoginResponse(TokenPairResponse):
    device_token: str = Field(
        description="Send it back in later logins to this account (browsers get it as a cookie)."
    )

    @classmethod
    def of(cls, pair: TokenPair, *, device_token: str = "") -> LoginResponse:
        return cls(
            access_token=pair.access.token,
            expires_in=pair.access.expires_in,
            refresh_token=pair.refresh_token,
            refresh_expires_in=pair.refresh_expires_in,
            device_token=device_token,
        )


class UserOut(BaseModel):
    id: uuid.UUID = Field(description="Stable account id; the 'sub' of the user's tokens.")
    username: str
    roles: list[str]
    created_at: datetime


class Message(BaseModel):
    message: str


class Health(BaseModel):
    status: Literal["ok"]
