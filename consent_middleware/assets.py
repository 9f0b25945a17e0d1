"""The banner's static files (banner.js, banner.css) as ready-to-serve values.

Read, hashed and gzipped once per process: every response then only picks bytes.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importlib.abc.Traversable is deprecated at run time from 3.12 on
    from importlib.abc import Traversable

__all__ = ["ASSET_NAMES", "StaticAsset", "load_assets"]

ASSET_NAMES: dict[str, str] = {
    "banner.js": "text/javascript; charset=utf-8",
    "banner.css": "text/css; charset=utf-8",
}


@dataclass(frozen=True)
class StaticAsset:
    """One static file: its bytes, a deterministic gzip of them, and cache validators."""

    name: str
    content_type: str
    body: bytes
    gzip_body: bytes
    #: '"<first 16 hex of sha256>"': strong, and the same on every machine.
    etag: str
    #: First 10 hex of sha256, the `?v=` of URLs, so a new release busts caches.
    version: str

    @classmethod
    def build(cls, name: str, content_type: str, body: bytes) -> StaticAsset:
        digest = hashlib.sha256(body).hexdigest()
        return cls(
            name=name,
            content_type=content_type,
            body=body,
            # mtime=0 keeps the bytes identical across processes and restarts.
            gzip_body=gzip.compress(body, compresslevel=9, mtime=0),
            etag=f'"{digest[:16]}"',
            version=digest[:10],
        )


def _asset_dir() -> Traversable:
    """The installed wheel has them inside the package; a source checkout has them at the top."""
    try:
        packaged = resources.files("consent_middleware") / "static" / "banner"
        if packaged.is_dir():
            return packaged
    except (ModuleNotFoundError, OSError, ValueError):  # pragma: no cover - odd installs
        pass
    return Path(__file__).resolve().parent.parent / "static" / "banner"


@functools.cache
def load_assets() -> dict[str, StaticAsset]:
    """Every static file by name ("banner.js", "banner.css"); read once per process."""
    folder = _asset_dir()
    assets: dict[str, StaticAsset] = {}
    for name, content_type in ASSET_NAMES.items():
        try:
            body = (folder / name).read_bytes()
        except OSError as exc:
            raise FileNotFoundError(
                f"consent-middleware cannot find its static file {name!r} in {folder}"
            ) from exc
        assets[name] = StaticAsset.build(name, content_type, body)
    return assets
