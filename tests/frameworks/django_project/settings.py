"""Settings of the test project: no database, no Django middleware, one context processor."""

from __future__ import annotations

SECRET_KEY = "django-test-secret-not-for-production"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
ROOT_URLCONF = "tests.frameworks.django_project.urls"
WSGI_APPLICATION = "tests.frameworks.django_project.wsgi.application"
ASGI_APPLICATION = "tests.frameworks.django_project.asgi.application"
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
DATABASES: dict[str, object] = {}
USE_TZ = True
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "OPTIONS": {
            "context_processors": ["tests.frameworks.django_project.views.consent"],
        },
    }
]
