"""ASGI config, as docs/django.md writes it (`mysite.consent` is `..common` here)."""

import os

from django.core.asgi import get_asgi_application

from consent_middleware import ConsentMiddleware

from ..common import CONFIG as config

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.frameworks.django_project.settings")

application = ConsentMiddleware(get_asgi_application(), config=config)
