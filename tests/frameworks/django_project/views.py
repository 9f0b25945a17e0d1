from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import engines

from consent_middleware import get_consent

from ..common import HOME_COOKIES, PAGE, state


def consent(request: HttpRequest) -> dict[str, Any]:
    """A context processor: `{{ consent.categories.analytics }}` in every template."""
    return {"consent": get_consent(request)}


def home(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(PAGE)
    for name, value, http_only in HOME_COOKIES:
        response.set_cookie(name, value, httponly=http_only, samesite="Lax")
    return response


def state_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse(state(get_consent(request), request.COOKIES))


TEMPLATE = engines["django"].from_string(
    "<!doctype html><html><body>"
    "{% if consent.categories.analytics %}<p>analytics on</p>{% else %}<p>analytics off</p>"
    "{% endif %}</body></html>"
)


def templated(request: HttpRequest) -> HttpResponse:
    return HttpResponse(TEMPLATE.render({}, request))
