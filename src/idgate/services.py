"""The composed services of one idgate process, shared by the web app and the CLI.

``idgate.app.build_services`` builds it; nothing else constructs services.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from idgate.config import Settings
from idgate.core.admin import AdminService
from idgate.core.clock import Clock
from idgate.core.devices import DeviceTokens
from idgate.core.federation import FederationService
from idgate.core.introspection import TokenIntrospection
from idgate.core.passwords.pool import HashingPool
from idgate.core.ports import UnitOfWork
from idgate.core.ratelimit import RateLimits
from idgate.core.service_accounts import ServiceAccountService
from idgate.core.sessions import SessionService
from idgate.core.tokens.access import AccessTokens
from idgate.core.tokens.keys import KeyProvider
from idgate.core.tokens.service import TokenService
from idgate.core.users import UserService
from idgate.oauth.client import ProviderRegistry
from idgate.store.redis import RedisKeys
from idgate.store.user_state import UserStateReader

if TYPE_CHECKING:
    from redis.asyncio import Redis


@dataclass
class Services:
    """Services, ports and settings, shared by every request or command of a process."""

    settings: Settings
    clock: Clock
    keys: KeyProvider
    access_tokens: AccessTokens
    users: UserService
    hashing: HashingPool
    #: Browser sessions (cookie), in the database or in Redis.
    sessions: SessionService
    uow_factory: Callable[[], UnitOfWork]
    ping_database: Callable[[], Awaitable[None]]
    #: The shared Redis client when IDGATE_REDIS_URL is set, else None.
    redis: Redis | None
    redis_keys: RedisKeys
    close: Callable[[], Awaitable[None]]
    #: Per-IP, per-account and global limits of each endpoint (``web.ratelimit``).
    rate_limits: RateLimits
    #: Device tokens issued on login (``core.devices``).
    devices: DeviceTokens
    admin: AdminService
    service_accounts: ServiceAccountService
    #: Social login: linked identities (``core.federation``) and the configured providers.
    federation: FederationService
    social: ProviderRegistry
    #: Token pairs: refresh-token rotation, logout and revocation.
    tokens: TokenService
    #: RFC 7662 answers about access tokens and API keys, for resource servers.
    introspection: TokenIntrospection
    #: An account's committed state for the per-request bearer check (cheap on SQLite).
    user_state: UserStateReader
