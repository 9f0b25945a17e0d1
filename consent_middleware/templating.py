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
    """The banner, its stylesheet, state and script, for the visitor of `request`.

    With `nonce` (the page's CSP nonce) the stylesheet is a `<link>` carrying it, not
    inline CSS, which a policy with a style rule would refuse."""
    ctx = context_of(request)
    core = ctx.core
    if core.config.inject_banner:
        raise LookupError(
            "consent_banner() needs the consent middleware with inject_banner=False "
            "(with injection on, the middleware places the banner itself)"
        )
    language = choose_language(core.config, ctx.accept_language)
    # A nonce means the page has a Content-Security-Policy, which the template cannot read
    # (its headers are not made yet). An inline <style> without the policy's style nonce is
    # refused under a style rule (`default-src 'self'`, `style-src 'nonce-…'`) and the
    # banner shows unstyled: link the stylesheet instead, with the nonce, which every
    # policy that allows the site's own files or that nonce lets in.
    html = core.renderer.snippet(
        ctx.consent,
        language,
        nonce=nonce,
        return_to=ctx.return_to,
        root=ctx.root,
        inline_style=nonce is None,
    )
    ctx.banner_placed = True  # the response gets the headers of a page with the banner
    return Markup(html)
