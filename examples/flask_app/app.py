"""Integrica on Flask, with consent enforced by `ConsentWSGIMiddleware`.

Run it from the repository root: `flask --app examples.flask_app.app run` or
`waitress-serve examples.flask_app.app:app`.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, redirect, render_template, request
from werkzeug.wrappers import Response

from consent_middleware import ConsentWSGIMiddleware, get_consent

from ..site import STATIC_DIR, TEMPLATES_DIR, pages, pageviews
from ..site.config import make_config

config = make_config()
#: Page views, counted by the server only for visitors who granted analytics.
views, view_events = pageviews.page_views()
app = Flask(
    __name__,
    template_folder=str(TEMPLATES_DIR),
    static_folder=str(STATIC_DIR),
    static_url_path="/static",
)
app.wsgi_app = ConsentWSGIMiddleware(app.wsgi_app, config=config)  # type: ignore[method-assign]


def render(template: str, status: int = 200, *, count: bool = True, **context: Any) -> Response:
    base = pages.page_context(request.path, request.cookies, get_consent(request))
    response = app.make_response((render_template(template, **base, **context), status))
    pages.set_tracking_cookies(response.set_cookie, request.cookies)
    if count:  # kept only if the visitor granted analytics
        view_events.record(request, "page_view", path=request.path)
    return response


@app.get("/")
def home() -> Response:
    return render("home.html", contacts=pages.CONTACTS, deals=pages.DEALS)


@app.get("/contacts")
def contacts() -> Response:
    return render("contacts.html", contacts=pages.CONTACTS)


@app.get("/deals")
def deals() -> Response:
    return render("deals.html", deals=pages.DEALS)


@app.get("/privacy")
def privacy() -> Response:
    context = pages.privacy_context(config)
    return render("privacy.html", policy_version=config.policy_version, **context)


@app.get("/login")
def login_form() -> Response:
    return render("login.html")


@app.post("/login")
def login() -> Response:
    username = request.form.get("username", "").strip()
    if not username or not request.form.get("password"):
        return render(
            "login.html", 400, error="Enter a username and a password.", username=username
        )
    response = redirect("/", code=303)
    pages.sign_in(response.set_cookie, username)
    return response


@app.post("/logout")
def logout() -> Response:
    response = redirect("/", code=303)
    response.delete_cookie("session", path="/", httponly=True, samesite="Lax")
    return response


@app.get("/settings")
def settings_form() -> Response:
    return render("settings.html", **_settings_context())


@app.post("/settings")
def settings() -> Response:
    theme = request.form.get("theme")
    if theme not in pages.THEMES:
        error = "Choose the light or the dark theme."
        return render("settings.html", 400, error=error, **_settings_context())
    response = redirect("/settings", code=303)
    pages.set_theme(response.set_cookie, theme)
    return response


def _settings_context() -> dict[str, Any]:
    return {"themes": pages.THEMES, "settings_allowed": get_consent(request).allows("settings")}


@app.get("/embed/video")
def embed_video() -> str:
    """The stand-in video player that the home page embeds (held until marketing consent)."""
    return render_template("embed_video.html")


@app.get("/admin/views")
def admin_views() -> Response:
    """Page views by day and by page. A demo: no sign-in protects it."""
    return render("admin_views.html", count=False, **pageviews.admin_context(views))
