"""Errors raised by the core, each with a stable ``code`` the HTTP layer renders.

The tree::

    IdgateError                    root; never raised itself
    ├── AuthenticationError        the caller could not be authenticated (HTTP 401)
    │   ├── InvalidCredentials     wrong username/password, unknown or disabled account
    │   ├── InvalidToken           missing, malformed, forged, expired or revoked token
    │   └── InvalidGrant           a refresh token that is unknown, expired, reused or revoked
    ├── PermissionDenied           authenticated but not allowed (HTTP 403)
    │   ├── CurrentPasswordIncorrect  re-authentication for a sensitive change failed
    │   ├── CsrfRefused        a cookie-authenticated change without a valid CSRF token / origin
    │   └── ReauthenticationRequired  a sensitive action needs the password again first
    ├── InvalidInput               the request is well-formed but its values are refused (HTTP 422)
    │   ├── InvalidUsername
    │   ├── InvalidClientId        a client_id idgate cannot bind tokens to
    │   └── WeakPassword           the password policy refused a new password
    ├── NotFound                   (HTTP 404)
    ├── Conflict                   (HTTP 409)
    │   └── UsernameTaken
    ├── RateLimited                too many attempts; carries ``retry_after`` (HTTP 429)
    │   └── LoginThrottled         too many failed logins for this account (or device)
    ├── Unavailable                load shed or a dependency down; ``retry_after`` (HTTP 503)
    └── ConfigurationError         the server refuses to start with these settings

The web layer maps each class to a status code (``idgate.web.errors``); the core never knows about
HTTP. Messages are written for the person reading them and never contain a secret.
"""

from __future__ import annotations


class IdgateError(Exception):
    """Root of every error idgate raises on purpose."""

    code: str = "error"
    default_detail: str = "The request failed."

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.default_detail
        super().__init__(self.detail)


class AuthenticationError(IdgateError):
    code = "unauthenticated"
    default_detail = "Authentication required."


class InvalidCredentials(AuthenticationError):
    """One answer for every login failure, so it reveals nothing about the account (LG-01)."""

    code = "invalid_credentials"
    default_detail = "Invalid credentials"


class InvalidToken(AuthenticationError):
    """The bearer token cannot be accepted.

    ``detail`` is safe to show: it says what kind of problem it was, never the token itself.
    """

    code = "invalid_token"
    default_detail = "The access token is invalid."


class InvalidGrant(AuthenticationError):
    """A refresh token cannot be exchanged (RFC 6749 5.2 ``invalid_grant``).

    Unknown, expired, revoked, already used or presented by another client: the caller must
    authenticate again.
    """

    code = "invalid_grant"
    default_detail = "The refresh token is invalid, expired or revoked."


class PermissionDenied(IdgateError):
    code = "permission_denied"
    default_detail = "You are not allowed to do this."


class CurrentPasswordIncorrect(PermissionDenied):
    """The current password given to confirm a sensitive change is wrong (PW-09)."""

    code = "current_password_incorrect"
    default_detail = "The current password is incorrect."


class CsrfRefused(PermissionDenied):
    """A state-changing request authenticated by cookie failed the CSRF checks (CSRF-01/02)."""

    code = "csrf_failed"
    default_detail = (
        "The request was refused: it did not come from an idgate page of this session. "
        "Reload the page and try again."
    )


class ReauthenticationRequired(PermissionDenied):
    """The session last proved the password too long ago for this action (SS-09, SS-10)."""

    code = "reauthentication_required"
    default_detail = "Confirm your password to continue."


class InvalidInput(IdgateError):
    code = "invalid_input"
    default_detail = "The request contains a value that is not accepted."


class InvalidUsername(InvalidInput):
    code = "invalid_username"
    default_detail = "The username is not valid."


class InvalidClientId(InvalidInput):
    code = "invalid_client_id"
    default_detail = (
        "client_id must be 1 to 128 characters: letters, digits and '.', '_', ':', '-'."
    )


class WeakPassword(InvalidInput):
    """A new password was refused; ``detail`` says why.

    NIST SP 800-63B 5.1.1.2: the verifier SHALL tell the subscriber why a password was refused.
    """

    code = "weak_password"
    default_detail = "The password does not meet the password policy."


class NotFound(IdgateError):
    code = "not_found"
    default_detail = "Not found."


class Conflict(IdgateError):
    code = "conflict"
    default_detail = "The request conflicts with the current state."


class UsernameTaken(Conflict):
    code = "username_taken"
    default_detail = "This username is already taken."


class RateLimited(IdgateError):
    """Refused before any work was done; ``retry_after`` seconds until it may succeed.

    ``limit`` and ``window`` (seconds) name the rule that was exhausted, when there is one.
    """

    code = "rate_limited"
    default_detail = "Too many requests. Try again later."

    def __init__(
        self,
        retry_after: int,
        detail: str | None = None,
        *,
        limit: int | None = None,
        window: int | None = None,
    ) -> None:
        self.retry_after = max(1, int(retry_after))
        self.limit = limit
        self.window = window
        super().__init__(detail)


class LoginThrottled(RateLimited):
    """Too many failed logins for this username, from untrusted devices (SECURITY.md LG-03).

    The same answer whether or not the account exists (LG-01).
    """

    code = "login_throttled"
    default_detail = "Too many failed login attempts for this account. Try again later."
    #: True for the first refusal of a waiting period (the one the audit log records).
    first_refusal: bool = False


class Unavailable(IdgateError):
    code = "unavailable"
    default_detail = "The service is busy. Try again shortly."

    def __init__(self, retry_after: int = 1, detail: str | None = None) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(detail)


class ConfigurationError(IdgateError):
    """Settings that idgate refuses to run with; ``problems`` names each one."""

    code = "configuration_error"
    default_detail = "idgate cannot start with these settings."

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(
            "idgate cannot start with these settings:\n" + "\n".join(f"  - {p}" for p in problems)
        )
