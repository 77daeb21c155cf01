"""Social-login settings: providers from the environment, what goes together, what production
refuses (test-only endpoints, http issuers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from idgate.config import Settings
from idgate.core.clock import FixedClock
from idgate.oauth.client import build_registry

PROVIDER = {
    "name": "okta",
    "issuer": "https://id.example.test",
    "client_id": "a",
    "client_secret": "b",
}


def make(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **values)  # type: ignore[arg-type]


def test_no_provider_by_default(tmp_path: Path) -> None:
    settings = make(tmp_path)
    assert len(build_registry(settings, FixedClock())) == 0
    assert settings.social_link_verified_email is False
    assert settings.social_problems() == []


def test_providers_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDGATE_GITHUB_CLIENT_ID", "gh-id")
    monkeypatch.setenv("IDGATE_GITHUB_CLIENT_SECRET", "gh-secret")
    monkeypatch.setenv("IDGATE_GOOGLE_CLIENT_ID", "g-id")
    monkeypatch.setenv("IDGATE_GOOGLE_CLIENT_SECRET", "g-secret")
    monkeypatch.setenv("IDGATE_OIDC_PROVIDERS", json.dumps([{**PROVIDER, "title": "Okta"}]))
    settings = make(tmp_path)
    registry = build_registry(settings, FixedClock())
    assert [(p.name, p.title, p.kind) for p in registry] == [
        ("github", "GitHub", "github"),
        ("google", "Google", "google"),
        ("okta", "Okta", "oidc"),
    ]
    assert "gh-secret" not in repr(settings) and "g-secret" not in repr(list(registry))
    assert settings.oidc_providers[0].scopes == ["openid", "email", "profile"]


@pytest.mark.parametrize(
    "values",
    [
        {"github_client_id": "only-the-id"},
        {"google_client_secret": SecretStr("only-the-secret")},
        {"oidc_providers": [PROVIDER, PROVIDER]},
        {"oidc_providers": [{**PROVIDER, "name": "github"}]},
        {"oidc_providers": [{**PROVIDER, "name": "Bad Name"}]},
        {"oidc_providers": [{**PROVIDER, "issuer": "ftp://id.example.test"}]},
        {"oidc_providers": [{**PROVIDER, "scopes": ["email"]}]},
        {"oidc_providers": [{**PROVIDER, "unknown": "field"}]},
        {"github_url": "not a url"},
        {"social_http_timeout": 0},
    ],
)
def test_bad_social_settings_are_refused(tmp_path: Path, values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        make(tmp_path, **values)


def test_production_refuses_test_endpoints_and_http_issuers(tmp_path: Path) -> None:
    settings = make(
        tmp_path,
        github_url="http://127.0.0.1:9999",
        google_issuer="http://127.0.0.1:9998",
        oidc_providers=[{**PROVIDER, "issuer": "http://id.example.test"}],
    )
    problems = " ".join(settings.social_problems())
    assert "IDGATE_GITHUB_URL" in problems and "IDGATE_GOOGLE_ISSUER" in problems
    assert "'okta' must be https://" in problems
    assert "IDGATE_GITHUB_API_URL" not in problems  # left at GitHub's
    production = settings.model_copy(
        update={"environment": "production", "issuer": "https://idgate.example.test"}
    )
    assert set(settings.social_problems()) <= set(production.production_problems())
