"""``create_app(settings)``: the one place where idgate's parts are wired together."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from fastapi import FastAPI
from sqlalchemy import text

from idgate import __version__
from idgate.config import PLACEHOLDER_SECRETS, Settings
from idgate.core.admin import AdminService
from idgate.core.clock import Clock, SystemClock
from idgate.core.devices import DeviceTokens
from idgate.core.federation import FederationService
from idgate.core.introspection import TokenIntrospection
from idgate.core.passwords.hashers import (
    Argon2idHasher,
    BcryptHasher,
    LegacyBcryptHasher,
    PasswordHashers,
    Pepper,
)
from idgate.core.passwords.policy import PasswordPolicy
from idgate.core.passwords.pool import HashingPool
from idgate.core.ports import RevocationList, SessionRepository, UnitOfWork
from idgate.core.ratelimit import RateLimits, parse_limits
from idgate.core.reauth import Reauthentication
from idgate.core.service_accounts import ServiceAccountService
from idgate.core.sessions import SessionPolicy, SessionService
from idgate.core.throttle import LoginGuard, ThrottleSchedule, ThrottleStore
from idgate.core.tokens.access import AccessTokens
from idgate.core.tokens.keys import KeyProvider, KeySet, StaticKeyProvider, hmac_signing_key
from idgate.core.tokens.refresh import RefreshPolicy
from idgate.core.tokens.service import TokenService
from idgate.core.users import UserService
from idgate.logs import configure_logging
from idgate.oauth.client import build_registry
from idgate.services import Services
from idgate.store.blocklist import open_blocklist
from idgate.store.db import create_engine, postgres_dsn, session_factory, sqlite_path
from idgate.store.keystore import FileKeyStore
from idgate.store.ratelimit import memory_rate_limiter, redis_rate_limiter
from idgate.store.redis import RedisKeys, create_redis
from idgate.store.secrets_dir import ensure_private_dir, read_or_create_secret
from idgate.store.throttle import MemoryThrottleStore
from idgate.store.uow import SqlUnitOfWork
from idgate.store.user_state import UserStateReader
from idgate.web.api_key_authentication import ApiKeyAuthenticator
from idgate.web.authentication import BearerAuthenticator
from idgate.web.errors import install_error_handlers
from idgate.web.middleware import SecurityMiddleware
from idgate.web.openapi import authenticated_operations, declare_bearer_security
from idgate.web.origin import ClientAddressResolver, parse_networks
from idgate.web.overload import hashing_admission
from idgate.web.pages import install_pages
from idgate.web.routers import (
    admin_roles,
    admin_users,
    auth,
    health,
    introspection,
    password,
    profile,
    service_accounts,
    tokens,
    wellknown,
)
from idgate.web.sessions import SessionAuthenticator

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("idgate")


def build_key_provider(settings: Settings, clock: Clock) -> KeyProvider:
    """Return the signing keys: the HS256 secret, or the key files (generated on first run)."""
    if settings.jwt_algorithm == "HS256":
        assert settings.jwt_secret is not None  # enforced by Settings
        secret = settings.jwt_secret.get_secret_value()
        if len(secret.encode()) < 32 or secret.strip().lower() in PLACEHOLDER_SECRETS:
            log.warning(
                "IDGATE_JWT_SECRET is weak (shorter than 32 bytes or a placeholder); "
                "production mode will refuse it"
            )
        key = hmac_signing_key(secret.encode(), clock.now())
        return StaticKeyProvider(KeySet([key], key.kid))
    store = FileKeyStore(settings.keys_dir, clock)
    active = store.ensure(settings.jwt_algorithm).active
    if active.alg != settings.jwt_algorithm:
        log.warning(
            "IDGATE_JWT_ALGORITHM is %s but the active signing key is %s; "
            "`idgate keys rotate --alg %s` switches without a restart",
            settings.jwt_algorithm,
            active.alg,
            settings.jwt_algorithm,
        )
    return store


def build_hashers(settings: Settings) -> PasswordHashers:
    """Return the password schemes: peppered bcrypt hashes; legacy bcrypt and argon2id verify."""
    if settings.password_pepper is not None:
        secret = settings.password_pepper.get_secret_value().encode()
    else:
        secret = read_or_create_secret(settings.data_dir / "pepper")
    bcrypt_hasher = BcryptHasher(
        [Pepper.from_secret(secret)],
        cost=settings.bcrypt_cost,
        allow_low_cost=settings.environment == "test",
    )
    return PasswordHashers([bcrypt_hasher, LegacyBcryptHasher(), Argon2idHasher()])


def build_device_tokens(settings: Settings, clock: Clock) -> DeviceTokens:
    """Return the device-token signer: its key from the settings or the data directory."""
    if settings.device_token_secret is not None:
        secret = settings.device_token_secret.get_secret_value().encode()
    else:
        secret = read_or_create_secret(settings.data_dir / "device-key")
    return DeviceTokens(secret, clock, settings.device_token_ttl)


def _database_sessions(uow: UnitOfWork) -> SessionRepository:
    return uow.sessions


def _shared_sessions(store: SessionRepository, _: UnitOfWork) -> SessionRepository:
    return store


def build_login_guard(settings: Settings, clock: Clock, redis: Redis | None) -> LoginGuard:
    """Return the per-account login throttle, its counters in Redis when there is one."""
    schedule = ThrottleSchedule(
        free_failures=settings.login_throttle_free_failures,
        base_delay=settings.login_throttle_base_delay.total_seconds(),
        max_delay=settings.login_throttle_max_delay.total_seconds(),
        lockout_failures=settings.login_lockout_failures,
        lockout=settings.login_lockout_duration.total_seconds(),
        forget_after=settings.login_throttle_forget_after.total_seconds(),
    )
    store: ThrottleStore
    if redis is not None:
        # Imported here: a server without Redis never loads redis-py (store/redis.py).
        from idgate.store.redis_throttle import RedisThrottleStore

        store = RedisThrottleStore(redis, RedisKeys(settings.redis_prefix).key("throttle", ""))
    else:
        store = MemoryThrottleStore()
    return LoginGuard(
        store, clock, schedule, device_max_failures=settings.device_token_max_failures
    )


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    """Build every service of one process from ``settings``; ``close()`` releases them."""
    clock = clock or SystemClock()
    ensure_private_dir(settings.data_dir)
    keys = build_key_provider(settings, clock)
    hashers = build_hashers(settings)
    policy = PasswordPolicy(
        settings.password_min_length,
        settings.password_max_length,
        check_common=settings.password_check_common,
        blocklists=(
            [open_blocklist(settings.password_blocklist_file)]
            if settings.password_blocklist_file
            else []
        ),
    )
    pool = HashingPool(
        settings.hashing_threads,
        queue_size=settings.hashing_queue,
        shed_delay=settings.hashing_shed_delay,
        reserve_core=settings.hashing_reserve_core,
    )
    pool.start(hashers.prepare)  # the unknown-account hash, made while the server starts
    engine = create_engine(settings.resolved_database_url)
    sessions = session_factory(engine)

    async def ping_database() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
    redis = create_redis(redis_url) if redis_url else None
    # Counters every worker and instance shares when there is a Redis; per process otherwise.
    limiter = (
        redis_rate_limiter(redis_url, redis, RedisKeys(settings.redis_prefix).key("rl"))
        if redis_url and redis is not None
        else memory_rate_limiter()
    )
    rate_limits = RateLimits(
        limiter, parse_limits(settings.rate_limits), clock, enabled=settings.rate_limits_enabled
    )
    devices = build_device_tokens(settings, clock)
    redis_keys = RedisKeys(settings.redis_prefix)
    # The deny-list: in each request's database transaction, or shared through Redis.
    revocations: Callable[[], RevocationList] | None = None
    if settings.revocation_store == "redis" and redis is not None:
        from idgate.store.redis_revocations import RedisRevocationList

        revocations = partial(RedisRevocationList, redis, redis_keys, clock)

    access_tokens = AccessTokens(
        keys,
        issuer=settings.issuer,
        audience=settings.audience,
        ttl=settings.access_token_ttl,
        clock=clock,
        leeway=settings.jwt_leeway,
    )
    refresh_policy = RefreshPolicy(
        idle=settings.refresh_token_idle_ttl,
        absolute=settings.refresh_token_absolute_ttl,
        reuse_grace=settings.refresh_reuse_grace,
    )

    redis_keys = RedisKeys(settings.redis_prefix)

    session_store: Callable[[UnitOfWork], SessionRepository] = _database_sessions
    if settings.session_store == "redis":
        assert redis is not None  # enforced by Settings
        from idgate.store.redis_sessions import RedisSessionRepository

        session_store = partial(_shared_sessions, RedisSessionRepository(redis, redis_keys))

    url = settings.resolved_database_url
    user_state = UserStateReader(
        sqlite_file=sqlite_path(url),
        postgres_dsn=postgres_dsn(url),
        deny_list_in_database=revocations is None,  # else in Redis, asked through the uow
    )

    async def close() -> None:
        await user_state.aclose()
        await engine.dispose()
        pool.shutdown()
        await limiter.close()
        if redis is not None:
            await redis.aclose()

    login_guard = build_login_guard(settings, clock, redis)
    token_service = TokenService(
        access_tokens,
        refresh_policy,
        clock,
        read_state=user_state.state,
    )
    service_accounts = ServiceAccountService(clock, default_ttl=settings.api_key_default_ttl)
    return Services(
        settings=settings,
        clock=clock,
        keys=keys,
        access_tokens=access_tokens,
        users=UserService(
            hashers,
            policy,
            pool,
            clock,
            guard=login_guard,
            devices=devices,
        ),
        hashing=pool,
        sessions=SessionService(
            SessionPolicy(
                idle_timeout=settings.session_idle_timeout,
                absolute_timeout=settings.session_absolute_timeout,
                reauth_window=settings.session_reauth_window,
            ),
            clock,
            session_store,
        ),
        uow_factory=lambda: SqlUnitOfWork(sessions, clock, revocations=revocations),
        ping_database=ping_database,
        redis=redis,
        redis_keys=redis_keys,
        tokens=token_service,
        close=close,
        rate_limits=rate_limits,
        devices=devices,
        admin=AdminService(
            clock,
            Reauthentication(
                hashers, pool, clock, max_length=settings.password_max_length, guard=login_guard
            ),
        ),
        service_accounts=service_accounts,
        federation=FederationService(
            clock, link_verified_email=settings.social_link_verified_email
        ),
        social=build_registry(settings, clock),
        introspection=TokenIntrospection(token_service, service_accounts),
        user_state=user_state,
    )


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """Build the idgate ASGI application from ``settings`` (read from the environment if None).

    Raises :class:`~idgate.core.errors.ConfigurationError` in production with unsafe settings.
    """
    settings = settings or Settings()
    settings.validate_for_production()
    for problem in settings.protection_problems():
        log.warning(problem)
    services = build_services(settings, clock)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Everything built so far (modules, routes, schemas, the password lists) lives as long
        # as the process: move it out of the collector's reach. A full collection otherwise
        # scans it all, stalling every request for 80 to 170 ms, several times a second during
        # a login flood (docs/benchmarks.md; the gc.freeze documentation recommends this).
        gc.freeze()
        try:
            yield
        finally:
            await services.close()
            gc.unfreeze()  # what was frozen may be collected again (an app stopped in a test)

    docs = settings.docs_are_enabled
    app = FastAPI(
        title="idgate",
        version=__version__,
        summary="Authentication and authorization for your API.",
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
        lifespan=lifespan,
    )
    app.state.services = services
    # How requests authenticate, in order; the first whose credential a request carries decides.
    app.state.authenticators = [
        BearerAuthenticator(),
        ApiKeyAuthenticator(),
        # Last: the cookie is ambient (a browser sends it with every request), the headers are
        # explicit.
        SessionAuthenticator(),
    ]
    app.state.client_addresses = client_addresses = ClientAddressResolver(
        parse_networks(settings.trusted_proxies)
    )
    install_error_handlers(app)
    routers = [
        module.build_router()
        for module in (auth, profile, password, tokens, wellknown, health, introspection)
    ]
    routers += [module.build_router() for module in (admin_users, admin_roles, service_accounts)]
    for router in routers:
        app.include_router(router)
    declare_bearer_security(app, authenticated_operations(routers))
    install_pages(app)  # the browser pages; after the error handlers, which it wraps
    app.add_middleware(
        SecurityMiddleware,
        hsts=urlsplit(settings.issuer).scheme == "https",
        docs_paths=frozenset({"/docs", "/redoc"}) if docs else frozenset(),
        max_body_size=settings.max_body_size,
        client_addresses=client_addresses,
        admission=hashing_admission(services.hashing),
        reserve=services.hashing.reserve,
    )
    return app


def create_app_from_env() -> FastAPI:
    """The uvicorn factory behind ``idgate serve``: settings from the environment, JSON logs."""
    settings = Settings()
    configure_logging(settings.log_level)
    return create_app(settings)
