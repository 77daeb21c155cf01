"""CSRF defences for requests authenticated by the session cookie (SECURITY.md CSRF-01..04).

Two independent checks, both required on every state-changing request a cookie authenticates:

1. **Where it comes from.** ``Sec-Fetch-Site`` decides when the browser sends it: only
   ``same-origin`` (and ``none``, a navigation the user started) pass. Without it (older
   browsers), an ``Origin`` header must equal idgate's own origin exactly; ``Origin: null`` fails.
   ``Sec-Fetch-Site`` comes first because with ``Referrer-Policy: no-referrer`` Chrome sends
   ``Origin: null`` even on idgate's own forms (SECURITY.md pitfall 8). A request with neither
   header is not from a browser's cross-site form; the token alone decides.
2. **The synchronizer token** of the session, from the ``X-CSRF-Token`` header or the form field
   ``csrf_token``, compared in constant time. It is never read from a cookie or a URL.

Requests with a bearer token are not cookie-authenticated and are not checked here.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from fastapi import Request

from idgate.core.audit import AuditEvent, AuditEventType, Outcome
from idgate.core.errors import CsrfRefused
from idgate.core.ids import constant_time_equals
from idgate.core.ports import UnitOfWork
from idgate.core.sessions import BrowserSession
from idgate.services import Services
from idgate.web.origin import request_origin

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
_ALLOWED_SITES = frozenset({"same-origin", "none"})


def is_unsafe(request: Request) -> bool:
    """Return whether the request's method may change state (everything but GET/HEAD/...)."""
    return request.method.upper() not in SAFE_METHODS


def own_origin(issuer: str) -> str:
    """Return the origin (``scheme://host[:port]``) of idgate's public URL."""
    parts = urlsplit(issuer)
    return f"{parts.scheme}://{parts.netloc}".lower()


def cross_origin_reason(request: Request, trusted_origin: str) -> str | None:
    """Return why the request looks cross-origin, or None when it may proceed."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return None if site.strip().lower() in _ALLOWED_SITES else "cross_site"
    origin = request.headers.get("origin")
    if origin is None:
        return None
    # Exact comparison: https://idgate.example.test.attacker.test must not pass (CSRF-02).
    return None if origin.strip().lower() == trusted_origin else "foreign_origin"


async def submitted_token(request: Request) -> str | None:
    """Return the CSRF token the request carries in the header or the form body, if any."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header.strip()
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media in _FORM_TYPES:
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def refuse(
    request: Request,
    services: Services,
    uow: UnitOfWork,
    reason: str,
    user_id: uuid.UUID | None = None,
) -> CsrfRefused:
    """Stage the audit event of a refusal and return the error to raise."""
    await uow.audit.add(
        AuditEvent.create(
            AuditEventType.CSRF_REFUSED,
            services.clock.now(),
            request_origin(request),
            outcome=Outcome.FAILURE,
            actor_id=user_id,
            subject_id=user_id,
            reason=reason,
            details={"path": request.url.path},
        )
    )
    return CsrfRefused()


async def check_origin(request: Request, services: Services, uow: UnitOfWork) -> None:
    """Raise :class:`CsrfRefused` if a state-changing request comes from another site."""
    reason = cross_origin_reason(request, own_origin(services.settings.issuer))
    if reason is not None:
        raise await refuse(request, services, uow, reason)


async def check_token(
    request: Request, services: Services, uow: UnitOfWork, session: BrowserSession | None
) -> None:
    """Raise :class:`CsrfRefused` unless the request carries ``session``'s CSRF token."""
    user_id = session.user_id if session else None
    if session is None:
        raise await refuse(request, services, uow, "no_session", user_id)
    sent = await submitted_token(request)
    if not sent:
        raise await refuse(request, services, uow, "missing_token", user_id)
    if not constant_time_equals(sent, session.csrf_token):
        raise await refuse(request, services, uow, "wrong_token", user_id)
