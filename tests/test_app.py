"""The application's life: what its start and stop do to the process."""

from __future__ import annotations

import gc

from fastapi import FastAPI

from idgate.app import create_app
from idgate.config import Settings


async def test_a_started_app_keeps_its_start_up_objects_out_of_the_collector(
    settings: Settings,
) -> None:
    """A full collection that scans everything built at start-up stalled every request for 80
    to 170 ms during a login flood (docs/benchmarks.md): the app freezes it once started."""
    gc.unfreeze()
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 10_000
    assert gc.get_freeze_count() == 0
