"""Integrica on Flask without ConsentWSGIMiddleware: `FixedConsentWSGI` in its place (see
`fixed.py`). Only for the throughput comparison: it enforces nothing."""

from __future__ import annotations

import examples.flask_app.app as site
from consent_middleware import ConsentWSGIMiddleware

from .fixed import FixedConsentWSGI

app = site.app
enforcing = app.wsgi_app
assert isinstance(enforcing, ConsentWSGIMiddleware)
app.wsgi_app = FixedConsentWSGI(enforcing.app, config=site.config)  # type: ignore[method-assign]
