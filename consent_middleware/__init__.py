"""Cookie consent enforced in the server, for ASGI (FastAPI, Starlette) and WSGI (Flask)."""

from .asgi import ConsentMiddleware
from .config import Category, ConsentConfig, CookieRule
from .consent import Consent
from .request import get_consent
from .wsgi import ConsentWSGIMiddleware

__all__ = [
    "Category",
    "Consent",
    "ConsentConfig",
    "ConsentMiddleware",
    "ConsentWSGIMiddleware",
    "CookieRule",
    "get_consent",
]

__version__ = "0.1.0"
