"""The idgate command, run in-process with Typer's runner against a temporary data directory."""

from __future__ import annotations

import re
import subprocess
import sys
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


def test_help_for_every_command() -> None:
    for args in (
        [],
        ["serve"],
        ["migrate"],
        ["check"],
        ["users"],
        ["users", "create"],
        ["users", "list"],
        ["audit"],
        ["users", "unthrottle"],
        ["keys"],
    ):
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage" in result.output


def test_migrate_is_idempotent(env: dict[str, str]) -> None:
    for _ in range(2):
        result = runner.invoke(app, ["migrate"], env=env)
        assert result.exit_code == 0, result.output
        assert "up to date" in result.output


def test_create_and_list_users(env: dict[str, str]) -> None:
    result = runner.invoke(
        app,
        ["users", "create", "root", "--admin", "--password-stdin"],
        input="correct horse battery staple\n",
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert "roles: admin, user" in result.output

    result = runner.invoke(app, ["users", "create", "bob", "--generate-password"], env=env)
    assert result.exit_code == 0, result.output
    generated = re.search(r"password \(shown once, store it now\): (\S+)", result.output)
    assert generated and len(generated.group(1)) >= 32

    result = runner.invoke(app, ["users", "list"], env=env)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert "root" in lines[1] and "admin,user" in lines[1] and "active" in lines[1]
    assert "bob" in lines[2]
    assert "correct horse" not in result.output


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["users", "create", "root", "--password-stdin"], "short\n", "weak_password"),
        (
            ["users", "create", "a b", "--password-stdin"],
            "correct horse battery staple\n",
            "invalid_username",
        ),
        (["users", "create", "root", "--password-stdin"], "\n", "no password"),
        (["users", "create", "root", "--password-stdin", "--generate-password"], "", "choose one"),
        (["users", "create", "root"], "", "no terminal"),
    ],
)
def test_bad_input_is_a_clear_error(
    env: dict[str, str], args: list[str], stdin: str, message: str
) -> None:
    result = runner.invoke(app, args, input=stdin, env=env)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_duplicate_user(env: dict[str, str]) -> None:
    args = ["users", "create", "root", "--password-stdin"]
    assert runner.invoke(app, args, input="correct horse battery staple\n", env=env).exit_code == 0
    result = runner.invoke(app, args, input="correct horse battery staple\n", env=env)
    assert result.exit_code == 1 and "username_taken" in result.output


def test_bad_settings_are_explained(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["users", "list"], env={"IDGATE_BCRYPT_COST": "3", "IDGATE_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code == 2
    assert "bcrypt_cost must be between 10 and 31" in result.output


def test_check(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check"], env={"IDGATE_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0 and "production would refuse" in result.output
    result = runner.invoke(
        app, ["check"], env={"IDGATE_ENVIRONMENT": "production", "IDGATE_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code == 2 and "IDGATE_ISSUER must be an https:// URL" in result.output
    result = runner.invoke(
        app,
        ["check"],
        env={
            "IDGATE_ENVIRONMENT": "production",
            "IDGATE_ISSUER": "https://id.example.test",
            "IDGATE_DATA_DIR": str(tmp_path),
        },
    )
    assert result.exit_code == 0 and "settings OK" in result.output


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve"], env={"IDGATE_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 2 and "idgate migrate" in result.output


def test_serve_refuses_production_with_problems(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["serve"], env={"IDGATE_ENVIRONMENT": "production", "IDGATE_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code == 2 and "IDGATE_ISSUER" in result.output


def test_serve_warns_loudly_about_workers_without_redis(tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", "--workers", "3"], env={"IDGATE_DATA_DIR": str(tmp_path)})
    assert "WARNING: IDGATE_WORKERS is 3 but IDGATE_REDIS_URL is not set" in result.output
    assert result.exit_code == 2  # then stops at the unmigrated database


def test_serve_refuses_workers_without_redis_in_production(tmp_path: Path) -> None:
    env = {
        "IDGATE_ENVIRONMENT": "production",
        "IDGATE_ISSUER": "https://id.example.test",
        "IDGATE_DATA_DIR": str(tmp_path),
    }
    result = runner.invoke(app, ["serve", "--workers", "2"], env=env)
    assert result.exit_code == 2 and "IDGATE_REDIS_URL" in result.output


def test_the_command_line_loads_no_server_machinery_before_a_command_runs() -> None:
    """``idgate serve`` with several workers starts none of them until its own process has
    checked the schema; that process loads neither Alembic nor the application's services
    (they took a third of such a start-up, docs/benchmarks.md)."""
    code = (
        "import sys, idgate.cli, idgate.store.schema_version; "
        "print(sorted(m for m in ('alembic', 'idgate.services', 'idgate.app', 'fastapi') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
