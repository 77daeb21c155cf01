"""Settings: environment variables, .env, defaults, and production's refusals."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from idgate.app import create_app
from idgate.config import Settings
from idgate.core.errors import ConfigurationError


def make(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_defaults() -> None:
    settings = make()
    assert settings.environment == "development"
    assert settings.jwt_algorithm == "EdDSA"
    assert settings.bcrypt_cost == 12
    assert settings.access_token_ttl == timedelta(minutes=15)
    assert settings.password_min_length == 15
    assert settings.resolved_database_url.startswith("sqlite+aiosqlite:///")
    assert settings.resolved_database_url.endswith("/data/idgate.db")
    assert settings.docs_are_enabled


def test_environment_variables_and_env_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("IDGATE_BCRYPT_COST", "11")
    monkeypatch.setenv("IDGATE_ACCESS_TOKEN_TTL", "300")
    (tmp_path / ".env").write_text("IDGATE_ISSUER=https://id.example.test/\nIDGATE_AUDIENCE=api\n")
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.bcrypt_cost == 11
    assert settings.access_token_ttl == timedelta(seconds=300)
    assert settings.issuer == "https://id.example.test"  # trailing slash removed
    assert settings.audience == "api"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"bcrypt_cost": 9}, "bcrypt_cost"),
        ({"bcrypt_cost": 4, "environment": "production"}, "bcrypt_cost"),
        ({"password_min_length": 7}, "password_min_length"),
        ({"password_max_length": 63}, "password_max_length"),
        ({"jwt_algorithm": "HS256"}, "jwt_secret"),
        ({"jwt_algorithm": "none"}, "jwt_algorithm"),
        ({"jwt_leeway": 120}, "jwt_leeway"),
        ({"issuer": "ftp://x"}, "issuer"),
        ({"issuer": "https://x/?a=1"}, "issuer"),
        ({"password_pepper": "short"}, "password_pepper"),
    ],
)
def test_invalid_values_are_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make(**values)


def test_low_bcrypt_cost_only_in_test_environment() -> None:
    assert make(environment="test", bcrypt_cost=4).bcrypt_cost == 4


def test_production_names_every_problem(tmp_path: Path) -> None:
    settings = make(
        environment="production",
        data_dir=tmp_path,
        issuer="http://id.example.test",
        jwt_algorithm="HS256",
        jwt_secret="change-this-to-a-real-secret-key",
    )
    with pytest.raises(ConfigurationError) as info:
        create_app(settings)
    problems = info.value.problems
    assert len(problems) == 2
    assert "IDGATE_ISSUER must be an https:// URL" in problems[0]
    assert "placeholder" in problems[1]
    assert "IDGATE_ISSUER" in str(info.value)


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("short-secret", "at least 32 bytes"),
        ("secret", "placeholder"),
        ("your-256-bit-secret", "placeholder"),
        (" Change-This-To-A-Real-Secret-Key ", "placeholder"),
    ],
)
def test_production_refuses_weak_hs256_secrets(tmp_path: Path, secret: str, problem: str) -> None:
    settings = make(
        environment="production",
        data_dir=tmp_path,
        issuer="https://id.example.test",
        jwt_algorithm="HS256",
        jwt_secret=secret,
    )
    with pytest.raises(ConfigurationError, match=problem):
        settings.validate_for_production()


def test_production_accepts_good_settings(tmp_path: Path) -> None:
    make(
        environment="production",
        data_dir=tmp_path,
        issuer="https://id.example.test",
        jwt_algorithm="HS256",
        jwt_secret=os.urandom(24).hex(),
    ).validate_for_production()
    make(
        environment="production", data_dir=tmp_path, issuer="https://id.example.test"
    ).validate_for_production()
    assert not make(
        environment="production", data_dir=tmp_path, issuer="https://id.example.test"
    ).docs_are_enabled


def test_development_warns_about_weak_secrets_but_starts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make(
        environment="test",
        data_dir=tmp_path,
        bcrypt_cost=4,
        jwt_algorithm="HS256",
        jwt_secret="change-this-to-a-real-secret-key",
    )
    create_app(settings)
    assert "IDGATE_JWT_SECRET is weak" in caplog.text


def test_secrets_are_masked_in_repr() -> None:
    settings = make(
        jwt_algorithm="HS256",
        jwt_secret="s3cr3t-value-that-is-long-enough-x",
        password_pepper="p" * 40,
    )
    assert "s3cr3t" not in repr(settings) and "pppp" not in repr(settings)


# --- brute-force protection settings -------------------------------------------------------


def test_protection_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDGATE_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1 ,2001:db8::/32")
    monkeypatch.setenv("IDGATE_RATE_LIMITS", '{"login.ip": "20/minute;200/hour"}')
    monkeypatch.setenv("IDGATE_LOGIN_THROTTLE_MAX_DELAY", "600")
    monkeypatch.setenv("IDGATE_DEVICE_TOKEN_TTL", "P30D")
    monkeypatch.setenv("IDGATE_HASHING_QUEUE", "0")
    monkeypatch.setenv("IDGATE_HASHING_SHED_DELAY", "0.5")
    settings = Settings(_env_file=None)
    assert settings.trusted_proxies == ["10.0.0.0/8", "192.0.2.1", "2001:db8::/32"]
    assert settings.rate_limits == {"login.ip": "20/minute;200/hour"}
    assert settings.login_throttle_max_delay == timedelta(minutes=10)
    assert settings.device_token_ttl == timedelta(days=30)
    assert settings.hashing_queue == 0
    assert settings.hashing_shed_delay == 0.5
    monkeypatch.delenv("IDGATE_TRUSTED_PROXIES")
    assert make().trusted_proxies == [] and make().rate_limits_enabled


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"trusted_proxies": ["10.0.0.300"]}, "not an IP address"),
        ({"rate_limits": {"login.ip": "lots"}}, "cannot read the rate limit"),
        ({"rate_limits": {"login.anyone": "1/minute"}}, "scope"),
        ({"login_lockout_failures": 101}, "at most 100"),
        ({"login_lockout_failures": 5}, "above login_throttle_free_failures"),
        ({"login_throttle_base_delay": 10, "login_throttle_max_delay": 5}, "base_delay"),
        ({"login_lockout_duration": timedelta(days=31)}, "never permanent"),
        ({"device_token_secret": "short"}, "device_token_secret"),
        ({"login_throttle_forget_after": 0}, "login_throttle_forget_after must be positive"),
        ({"device_token_ttl": -5}, "device_token_ttl must be positive"),
        ({"hashing_threads": 0}, "hashing_threads"),
        ({"hashing_shed_delay": 1.5}, "hashing_shed_delay"),
        ({"hashing_shed_delay": -1}, "hashing_shed_delay"),
    ],
)
def test_invalid_protection_values_are_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make(**values)


def test_several_workers_without_redis_are_refused_in_production(tmp_path: Path) -> None:
    base = {"environment": "production", "issuer": "https://id.example.test", "data_dir": tmp_path}
    problems = make(**base, workers=4).production_problems()
    assert len(problems) == 1 and "IDGATE_REDIS_URL" in problems[0]
    assert make(**base, workers=4, redis_url="redis://127.0.0.1:6379/0").production_problems() == []
    assert "not rate limited" in make(**base, rate_limits_enabled=False).production_problems()[0]
    with pytest.raises(ConfigurationError, match="IDGATE_WORKERS is 4"):
        create_app(make(**base, workers=4))


def test_development_warns_about_several_workers_without_redis(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="idgate"):
        create_app(make(data_dir=tmp_path, workers=2))
    assert any("IDGATE_REDIS_URL is not set" in r.getMessage() for r in caplog.records)


def test_api_key_default_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    assert make().api_key_default_ttl == timedelta(days=90)
    monkeypatch.setenv("IDGATE_API_KEY_DEFAULT_TTL", "3600")
    assert Settings(_env_file=None).api_key_default_ttl == timedelta(hours=1)
    monkeypatch.setenv("IDGATE_API_KEY_DEFAULT_TTL", "P30D")
    assert Settings(_env_file=None).api_key_default_ttl == timedelta(days=30)
    for bad in ("0", "30", "P4000D"):
        monkeypatch.setenv("IDGATE_API_KEY_DEFAULT_TTL", bad)
        with pytest.raises(ValidationError, match="api_key_default_ttl"):
            Settings(_env_file=None)


def test_refresh_token_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make()
    assert settings.refresh_token_idle_ttl == timedelta(days=14)
    assert settings.refresh_token_absolute_ttl == timedelta(days=30)
    assert settings.refresh_reuse_grace == timedelta(seconds=10)
    # In the database even with Redis: one statement answers the bearer check (JW-10).
    assert settings.revocation_store == "database"
    assert make(redis_url="redis://127.0.0.1:6379/0").revocation_store == "database"
    assert (
        make(redis_url="redis://127.0.0.1:6379/0", revocation_store="redis").revocation_store
        == "redis"
    )
    monkeypatch.setenv("IDGATE_REFRESH_TOKEN_IDLE_TTL", "3600")
    monkeypatch.setenv("IDGATE_REFRESH_TOKEN_ABSOLUTE_TTL", "P7D")
    monkeypatch.setenv("IDGATE_REFRESH_REUSE_GRACE", "0")
    settings = Settings(_env_file=None)
    assert settings.refresh_token_idle_ttl == timedelta(hours=1)
    assert settings.refresh_token_absolute_ttl == timedelta(days=7)
    assert settings.refresh_reuse_grace == timedelta(0)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"refresh_token_idle_ttl": 30}, "refresh_token_idle_ttl"),
        ({"refresh_token_idle_ttl": 86400 * 400}, "refresh_token_idle_ttl"),
        (
            {"refresh_token_idle_ttl": 86400 * 2, "refresh_token_absolute_ttl": 86400},
            "refresh_token_absolute_ttl",
        ),
        ({"refresh_reuse_grace": 61}, "refresh_reuse_grace"),
        ({"revocation_store": "redis"}, "IDGATE_REDIS_URL"),
        ({"revocation_store": "memcached"}, "revocation_store"),
    ],
)
def test_refresh_token_settings_are_checked(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make(**values)
