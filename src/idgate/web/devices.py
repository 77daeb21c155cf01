"""The device-token cookie every successful login sets (``core.devices``, docs/rate-limits.md).

Presented on later logins to the same account, the token keeps this browser or client from being
throttled by failed attempts made elsewhere (OWASP's device-cookie approach).
"""

from __future__ import annotations

from fastapi import Request, Response

from idgate.core.devices import IssuedDevice

#: ``__Host-``: Secure, host-only, path ``/``. SameSite=Strict: only idgate's own pages send it.
DEVICE_COOKIE = "__Host-idgate-device"


def device_cookie(request: Request) -> str | None:
    """Return the device token the browser presents, if any."""
    return request.cookies.get(DEVICE_COOKIE)


def set_device_cookie(response: Response, device: IssuedDevice) -> None:
    response.set_cookie(
        DEVICE_COOKIE,
        device.token,
        max_age=device.max_age,
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
    )
