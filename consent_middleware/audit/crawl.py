"""Which pages to visit, and which hosts belong to the audited site.

"Same site" is judged the way browsers do for cookies, by registrable domain
(`www.example.com` and `shop.example.com` are one site), with a short list of two-label
public suffixes (`co.uk`, `com.au`, ...) instead of the whole Public Suffix List: close
enough for telling a site's own hosts from third parties. IP addresses and single-label
hosts (`localhost`) are their own site. Links are followed only on the start pages'
own origins.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urldefrag, urlsplit

__all__ = ["Scope", "is_http_url", "site_of"]

_TWO_LABEL_SUFFIXES = frozenset(
    {
        "co.uk", "org.uk", "ac.uk", "gov.uk", "me.uk", "ltd.uk", "plc.uk",
        "com.au", "net.au", "org.au", "edu.au", "gov.au",
        "co.nz", "org.nz", "co.jp", "ne.jp", "or.jp", "co.kr", "or.kr",
        "com.br", "com.cn", "com.mx", "com.ar", "com.tr", "com.ua", "org.ua", "in.ua",
        "co.in", "co.za", "com.sg", "com.hk", "com.tw", "co.il", "com.pl", "com.es",
        "github.io", "gitlab.io", "herokuapp.com", "azurewebsites.net", "cloudfront.net",
        "appspot.com", "pages.dev", "netlify.app", "vercel.app", "fly.dev",
    }
)  # fmt: skip

#: Links to these are not pages: downloads, images, feeds.
_NOT_PAGES = re.compile(
    r"\.(?:pdf|zip|gz|tgz|bz2|xz|7z|rar|dmg|exe|msi|apk|png|jpe?g|gif|webp|svg|ico|mp[34]|"
    r"webm|mov|avi|woff2?|ttf|css|js|json|xml|rss|atom|csv|xlsx?|docx?|pptx?)$",
    re.IGNORECASE,
)
#: Links a crawler must not follow: they sign the visitor out or change state.
_SIDE_EFFECTS = re.compile(r"/(?:log-?out|sign-?out|logoff)(?:/|$)", re.IGNORECASE)


def site_of(host: str) -> str:
    """The registrable domain of `host` ("example.com" for "www.example.com")."""
    host = host.strip(".").lower()
    if host.startswith("[") and host.endswith("]"):
        return host
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return host
    labels = host.split(".")
    if len(labels) <= 2:
        return host
    if ".".join(labels[-2:]) in _TWO_LABEL_SUFFIXES:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class Scope:
    """The audited site: its origins (for crawling) and its sites (for first/third party)."""

    def __init__(self, start_urls: Iterable[str], skip_prefixes: Iterable[str] = ()) -> None:
        urls = list(start_urls)
        self.origins = {_origin(url) for url in urls}
        self.sites = {site_of(urlsplit(url).hostname or "") for url in urls}
        self.skip_prefixes = tuple(p.rstrip("/") for p in skip_prefixes if p)

    def first_party(self, host: str) -> bool:
        return site_of(host) in self.sites

    def page_url(self, href: str) -> str | None:
        """`href` as a page to visit (fragment dropped), or None when it is not one."""
        url, _ = urldefrag(href)
        if not is_http_url(url) or _origin(url) not in self.origins:
            return None
        path = urlsplit(url).path or "/"
        if _NOT_PAGES.search(path) or _SIDE_EFFECTS.search(path):
            return None
        for prefix in self.skip_prefixes:
            if path == prefix or path.startswith(prefix + "/"):
                return None
        return url


def _origin(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"
