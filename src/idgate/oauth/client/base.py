"""What every social-login provider offers the pages: a redirect out, and an identity back."""

from __future__ import annotations

from typing import Protocol

from idgate.core.federation import UpstreamIdentity


class SocialProvider(Protocol):
    """One configured provider (GitHub, Google, or an OpenID Connect provider by its issuer).

    ``name`` appears in idgate's URLs (``/login/<name>``) and audit events; ``title`` on the
    buttons; ``kind`` picks the icon (``github``, ``google`` or ``oidc``).
    """

    name: str
    title: str
    kind: str

    async def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_verifier: str
    ) -> str:
        """Return the URL that sends the browser to the provider: ``state``, the PKCE S256
        challenge of ``code_verifier`` and (OpenID Connect) ``nonce`` in it, minimal scopes."""
        ...

    async def check_issuer(self, iss: str | None) -> None:
        """Check the ``iss`` of the authorization response (RFC 9207); raise
        :class:`~idgate.core.federation.SocialLoginFailed` on a mismatch."""
        ...

    async def finish(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> UpstreamIdentity:
        """Exchange ``code`` and return the verified identity.

        Raises :class:`~idgate.core.federation.SocialLoginFailed` (refused code, bad ID token)
        or :class:`~idgate.core.federation.ProviderUnavailable` (network, 5xx).
        """
        ...
