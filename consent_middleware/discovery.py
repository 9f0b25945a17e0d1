"""Find the `ConsentConfig` behind a `module:attr`: the config itself, or the app that
carries the middleware (FastAPI, Starlette, Flask, or any ASGI/WSGI callable chain).

The command line uses it (`check-config`, `audit --config`), so a user can point it at
what they already run: `consent-middleware check-config myapp.main:app`, or an app factory
as Flask and uvicorn take one: `myapp:create_app()`, `myapp:create_app('production')`.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import sys
import traceback
from typing import Any

from .config import ConsentConfig

__all__ = ["WRAPPED_ATTRS", "find_config", "load_config", "load_object", "not_found"]

#: `create_app(...)`: an attribute path written as a call (Flask's way of naming a factory).
_CALL = re.compile(r"^\s*([\w.]+)\s*\((.*)\)\s*$", re.DOTALL)

#: How deep to follow `.app` / `.wsgi_app` links of wrapped apps before giving up.
_MAX_DEPTH = 32


def load_object(target: str, *, factory: bool = False) -> Any:
    """Import `module:attr` (attr may be dotted) like `uvicorn` does. An app factory is
    called: with `factory` (uvicorn's `--factory`) with no arguments, or when attr is
    written as a call (`create_app()`, `create_app('dev', debug=False)`: Flask's form, with
    literal arguments only, never code)."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"{target!r} is not of the form module:attr")
    attr, call = _split_call(target, attr)
    if factory and call is None:
        call = ((), {})
    if "" not in sys.path:
        sys.path.insert(0, "")  # like `python -m`: the current folder is importable
    try:
        module = importlib.import_module(module_name)
    except (ImportError, ValueError, TypeError) as exc:
        dotted = _module_of_file(module_name)
        if dotted is not None:  # `app.py:app`, `./app.py:app`, `src/app.py:app`
            raise ImportError(
                f"cannot import {module_name!r}: MODULE is the module's dotted name, not a"
                f" file name: write {dotted}:{target.partition(':')[2]}, from the folder"
                " that holds it (as uvicorn and gunicorn take it)"
            ) from exc
        if isinstance(exc, TypeError):  # a relative name ('.app'): raised by importlib
            raise ImportError(f"cannot import {module_name!r}: {exc}") from exc
        raise  # no such module; an invalid ConsentConfig: as they are
    except Exception as exc:  # the module's own failure: a usage error that says where
        raise ImportError(f"cannot import {module_name!r}: {_raised_at(exc)}") from exc
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part)
    if call is None:
        return obj
    if not callable(obj):
        raise TypeError(f"{target!r}: {attr} is a {type(obj).__name__}, not an app factory")
    args, kwargs = call
    try:
        return obj(*args, **kwargs)
    except Exception as exc:  # the factory's own failure: a usage error that says where
        raise ImportError(f"cannot load {target!r}: {attr}() raised {_raised_at(exc)}") from exc


def _module_of_file(name: str) -> str | None:
    """`app.py` -> "app", `./src/app.py` -> "src.app": the module a user meant who gave a
    file's path; None for a name that is no path."""
    path = name.replace("\\", "/")
    if not (path.endswith(".py") or "/" in path):
        return None
    parts = [part for part in path.removesuffix(".py").split("/") if part not in ("", ".")]
    if parts[-1:] == ["__init__"]:
        parts.pop()  # a package's own file: the package
    if not parts or not all(part.isidentifier() for part in parts):
        return None
    return ".".join(parts)


def _split_call(
    target: str, attr: str
) -> tuple[str, tuple[tuple[Any, ...], dict[str, Any]] | None]:
    """`create_app('dev', debug=False)` -> ("create_app", (("dev",), {"debug": False})); an
    attribute that is no call -> (attr, None). Arguments must be literals."""
    match = _CALL.match(attr)
    if match is None:
        if "(" in attr or ")" in attr:
            raise ValueError(f"{target!r}: {attr!r} is neither an attribute nor a call")
        return attr, None
    name, inside = match.groups()
    try:
        call = ast.parse(f"f({inside})", mode="eval").body
        # `create_app(1), other(2)` or `create_app(1)(2)`: no one call of the name.
        if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
            raise ValueError("not one call")
        args = tuple(ast.literal_eval(arg) for arg in call.args)
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg}
        if len(kwargs) != len(call.keywords):
            raise ValueError("**kwargs")
    except (SyntaxError, ValueError) as exc:
        raise ValueError(
            f"{target!r}: the arguments of {name}(...) must be literals (strings, numbers,"
            " True, False, None, lists, dicts), given by position or by name"
        ) from exc
    return name, (args, kwargs)


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


def load_config(target: str, *, factory: bool = False) -> ConsentConfig:
    """The ConsentConfig that `module:attr` is or carries; raises with what was found."""
    obj = load_object(target, factory=factory)
    config = find_config(obj)
    if config is None:
        raise TypeError(not_found(target, obj))
    return config


def not_found(target: str, obj: Any) -> str:
    """What to say when `obj` carries no config; a plain function may be an app factory."""
    message = (
        f"{target!r} is a {type(obj).__name__}, not a ConsentConfig, and no"
        " ConsentMiddleware or ConsentWSGIMiddleware was found in it"
    )
    if inspect.isfunction(obj):
        name = target.partition(":")[2]
        message += f" (an app factory? write {name}() to call it)"
    mounted = _mounted_carriers(obj)
    if mounted:
        prefix, inner = mounted[0]
        module = target.partition(":")[0]
        found = _global_name(module, inner)
        where = f"{module}:{found}" if found else "MODULE:ATTR of that app"
        message += (
            f"; the app it mounts at {prefix} carries one: check that app as it is mounted,"
            f" consent-middleware check-config {where} --root-path {prefix} --probe /"
        )
    return message


def _mounted_carriers(obj: Any) -> list[tuple[str, Any]]:
    """(prefix, app) of each sub-app that a Starlette/FastAPI app mounts (`app.mount`,
    `Mount(...)`) and that carries the middleware itself, in route order."""
    found: list[tuple[str, Any]] = []
    routes = getattr(obj, "routes", None)
    if not isinstance(routes, (list, tuple)):
        return found
    for route in routes:
        prefix, inner = getattr(route, "path", None), getattr(route, "app", None)
        if not isinstance(prefix, str) or inner is None:
            continue
        if find_config(inner) is not None:
            found.append((prefix or "/", inner))
    return found


def _global_name(module_name: str, app: Any) -> str | None:
    """The module-level name of `app`, or of the app it wraps (a WSGI bridge's)."""
    module = sys.modules.get(module_name)
    if module is None:
        return None
    wanted = [app]
    for name in WRAPPED_ATTRS:
        inner = getattr(app, name, None)
        if inner is not None:
            wanted.append(inner)
    for candidate in wanted:
        for name, value in vars(module).items():
            if value is candidate and not name.startswith("_"):
                return name
    return None


#: Where an app keeps the app it wraps: Flask's `wsgi_app`, Quart's `asgi_app`, ASGI and
#: WSGI middleware's `.app`, Starlette's built stack, asgiref's `WsgiToAsgi` bridge
#: (`.wsgi_application`).
WRAPPED_ATTRS = (
    "wsgi_app",
    "asgi_app",
    "middleware_stack",
    "app",
    "application",
    "_app",
    "wsgi_application",
)


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
        for name in WRAPPED_ATTRS:
            inner = getattr(current, name, None)
            if inner is not None and not isinstance(inner, (str, bytes, int, float)):
                todo.append((inner, depth + 1))
    return None
