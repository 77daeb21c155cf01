"""fastapi-users as its documentation sets it up: JWT strategy, bearer transport, SQLite.

``fastapi-users-db-sqlalchemy`` (the adapter the documentation uses) pins SQLAlchemy < 2.1, which
cannot share an environment with idgate's 2.1, so :class:`UserDatabase` below implements the
library's ``BaseUserDatabase`` with the adapter's own queries (one ``SELECT`` by id or email,
commit and refresh on writes). Passwords use bcrypt at the benchmark's cost, so logins cost the
same as idgate's; the library's default would be argon2id.

``python -m bench.apps.fastapi_users_app`` creates the tables (before the workers start).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI
from fastapi_users import BaseUserManager, FastAPIUsers, UUIDIDMixin, schemas
from fastapi_users.authentication import AuthenticationBackend, BearerTransport, JWTStrategy
from fastapi_users.db import BaseUserDatabase
from fastapi_users.password import PasswordHelper
from pwdlib import PasswordHash
from pwdlib.hashers.bcrypt import BcryptHasher
from sqlalchemy import Boolean, String, Uuid, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SECRET = os.environ["BENCH_JWT_SECRET"]
DATABASE_URL = f"sqlite+aiosqlite:///{os.environ['BENCH_DB_PATH']}"
BCRYPT_COST = int(os.environ.get("BENCH_BCRYPT_COST", "12"))


class Base(DeclarativeBase):
    pass


class User(Base):
    """The columns of fastapi-users' ``SQLAlchemyBaseUserTableUUID``."""

    __tablename__ = "user"
    if TYPE_CHECKING:  # the library's UserProtocol, as its own adapter declares it
        id: uuid.UUID
        email: str
        hashed_password: str
        is_active: bool
        is_superuser: bool
        is_verified: bool
    else:
        id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
        email: Mapped[str] = mapped_column(String(320), unique=True, index=True, nullable=False)
        hashed_password: Mapped[str] = mapped_column(String(1024), nullable=False)
        is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
        is_superuser: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
        is_verified: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)


class UserDatabase(BaseUserDatabase[User, uuid.UUID]):
    """The adapter's queries: one SELECT per lookup, commit and refresh per write."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, id: uuid.UUID) -> User | None:
        result = await self.session.execute(select(User).filter_by(id=id))
        return result.unique().scalar_one_or_none()

    async def get_by_email(self, email: str) -> User | None:
        result = await self.session.execute(select(User).filter_by(email=email))
        return result.unique().scalar_one_or_none()

    async def create(self, create_dict: dict[str, Any]) -> User:
        user = User(**create_dict)
        self.session.add(user)
        await self.session.commit()
        await self.session.refresh(user)
        return user

    async def update(self, user: User, update_dict: dict[str, Any]) -> User:
        for key, value in update_dict.items():
            setattr(user, key, value)
        self.session.add(user)
        await self.session.commit()
        await self.session.refresh(user)
        return user

    async def delete(self, user: User) -> None:
        await self.session.delete(user)
        await self.session.commit()


class UserRead(schemas.BaseUser[uuid.UUID]):
    pass


class UserCreate(schemas.BaseUserCreate):
    pass


engine = create_async_engine(DATABASE_URL)
async_session_maker = async_sessionmaker(engine, expire_on_commit=False)
password_helper = PasswordHelper(PasswordHash((BcryptHasher(rounds=BCRYPT_COST),)))


async def get_async_session() -> AsyncIterator[AsyncSession]:
    async with async_session_maker() as session:
        yield session


async def get_user_db(
    session: AsyncSession = Depends(get_async_session),  # noqa: B008
) -> AsyncIterator[UserDatabase]:
    yield UserDatabase(session)


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET


async def get_user_manager(
    user_db: UserDatabase = Depends(get_user_db),  # noqa: B008
) -> AsyncIterator[UserManager]:
    yield UserManager(user_db, password_helper)


def get_jwt_strategy() -> JWTStrategy[User, uuid.UUID]:
    return JWTStrategy(secret=SECRET, lifetime_seconds=900)


auth_backend = AuthenticationBackend(
    name="jwt", transport=BearerTransport(tokenUrl="auth/jwt/login"), get_strategy=get_jwt_strategy
)
fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, [auth_backend])
current_active_user = fastapi_users.current_user(active=True)

app = FastAPI()
app.include_router(fastapi_users.get_auth_router(auth_backend), prefix="/auth/jwt")
app.include_router(fastapi_users.get_register_router(UserRead, UserCreate), prefix="/auth")


@app.get("/profile")
async def profile(user: User = Depends(current_active_user)) -> dict[str, str]:  # noqa: B008
    return {"id": str(user.id), "email": user.email}


@app.get("/public")
async def public() -> dict[str, str]:
    return {"message": "This is a public endpoint: anyone can see it."}


async def create_tables() -> None:
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(create_tables())
