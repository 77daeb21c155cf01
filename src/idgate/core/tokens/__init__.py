"""Signing keys and access tokens."""
