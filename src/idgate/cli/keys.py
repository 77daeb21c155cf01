"""``idgate keys``: list and rotate the signing keys in the data directory."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from idgate.cli._common import fail, in_unit_of_work, load_settings, run_with_services
from idgate.config import Settings
from idgate.core.audit import AuditEvent, AuditEventType
from idgate.core.clock import SystemClock
from idgate.core.models import SYSTEM_ORIGIN
from idgate.core.tokens.keys import ASYMMETRIC_ALGORITHMS, Algorithm, rotation_overlap
from idgate.store.keystore import FileKeyStore, Rotation

if TYPE_CHECKING:
    from idgate.core.ports import UnitOfWork
    from idgate.services import Services


app = typer.Typer(help="Manage the signing keys.", no_args_is_help=True)

_HS256 = (
    "idgate signs with HS256, whose one key is IDGATE_JWT_SECRET: there is no key set to "
    "{action}. To change the secret, set a new IDGATE_JWT_SECRET and restart (every token "
    "signed with the old one stops working)."
)


def _store(settings: Settings) -> FileKeyStore:
    return FileKeyStore(settings.keys_dir, SystemClock())


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}Z" if moment else "-"


@app.command("list")
def list_keys() -> None:
    """List the signing keys: the active one, those that still verify, and retired ones."""
    settings = load_settings()
    if settings.jwt_algorithm == "HS256":
        raise fail(_HS256.format(action="list"), 2)
    store = _store(settings)
    if not store.manifest_path.exists():
        raise fail("there are no signing keys yet: idgate generates the first one when it starts")
    try:
        keys = store.describe()
    except (OSError, ValueError, KeyError) as exc:
        raise fail(f"cannot read the key manifest {store.manifest_path}: {exc}") from None
    typer.echo(f"{'KID':43}  {'ALG':5}  {'CREATED':20}  {'STATUS':11}  RETIRES")
    for key in keys:
        typer.echo(
            f"{key.kid:43}  {key.alg:5}  {_when(key.created_at):20}  {key.status:11}  "
            f"{_when(key.retire_at)}"
        )


@app.command("rotate")
def rotate(
    alg: Annotated[
        str | None,
        typer.Option(
            "--alg",
            help="Algorithm of the new key: EdDSA, ES256 or RS256 (default: the current one).",
        ),
    ] = None,
    retire_previous_now: Annotated[
        bool,
        typer.Option(
            "--retire-previous-now",
            help="Stop trusting the previous key at once (it leaked): its tokens stop working.",
        ),
    ] = False,
) -> None:
    """Sign with a new key from now on; running servers switch without a restart.

    The previous key keeps verifying (and stays in the JWKS) until every token it signed has
    expired: the access-token lifetime plus the leeway and a minute.
    """
    settings = load_settings()
    if settings.jwt_algorithm == "HS256":
        raise fail(_HS256.format(action="rotate"), 2)
    if alg is not None and alg not in ASYMMETRIC_ALGORITHMS:
        raise fail(
            f"unknown algorithm {alg!r}: choose one of {', '.join(ASYMMETRIC_ALGORITHMS)}", 2
        )
    store = _store(settings)
    if not store.manifest_path.exists():
        store.ensure(settings.jwt_algorithm)
    overlap = (
        timedelta(0)
        if retire_previous_now
        else rotation_overlap(settings.access_token_ttl, settings.jwt_leeway)
    )
    chosen: Algorithm | None = alg  # checked above
    try:
        rotation = store.rotate(chosen, overlap=overlap)
    except (OSError, ValueError, KeyError) as exc:
        raise fail(f"cannot rotate the keys in {store.directory}: {exc}") from None
    typer.echo(f"new active key {rotation.new.kid} ({rotation.new.alg})")
    typer.echo(
        f"previous key {rotation.previous.kid} verifies until {_when(rotation.previous_retires_at)}"
        if not retire_previous_now
        else f"previous key {rotation.previous.kid} is retired now"
    )
    for kid in rotation.deleted:
        typer.echo(f"deleted retired key {kid}")
    _record(settings, rotation)


def _record(settings: Settings, rotation: Rotation) -> None:
    async def work(services: Services) -> None:
        async def add(uow: UnitOfWork) -> None:
            await uow.audit.add(
                AuditEvent.create(
                    AuditEventType.KEY_ROTATED,
                    services.clock.now(),
                    SYSTEM_ORIGIN,
                    details={
                        "kid": rotation.new.kid,
                        "alg": rotation.new.alg,
                        "previous_kid": rotation.previous.kid,
                        "previous_retires_at": rotation.previous_retires_at.isoformat(),
                        "deleted": list(rotation.deleted),
                    },
                )
            )

        await in_unit_of_work(services, add)

    try:
        run_with_services(settings, work)
    except typer.Exit:
        raise
    except Exception as exc:  # the rotation stands; say what is missing
        raise fail(
            f"the key was rotated, but the audit event could not be recorded "
            f"({exc.__class__.__name__}); run `idgate migrate`?"
        ) from None
