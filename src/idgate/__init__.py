"""idgate: authentication and authorization for your API.

``create_app`` and ``Settings`` are imported lazily, so that ``idgate.guard`` (the library for
resource servers) can be imported without the server's own dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from idgate.app import create_app
    from idgate.config import Settings

__all__ = ["Settings", "__version__", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from idgate.app import create_app

        return create_app
    if name == "Settings":
        from idgate.config import Settings

        return Settings
    raise AttributeError(f"module 'idgate' has no attribute {name!r}")
