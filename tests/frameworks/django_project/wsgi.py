"""WSGI config, as docs/django.md writes it (`mysite.consent` is `..common` here)."""

import os

from django.core.wsgi import get_wsgi_application

from consent_middleware import ConsentWSGIMiddleware

from ..common import CONFIG as config

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.frameworks.django_project.settings")

application = ConsentWSGIMiddleware(get_wsgi_application(), config=config)
