"""The classic tutorial's app, as the tutorial writes it: bcrypt, PyJWT HS256, users in a dict.

The routes are plain ``def`` functions, as the tutorial has them (FastAPI runs them in its thread
pool). Only two things are added for the benchmark: the secret, cost and a first user come from
the environment, so that every uvicorn worker shares them (the dict lives in one process).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import bcrypt
import jwt
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

SECRET_KEY = os.environ["BENCH_JWT_SECRET"]
ALGORITHM = "HS256"
ACCESS_TOKEN_EXPIRE_MINUTES = 15
BCRYPT_COST = int(os.environ.get("BENCH_BCRYPT_COST", "12"))

app = FastAPI()
bearer = HTTPBearer()
users: dict[str, dict[str, Any]] = {}


class Credentials(BaseModel):
    username: str
    password: str


def hash_password(password: str) -> bytes:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_COST))


@app.post("/register", status_code=201)
def register(body: Credentials) -> dict[str, str]:
    if body.username in users:
        raise HTTPException(400, "Username already registered")
    users[body.username] = {"username": body.username, "hash": hash_password(body.password)}
    return {"username": body.username}


@app.post("/login")
def login(body: Credentials) -> dict[str, str]:
    user = users.get(body.username)
    if user is None or not bcrypt.checkpw(body.password.encode(), user["hash"]):
        raise HTTPException(401, "Invalid credentials")
    expire = datetime.now(UTC) + timedelta(minutes=ACCESS_TOKEN_EXPIRE_MINUTES)
    token = jwt.encode({"sub": body.username, "exp": expire}, SECRET_KEY, algorithm=ALGORITHM)
    return {"access_token": token, "token_type": "bearer"}


def get_current_user(
    credentials: HTTPAuthorizationCredentials = Depends(bearer),  # noqa: B008
) -> dict[str, Any]:
    try:
        payload = jwt.decode(credentials.credentials, SECRET_KEY, algorithms=[ALGORITHM])
    except jwt.PyJWTError:
        raise HTTPException(401, "Invalid token", {"WWW-Authenticate": "Bearer"}) from None
    user = users.get(payload.get("sub", ""))
    if user is None:
        raise HTTPException(401, "Invalid token", {"WWW-Authenticate": "Bearer"})
    return user


@app.get("/profile")
def profile(user: dict[str, Any] = Depends(get_current_user)) -> dict[str, str]:  # noqa: B008
    return {"username": user["username"]}


@app.get("/public")
def public() -> dict[str, str]:
    return {"message": "This is a public endpoint: anyone can see it."}


if os.environ.get("BENCH_SEED_USERNAME"):
    _name = os.environ["BENCH_SEED_USERNAME"]
    users[_name] = {"username": _name, "hash": hash_password(os.environ["BENCH_SEED_PASSWORD"])}
