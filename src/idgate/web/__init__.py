"""The HTTP face of idgate: FastAPI routers, dependencies and middleware. No SQL here."""
