"""The account pages: profile and sessions, password change, re-authentication."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from idgate.core.errors import CurrentPasswordIncorrect, InvalidCredentials, InvalidInput
from idgate.web.dependencies import OriginDep, ServicesDep, UowDep
from idgate.web.pages.context import SignedInDep
from idgate.web.pages.redirects import safe_next
from idgate.web.pages.rendering import render
from idgate.web.ratelimit import rate_limit
from idgate.web.schemas import MAX_PASSWORD_FIELD
from idgate.web.sessions import set_session_cookie

NOTICES = {
    "password_changed": "Your password was changed. Every other session has been signed out.",
    "others_revoked": "Every other session has been signed out.",
    "revoked": "The session has been signed out.",
    "confirmed": "Password confirmed.",
    "linked": "The account was linked: you can now sign in with it.",
    "already_linked": "That account was already linked to yours.",
    "unlinked": "The account was unlinked: it can no longer sign you in.",
}

Password = Annotated[str, Form(max_length=MAX_PASSWORD_FIELD)]
Next = Annotated[str, Form(max_length=2048)]


def _see_other(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


def _confirm_first(next_path: str = "/account") -> RedirectResponse:
    return _see_other("/account/confirm?next=" + quote(next_path, safe="/"))


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/account", name="account_page")
    async def account_page(
        request: Request,
        signed_in: SignedInDep,
        services: ServicesDep,
        uow: UowDep,
        done: str | None = None,
    ) -> Response:
        """The profile and the list of the user's sessions (SS-09)."""
        sessions = await services.sessions.list_for(uow, signed_in.user.id)
        identities = await services.federation.identities(uow, signed_in.user.id)
        linked = {i.provider for i in identities}
        titles = {p.name: p.title for p in services.social}
        return render(
            request,
            "account.html",
            {
                "user": signed_in.user,
                "current": signed_in.session,
                "sessions": sessions,
                "csrf_token": signed_in.session.csrf_token,
                "notice": NOTICES.get(done or ""),
                "identities": identities,
                "provider_titles": titles,
                "providers": [p for p in services.social if p.name not in linked],
                "has_password": signed_in.user.password_hash is not None,
            },
        )

    @router.get("/account/password", name="password_page")
    async def password_page(
        request: Request, signed_in: SignedInDep, services: ServicesDep
    ) -> Response:
        """The password change form."""
        return render(
            request,
            "password.html",
            {
                "user": signed_in.user,
                "csrf_token": signed_in.session.csrf_token,
                "min_length": services.users.policy.min_length,
            },
        )

    @router.post("/account/password", name="password_form")
    async def password_form(
        request: Request,
        signed_in: SignedInDep,
        services: ServicesDep,
        uow: UowDep,
        origin: OriginDep,
        # After signed_in, so the CSRF check answers a forged request first.
        _limited: None = rate_limit("password_change", per_user=True),
        current_password: Password = "",
        new_password: Password = "",
        new_password_confirm: Password = "",
    ) -> Response:
        """Change the password (the current one is asked again: SS-10, PW-09).

        The other sessions end; this one continues under a new id (SS-07, SS-02).
        """
        user, session = signed_in.user, signed_in.session
        error, status = None, 422
        if new_password != new_password_confirm:
            error = "The two new passwords are not the same."
        else:
            try:
                await services.users.change_password(
                    uow, user, current_password, new_password, origin
                )
            except CurrentPasswordIncorrect as exc:
                error, status = exc.detail, 403
            except InvalidInput as exc:
                error = exc.detail
        if error is not None:
            return render(
                request,
                "password.html",
                {
                    "user": user,
                    "csrf_token": session.csrf_token,
                    "min_length": services.users.policy.min_length,
                    "error": error,
                },
                status_code=status,
            )
        # Every refresh-token session and access token of the account ends too (SS-07).
        await services.tokens.revoke_user(uow, user, origin, reason="password_changed")
        issued = await services.sessions.after_password_change(uow, user, session, origin)
        response = _see_other("/account?done=password_changed")
        set_session_cookie(response, issued)
        return response

    @router.post("/account/sessions/{public_id}/revoke", name="revoke_session_form")
    async def revoke_session(
        public_id: uuid.UUID,
        signed_in: SignedInDep,
        services: ServicesDep,
        uow: UowDep,
        origin: OriginDep,
    ) -> Response:
        """Sign out one session; needs a recent password (SS-09)."""
        if services.sessions.needs_reauthentication(signed_in.session):
            return _confirm_first()
        await services.sessions.revoke(uow, signed_in.user, public_id, origin)
        return _see_other("/account?done=revoked")

    @router.post("/account/sessions/revoke-others", name="revoke_other_sessions_form")
    async def revoke_others(
        signed_in: SignedInDep, services: ServicesDep, uow: UowDep, origin: OriginDep
    ) -> Response:
        """Sign out every other session ("other devices"); needs a recent password (SS-09)."""
        if services.sessions.needs_reauthentication(signed_in.session):
            return _confirm_first()
        await services.sessions.revoke_others(uow, signed_in.user, signed_in.session, origin)
        return _see_other("/account?done=others_revoked")

    @router.get("/account/confirm", name="confirm_page")
    async def confirm_page(
        request: Request,
        signed_in: SignedInDep,
        services: ServicesDep,
        uow: UowDep,
        next: str | None = None,
    ) -> Response:
        """Ask for the password again before a sensitive action (or, for an account without a
        password, to sign in again with one of its providers)."""
        identities = await services.federation.identities(uow, signed_in.user.id)
        linked = {i.provider for i in identities}
        return render(
            request,
            "confirm.html",
            {
                "user": signed_in.user,
                "csrf_token": signed_in.session.csrf_token,
                "next": safe_next(next),
                "has_password": signed_in.user.password_hash is not None,
                "providers": [p for p in services.social if p.name in linked],
            },
        )

    @router.post("/account/confirm", name="confirm_form")
    async def confirm_form(
        request: Request,
        signed_in: SignedInDep,
        services: ServicesDep,
        uow: UowDep,
        origin: OriginDep,
        _limited: None = rate_limit("password_change", per_user=True),
        password: Password = "",
        next: Next = "",
    ) -> Response:
        """Re-authenticate: check the password, then rotate the session id (SS-02)."""
        user, session = signed_in.user, signed_in.session
        try:
            checked = await services.users.authenticate(uow, user.username, password, origin)
            if checked.id != user.id:
                raise InvalidCredentials()
        except InvalidCredentials:
            return render(
                request,
                "confirm.html",
                {
                    "user": user,
                    "csrf_token": session.csrf_token,
                    "next": safe_next(next),
                    "error": "The password is incorrect.",
                    "has_password": user.password_hash is not None,
                },
                status_code=401,
            )
        issued = await services.sessions.rotate(
            uow, session, origin, reason="reauthenticated", reauthenticated=True
        )
        response = _see_other(safe_next(next))
        set_session_cookie(response, issued)
        return response

    return router
