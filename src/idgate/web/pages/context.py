"""Dependencies of the pages: the browser's session, signed in or not, with the CSRF checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from idgate.core.errors import AuthenticationError
from idgate.core.models import User
from idgate.core.sessions import BrowserSession
from idgate.web.csrf import check_origin, check_token, is_unsafe
from idgate.web.dependencies import ServicesDep, UowDep
from idgate.web.origin import request_origin
from idgate.web.pages.redirects import DEFAULT_NEXT
from idgate.web.sessions import SessionAuthenticator, current_session, session_cookie


class LoginRequired(AuthenticationError):
    """A page needs a signed-in session; the browser is sent to the login page (303)."""

    code = "login_required"
    default_detail = "Sign in to continue."

    def __init__(self, next_path: str = DEFAULT_NEXT) -> None:
        super().__init__()
        self.next_path = next_path

    @property
    def location(self) -> str:
        return "/account/login?next=" + quote(self.next_path, safe="/")


@dataclass(frozen=True)
class SignedIn:
    """The signed-in user of a page request and their session."""

    user: User
    session: BrowserSession


async def signed_in(request: Request, services: ServicesDep, uow: UowDep) -> SignedIn:
    """Require a signed-in session; state-changing requests also pass the CSRF checks.

    The origin check runs before anything else, so a cross-site POST is refused with 403 whether
    or not the browser sent the cookie.
    """
    unsafe = is_unsafe(request)
    if unsafe:
        await check_origin(request, services, uow)
    if unsafe:
        back = DEFAULT_NEXT
    else:
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if session_cookie(request) is None:
        raise LoginRequired(back)
    try:
        principal = await SessionAuthenticator().authenticate(request, services, uow)
    except LoginRequired:
        raise
    except AuthenticationError:
        raise LoginRequired(back) from None
    session = current_session(request)
    assert principal.user is not None and session is not None
    return SignedIn(principal.user, session)


SignedInDep = Annotated[SignedIn, Depends(signed_in)]


async def browser_session(
    request: Request, services: ServicesDep, uow: UowDep
) -> BrowserSession | None:
    """Return the browser's live session (a pre-session or a signed-in one), or None."""
    cookie = session_cookie(request)
    if cookie is None:
        return None
    return await services.sessions.resolve(uow, cookie, request_origin(request))


BrowserSessionDep = Annotated[BrowserSession | None, Depends(browser_session)]


async def form_session(request: Request, services: ServicesDep, uow: UowDep) -> BrowserSession:
    """For the login and registration forms: the origin and the pre-session's CSRF token must
    check out (login CSRF, CSRF-04), before any credential is looked at."""
    await check_origin(request, services, uow)
    cookie = session_cookie(request)
    session = None
    if cookie is not None:
        session = await services.sessions.resolve(uow, cookie, request_origin(request))
    await check_token(request, services, uow, session)
    assert session is not None
    return session


FormSessionDep = Annotated[BrowserSession, Depends(form_session)]
