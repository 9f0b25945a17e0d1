"""Cross-site protection of the endpoints that change the consent (POST, DELETE): a
third-party page must not be able to "accept all" on a visitor's behalf."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from .config import ConsentConfig

__all__ = ["CrossSiteError", "check_same_origin"]


class CrossSiteError(Exception):
    """A write from another site; the message says which signal gave it away."""


def check_same_origin(headers: Mapping[str, str], config: ConsentConfig) -> None:
    """Raise `CrossSiteError` for a write that a third-party page makes.

    `Sec-Fetch-Site` comes from the browser and cannot be forged by a page: `same-origin`
    (or `none`, typed by the visitor) is enough on its own, whatever `Host` a proxy
    rewrote. Without it (older browsers, other clients), `Origin` must be the request's
    own host, a sibling under `cookie_domain`, or one of `trusted_origins`."""
    fetch_site = headers.get("sec-fetch-site", "").strip().lower()
    origin = headers.get("origin")
    if fetch_site in ("same-origin", "none"):
        return
    trusted = origin is not None and origin.strip().lower() in config.trusted
    if fetch_site and not (trusted or (fetch_site == "same-site" and _shared_site(origin, config))):
        raise CrossSiteError(f"a {fetch_site[:20]} request cannot change the consent")
    if origin is None or trusted or _shared_site(origin, config):
        return
    host = headers.get("host", "").strip().lower()
    origin_host = _origin_netloc(origin)
    if origin_host is None or origin_host != _normal_netloc(host, origin):
        raise CrossSiteError(f"origin {origin[:80]!r} cannot change the consent")


def _shared_site(origin: str | None, config: ConsentConfig) -> bool:
    """With `cookie_domain`, sibling subdomains share one choice and may change it."""
    domain = config.cookie_domain
    if not domain or not origin:
        return False
    try:
        host = urlsplit(origin.strip()).hostname or ""
    except ValueError:
        return False
    suffix = domain.lstrip(".").lower()
    return host == suffix or host.endswith("." + suffix)


def _origin_netloc(origin: str) -> str | None:
    try:
        parts = urlsplit(origin.strip())
        hostname = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not hostname:
        return None
    default = "443" if parts.scheme == "https" else "80"
    host = hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return host if port is None or str(port) == default else f"{host}:{port}"


def _normal_netloc(host: str, origin: str) -> str:
    """The Host header in the form `_origin_netloc` gives, default port dropped."""
    scheme = "https" if origin.strip().lower().startswith("https:") else "http"
    normal = _origin_netloc(f"{scheme}://{host}")
    return normal or host
