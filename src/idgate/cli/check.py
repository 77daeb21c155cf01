"""``idgate check``: say whether the settings are fit for production, without starting."""

from __future__ import annotations

import typer

from idgate.cli._common import fail, load_settings


def check() -> None:
    """Check the settings against the production rules and print every problem found."""
    settings = load_settings()
    problems = settings.production_problems()
    if not problems:
        typer.echo(f"settings OK for production (environment: {settings.environment})")
        return
    lines = "\n".join(f"  - {problem}" for problem in problems)
    if settings.environment == "production":
        raise fail(f"idgate would refuse to start:\n{lines}", 2)
    typer.echo(f"fine for {settings.environment}, but production would refuse:\n{lines}")
