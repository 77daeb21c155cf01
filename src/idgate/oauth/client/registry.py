"""The providers configured in the settings, by name.

The provider implementations (authlib's OAuth client, an HTTP client) are imported only when a
provider is configured: a server without social login, the default, never loads them, which is
a tenth of a worker's start-up (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Iterator

from idgate.config import Settings
from idgate.core.clock import Clock
from idgate.oauth.client.base import SocialProvider


class ProviderRegistry:
    """The configured providers, in button order: GitHub, Google, then ``IDGATE_OIDC_PROVIDERS``."""

    def __init__(self, providers: list[SocialProvider]) -> None:
        self._providers = {p.name: p for p in providers}

    def get(self, name: str) -> SocialProvider | None:
        """Return the provider called ``name``, or None."""
        return self._providers.get(name)

    def __iter__(self) -> Iterator[SocialProvider]:
        return iter(self._providers.values())

    def __len__(self) -> int:
        return len(self._providers)


def build_registry(settings: Settings, clock: Clock) -> ProviderRegistry:
    """Return the providers ``settings`` configure (none by default)."""
    github = bool(settings.github_client_id and settings.github_client_secret)
    google = bool(settings.google_client_id and settings.google_client_secret)
    if not (github or google or settings.oidc_providers):
        return ProviderRegistry([])
    from idgate.oauth.client.github import GitHubProvider
    from idgate.oauth.client.http import ProviderHttp
    from idgate.oauth.client.oidc import OidcProvider

    http = ProviderHttp(settings.social_http_timeout)
    providers: list[SocialProvider] = []
    if github:
        assert settings.github_client_id and settings.github_client_secret
        providers.append(
            GitHubProvider(
                client_id=settings.github_client_id,
                client_secret=settings.github_client_secret.get_secret_value(),
                http=http,
                url=settings.github_url,
                api_url=settings.github_api_url,
            )
        )
    if google:
        assert settings.google_client_id and settings.google_client_secret
        providers.append(
            OidcProvider(
                name="google",
                title="Google",
                kind="google",
                issuer=settings.google_issuer,
                client_id=settings.google_client_id,
                client_secret=settings.google_client_secret.get_secret_value(),
                scopes=("openid", "email", "profile"),
                http=http,
                clock=clock,
            )
        )
    for entry in settings.oidc_providers:
        providers.append(
            OidcProvider(
                name=entry.name,
                title=entry.title or entry.name.replace("-", " ").title(),
                issuer=entry.issuer,
                client_id=entry.client_id,
                client_secret=entry.client_secret.get_secret_value(),
                scopes=tuple(entry.scopes),
                auth_method=entry.token_endpoint_auth_method,
                http=http,
                clock=clock,
            )
        )
    return ProviderRegistry(providers)
