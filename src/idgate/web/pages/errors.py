"""Friendly error pages for browsers; programs keep the JSON error shape.

A request whose ``Accept`` header asks for HTML (a browser navigating or posting a form) gets the
same status and headers as the JSON answer, with a page instead of the JSON body. Curl, httpx and
``fetch`` send ``*/*`` and keep getting JSON.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from idgate.web.pages.context import LoginRequired
from idgate.web.pages.rendering import render

Handler = Callable[[Request, Exception], Awaitable[Response]]

TITLES = {
    400: "Bad request",
    401: "Sign-in required",
    403: "Request refused",
    404: "Page not found",
    405: "Not allowed",
    409: "Conflict",
    413: "Too large",
    415: "Unsupported request",
    422: "Invalid request",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}


def wants_html(request: Request) -> bool:
    """Return whether the client asked for HTML (browsers do; API clients send ``*/*``)."""
    return "text/html" in request.headers.get("accept", "").lower()


def error_page(request: Request, response: Response) -> Response:
    """Return ``response`` (a JSON error) as an HTML page with the same status and headers."""
    try:
        body: dict[str, Any] = json.loads(bytes(response.body))
    except ValueError:
        body = {}
    status = response.status_code
    code = str(body.get("code") or "error")
    title = "Sign-in failed" if code.startswith("social_") else TITLES.get(status, "Error")
    page = render(
        request,
        "error.html",
        {
            "status": status,
            "title": title,
            "detail": str(body.get("detail") or "The request failed."),
            "code": code,
        },
        status_code=status,
    )
    for name, value in response.headers.items():
        if name.lower() in {"www-authenticate", "retry-after", "allow"}:
            page.headers[name] = value
    return page


def _html_aware(handler: Handler) -> Handler:
    async def wrapped(request: Request, exc: Exception) -> Response:
        response = await handler(request, exc)
        if wants_html(request):
            return error_page(request, response)
        return response

    return wrapped


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(exc.location, status_code=303)


def install_error_pages(app: FastAPI) -> None:
    """Wrap every installed error handler so browsers get pages; call after installing them."""
    handlers = cast(dict[Any, Handler], app.exception_handlers)
    for key, handler in list(handlers.items()):
        handlers[key] = _html_aware(handler)
    app.add_exception_handler(LoginRequired, _login_required)
