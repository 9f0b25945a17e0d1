"""The OpenAPI document: one description, the same bytes in the package and in docs/, valid
OpenAPI 3.1, in step with the endpoints (every route and error code, nothing else), and
served at `<path_prefix>/openapi.json` filled in for the site that serves it."""

from __future__ import annotations

import json
import re
import runpy
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from consent_middleware import Category, ConsentMiddleware, ConsentWSGIMiddleware
from consent_middleware.openapi import base_document, site_document

from .conftest import AppSpec, Site, make_config, raw_asgi_app, raw_wsgi_app
from .raw import http_scope, run_asgi, wsgi_call

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_COPY = ROOT / "consent_middleware" / "openapi.json"
DOCS_COPY = ROOT / "docs" / "openapi.json"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

#: A site unlike the defaults in every way the served document fills in.
CUSTOM = {
    "path_prefix": "/privacy/choices",
    "cookie_name": "cc",
    "honor_gpc": False,
    "cookies": {"sid": "essential", "_pk*": "statistics"},
    "categories": [
        Category("essential", "Essential", "Needed", required=True),
        Category("statistics", "Statistics", "Counting visits"),
        Category("video", "Video", "Embedded players"),
    ],
}


def test_docs_copy_is_the_package_copy() -> None:
    """docs/ is for readers; the package copy is what sites serve: they must not drift."""
    assert DOCS_COPY.read_bytes() == PACKAGE_COPY.read_bytes()


def test_the_document_is_built_from_its_description() -> None:
    """An edit of the JSON by hand (or of the script without a rebuild) is caught here."""
    script = runpy.run_path(str(ROOT / "scripts" / "build-openapi"), run_name="build_openapi")
    assert script["render"]() == PACKAGE_COPY.read_text(), "run scripts/build-openapi"


@pytest.mark.parametrize("root", ["", "/app"])
@pytest.mark.parametrize("options", [{}, CUSTOM], ids=["defaults", "custom"])
def test_documents_are_valid_openapi_31(options: dict[str, Any], root: str) -> None:
    validate(base_document())
    validate(site_document(make_config(**options), root))


def test_every_example_fits_its_schema() -> None:
    """Swagger UI and client generators show the examples: they must be true."""
    for document in (base_document(), site_document(make_config(**CUSTOM))):
        schemas = document["components"]["schemas"]
        checked = 0
        for schema in schemas.values():
            for example in schema.get("examples", []):
                Draft202012Validator(schema).validate(example)
                checked += 1
            for prop in schema.get("properties", {}).values():
                for example in prop.get("examples", []):
                    Draft202012Validator(prop).validate(example)
                    checked += 1
        post = next(iter(document["paths"].values()))["post"]  # the prefix itself
        for content in post["requestBody"]["content"].values():
            schema = schemas[content["schema"]["$ref"].rsplit("/", 1)[1]]
            for example in content["examples"].values():
                Draft202012Validator(schema).validate(example["value"])
                checked += 1
        assert checked >= 10


def test_the_site_document_is_the_sites_own() -> None:
    document = site_document(make_config(**CUSTOM), "/app")
    assert document["servers"][0]["url"] == "/app"
    assert list(document["paths"]) == [
        "/privacy/choices",
        "/privacy/choices/preferences",
        "/privacy/choices/receipt",
        "/privacy/choices/banner.js",
        "/privacy/choices/banner.css",
        "/privacy/choices/openapi.json",
    ]  # no /.well-known/gpc.json: this site does not honour GPC
    components = document["components"]
    assert components["parameters"]["ConsentCookie"]["name"] == "cc"
    categories = components["schemas"]["State"]["properties"]["categories"]
    assert categories["required"] == ["essential", "statistics", "video"]
    assert categories["examples"] == [{"essential": True, "statistics": True, "video": False}]
    assert categories["properties"]["essential"] == {"const": True}
    choice = components["schemas"]["Choice"]["properties"]["categories"]
    assert choice["items"]["enum"] == ["essential", "statistics", "video"]
    # The defaults are the shipped document's, untouched by a site's copy.
    assert base_document()["components"]["parameters"]["ConsentCookie"]["name"] == "consent"
    defaults = site_document(make_config())
    assert "/.well-known/gpc.json" in defaults["paths"]
    assert defaults["servers"][0]["url"] == "/"


def test_every_error_code_is_documented() -> None:
    """The codes the endpoints raise, read from their source: a new one must be documented
    (in the OpenAPI document and in docs/api.md), and a documented one must exist."""
    source = (ROOT / "consent_middleware" / "api.py").read_text()
    raised = set(re.findall(r'(?:ApiError|error_response)\(\s*\d{3},\s*"([a-z_]+)"', source))
    error = base_document()["components"]["schemas"]["Error"]
    documented = set(error["properties"]["error"]["enum"])
    assert raised == documented
    api_md = (ROOT / "docs" / "api.md").read_text()
    in_table = set(re.findall(r"^\| \d{3} \| `([a-z_]+)` \|", api_md, re.M))
    assert in_table == documented


@pytest.mark.parametrize("options", [{}, CUSTOM], ids=["defaults", "custom"])
def test_every_documented_path_answers_exactly_its_methods(
    adapter: str, options: dict[str, Any]
) -> None:
    """A documented method is answered (no 405, no 404 but `no_records`); any other gets 405
    with an `Allow` that lists the documented methods: the routes and the document agree."""
    config = make_config(**options)
    site = Site(adapter, AppSpec(), config)
    for path, item in site_document(config)["paths"].items():
        documented = [m.upper() for m in item]
        for method in METHODS:
            response = site.request(method, path)
            if method in documented:
                assert response.status_code != 405, (method, path)
                if response.status_code == 404:  # the receipt of a site that keeps no records
                    assert path.endswith("/receipt"), (method, path)
            else:
                assert response.status_code == 405, (method, path)
                assert response.headers["allow"].split(", ") == documented
    # The shipped document's paths are the default site's.
    assert list(base_document()["paths"]) == list(site_document(make_config())["paths"])


def test_openapi_json_is_served(site: Site) -> None:
    response = site.get("/consent/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers.get_list("set-cookie") == []
    assert response.json() == site_document(site.config)
    head = site.request("HEAD", "/consent/openapi.json")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == response.headers["content-length"]


def test_a_mounted_site_serves_its_own_document() -> None:
    """Under a mount prefix (ASGI root_path, WSGI SCRIPT_NAME) and its own path_prefix, the
    served document names both, so a client generated from it reaches the endpoints."""
    config = make_config(**CUSTOM)
    asgi = ConsentMiddleware(raw_asgi_app(AppSpec()), config=config)
    scope = http_scope("/app/privacy/choices/openapi.json")
    scope["root_path"] = "/app"
    start, body = run_asgi(asgi, scope)[:2]
    assert start["status"] == 200
    served = json.loads(body["body"])
    wsgi = ConsentWSGIMiddleware(raw_wsgi_app(AppSpec()), config=config)
    status, _, chunks = wsgi_call(
        wsgi, "/privacy/choices/openapi.json", extra={"SCRIPT_NAME": "/app"}
    )
    assert status.startswith("200")
    assert json.loads(b"".join(chunks)) == served == site_document(config, "/app")
    assert served["servers"][0]["url"] == "/app"
    assert "/privacy/choices/receipt" in served["paths"]


@pytest.mark.parametrize("honor_gpc", [True, False])
def test_gpc_json_is_at_the_root_only(adapter: str, honor_gpc: bool) -> None:
    """The GPC resource is `/.well-known/gpc.json` of the site. Below the prefix it used to
    answer too, `{"gpc": true}` even for a site that does not honour GPC."""
    site = Site(adapter, AppSpec(), make_config(honor_gpc=honor_gpc))
    below = site.get("/consent/.well-known/gpc.json")
    assert below.status_code == 404 and below.json()["error"] == "not_found"
    at_root = site.get("/.well-known/gpc.json")
    if honor_gpc:
        assert at_root.json()["gpc"] is True
    else:  # the app's own path
        assert at_root.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("choice", "code"),
    [
        ({"gpc": "yes"}, "malformed_choice"),
        ({"categories": 5}, "malformed_choice"),
        ({"categories": ["nope"]}, "unknown_category"),
    ],
)
def test_dismiss_notice_is_read_like_any_choice(
    site: Site, choice: dict[str, Any], code: str
) -> None:
    """docs/api.md: `categories` not a list of strings or `gpc` not a boolean is 400
    `malformed_choice`, whatever the action; `dismiss_notice` used to skip those checks
    and answer 200 (found while describing the choice for the document)."""
    cookie = site.consent_cookie({"action": "accept_all"})
    bad = site.request(
        "POST",
        "/consent",
        cookie=cookie,
        content=json.dumps({"action": "dismiss_notice", **choice}).encode(),
        headers={"content-type": "application/json"},
    )
    assert bad.status_code == 400 and bad.json()["error"] == code
    assert bad.headers.get_list("set-cookie") == []
    good = site.request(
        "POST",
        "/consent",
        cookie=cookie,
        content=b'{"action": "dismiss_notice", "categories": ["analytics"], "gpc": false}',
        headers={"content-type": "application/json"},
    )
    assert good.status_code == 200 and good.json()["decided"] is True
