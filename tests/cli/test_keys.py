"""``idgate keys``: clear errors where rotation cannot apply (the happy paths run against a live
app in tests/web/test_key_rotation.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from idgate.cli import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {
        "IDGATE_ENVIRONMENT": "test",
        "IDGATE_BCRYPT_COST": "4",
        "IDGATE_DATA_DIR": str(tmp_path / "data"),
        "IDGATE_DATABASE_URL": database_url,
    }


def test_help() -> None:
    for args in (["keys"], ["keys", "list"], ["keys", "rotate"]):
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output
    result = runner.invoke(app, ["keys", "rotate", "--help"])
    assert "--alg" in result.output and "--retire-previous-now" in result.output


def test_list_before_any_key_exists(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["keys", "list"], env=env)
    assert result.exit_code == 1 and "no signing keys yet" in result.output


def test_rotate_on_a_fresh_data_directory(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["keys", "rotate"], env=env)
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["keys", "list"], env=env)
    statuses = [line.split()[4] for line in result.output.splitlines()[1:]]
    assert statuses == ["verify-only", "active"]


def test_unknown_algorithm(env: dict[str, str]) -> None:
    for alg in ("HS256", "none", "es256"):
        result = runner.invoke(app, ["keys", "rotate", "--alg", alg], env=env)
        assert result.exit_code == 2
        assert "choose one of EdDSA, ES256, RS256" in result.output
        assert "Traceback" not in result.output


def test_hs256_has_no_key_set(env: dict[str, str]) -> None:
    env = {**env, "IDGATE_JWT_ALGORITHM": "HS256", "IDGATE_JWT_SECRET": "s" * 40}
    for command in ("list", "rotate"):
        result = runner.invoke(app, ["keys", command], env=env)
        assert result.exit_code == 2 and "IDGATE_JWT_SECRET" in result.output


def test_rotation_without_a_migrated_database_says_so(tmp_path: Path) -> None:
    env = {
        "IDGATE_ENVIRONMENT": "test",
        "IDGATE_BCRYPT_COST": "4",
        "IDGATE_DATA_DIR": str(tmp_path / "data"),
    }
    result = runner.invoke(app, ["keys", "rotate"], env=env)
    assert result.exit_code == 1
    assert "rotated, but the audit event could not be recorded" in result.output
    assert "Traceback" not in result.output


def test_a_corrupt_manifest_is_a_clear_error(env: dict[str, str], tmp_path: Path) -> None:
    assert runner.invoke(app, ["keys", "rotate"], env=env).exit_code == 0
    (tmp_path / "data" / "keys" / "keyset.json").write_text("{not json")
    for command in ("list", "rotate"):
        result = runner.invoke(app, ["keys", command], env=env)
        assert result.exit_code == 1, result.output
        assert "cannot read the key manifest" in result.output or "cannot rotate" in result.output
        assert "Traceback" not in result.output
