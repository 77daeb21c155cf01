"""Posts: a small API protected by idgate, the worked example of docs/guard.md.

The rules, as a product owner would say them:

* anyone can read posts;
* people logged in to idgate write them;
* only the author edits a post;
* the author, or an administrator, deletes it (deleting also asks idgate whether the token was
  revoked: a logged-out token cannot delete anything, even before it expires);
* a service with an idgate API key scoped ``posts:read`` exports them all.

The posts live in this service's own SQLite database; idgate knows nothing about them. Run it
next to idgate with ``make example`` (README.md), or on its own::

    POSTS_IDGATE_ISSUER=http://127.0.0.1:8000 POSTS_IDGATE_API_KEY=idg_... \\
        uvicorn --factory app:from_env --app-dir examples/posts --port 8001
"""

# No ``from __future__ import annotations``: FastAPI reads the annotations of the routes inside
# ``create_app`` at run time, and they name its local variables.

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Response
from pydantic import BaseModel, Field
from sqlalchemy import DateTime, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from idgate.guard import Guard, Principal, install_error_handler

# --- the database --------------------------------------------------------------------------


class Base(DeclarativeBase):
    pass


class Post(Base):
    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    #: The author's idgate user id: the ``sub`` of their access token, never a username.
    author_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


# --- what the API speaks -------------------------------------------------------------------


class PostIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=10_000)


class PostPatch(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    body: str | None = Field(default=None, min_length=1, max_length=10_000)


class PostOut(BaseModel):
    id: int
    title: str
    body: str
    author_id: str
    created_at: datetime
    updated_at: datetime | None

    @classmethod
    def of(cls, post: Post) -> "PostOut":
        return cls(
            id=post.id,
            title=post.title,
            body=post.body,
            author_id=post.author_id,
            created_at=post.created_at,
            updated_at=post.updated_at,
        )


# --- the application -----------------------------------------------------------------------


def create_app(guard: Guard, database_url: str) -> FastAPI:
    """The posts API, guarded by ``guard``, storing posts at ``database_url``."""
    engine = create_async_engine(database_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        try:
            yield
        finally:
            await engine.dispose()
            await guard.aclose()

    app = FastAPI(title="Posts", summary="A posts API protected by idgate.", lifespan=lifespan)
    install_error_handler(app)  # refusals as {"code": ..., "detail": ...}, like idgate's

    async def database() -> AsyncIterator[AsyncSession]:
        async with sessions() as session:
            yield session

    Db = Annotated[AsyncSession, Depends(database)]
    # Who may do what, in idgate's words:
    Author = Annotated[Principal, Depends(guard.user)]  # a person, logged in
    # Deleting cannot be undone: ask idgate whether the token was revoked (a logout, a password
    # change, a disabled account) instead of trusting it until it expires.
    Deleter = Annotated[
        Principal, Depends(guard.authenticated(users_only=True, check_revocation=True))
    ]
    Reader = Annotated[Principal, Depends(guard.require_permission("posts:read"))]

    async def load(db: AsyncSession, post_id: int) -> Post:
        post = await db.get(Post, post_id)
        if post is None:
            raise HTTPException(404, "There is no such post.")
        return post

    @app.get("/posts", response_model=list[PostOut])
    async def list_posts(db: Db) -> list[PostOut]:
        """Every post, newest first. Anyone may read them."""
        posts = await db.scalars(select(Post).order_by(Post.id.desc()).limit(100))
        return [PostOut.of(post) for post in posts]

    @app.get("/posts/{post_id}", response_model=PostOut)
    async def read_post(post_id: int, db: Db) -> PostOut:
        """One post. Anyone may read it."""
        return PostOut.of(await load(db, post_id))

    @app.post("/posts", response_model=PostOut, status_code=201)
    async def create_post(new: PostIn, author: Author, db: Db) -> PostOut:
        """Write a post: you are its author."""
        post = Post(
            title=new.title,
            body=new.body,
            author_id=author.subject,
            created_at=datetime.now(UTC),
        )
        db.add(post)
        await db.commit()
        return PostOut.of(post)

    @app.patch("/posts/{post_id}", response_model=PostOut)
    async def edit_post(post_id: int, change: PostPatch, author: Author, db: Db) -> PostOut:
        """Edit your own post. Nobody else may, administrators included."""
        post = await load(db, post_id)
        author.require_owner(post.author_id)
        if change.title is not None:
            post.title = change.title
        if change.body is not None:
            post.body = change.body
        post.updated_at = datetime.now(UTC)
        await db.commit()
        return PostOut.of(post)

    @app.delete("/posts/{post_id}", status_code=204)
    async def delete_post(post_id: int, caller: Deleter, db: Db) -> Response:
        """Delete your own post, or any post with the ``posts:delete`` permission (the admin
        role holds every permission)."""
        post = await load(db, post_id)
        caller.require_owner_or(post.author_id, "posts:delete")
        await db.delete(post)
        await db.commit()
        return Response(status_code=204)

    @app.get("/export", response_model=list[PostOut])
    async def export(reader: Reader, db: Db) -> list[PostOut]:
        """All posts, oldest first, for services: an API key scoped ``posts:read`` (or anyone
        holding that permission)."""
        posts = await db.scalars(select(Post).order_by(Post.id))
        return [PostOut.of(post) for post in posts]

    @app.get("/whoami")
    async def whoami(
        caller: Annotated[Principal | None, Depends(guard.optional_principal)],
    ) -> dict[str, object]:
        """Who idgate says you are (without a credential: nobody)."""
        if caller is None:
            return {"kind": None}
        return {
            "subject": caller.subject,
            "kind": caller.kind,
            "roles": list(caller.roles),
            "permissions": list(caller.permissions),
            "scopes": list(caller.scopes),
        }

    return app


def from_env() -> FastAPI:
    """The app configured from the environment (``uvicorn --factory app:from_env``).

    * ``POSTS_IDGATE_ISSUER``: idgate's URL (``IDGATE_ISSUER``), default http://127.0.0.1:8000;
    * ``POSTS_IDGATE_AUDIENCE``: the audience of idgate's tokens (``IDGATE_AUDIENCE``),
      default ``idgate``;
    * ``POSTS_IDGATE_API_KEY``: this service's idgate API key, scoped ``tokens:introspect``;
    * ``POSTS_DATABASE_URL``: default ``sqlite+aiosqlite:///posts.db``.
    """
    api_key = os.environ.get("POSTS_IDGATE_API_KEY")
    if not api_key:
        raise SystemExit(
            "POSTS_IDGATE_API_KEY is not set: create an idgate API key scoped tokens:introspect "
            "for this service (see examples/posts/README.md)"
        )
    guard = Guard(
        issuer=os.environ.get("POSTS_IDGATE_ISSUER", "http://127.0.0.1:8000"),
        audience=os.environ.get("POSTS_IDGATE_AUDIENCE", "idgate"),
        api_key=api_key,
        realm="posts",
    )
    return create_app(guard, os.environ.get("POSTS_DATABASE_URL", "sqlite+aiosqlite:///posts.db"))
