"""``idgate audit``: read the audit log (it cannot be changed from here or anywhere else)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from idgate.cli._common import fail, in_unit_of_work, load_settings, run_with_services
from idgate.core.audit import AuditEvent, AuditEventType
from idgate.core.usernames import canonical_username

if TYPE_CHECKING:
    from idgate.core.ports import UnitOfWork
    from idgate.services import Services


_RELATIVE = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_moment(text: str, now: datetime) -> datetime:
    """Parse ``30m``, ``1h``, ``7d`` (that long ago) or an ISO 8601 instant (UTC if naive)."""
    match = _RELATIVE.match(text)
    if match:
        return now - timedelta(**{_UNITS[match[2].lower()]: int(match[1])})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"cannot read {text!r} as a time: use ISO 8601 (2026-01-31T12:00:00Z) or a "
            "duration ago such as 30m, 1h, 7d"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def audit(
    user: Annotated[
        str | None, typer.Option("--user", "-u", help="Events about or by this user (name or id).")
    ] = None,
    types: Annotated[
        list[str] | None,
        typer.Option(
            "--type",
            "-t",
            help="Only this event type (repeatable), e.g. login.failed. "
            "See --list-types for the known ones.",
        ),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="From this time: ISO 8601, or 30m / 1h / 7d ago.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Before this time: ISO 8601, or 30m / 1h / 7d ago.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="How many, newest first.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    list_types: Annotated[
        bool, typer.Option("--list-types", help="Print the event types idgate records and exit.")
    ] = False,
) -> None:
    """List security events, newest first, filtered by user, type and time range."""
    if list_types:
        for event_type in AuditEventType:
            typer.echo(event_type.value)
        return
    now = datetime.now(UTC)
    try:
        start = parse_moment(since, now) if since else None
        end = parse_moment(until, now) if until else None
    except ValueError as exc:
        raise fail(str(exc), 2) from None
    settings = load_settings()

    async def work(services: Services) -> list[AuditEvent] | None:
        async def fetch(uow: UnitOfWork) -> list[AuditEvent] | None:
            user_id = None
            if user is not None:
                found = await uow.users.get_by_username(canonical_username(user))
                if found is None:
                    try:
                        user_id = uuid.UUID(user)
                    except ValueError:
                        return None
                else:
                    user_id = found.id
            events = await uow.audit.list(
                user_id=user_id, types=types or (), since=start, until=end, limit=limit
            )
            return list(events)

        return await in_unit_of_work(services, fetch)

    events = run_with_services(settings, work)
    if events is None:
        raise fail(f"no user named {user!r} (give a username or a user id)", 1)
    if as_json:
        for event in events:
            typer.echo(json.dumps(event.as_log_record(), ensure_ascii=True))
        return
    if not events:
        typer.echo("no events")
        return
    typer.echo(f"{'AT (UTC)':19}  {'EVENT':22}  {'OUTCOME':7}  {'REASON':26}  {'IP':15}  SUBJECT")
    for event in events:
        at = event.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        subject = str(event.subject_id or event.actor_id or "-")
        reason, ip = _safe(event.reason or "-"), _safe(event.ip or "-")
        typer.echo(
            f"{at:19}  {_safe(event.type):22}  {event.outcome!s:7}  {reason:26}  {ip:15}  {subject}"
        )


def _safe(text: str) -> str:
    # Stored values came from clients: never let them drive the terminal (ASVS 16.4.1).
    return text.encode("unicode_escape").decode("ascii")
