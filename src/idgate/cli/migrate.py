"""``idgate migrate``: bring the database schema up to date."""

from __future__ import annotations

import typer

from idgate.cli._common import fail, load_settings


def migrate() -> None:
    """Apply every pending database migration (safe to run repeatedly)."""
    from idgate.store import migrate as migrations  # Alembic: loaded by the commands that use it

    settings = load_settings()
    url = settings.resolved_database_url
    try:
        migrations.upgrade(url)
    except Exception as exc:  # a driver error: explain, don't dump a traceback
        raise fail(f"migration failed: {exc.__class__.__name__}: {exc}") from None
    typer.echo(f"database is up to date ({_describe(url)})")


def _describe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
