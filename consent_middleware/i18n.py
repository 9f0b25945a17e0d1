"""The banner's words in every bundled language, and the choice of language per request.

Each language is one JSON file in `locales/` (`en.json` is the reference: every other file
has exactly its keys). Sites override any text with `ConsentConfig.texts`; custom
categories bring their own label and description.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import ConsentConfig

__all__ = [
    "BUNDLED_LANGUAGES",
    "PLACEHOLDERS",
    "TEXTS",
    "best_language",
    "choose_language",
    "texts_for",
]

#: The 24 official languages of the EU and Ukrainian, as the contract names them.
EU_AND_UKRAINIAN = tuple(
    "bg cs da de el en es et fi fr ga hr hu it lt lv mt nl pl pt ro sk sl sv uk".split()  # noqa: SIM905
)

#: Texts that carry a value filled in at render time, by key: each translation keeps it.
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "placeholder": ("{category}",),
    "placeholder_button": ("{category}",),
    "policy_notice": ("{date}",),
}


def _load() -> dict[str, dict[str, str]]:
    folder = resources.files("consent_middleware") / "locales"
    texts: dict[str, dict[str, str]] = {}
    for code in EU_AND_UKRAINIAN:
        entry = folder / f"{code}.json"
        if entry.is_file():
            texts[code] = json.loads(entry.read_text(encoding="utf-8"))
    return texts


#: language code -> text key -> text, for every bundled language.
TEXTS: dict[str, dict[str, str]] = _load()
#: The languages that ship with the package, in the contract's order.
BUNDLED_LANGUAGES: tuple[str, ...] = tuple(code for code in EU_AND_UKRAINIAN if code in TEXTS)
#: Every text key the banner, the preferences page and the notices use.
TEXT_KEYS: frozenset[str] = frozenset(TEXTS["en"])

#: Ignore absurd headers instead of parsing them: the header is request input.
_MAX_HEADER = 512
_MAX_ITEMS = 32


def choose_language(config: ConsentConfig, accept_language: str | None) -> str:
    """The configured language the visitor prefers most; `default_language` otherwise."""
    if config.language is not None:
        return config.language
    if not accept_language or not isinstance(accept_language, str):
        return config.default_language
    return best_language(
        config.enabled_languages, accept_language[:_MAX_HEADER], config.default_language
    )


@functools.lru_cache(maxsize=512)
def best_language(languages: tuple[str, ...], header: str, default: str) -> str:
    """Accept-Language matched on primary subtags ("uk-UA" -> "uk"); cached, headers repeat."""
    ranked: list[tuple[float, int, str]] = []
    refused: set[str] = set()
    for index, item in enumerate(header.split(",")[:_MAX_ITEMS]):
        tag, _, params = item.partition(";")
        primary = tag.strip().split("-", 1)[0].lower()
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = -1.0
                # "nan", "inf" and values out of 0..1 are as garbage as text.
                if not 0.0 <= quality <= 1.0:
                    quality = -1.0
        if quality < 0.0 or not primary:
            continue
        if quality == 0.0:
            refused.add(primary)
            continue
        ranked.append((-quality, index, primary))
    for _, _, primary in sorted(ranked):
        if primary == "*":
            if default not in refused:
                return default
            for language in languages:
                if language not in refused:
                    return language
        elif primary in languages and primary not in refused:
            return primary
    return default


def texts_for(config: ConsentConfig, language: str) -> dict[str, str]:
    """Every text in `language`: English, then that language, then the site's own."""
    from .config import DEFAULT_CATEGORIES

    defaults = {cat.name: cat for cat in DEFAULT_CATEGORIES}
    texts = dict(TEXTS["en"])
    texts.update(TEXTS.get(language, {}))
    for cat in config.category_list:
        default = defaults.get(cat.name)
        if default is not None and (cat.label, cat.description) == (
            default.label,
            default.description,
        ):
            continue  # a default category as shipped: keep the translation
        texts[f"category.{cat.name}.label"] = cat.label
        texts[f"category.{cat.name}.description"] = cat.description
    texts.update(config.texts.get(language, {}))
    return texts
