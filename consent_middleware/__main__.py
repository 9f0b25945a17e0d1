"""`python -m consent_middleware ...`: the `consent-middleware` command, for a virtualenv whose
scripts folder is not on PATH (as `python -m pip`, `python -m uvicorn`)."""

from .cli import entry_point

entry_point()
