"""The pages of signing in and out: login, registration, logout (all POSTs answer 303)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from idgate.core.errors import InvalidCredentials, InvalidInput, UsernameTaken
from idgate.core.usernames import canonical_username
from idgate.web.dependencies import OriginDep, ServicesDep, UowDep
from idgate.web.devices import device_cookie, set_device_cookie
from idgate.web.pages.context import BrowserSessionDep, FormSessionDep, SignedInDep
from idgate.web.pages.redirects import safe_next
from idgate.web.pages.rendering import render
from idgate.web.ratelimit import enforce_account, rate_limit
from idgate.web.schemas import MAX_PASSWORD_FIELD, MAX_USERNAME_FIELD
from idgate.web.sessions import clear_session_cookie, set_session_cookie

#: Messages a redirect may ask the login page to show, by key: nothing from the URL is echoed.
NOTICES = {
    "registered": "Your account is ready. Sign in to continue.",
    "logged_out": "You have signed out.",
}

Username = Annotated[str, Form(max_length=MAX_USERNAME_FIELD)]
Password = Annotated[str, Form(max_length=MAX_PASSWORD_FIELD)]
Next = Annotated[str, Form(max_length=2048)]


def _see_other(location: str) -> RedirectResponse:
    # 303, never 307/308: the browser must not re-send the credentials it just posted (OP-13).
    return RedirectResponse(location, status_code=303)


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    async def _form_page(
        request: Request,
        template: str,
        services: ServicesDep,
        uow: UowDep,
        current: BrowserSessionDep,
        origin: OriginDep,
        context: dict[str, object],
    ) -> Response:
        if current is not None and current.is_signed_in:
            if await services.sessions.user_of(uow, current, origin) is not None:
                return _see_other(safe_next(str(context.get("next") or "")))
            current = None
        issued = None
        if current is None:
            issued = await services.sessions.begin(uow, origin)
            current = issued.session
        response = render(request, template, {**context, "csrf_token": current.csrf_token})
        if issued is not None:
            set_session_cookie(response, issued)
        return response

    @router.get("/account/login", name="login_page")
    async def login_page(
        request: Request,
        services: ServicesDep,
        uow: UowDep,
        current: BrowserSessionDep,
        origin: OriginDep,
        next: str | None = None,
        done: str | None = None,
    ) -> Response:
        """The login form. Opening it starts a pre-session that carries its CSRF token."""
        context: dict[str, object] = {
            "next": safe_next(next),
            "username": "",
            "notice": NOTICES.get(done or ""),
            "providers": list(services.social),
        }
        return await _form_page(request, "login.html", services, uow, current, origin, context)

    # The same limits and throttle as the JSON login: one account, one counter (LG-07).
    @router.post("/account/login", name="login_form", dependencies=[rate_limit("login")])
    async def login_form(
        request: Request,
        services: ServicesDep,
        uow: UowDep,
        origin: OriginDep,
        session: FormSessionDep,
        username: Username = "",
        password: Password = "",
        next: Next = "",
    ) -> Response:
        """Check the credentials; on success start a signed-in session with a new id (SS-02)."""
        await enforce_account(services, uow, "login", origin, canonical_username(username))
        try:
            user = await services.users.authenticate(
                uow, username, password, origin, device_token=device_cookie(request)
            )
        except InvalidCredentials:
            # One answer for every cause (LG-01); the failure is audited and committed.
            return render(
                request,
                "login.html",
                {
                    "next": safe_next(next),
                    "username": username,
                    "csrf_token": session.csrf_token,
                    "error": "Invalid username or password.",
                    "providers": list(services.social),
                },
                status_code=401,
            )
        issued = await services.sessions.login(uow, user, origin, previous=session)
        response = _see_other(safe_next(next))
        set_session_cookie(response, issued)
        set_device_cookie(response, services.devices.issue(user.id))
        return response

    @router.get("/account/register", name="register_page")
    async def register_page(
        request: Request,
        services: ServicesDep,
        uow: UowDep,
        current: BrowserSessionDep,
        origin: OriginDep,
    ) -> Response:
        """The registration form."""
        context: dict[str, object] = {
            "username": "",
            "min_length": services.users.policy.min_length,
            "providers": list(services.social),
            "next": "/account",
        }
        return await _form_page(request, "register.html", services, uow, current, origin, context)

    @router.post("/account/register", name="register_form", dependencies=[rate_limit("register")])
    async def register_form(
        request: Request,
        services: ServicesDep,
        uow: UowDep,
        origin: OriginDep,
        session: FormSessionDep,
        username: Username = "",
        password: Password = "",
        password_confirm: Password = "",
    ) -> Response:
        """Create the account, then send the browser to the login page."""
        error = None
        status = 422
        if password != password_confirm:
            error = "The two passwords are not the same."
        else:
            try:
                await services.users.register(uow, username, password, origin)
            except (InvalidInput, UsernameTaken) as exc:
                error = exc.detail
                status = 409 if isinstance(exc, UsernameTaken) else 422
        if error is None:
            return _see_other("/account/login?done=registered")
        return render(
            request,
            "register.html",
            {
                "username": username,
                "csrf_token": session.csrf_token,
                "min_length": services.users.policy.min_length,
                "error": error,
                "providers": list(services.social),
                "next": "/account",
            },
            status_code=status,
        )

    @router.post("/account/logout", name="logout_form")
    async def logout_form(
        signed_in: SignedInDep, services: ServicesDep, uow: UowDep, origin: OriginDep
    ) -> Response:
        """End the session on the server, drop the cookie, clear what the browser kept (SS-04)."""
        await services.sessions.logout(uow, signed_in.session, origin)
        response = _see_other("/account/login?done=logged_out")
        clear_session_cookie(response)
        # Not "cookies": browsers would clear every cookie of the registrable domain (other apps
        # on example.com too); the session cookie is expired above.
        response.headers["Clear-Site-Data"] = '"cache", "storage"'
        return response

    return router


__all__ = ["NOTICES", "build_router"]
