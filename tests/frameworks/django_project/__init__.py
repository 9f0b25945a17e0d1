"""A Django project laid out as `django-admin startproject` lays one out, with the
middleware added the way docs/django.md says: in `wsgi.py` and `asgi.py`."""
