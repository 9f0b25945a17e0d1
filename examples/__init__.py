"""Integrica, the example site, built twice: once with FastAPI and once with Flask."""
