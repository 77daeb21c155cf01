"""idgate's benchmark: idgate against the tutorial app, fastapi-users and bare FastAPI.

Run it with ``make bench`` (or ``python -m bench --help``); README.md in this folder explains it.
"""
