"""The OpenAPI document of the endpoints, as one site serves it at `<path_prefix>/openapi.json`.

The package ships the document with the defaults (`openapi.json`, written by
scripts/build-openapi); a site's copy puts its own mount prefix, path prefix, cookie name
and categories in their place, so that a client generated from it is right for that site.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from .config import ConsentConfig

__all__ = ["DEFAULT_PREFIX", "base_document", "site_document"]

#: The path prefix that the shipped document names.
DEFAULT_PREFIX = "/consent"
_GPC_JSON = "/.well-known/gpc.json"


@functools.cache
def _base_text() -> str:
    return (resources.files("consent_middleware") / "openapi.json").read_text("utf-8")


def base_document() -> dict[str, Any]:
    """The shipped document, with the defaults (a fresh copy: callers may change it)."""
    document: dict[str, Any] = json.loads(_base_text())
    return document


def site_document(config: ConsentConfig, root: str = "") -> dict[str, Any]:
    """The document that is true for this site, mounted at `root` ("" or "/app")."""
    document = base_document()
    document["servers"][0]["url"] = root or "/"
    paths: dict[str, Any] = {}
    for path, item in document["paths"].items():
        if path == _GPC_JSON:
            if config.honor_gpc:
                paths[path] = item
        else:
            paths[config.path_prefix + path[len(DEFAULT_PREFIX) :]] = item
    document["paths"] = paths
    components = document["components"]
    components["parameters"]["ConsentCookie"]["name"] = config.cookie_name
    # Undecided: only the required categories are granted; the example shows a decided
    # visitor who granted the first optional category.
    optional = list(config.optional_categories)
    example = {c.name: c.required or c.name in optional[:1] for c in config.category_list}
    state = components["schemas"]["State"]
    categories = state["properties"]["categories"]
    # Every category of this site, each a boolean; the required ones always granted.
    categories["properties"] = {
        c.name: {"const": True} if c.required else {"type": "boolean"} for c in config.category_list
    }
    categories["required"] = list(config.category_names)
    categories["additionalProperties"] = False
    categories["examples"] = [example]
    state["examples"][0]["categories"] = example
    state["examples"][0]["policy_version"] = config.policy_version
    choice_categories = components["schemas"]["Choice"]["properties"]["categories"]
    choice_categories["items"]["enum"] = list(config.category_names)
    choice_categories["examples"] = [optional[:2]]
    body = document["paths"][config.path_prefix]["post"]["requestBody"]["content"]
    body["application/json"]["examples"]["save"]["value"]["categories"] = optional[:2]
    body["application/x-www-form-urlencoded"]["examples"]["save"]["value"]["category"] = optional[
        :1
    ]
    return document
