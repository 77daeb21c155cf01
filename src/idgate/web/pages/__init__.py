"""The browser face of idgate: login, registration and account pages (Jinja2, no JavaScript).

The pages live under ``/account`` so they never collide with the JSON API: ``POST /login`` and
friends keep their contract, and a GET on them stays a 405 (CSRF-03).
"""

from __future__ import annotations

from fastapi import FastAPI

from idgate.web.pages import account, signin, social, static
from idgate.web.pages.errors import install_error_pages


def install_pages(app: FastAPI) -> None:
    """Mount the pages and the stylesheet, and give browsers HTML error pages."""
    for module in (signin, account, social, static):
        app.include_router(module.build_router())
    install_error_pages(app)


__all__ = ["install_pages"]
