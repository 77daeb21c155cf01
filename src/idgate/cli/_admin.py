"""What the administrative commands share: one unit of work per command, acting as the operator."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

import typer

from idgate.cli._common import fail, in_unit_of_work, load_settings, run_with_services
from idgate.core.admin import Actor
from idgate.core.models import SYSTEM_ORIGIN

if TYPE_CHECKING:
    from idgate.core.ports import UnitOfWork
    from idgate.services import Services


T = TypeVar("T")

#: Commands act as the server's operator: audited with no actor id and the CLI's user agent.
OPERATOR = Actor(None, SYSTEM_ORIGIN)


def run(work: Callable[[Services, UnitOfWork], Awaitable[T]]) -> T:
    """Load the settings, run ``work`` in one unit of work, commit, and release everything."""
    settings = load_settings()

    async def outer(services: Services) -> T:
        return await in_unit_of_work(services, lambda uow: work(services, uow))

    return run_with_services(settings, outer)


def parse_id(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise fail(f"{value!r} is not a {what} id", 2) from None


def confirm(question: str, yes: bool) -> None:
    """Ask before something irreversible; without a terminal, demand ``--yes``."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise fail("refusing without confirmation: add --yes", 2)
    if not typer.confirm(question):
        raise typer.Exit(1)


def when(moment: datetime | None, default: str = "-") -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else default
