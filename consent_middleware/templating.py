"""For sites that place the banner themselves (`inject_banner=False`): a template function.

# Flask
app.jinja_env.globals["consent_banner"] = consent_banner
# Starlette / FastAPI
templates.env.globals["consent_banner"] = consent_banner

{{ consent_banner(request) }}   (just before </body>)
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from .context import context_of
from .i18n import choose_language

__all__ = ["consent_banner"]


def consent_banner(request: Any, *, nonce: str | None = None) -> Markup:
    """The banner, its stylesheet, state and script, for the visitor of `request`."""
    ctx = context_of(request)
    core = ctx.core
    if core.config.inject_banner:
        raise LookupError(
            "consent_banner() needs the consent middleware with inject_banner=False "
            "(with injection on, the middleware places the banner itself)"
        )
    language = choose_language(core.config, ctx.accept_language)
    html = core.renderer.snippet(
        ctx.consent, language, nonce=nonce, return_to=ctx.return_to, root=ctx.root
    )
    return Markup(html)
