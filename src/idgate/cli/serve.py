"""``idgate serve``: run the server with uvicorn."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from idgate.cli._common import fail, load_settings


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [IDGATE_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [IDGATE_PORT].")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes [IDGATE_WORKERS].")
    ] = None,
    migrate: Annotated[
        bool, typer.Option("--migrate", help="Apply pending migrations before serving.")
    ] = False,
) -> None:
    """Serve idgate. The data directory and everything else come from IDGATE_* settings."""
    import uvicorn

    from idgate.cli._protocol import http_protocol
    from idgate.store import schema_version

    settings = load_settings()
    workers = workers or settings.workers
    settings = settings.model_copy(update={"workers": workers})
    problems = settings.production_problems() if settings.environment == "production" else []
    if problems:
        raise fail(
            "idgate cannot start with these settings:\n"
            + "\n".join(f"  - {problem}" for problem in problems),
            2,
        )
    for problem in settings.protection_problems():
        typer.secho(f"WARNING: {problem}", err=True, fg=typer.colors.YELLOW, bold=True)
    url = settings.resolved_database_url
    if migrate:
        from idgate.store import migrate as migrations

        migrations.upgrade(url)
    elif not schema_version.is_up_to_date(url):
        raise fail("the database schema is not up to date: run `idgate migrate` first", 2)
    host = host or settings.host
    port = port or settings.port
    # Workers re-read the settings from the environment; pass the resolved ones on.
    os.environ["IDGATE_WORKERS"] = str(workers)
    typer.echo(
        f"idgate is serving on http://{host}:{port}  (docs: http://{host}:{port}/docs)"
        if settings.docs_are_enabled
        else f"idgate is serving on http://{host}:{port}"
    )
    uvicorn.run(
        "idgate.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=http_protocol(),
        # idgate serves no WebSocket: each worker would import a WebSocket implementation at start.
        ws="none",
        log_config=None,
        access_log=False,
        server_header=False,
        # Forwarded headers are idgate's decision (trusted proxies only), never uvicorn's.
        proxy_headers=False,
    )
