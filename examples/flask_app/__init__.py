"""Integrica on Flask: `waitress-serve examples.flask_app.app:app`."""
