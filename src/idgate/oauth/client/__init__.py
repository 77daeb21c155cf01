"""The social-login client: GitHub (OAuth 2.0 and its REST API), Google and any OpenID Connect
provider (discovery, ID tokens), on authlib's OAuth 2.0 client."""

from __future__ import annotations

from idgate.oauth.client.base import SocialProvider
from idgate.oauth.client.registry import ProviderRegistry, build_registry

__all__ = ["ProviderRegistry", "SocialProvider", "build_registry"]
