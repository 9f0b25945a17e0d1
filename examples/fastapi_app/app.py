"""Integrica on FastAPI, with consent enforced by `ConsentMiddleware`.

Run it from the repository root: `uvicorn examples.fastapi_app.app:app --reload`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from consent_middleware import ConsentMiddleware, get_consent

from ..site import STATIC_DIR, TEMPLATES_DIR, pages, pageviews
from ..site.config import make_config

config = make_config()
#: Page views, counted by the server only for visitors who granted analytics.
views, view_events = pageviews.page_views()
app = FastAPI(title="Integrica", docs_url=None, redoc_url=None, openapi_url=None)
app.add_middleware(ConsentMiddleware, config=config)
app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
templates = Jinja2Templates(directory=TEMPLATES_DIR)


def render(
    request: Request, template: str, status_code: int = 200, *, count: bool = True, **context: Any
) -> Response:
    base = pages.page_context(request.url.path, request.cookies, get_consent(request))
    response = templates.TemplateResponse(
        request, template, {**base, **context}, status_code=status_code
    )
    pages.set_tracking_cookies(response.set_cookie, request.cookies)
    if count:  # kept only if the visitor granted analytics
        view_events.record(request, "page_view", path=request.url.path)
    return response


@app.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    return render(request, "home.html", contacts=pages.CONTACTS, deals=pages.DEALS)


@app.get("/contacts", response_class=HTMLResponse)
def contacts(request: Request) -> Response:
    return render(request, "contacts.html", contacts=pages.CONTACTS)


@app.get("/deals", response_class=HTMLResponse)
def deals(request: Request) -> Response:
    return render(request, "deals.html", deals=pages.DEALS)


@app.get("/privacy", response_class=HTMLResponse)
def privacy(request: Request) -> Response:
    return render(
        request,
        "privacy.html",
        policy_version=config.policy_version,
        **pages.privacy_context(config),
    )


@app.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return render(request, "login.html")


@app.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    username, password = _text(form.get("username")).strip(), _text(form.get("password"))
    if not username or not password:
        error = "Enter a username and a password."
        return render(request, "login.html", 400, error=error, username=username)
    response = RedirectResponse("/", status_code=303)
    pages.sign_in(response.set_cookie, username)
    return response


@app.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie("session", path="/", httponly=True, samesite="lax")
    return response


@app.get("/settings", response_class=HTMLResponse)
def settings_form(request: Request) -> Response:
    return render(request, "settings.html", **_settings_context(request))


@app.post("/settings")
async def settings(request: Request) -> Response:
    theme = _text((await request.form()).get("theme"))
    if theme not in pages.THEMES:
        error = "Choose the light or the dark theme."
        return render(request, "settings.html", 400, error=error, **_settings_context(request))
    response = RedirectResponse("/settings", status_code=303)
    pages.set_theme(response.set_cookie, theme)
    return response


def _settings_context(request: Request) -> dict[str, Any]:
    return {"themes": pages.THEMES, "settings_allowed": get_consent(request).allows("settings")}


def _text(value: object) -> str:
    """A form field's text; a file upload or a missing field reads as empty."""
    return value if isinstance(value, str) else ""


@app.get("/embed/video", response_class=HTMLResponse)
def embed_video(request: Request) -> Response:
    """The stand-in video player that the home page embeds (held until marketing consent)."""
    return templates.TemplateResponse(request, "embed_video.html", {})


@app.get("/admin/views", response_class=HTMLResponse)
def admin_views(request: Request) -> Response:
    """Page views by day and by page. A demo: no sign-in protects it."""
    return render(request, "admin_views.html", count=False, **pageviews.admin_context(views))
