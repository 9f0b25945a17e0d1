"""Find the `ConsentConfig` behind a `module:attr`: the config itself, or the app that
carries the middleware (FastAPI, Starlette, Flask, or any ASGI/WSGI callable chain).

The command line uses it (`check-config`, `audit --config`), so a user can point it at
what they already run: `consent-middleware check-config myapp.main:app`.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from typing import Any

from .config import ConsentConfig

__all__ = ["find_config", "load_config", "load_object"]

#: How deep to follow `.app` / `.wsgi_app` links of wrapped apps before giving up.
_MAX_DEPTH = 32


def load_object(target: str) -> Any:
    """Import `module:attr` (attr may be dotted) like `uvicorn` does."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"{target!r} is not of the form module:attr")
    if "" not in sys.path:
        sys.path.insert(0, "")  # like `python -m`: the current folder is importable
    try:
        module = importlib.import_module(module_name)
    except (ImportError, ValueError):  # no such module; an invalid ConsentConfig: as they are
        raise
    except Exception as exc:  # the module's own failure: a usage error that says where
        raise ImportError(f"cannot import {module_name!r}: {_raised_at(exc)}") from exc
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _raised_at(exc: BaseException) -> str:
    """`RuntimeError: boom (app.py, line 3)`: the error and the line of the module's own
    code that raised it (a SyntaxError names its line itself)."""
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc}"
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith("<frozen ")
    ]
    where = f" ({frames[-1].filename}, line {frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def load_config(target: str) -> ConsentConfig:
    """The ConsentConfig that `module:attr` is or carries; raises with what was found."""
    obj = load_object(target)
    config = find_config(obj)
    if config is None:
        raise TypeError(
            f"{target!r} is a {type(obj).__name__}, not a ConsentConfig, and no"
            " ConsentMiddleware or ConsentWSGIMiddleware was found in it"
        )
    return config


def find_config(obj: Any) -> ConsentConfig | None:
    """The config of `obj`, of the middleware it is, or of the first one wrapped inside it."""
    seen: set[int] = set()
    todo: list[tuple[Any, int]] = [(obj, 0)]
    while todo:
        current, depth = todo.pop(0)
        if current is None or id(current) in seen or depth > _MAX_DEPTH:
            continue
        seen.add(id(current))
        if isinstance(current, ConsentConfig):
            return current
        carried = getattr(current, "config", None)
        if isinstance(carried, ConsentConfig):
            return carried
        # Starlette/FastAPI: middleware declared with add_middleware, before the app starts.
        for declared in getattr(current, "user_middleware", None) or ():
            kwargs = getattr(declared, "kwargs", None) or getattr(declared, "options", None)
            found = kwargs.get("config") if isinstance(kwargs, dict) else None
            if isinstance(found, ConsentConfig):
                return found
        # Wrapped apps: Flask's wsgi_app, Quart's asgi_app, ASGI/WSGI middleware's .app, a
        # built stack.
        for name in ("wsgi_app", "asgi_app", "middleware_stack", "app", "application", "_app"):
            inner = getattr(current, name, None)
            if inner is not None and not isinstance(inner, (str, bytes, int, float)):
                todo.append((inner, depth + 1))
    return None
