"""Settings: the only place idgate reads the environment.

Every field can be set as an ``IDGATE_<NAME>`` environment variable or in a ``.env`` file in the
working directory; ``docs/configuration.md`` lists them all. Core services never see this object:
``create_app`` turns it into plain constructor arguments.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from idgate.core.errors import ConfigurationError
from idgate.core.passwords.hashers import MIN_BCRYPT_COST
from idgate.core.ratelimit import parse_limits

Environment = Literal["development", "production", "test"]
JwtAlgorithm = Literal["EdDSA", "ES256", "RS256", "HS256"]
SessionStore = Literal["database", "redis"]

#: Secrets copied from tutorials and examples; production refuses them whatever their length.
PLACEHOLDER_SECRETS = frozenset(
    {
        "change-this-to-a-real-secret-key",
        "change-me",
        "changeme",
        "change_me",
        "secret",
        "secret-key",
        "secret_key",
        "your-secret-key",
        "your_secret_key",
        "your-256-bit-secret",
        "supersecret",
        "super-secret-key",
        "supersecretkey",
        "mysecretkey",
        "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7",
    }
)


#: The endpoints of GitHub and Google; the settings that override them exist for tests only.
GITHUB_URL = "https://github.com"
GITHUB_API_URL = "https://api.github.com"
GOOGLE_ISSUER = "https://accounts.google.com"
_PROVIDER_NAME = re.compile(r"^[a-z][a-z0-9-]{1,31}$")


class OidcProviderSettings(BaseModel):
    """One OpenID Connect provider of ``IDGATE_OIDC_PROVIDERS`` (found by discovery)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="In URLs (/login/<name>) and audit events: a-z, 0-9, -.")
    title: str | None = Field(
        None,
        max_length=64,
        description="The button says 'Continue with <title>'; default: the name.",
    )
    issuer: str = Field(description="The issuer URL; discovery is read from it.")
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"])
    token_endpoint_auth_method: Literal["client_secret_basic", "client_secret_post"] = (
        "client_secret_basic"  # noqa: S105 - a method name (RFC 7591)
    )

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _PROVIDER_NAME.match(value) or value in {"github", "google"}:
            raise ValueError(
                f"provider name {value!r} must be 2 to 32 of a-z, 0-9 and '-', starting with a "
                "letter, and not github or google (configured by their own settings)"
            )
        return value

    @field_validator("issuer")
    @classmethod
    def _valid_issuer(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query:
            raise ValueError(f"issuer {value!r} must be an absolute http(s) URL without a query")
        return value

    @field_validator("scopes")
    @classmethod
    def _openid_scope(cls, value: list[str]) -> list[str]:
        if "openid" not in value:
            raise ValueError("the scopes of an OpenID Connect provider must include 'openid'")
        return value


class Settings(BaseSettings):
    """idgate's configuration. Build it directly in tests: ``Settings(data_dir=tmp_path)``."""

    model_config = SettingsConfigDict(
        env_prefix="IDGATE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Environment = Field(
        "development",
        description="development, production (refuses insecure settings) or test "
        "(allows a low bcrypt cost; never use it for a real deployment).",
    )
    data_dir: Path = Field(
        Path("data"), description="Where the SQLite database, signing keys and pepper live."
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; default: SQLite file idgate.db in the data directory. "
        "PostgreSQL: postgresql://user@host/dbname",
    )
    redis_url: SecretStr | None = Field(
        None,
        description="redis:// or rediss:// URL of the Redis that every instance shares; "
        "default: none (state kept in the database and in-process).",
    )
    redis_prefix: str = Field("idgate:", description="Prefix of every Redis key idgate writes.")
    issuer: str = Field(
        "http://127.0.0.1:8000",
        description="The public base URL of this idgate; the 'iss' of every token.",
    )
    audience: str = Field("idgate", description="The 'aud' of access tokens.")
    access_token_ttl: timedelta = Field(
        timedelta(minutes=15), description="Access-token lifetime (seconds or ISO 8601)."
    )
    refresh_token_idle_ttl: timedelta = Field(
        timedelta(days=14),
        description="A refresh token unused this long expires (seconds or ISO 8601).",
    )
    refresh_token_absolute_ttl: timedelta = Field(
        timedelta(days=30),
        description="A login's refresh tokens all expire this long after it, however active.",
    )
    refresh_reuse_grace: timedelta = Field(
        timedelta(seconds=10),
        description="A rotated refresh token presented again within this time is a lost race "
        "(refused), later it is reuse (the session is revoked). 0 to 60 seconds.",
    )
    revocation_store: Literal["database", "redis"] = Field(
        "database",
        description="Where the access-token deny-list lives: the database (shared by every "
        "instance, checked in the bearer check's one statement) or Redis.",
    )
    jwt_algorithm: JwtAlgorithm = Field(
        "EdDSA", description="EdDSA (default), ES256, RS256, or HS256 (explicit opt-in)."
    )
    jwt_secret: SecretStr | None = Field(
        None, description="The HS256 secret (at least 32 random bytes); only with HS256."
    )
    jwt_leeway: timedelta = Field(
        timedelta(seconds=30), description="Clock skew tolerated on exp/nbf/iat (max 60 s)."
    )
    bcrypt_cost: int = Field(12, description="bcrypt work factor; at least 10 (4 in test).")
    password_pepper: SecretStr | None = Field(
        None,
        description="Secret mixed into every password hash (>= 32 bytes); default: generated "
        "into the data directory on first run.",
    )
    password_min_length: int = Field(15, description="Minimum password length (>= 8).")
    password_max_length: int = Field(1024, description="Maximum password length (>= 64).")
    password_check_common: bool = Field(
        True, description="Refuse common, breached and easily guessed passwords."
    )
    session_store: SessionStore = Field(
        "database",
        description="Where browser sessions live: database (default) or redis (needs "
        "IDGATE_REDIS_URL).",
    )
    session_idle_timeout: timedelta = Field(
        timedelta(minutes=30), description="A browser session ends after this long unused."
    )
    session_absolute_timeout: timedelta = Field(
        timedelta(hours=12), description="A browser session ends this long after login."
    )
    session_reauth_window: timedelta = Field(
        timedelta(minutes=10),
        description="How long after the password was last entered a session may revoke other "
        "sessions without entering it again.",
    )
    password_blocklist_file: Path | None = Field(
        None,
        description="A local breached-password corpus checked offline: the Have I Been Pwned "
        "SHA-1 file (ordered by hash) or a plain list, one password per line.",
    )
    docs_enabled: bool | None = Field(
        None,
        description="Serve /docs, /redoc and /openapi.json; default: on in development, off in "
        "production.",
    )
    max_body_size: int = Field(64 * 1024, description="Largest request body accepted, in bytes.")
    log_level: str = Field("INFO", description="Log level of idgate's JSON log lines.")
    host: str = Field("127.0.0.1", description="Address `idgate serve` listens on.")
    port: int = Field(8000, description="Port `idgate serve` listens on.")
    workers: int = Field(1, ge=1, description="Worker processes for `idgate serve`.")
    # --- brute force and overload (docs/rate-limits.md) ---
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated IPs/CIDRs of reverse proxies whose X-Forwarded-For / "
        "Forwarded headers are believed; default: none.",
    )
    rate_limits_enabled: bool = Field(
        True, description="Enforce the per-IP, per-account and global rate limits."
    )
    rate_limits: dict[str, str] = Field(
        default_factory=dict,
        description='JSON object overriding default limits: {"login.ip": "20/minute;200/hour"}.',
    )
    login_throttle_free_failures: int = Field(
        5, ge=1, description="Failed logins per account before delays start."
    )
    login_throttle_base_delay: timedelta = Field(
        timedelta(seconds=1), description="First delay; it doubles with each further failure."
    )
    login_throttle_max_delay: timedelta = Field(
        timedelta(minutes=15), description="Longest delay between attempts."
    )
    login_lockout_failures: int = Field(
        100, description="Consecutive failures after which untrusted devices wait the lockout."
    )
    login_lockout_duration: timedelta = Field(
        timedelta(days=1), description="How long that lockout lasts (always bounded)."
    )
    login_throttle_forget_after: timedelta = Field(
        timedelta(days=1), description="Quiet time after which an account's failures are forgotten."
    )
    device_token_ttl: timedelta = Field(
        timedelta(days=180), description="Lifetime of the device token issued on login."
    )
    device_token_max_failures: int = Field(
        10, ge=1, description="Failures through one device token before it stops exempting."
    )
    device_token_secret: SecretStr | None = Field(
        None,
        description="Key of device tokens (>= 32 bytes); default: generated into the data "
        "directory.",
    )
    hashing_threads: int | None = Field(
        None, ge=1, description="Password-hashing threads; default: the CPUs available."
    )
    hashing_queue: int | None = Field(
        None,
        ge=0,
        description="Hashes that may wait for a thread before logins get 503; "
        "default: 8 per thread.",
    )
    hashing_shed_delay: float = Field(
        0.25,
        ge=0,
        le=1,
        description="Seconds a login or registration refused by a full hashing pool waits before "
        "its 503 (at most the Retry-After of 1 s); 0: answered at once.",
    )
    hashing_reserve_core: bool = Field(
        True,
        description="While requests that need no password are served, hash on one thread fewer "
        "and leave its core to them; logins alone still use every thread.",
    )
    api_key_default_ttl: timedelta = Field(
        timedelta(days=90),
        description="Lifetime of a new API key unless its creator chooses another (seconds or "
        "ISO 8601).",
    )
    # --- social login (docs/social-login.md) ---
    github_client_id: str | None = Field(
        None, description="Client id of idgate's GitHub OAuth app; enables 'Continue with GitHub'."
    )
    github_client_secret: SecretStr | None = Field(None, description="Its client secret.")
    github_url: str = Field(
        GITHUB_URL, description="For tests only: where GitHub's /login/oauth endpoints are."
    )
    github_api_url: str = Field(
        GITHUB_API_URL, description="For tests only: where GitHub's REST API is."
    )
    google_client_id: str | None = Field(
        None,
        description="Client id of idgate's Google OAuth client; enables 'Continue with Google'.",
    )
    google_client_secret: SecretStr | None = Field(None, description="Its client secret.")
    google_issuer: str = Field(
        GOOGLE_ISSUER, description="For tests only: Google's OpenID Connect issuer."
    )
    oidc_providers: list[OidcProviderSettings] = Field(
        default_factory=list,
        description='JSON list of other OpenID Connect providers: [{"name", "issuer", '
        '"client_id", "client_secret", "title"?, "scopes"?}].',
    )
    social_link_verified_email: bool = Field(
        False,
        description="Link a new provider identity to the account that already has the same "
        "email verified by another provider.",
    )
    social_http_timeout: float = Field(
        5.0, ge=1, le=30, description="Timeout of each request to a provider, in seconds."
    )

    @field_validator(
        "access_token_ttl",
        "jwt_leeway",
        "session_idle_timeout",
        "session_absolute_timeout",
        "session_reauth_window",
        "login_throttle_base_delay",
        "login_throttle_max_delay",
        "login_lockout_duration",
        "login_throttle_forget_after",
        "device_token_ttl",
        mode="before",
    )
    @classmethod
    def _seconds(cls, value: object) -> object:
        # Durations are written in seconds in the environment ("900"), or as ISO 8601 ("PT15M").
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_proxies(cls, value: list[str]) -> list[str]:
        from ipaddress import ip_network

        for entry in value:
            try:
                ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR range") from None
        return value

    @field_validator("rate_limits")
    @classmethod
    def _valid_limits(cls, value: dict[str, str]) -> dict[str, str]:
        parse_limits(value)  # raises ValueError saying what is wrong
        return value

    @field_validator("password_blocklist_file")
    @classmethod
    def _blocklist_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"password_blocklist_file {value} does not exist or is not a file")
        return value

    @field_validator("api_key_default_ttl", mode="before")
    @classmethod
    def _api_key_ttl_seconds(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        return value

    @field_validator(
        "refresh_token_idle_ttl", "refresh_token_absolute_ttl", "refresh_reuse_grace", mode="before"
    )
    @classmethod
    def _refresh_seconds(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        return value

    @field_validator("api_key_default_ttl")
    @classmethod
    def _api_key_ttl_bounds(cls, value: timedelta) -> timedelta:
        if not timedelta(minutes=1) <= value <= timedelta(days=3650):
            raise ValueError("api_key_default_ttl must be between 1 minute and 10 years")
        return value

    @model_validator(mode="after")
    def _refresh_lifetimes(self) -> Settings:
        idle, absolute = self.refresh_token_idle_ttl, self.refresh_token_absolute_ttl
        if not timedelta(minutes=1) <= idle <= timedelta(days=365):
            raise ValueError("refresh_token_idle_ttl must be between 1 minute and 365 days")
        if not idle <= absolute <= timedelta(days=365):
            raise ValueError(
                "refresh_token_absolute_ttl must be at least refresh_token_idle_ttl and at "
                "most 365 days"
            )
        if not timedelta(0) <= self.refresh_reuse_grace <= timedelta(seconds=60):
            raise ValueError("refresh_reuse_grace must be between 0 and 60 seconds")
        if self.revocation_store == "redis" and self.redis_url is None:
            raise ValueError("revocation_store redis needs IDGATE_REDIS_URL")
        return self

    @field_validator("issuer")
    @classmethod
    def _strip_issuer(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError("issuer must be an absolute http(s) URL")
        if parts.query or parts.fragment:
            raise ValueError("issuer must not have a query or fragment (RFC 8414)")
        return value.rstrip("/")

    @field_validator("jwt_leeway")
    @classmethod
    def _bounded_leeway(cls, value: timedelta) -> timedelta:
        if not timedelta(0) <= value <= timedelta(seconds=60):
            raise ValueError("jwt_leeway must be between 0 and 60 seconds")
        return value

    @field_validator("access_token_ttl")
    @classmethod
    def _positive_ttl(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=10) <= value <= timedelta(days=1):
            raise ValueError("access_token_ttl must be between 10 seconds and 1 day")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        floor = 4 if self.environment == "test" else MIN_BCRYPT_COST
        if not floor <= self.bcrypt_cost <= 31:
            raise ValueError(f"bcrypt_cost must be between {floor} and 31")
        if self.password_min_length < 8:
            raise ValueError("password_min_length may not be below 8 (NIST SP 800-63B)")
        if self.password_max_length < max(64, self.password_min_length):
            raise ValueError("password_max_length must be at least 64 and password_min_length")
        if self.jwt_algorithm == "HS256" and self.jwt_secret is None:
            raise ValueError("jwt_algorithm HS256 needs jwt_secret (IDGATE_JWT_SECRET)")
        if not timedelta(minutes=1) <= self.session_idle_timeout <= self.session_absolute_timeout:
            raise ValueError(
                "session_idle_timeout must be at least 1 minute and at most "
                "session_absolute_timeout"
            )
        if self.session_absolute_timeout > timedelta(days=30):
            raise ValueError("session_absolute_timeout may not exceed 30 days")
        if not timedelta(0) <= self.session_reauth_window <= self.session_absolute_timeout:
            raise ValueError("session_reauth_window must be between 0 and session_absolute_timeout")
        if self.session_store == "redis" and self.redis_url is None:
            raise ValueError("session_store redis needs IDGATE_REDIS_URL")
        if self.password_pepper is not None and len(self.password_pepper.get_secret_value()) < 32:
            raise ValueError("password_pepper must be at least 32 characters")
        device_secret = self.device_token_secret
        if device_secret is not None and len(device_secret.get_secret_value().encode()) < 32:
            raise ValueError("device_token_secret must be at least 32 bytes")
        if not self.login_throttle_free_failures < self.login_lockout_failures <= 100:
            raise ValueError(
                "login_lockout_failures must be above login_throttle_free_failures and at most "
                "100 (NIST SP 800-63B 5.2.2)"
            )
        if not timedelta(0) < self.login_throttle_base_delay <= self.login_throttle_max_delay:
            raise ValueError("need 0 < login_throttle_base_delay <= login_throttle_max_delay")
        if self.login_lockout_duration > timedelta(days=30):
            raise ValueError("login_lockout_duration may be at most 30 days (never permanent)")
        for name in ("login_lockout_duration", "login_throttle_forget_after", "device_token_ttl"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} must be positive")
        self._check_social()
        return self

    def _check_social(self) -> None:
        for provider in ("github", "google"):
            has_id = getattr(self, f"{provider}_client_id") is not None
            has_secret = getattr(self, f"{provider}_client_secret") is not None
            if has_id != has_secret:
                raise ValueError(f"{provider}_client_id and {provider}_client_secret go together")
        names = [p.name for p in self.oidc_providers]
        if len(names) != len(set(names)):
            raise ValueError("oidc_providers: two providers have the same name")
        for url in (self.github_url, self.github_api_url, self.google_issuer):
            parts = urlsplit(url)
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                raise ValueError(f"{url!r} is not an absolute http(s) URL")

    def social_problems(self) -> list[str]:
        """Return why the social-login settings are unsafe for production (empty if none)."""
        problems: list[str] = []
        defaults = {
            "IDGATE_GITHUB_URL": (self.github_url, GITHUB_URL),
            "IDGATE_GITHUB_API_URL": (self.github_api_url, GITHUB_API_URL),
            "IDGATE_GOOGLE_ISSUER": (self.google_issuer, GOOGLE_ISSUER),
        }
        for name, (value, default) in defaults.items():
            if value.rstrip("/") != default:
                problems.append(f"{name} is a setting for tests; production uses {default}.")
        for provider in self.oidc_providers:
            if urlsplit(provider.issuer).scheme != "https":
                problems.append(
                    f"The issuer of OIDC provider {provider.name!r} must be https:// in "
                    f"production (it is {provider.issuer!r})."
                )
        return problems

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'idgate.db').resolve()}"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def docs_are_enabled(self) -> bool:
        if self.docs_enabled is not None:
            return self.docs_enabled
        return self.environment != "production"

    def production_problems(self) -> list[str]:
        """Return every reason these settings are unsafe for production (empty if none)."""
        problems: list[str] = []
        if urlsplit(self.issuer).scheme != "https":
            problems.append(
                f"IDGATE_ISSUER must be an https:// URL in production (it is {self.issuer!r})."
            )
        if self.jwt_algorithm == "HS256" and self.jwt_secret is not None:
            secret = self.jwt_secret.get_secret_value()
            if secret.strip().lower() in PLACEHOLDER_SECRETS:
                problems.append(
                    "IDGATE_JWT_SECRET is a well-known placeholder value; generate one with "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
                )
            elif len(secret.encode()) < 32:
                problems.append("IDGATE_JWT_SECRET must be at least 32 bytes long for HS256.")
        problems += self.protection_problems()
        problems += self.social_problems()
        return problems

    def protection_problems(self) -> list[str]:
        """Return what weakens the brute-force protection (warned about, refused in production)."""
        problems: list[str] = []
        if self.workers > 1 and self.redis_url is None:
            problems.append(
                f"IDGATE_WORKERS is {self.workers} but IDGATE_REDIS_URL is not set: each worker "
                "would keep its own rate-limit and login-throttle counters, multiplying every "
                "limit by the number of workers. Set IDGATE_REDIS_URL, or run one worker."
            )
        if not self.rate_limits_enabled:
            problems.append("IDGATE_RATE_LIMITS_ENABLED is false: logins are not rate limited.")
        return problems

    def validate_for_production(self) -> None:
        """Raise :class:`ConfigurationError` listing every problem, in production only."""
        if self.environment != "production":
            return
        problems = self.production_problems()
        if problems:
            raise ConfigurationError(problems)
