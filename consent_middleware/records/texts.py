"""What the visitor was shown: the banner's texts in one language, and their content hash.

A record keeps only the hash; the texts themselves are stored once per hash, so an
export can show the exact wording that a visitor agreed to, years later, after the site
changed it.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import ConsentConfig

__all__ = ["canonical_texts", "shown_texts", "texts_hash"]


def canonical_texts(texts: Mapping[str, str]) -> str:
    """The one JSON form of a set of texts (sorted keys, no spaces) that is hashed and kept."""
    return json.dumps(dict(texts), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def texts_hash(language: str, texts: Mapping[str, str]) -> str:
    """sha256 (hex) of the language and the canonical texts: equal wording, equal hash."""
    payload = json.dumps(
        {"language": language, "texts": dict(texts)},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=256)
def shown_texts(config: ConsentConfig, language: str) -> tuple[str, Mapping[str, str]]:
    """(hash, texts) of everything the banner and the preferences page can show in
    `language`: the site's overrides included, the texts of categories it does not have
    left out. Cached: a config never changes (configs hash by identity)."""
    from ..i18n import texts_for

    categories = set(config.category_names)
    texts = {
        key: value
        for key, value in texts_for(config, language).items()
        if not key.startswith("category.") or key.split(".")[1] in categories
    }
    return texts_hash(language, texts), MappingProxyType(texts)
