"""WSGI config, as docs/django.md writes it."""

import os

from django.core.wsgi import get_wsgi_application

from consent_middleware import ConsentWSGIMiddleware

from ..common import CONFIG

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.frameworks.django_project.settings")

application = ConsentWSGIMiddleware(get_wsgi_application(), config=CONFIG)
