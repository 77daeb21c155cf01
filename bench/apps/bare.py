"""The ceiling: one async FastAPI route with no authentication at all."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/public")
async def public() -> dict[str, str]:
    return {"message": "This is a public endpoint: anyone can see it."}
