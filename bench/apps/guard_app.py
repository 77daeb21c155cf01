"""Another service's route protected by ``idgate.guard``, as docs/guard.md sets it up.

The access token is verified locally with the keys idgate publishes (its JWKS, fetched once and
cached): no call to idgate per request. ``BENCH_IDGATE_ISSUER`` is the idgate the bench started.
"""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import Depends, FastAPI

from idgate.guard import Guard, Principal, install_error_handler

guard = Guard(
    issuer=os.environ["BENCH_IDGATE_ISSUER"],
    audience="idgate",
    allow_http=True,  # the bench runs on loopback, without TLS
)
app = FastAPI(lifespan=guard.lifespan)
install_error_handler(app)

Caller = Annotated[Principal, Depends(guard.principal)]


@app.get("/profile")
async def profile(caller: Caller) -> dict[str, str]:
    return {"id": caller.subject, "kind": caller.kind}


@app.get("/public")
async def public() -> dict[str, str]:
    return {"message": "This is a public endpoint: anyone can see it."}
