from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from idgate.core.clock import FixedClock
from idgate.store.db import create_engine, session_factory
from idgate.store.uow import SqlUnitOfWork


@pytest.fixture
async def uow_factory(
    database_url: str, clock: FixedClock
) -> AsyncIterator[Callable[[], SqlUnitOfWork]]:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    try:
        yield lambda: SqlUnitOfWork(sessions, clock)
    finally:
        await engine.dispose()
