"""SQLAlchemy implementations of the repositories in ``idgate.core.ports``.

Every query is built with SQLAlchemy expressions and bound parameters; no SQL is assembled from
strings anywhere in idgate (ASVS 1.2.4). Repositories flush, never commit.
"""
