"""The systems idgate is compared with, each a small ASGI app served by uvicorn."""
