"""How a browser session travels: the ``__Host-`` cookie, and the authenticator that reads it.

The cookie is ``__Host-idgate-session``: ``Secure``, ``HttpOnly``, ``SameSite=Lax``, ``Path=/``
and no ``Domain`` (SS-03). The ``__Host-`` prefix makes browsers refuse it unless all of that
holds, so a sibling subdomain cannot plant or overwrite it. It has no ``Max-Age``: it dies with
the browser, and the server enforces the idle and absolute timeouts anyway. Browsers treat
``http://localhost`` and ``http://127.0.0.1`` as secure, so the same cookie works in development
over plain http (SECURITY.md pitfall 11).
"""

from __future__ import annotations

from fastapi import Request, Response

from idgate.core.errors import AuthenticationError
from idgate.core.ports import UnitOfWork
from idgate.core.principal import Principal
from idgate.core.sessions import BrowserSession, IssuedSession
from idgate.services import Services
from idgate.web.csrf import check_origin, check_token, is_unsafe
from idgate.web.origin import request_origin

COOKIE_NAME = "__Host-idgate-session"


def session_cookie(request: Request) -> str | None:
    """Return the raw session id the browser sent, if any."""
    return request.cookies.get(COOKIE_NAME)


def set_session_cookie(response: Response, issued: IssuedSession) -> None:
    """Send the cookie of a new or rotated session."""
    response.set_cookie(
        COOKIE_NAME,
        issued.cookie_value,
        path="/",
        secure=True,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response) -> None:
    """Tell the browser to drop the session cookie."""
    response.delete_cookie(COOKIE_NAME, path="/", secure=True, httponly=True, samesite="lax")


def current_session(request: Request) -> BrowserSession | None:
    """Return the session the :class:`SessionAuthenticator` accepted for this request."""
    session: BrowserSession | None = getattr(request.state, "browser_session", None)
    return session


class SessionAuthenticator:
    """The session cookie, for signed-in browsers.

    On state-changing methods the request must also pass the CSRF checks (``web.csrf``): the
    origin check runs first, before the session is even looked up.
    """

    def applies(self, request: Request) -> bool:
        return COOKIE_NAME in request.cookies

    async def authenticate(
        self, request: Request, services: Services, uow: UnitOfWork
    ) -> Principal:
        unsafe = is_unsafe(request)
        if unsafe:
            await check_origin(request, services, uow)
        origin = request_origin(request)
        session = await services.sessions.resolve(uow, session_cookie(request) or "", origin)
        if session is None or not session.is_signed_in:
            raise AuthenticationError("Not signed in: the session has ended or is unknown.")
        user = await services.sessions.user_of(uow, session, origin)
        if user is None:
            raise AuthenticationError("Not signed in: the session has ended.")
        if unsafe:
            await check_token(request, services, uow, session)
        request.state.browser_session = session
        return Principal(
            subject=str(user.id), kind="user", method="session", user=user, roles=user.roles
        )
