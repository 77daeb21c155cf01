"""What every command shares: loading settings with readable errors, running async work."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import typer
from pydantic import ValidationError

from idgate.config import Settings
from idgate.core.errors import ConfigurationError, IdgateError

if TYPE_CHECKING:
    from idgate.core.ports import UnitOfWork
    from idgate.services import Services


T = TypeVar("T")


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def load_settings() -> Settings:
    """Read the settings from the environment; explain what is wrong instead of a traceback."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            name = f"IDGATE_{field.upper()}" if field else "settings"
            lines.append(f"  - {name}: {error['msg']}")
        raise fail("idgate cannot read its settings:\n" + "\n".join(lines), 2) from None


def run_with_services(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    """Build the services, run ``work``, release them; turn idgate errors into clean exits."""
    from idgate.app import build_services

    async def _run() -> T:
        services = build_services(settings)
        try:
            return await work(services)
        finally:
            await services.close()

    try:
        return asyncio.run(_run())
    except ConfigurationError as exc:
        raise fail(str(exc), 2) from None
    except IdgateError as exc:
        raise fail(f"error ({exc.code}): {exc.detail}") from None


async def in_unit_of_work(services: Services, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """Run ``work`` in one unit of work: one commit per command."""
    from idgate.store.uow import run_in_unit_of_work

    return await run_in_unit_of_work(services.uow_factory, work)
