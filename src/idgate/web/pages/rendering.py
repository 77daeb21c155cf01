"""Jinja2 pages: autoescaped templates, one stylesheet of our own, a strict CSP.

Every value a template prints is HTML-escaped (``autoescape=True``): a username such as
``<img src=x onerror=alert(1)>`` is shown as text. The pages carry no script and no inline
style, so their Content-Security-Policy allows nothing but idgate's own stylesheet and images,
and forms that post back to idgate (HD-02, OP-13).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from importlib import resources
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

#: The policy of every HTML page: no script at all, styles and images from idgate only.
PAGE_CSP = (
    "default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)

_STATIC = resources.files("idgate.web") / "static"

#: Files under /static, with their media types; nothing else is served from there.
STATIC_FILES = {
    "idgate.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}


def static_bytes(name: str) -> bytes:
    return (_STATIC / name).read_bytes()


def _versioned(name: str) -> str:
    digest = hashlib.sha256(static_bytes(name)).hexdigest()[:12]
    return f"/static/{name}?v={digest}"


_env = Environment(
    loader=PackageLoader("idgate.web", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def when(moment: datetime | None) -> str:
    """Format a UTC instant for people: ``2026-11-29 10:15 UTC``."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "unknown"


_BROWSERS = [
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
]
_SYSTEMS = [
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
]


def device(user_agent: str | None) -> str:
    """Name the browser and system of a User-Agent string, roughly: ``Chrome on Linux``."""
    if not user_agent:
        return "Unknown device"
    browser = next((name for token, name in _BROWSERS if token in user_agent), "Browser")
    system = next((name for token, name in _SYSTEMS if token in user_agent), None)
    return f"{browser} on {system}" if system else browser


_env.filters.update(when=when, device=device)
_env.globals.update(stylesheet=_versioned("idgate.css"), favicon=_versioned("favicon.svg"))


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render ``template`` into an HTML response with the page CSP."""
    values: dict[str, Any] = {
        "user": None,
        "csrf_token": None,
        "notice": None,
        "error": None,
        "path": request.url.path,
        "providers": (),
    }
    values.update(context or {})
    body = _env.get_template(template).render(values)
    response = HTMLResponse(body, status_code=status_code, headers=headers)
    response.headers["Content-Security-Policy"] = PAGE_CSP
    return response
