"""Social login in the browser: "Continue with GitHub / Google / <provider>", linking and
unlinking provider accounts, and an access token for the signed-in account.

* ``GET /login/{provider}?next=/path`` starts a login: a pending authorization bound to this
  browser's session (a pre-session is started if there is none) and a ``303`` to the provider.
* ``GET /login/{provider}/callback`` is the provider's way back, one URL per provider (mix-up
  defence, OC-02). The state must be this browser session's, unused, unexpired and for this
  provider (OC-01); then the code is exchanged and the identity verified (``oauth.client``);
  then the browser gets a signed-in session under a new id (SS-02) and goes to ``next``, which
  only ever is a path on idgate (OP-14, OC-05). Every failure ends on an error page (4xx/503)
  that sets no cookie, and is audited.
* ``GET /account/identities/{provider}/link`` does the same trip to link a provider account to
  the signed-in account (needs a recent sign-in, like other changes to how one signs in);
  ``POST /account/identities/{id}/unlink`` removes one, unless it is the last way in.
* ``POST /account/token`` shows an access token for the signed-in account, once: how a person
  who signs in with a provider (and has no password for ``POST /login``) gets one for the API.

The starts are plain links (GET), not forms: the pages' CSP allows forms to post to idgate only,
and a browser applies that to the redirect that follows a form too.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from idgate.core.errors import NotFound
from idgate.core.federation import (
    ProviderUnavailable,
    SocialLoginCancelled,
    SocialLoginFailed,
    UpstreamIdentity,
)
from idgate.core.models import RequestOrigin
from idgate.core.ports import UnitOfWork
from idgate.core.sessions import BrowserSession
from idgate.oauth.client import SocialProvider
from idgate.services import Services
from idgate.web.dependencies import OriginDep, ServicesDep, UowDep
from idgate.web.devices import set_device_cookie
from idgate.web.pages.context import BrowserSessionDep, SignedInDep
from idgate.web.pages.redirects import safe_next
from idgate.web.pages.rendering import render
from idgate.web.ratelimit import rate_limit
from idgate.web.sessions import set_session_cookie


def _see_other(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


def _provider(services: Services, name: str) -> SocialProvider:
    provider = services.social.get(name)
    if provider is None:
        raise NotFound("There is no sign-in provider of that name.")
    return provider


def callback_url(services: Services, provider: str) -> str:
    """Return the redirect URI to register at ``provider``: one per provider (OC-02)."""
    return f"{services.settings.issuer}/login/{quote(provider, safe='')}/callback"


async def _upstream_identity(
    services: Services,
    uow: UnitOfWork,
    request: Request,
    provider: SocialProvider,
    origin: RequestOrigin,
    code_verifier: str,
    nonce: str,
    user_id: uuid.UUID | None,
) -> UpstreamIdentity:
    """Finish the protocol part of the callback; audit and re-raise any failure."""
    params = request.query_params
    try:
        await provider.check_issuer(params.get("iss"))
        error = params.get("error")
        if error == "access_denied":
            raise SocialLoginCancelled("access_denied")
        if error:
            raise SocialLoginFailed(
                "provider_error:" + error[:32], "The provider refused the sign-in."
            )
        code = params.get("code")
        if not code or len(code) > 2048:
            raise SocialLoginFailed("missing_code")
        return await provider.finish(
            code=code,
            redirect_uri=callback_url(services, provider.name),
            code_verifier=code_verifier,
            nonce=nonce,
        )
    except (SocialLoginFailed, ProviderUnavailable) as exc:
        await services.federation.record_failure(
            uow, origin, provider.name, exc.reason, user_id=user_id
        )
        raise


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get(
        "/login/{provider}", name="social_login_start", dependencies=[rate_limit("social_login")]
    )
    async def start(
        provider: str,
        services: ServicesDep,
        uow: UowDep,
        origin: OriginDep,
        current: BrowserSessionDep,
        next: str | None = None,
    ) -> Response:
        """Send the browser to the provider, bound to its (pre-)session (OC-01)."""
        chosen = _provider(services, provider)
        issued = None
        if current is None:
            issued = await services.sessions.begin(uow, origin)
            current = issued.session
        started = await services.federation.begin(
            uow, current.key, chosen.name, purpose="login", next_path=safe_next(next)
        )
        url = await chosen.authorization_url(
            redirect_uri=callback_url(services, chosen.name),
            state=started.state,
            nonce=started.pending.nonce,
            code_verifier=started.pending.code_verifier,
        )
        response = _see_other(url)
        if issued is not None:
            set_session_cookie(response, issued)
        return response

    @router.get(
        "/login/{provider}/callback",
        name="social_login_callback",
        dependencies=[rate_limit("social_login")],
    )
    async def callback(
        provider: str,
        request: Request,
        services: ServicesDep,
        uow: UowDep,
        origin: OriginDep,
        current: BrowserSessionDep,
    ) -> Response:
        """Finish a login or a link (see the module docstring)."""
        chosen = _provider(services, provider)
        pending = await services.federation.resume(
            uow,
            current.key if current is not None else None,
            chosen.name,
            request.query_params.get("state"),
            origin,
        )
        assert current is not None  # resume() refused a browser without its session
        upstream = await _upstream_identity(
            services,
            uow,
            request,
            chosen,
            origin,
            pending.code_verifier,
            pending.nonce,
            pending.user_id,
        )
        if pending.purpose == "link":
            return await _finish_link(services, uow, origin, current, pending.user_id, upstream)
        user = await services.federation.sign_in(uow, upstream, origin)
        issued = await services.sessions.login(uow, user, origin, previous=current)
        response = _see_other(safe_next(pending.next_path))
        set_session_cookie(response, issued)
        set_device_cookie(response, services.devices.issue(user.id))
        return response

    @router.get("/account/identities/{provider}/link", name="link_identity_start")
    async def link_start(
        provider: str, signed_in: SignedInDep, services: ServicesDep, uow: UowDep
    ) -> Response:
        """Send the signed-in user to the provider to link an account of theirs there."""
        chosen = _provider(services, provider)
        if services.sessions.needs_reauthentication(signed_in.session):
            # Adding a way to sign in needs a recent sign-in (ASVS 7.5.1), like revoking
            # sessions. After confirming, the person clicks the link again.
            return _see_other("/account/confirm?next=/account")
        started = await services.federation.begin(
            uow,
            signed_in.session.key,
            chosen.name,
            purpose="link",
            next_path="/account",
            user_id=signed_in.user.id,
        )
        url = await chosen.authorization_url(
            redirect_uri=callback_url(services, chosen.name),
            state=started.state,
            nonce=started.pending.nonce,
            code_verifier=started.pending.code_verifier,
        )
        return _see_other(url)

    @router.post("/account/identities/{identity_id}/unlink", name="unlink_identity_form")
    async def unlink(
        identity_id: uuid.UUID,
        signed_in: SignedInDep,
        services: ServicesDep,
        uow: UowDep,
        origin: OriginDep,
    ) -> Response:
        """Remove a linked provider account; never the last way to sign in."""
        if services.sessions.needs_reauthentication(signed_in.session):
            return _see_other("/account/confirm?next=/account")
        await services.federation.unlink(uow, signed_in.user, identity_id, origin)
        return _see_other("/account?done=unlinked")

    @router.post("/account/token", name="account_token_form")
    async def account_token(
        request: Request,
        signed_in: SignedInDep,
        services: ServicesDep,
        uow: UowDep,
        origin: OriginDep,
        _limited: None = rate_limit("account_token", per_user=True),
    ) -> Response:
        """Issue a token pair for the signed-in account, as a password login would, and show it
        once: an access token and a refresh token of a new token session (revocable with
        ``POST /logout`` and by every revocation of the account, audited as ``token.issued``)."""
        user = signed_in.user
        pair = await services.tokens.issue(uow, user, origin)
        return render(
            request,
            "token.html",
            {
                "user": user,
                "csrf_token": signed_in.session.csrf_token,
                "access_token": pair.access.token,
                "expires_in": pair.access.expires_in,
                "refresh_token": pair.refresh_token,
                "refresh_expires_in_days": max(1, pair.refresh_expires_in // 86400),
                "issuer": services.settings.issuer,
            },
        )

    return router


async def _finish_link(
    services: Services,
    uow: UnitOfWork,
    origin: RequestOrigin,
    session: BrowserSession,
    user_id: uuid.UUID | None,
    upstream: UpstreamIdentity,
) -> Response:
    # The session that started the link must still be signed in as the same account.
    user = await services.sessions.user_of(uow, session, origin)
    if user is None or user_id is None or user.id != user_id:
        await services.federation.failed(uow, origin, upstream.provider, "link_session_ended")
    linked = await services.federation.link(uow, user, upstream, origin)
    return _see_other("/account?done=" + ("linked" if linked else "already_linked"))


__all__ = ["build_router", "callback_url"]
