"""For sites that place the banner themselves (`inject_banner=False`): a template function.

# Flask
app.jinja_env.globals["consent_banner"] = consent_banner
# Starlette / FastAPI
templates.env.globals["consent_banner"] = consent_banner

{{ consent_banner(request) }}   (just before </body>)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from .core import CORE_KEY, ConsentCore
from .i18n import choose_language
from .request import get_consent

__all__ = ["consent_banner"]


def consent_banner(request: Any, *, nonce: str | None = None) -> Markup:
    """The banner, its stylesheet, state and script, for the visitor of `request`."""
    consent = get_consent(request)
    carrier: Mapping[str, Any] = (
        request
        if isinstance(request, Mapping)
        else (getattr(request, "scope", None) or request.environ)
    )
    core = carrier.get(CORE_KEY)
    if not isinstance(core, ConsentCore):
        raise LookupError(
            "consent_banner() needs the consent middleware with inject_banner=False "
            "(with injection on, the middleware places the banner itself)"
        )
    if "headers" in carrier:  # an ASGI scope
        headers = {k.lower(): v for k, v in carrier["headers"]}
        accept_language = headers.get(b"accept-language", b"").decode("latin-1") or None
        path = carrier.get("path", "/")
        query = carrier.get("query_string", b"").decode("latin-1")
    else:
        accept_language = carrier.get("HTTP_ACCEPT_LANGUAGE")
        path = carrier.get("SCRIPT_NAME", "") + carrier.get("PATH_INFO", "/")
        query = carrier.get("QUERY_STRING", "")
    return_to = path + ("?" + query if query else "")
    language = choose_language(core.config, accept_language)
    html = core.renderer.snippet(consent, language, nonce=nonce, return_to=return_to)
    return Markup(html)
