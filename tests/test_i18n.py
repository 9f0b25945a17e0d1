"""The bundled languages: complete, faithful to en.json's keys and placeholders, really
translated, and served through the middleware in the visitor's language."""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from collections.abc import Callable
from importlib import resources

import pytest

from consent_middleware import ConsentConfig
from consent_middleware.i18n import BUNDLED_LANGUAGES, PLACEHOLDERS, TEXTS, choose_language

from .conftest import Site

#: The contract's list: the 24 official languages of the EU and Ukrainian.
CONTRACT_LANGUAGES: tuple[str, ...] = tuple(
    "bg cs da de el en es et fi fr ga hr hu it lt lv mt nl pl pt ro sk sl sv uk".split()  # noqa: SIM905
)
TRANSLATED = [code for code in CONTRACT_LANGUAGES if code != "en"]
EN = TEXTS["en"]
LOCALES = resources.files("consent_middleware") / "locales"

#: (language, key) pairs whose text may equal the English one. Empty: every language has
#: its own word for everything, brand names only ever appear inside a translated sentence.
SAME_AS_ENGLISH_ALLOWED: frozenset[tuple[str, str]] = frozenset()

PLACEHOLDER_RE = re.compile(r"\{[^{}]*\}")
#: English words that no translation has a reason to contain ("cookies" alone is fine: many
#: languages use the word; "we" and "is" are Dutch, "to" is Polish, Czech and Slovak,
#: "privacy" is Italian).
ENGLISH_RE = re.compile(
    r"\b(the|you|your|yours|our|and|with|please|this|that|been|could|choice|choices|"
    r"allow|allowed|accept|reject|withdraw|settings|policy|consent|none|close|"
    r"save|saved|customize|again|history|download|cookies are|has been)\b",
    re.IGNORECASE,
)
#: Names that stay as they are inside a translated sentence.
BRAND_NAMES = ("Global Privacy Control", "JSON")
CYRILLIC_RE = re.compile("[\u0400-\u04ff]")
GREEK_RE = re.compile("[\u0370-\u03ff]")
#: Letters that each language writes and English never does: a file in the wrong
#: language, or left in English, lacks them.
OWN_LETTERS = {
    "bg": "ъщ",
    "cs": "ěřů",
    "da": "æø",
    "de": "äöüß",
    "el": "αειου",
    "es": "ñó",
    "et": "õ",
    "fi": "äö",
    "fr": "éèàê",
    "ga": "áéíóú",
    "hr": "ćč",
    "hu": "őű",
    "it": "àè",
    "lt": "ėįų",
    "lv": "āēī",
    "mt": "ċġħż",
    "nl": "ë",
    "pl": "ąęł",
    "pt": "ãç",
    "ro": "șță",
    "sk": "ľô",
    "sl": "čšž",
    "sv": "åä",
    "uk": "ієї",
}


def test_the_contracts_languages_are_bundled() -> None:
    assert len(CONTRACT_LANGUAGES) == 25
    assert BUNDLED_LANGUAGES == CONTRACT_LANGUAGES
    files = sorted(entry.name for entry in LOCALES.iterdir() if entry.name.endswith(".json"))
    assert files == sorted(f"{code}.json" for code in CONTRACT_LANGUAGES)


def test_every_bundled_language_is_enabled_by_default() -> None:
    config = ConsentConfig(secret_key="s")
    assert config.enabled_languages == CONTRACT_LANGUAGES
    assert config.default_language == "en"


def test_english_is_the_reference() -> None:
    assert len(EN) == 53
    assert all(isinstance(value, str) and value.strip() == value and value for value in EN.values())


@pytest.mark.parametrize("language", CONTRACT_LANGUAGES)
def test_files_are_formatted_utf8_json(language: str) -> None:
    raw = (LOCALES / f"{language}.json").read_bytes()
    text = raw.decode("utf-8")
    data = json.loads(text)
    assert text == json.dumps(data, ensure_ascii=False, indent=2) + "\n"


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_key_of_english_in_its_order(language: str) -> None:
    texts = TEXTS[language]
    missing = [key for key in EN if key not in texts]
    extra = [key for key in texts if key not in EN]
    assert (missing, extra) == ([], [])
    assert list(texts) == list(EN)
    for key, value in texts.items():
        assert isinstance(value, str) and value, key
        assert value == value.strip(), key
        assert "  " not in value and "\n" not in value, key


@pytest.mark.parametrize("language", CONTRACT_LANGUAGES)
def test_placeholders_are_kept_and_none_added(language: str) -> None:
    for key, value in TEXTS[language].items():
        assert Counter(PLACEHOLDER_RE.findall(value)) == Counter(PLACEHOLDERS.get(key, ())), key
        assert not re.search(r"[{}]", PLACEHOLDER_RE.sub("", value)), key


def test_placeholders_are_those_of_english() -> None:
    for key, value in EN.items():
        assert Counter(PLACEHOLDER_RE.findall(value)) == Counter(PLACEHOLDERS.get(key, ())), key


@pytest.mark.parametrize("language", TRANSLATED)
def test_no_text_is_the_english_one(language: str) -> None:
    same = [
        key
        for key, value in TEXTS[language].items()
        if value.casefold() == EN[key].casefold() and (language, key) not in SAME_AS_ENGLISH_ALLOWED
    ]
    assert same == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_no_text_is_left_in_english(language: str) -> None:
    english = {
        key: match.group(0)
        for key, value in TEXTS[language].items()
        if (match := ENGLISH_RE.search(without_brand_names(value)))
    }
    assert english == {}


def without_brand_names(text: str) -> str:
    for name in BRAND_NAMES:
        text = text.replace(name, "")
    return text


@pytest.mark.parametrize("language", TRANSLATED)
def test_texts_are_in_the_languages_script(language: str) -> None:
    for key, value in TEXTS[language].items():
        if language in ("bg", "uk"):
            assert CYRILLIC_RE.search(value), key
        elif language == "el":
            assert GREEK_RE.search(value), key
        else:
            assert not CYRILLIC_RE.search(value) and not GREEK_RE.search(value), key
    everything = " ".join(TEXTS[language].values()).lower()
    absent = [letter for letter in OWN_LETTERS[language] if letter not in everything]
    assert absent == []


def test_the_heuristics_catch_english() -> None:
    # A sentence left in English is caught by its words (shorter texts by being equal to
    # the English one), and by lacking the language's own letters.
    sentences = [value for value in EN.values() if len(value.split()) >= 4]
    assert len(sentences) >= 20
    assert all(ENGLISH_RE.search(without_brand_names(value)) for value in sentences)
    assert not any(CYRILLIC_RE.search(value) or GREEK_RE.search(value) for value in EN.values())
    for letters in OWN_LETTERS.values():
        assert not any(letter in " ".join(EN.values()) for letter in letters)


def test_each_language_has_its_own_words() -> None:
    # A file copied from a neighbour would repeat these ("Utilizamos cookies" is both
    # Spanish and Portuguese, so titles may coincide).
    for key in ("body", "accept_all", "reject_all", "preferences_intro", "gpc_notice"):
        values = [TEXTS[language][key] for language in CONTRACT_LANGUAGES]
        assert len(set(values)) == len(values), key


@pytest.mark.parametrize("language", CONTRACT_LANGUAGES)
def test_accept_and_reject_weigh_the_same(language: str) -> None:
    accept, reject = TEXTS[language]["accept_all"], TEXTS[language]["reject_all"]
    assert accept != reject
    assert len(accept.split()) == len(reject.split())  # "Alle akzeptieren" / "Alle ablehnen"
    assert abs(len(accept) - len(reject)) <= 8


# -- through the middleware --------------------------------------------------------------


def banner_of(page: str) -> tuple[str, str]:
    """The `#consent-banner` start tag and the banner's text, unescaped."""
    match = re.search(r'(<section id="consent-banner"[^>]*>)(.*?)</section>', page, re.S)
    assert match is not None, page[:300]
    return match.group(1), html.unescape(match.group(2))


def heading_of(page: str) -> str:
    match = re.search(r'<h2 id="consent-banner-title"[^>]*>(.*?)</h2>', page)
    assert match is not None
    return html.unescape(match.group(1))


def lang_of(tag: str) -> str:
    match = re.search(r'\slang="([^"]*)"', tag)
    assert match is not None, tag
    return match.group(1)


@pytest.mark.parametrize("language", CONTRACT_LANGUAGES)
def test_the_banner_speaks_the_visitors_language(
    make_site: Callable[..., Site], language: str
) -> None:
    site = make_site()
    response = site.get("/", headers={"accept-language": language})
    assert response.status_code == 200
    page = response.text
    assert page.isascii()  # character references: right in a page of any charset
    tag, text = banner_of(page)
    assert lang_of(tag) == language
    texts = TEXTS[language]
    assert heading_of(page) == texts["title"]
    for key in ("body", "accept_all", "reject_all", "customize", "save"):
        assert texts[key] in text, key
    for name in ("settings", "analytics", "marketing"):
        assert texts[f"category.{name}.label"] in text
        assert texts[f"category.{name}.description"] in text
    if language != "en":
        assert EN["title"] not in text and EN["accept_all"] not in text


@pytest.mark.parametrize("language", CONTRACT_LANGUAGES)
def test_the_preferences_page_speaks_the_visitors_language(
    make_site: Callable[..., Site], language: str
) -> None:
    site = make_site()
    response = site.get("/consent/preferences", headers={"accept-language": f"{language};q=0.9"})
    assert response.status_code == 200
    assert response.headers["content-type"].lower().replace(" ", "").endswith("charset=utf-8")
    page = response.text
    html_tag = re.search(r"<html[^>]*>", page)
    assert html_tag is not None and lang_of(html_tag.group(0)) == language
    tag, text = banner_of(page)
    assert lang_of(tag) == language
    whole = html.unescape(page)
    texts = TEXTS[language]
    assert f"<title>{texts['preferences_title']}</title>" in whole
    for key in ("preferences_intro", "no_choice", "back"):
        assert texts[key] in whole, key
    for key in ("title", "accept_all", "reject_all", "save"):
        assert texts[key] in text, key


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "en"),
        ("", "en"),
        ("de-AT,de;q=0.9,en;q=0.5", "de"),
        ("pt-BR", "pt"),
        ("GA-ie", "ga"),
        ("xx, mt;q=0.2", "mt"),
        ("en-GB,en;q=0.9,fr;q=0.8", "en"),
        ("fi;q=0.3, sv;q=0.6", "sv"),
        ("el;q=0, hu", "hu"),
        ("nb-NO,no;q=0.9", "en"),  # Norwegian is not bundled: the default
        ("*", "en"),
    ],
)
def test_the_language_follows_accept_language(
    make_site: Callable[..., Site], header: str | None, language: str
) -> None:
    site = make_site()
    headers = {} if header is None else {"accept-language": header}
    tag, text = banner_of(site.get("/", headers=headers).text)
    assert lang_of(tag) == language
    assert TEXTS[language]["accept_all"] in text
    assert choose_language(site.config, header) == language


def test_default_language_when_none_is_named(make_site: Callable[..., Site]) -> None:
    site = make_site(default_language="fi")
    for header in ("nb-NO", "", "en;q=0, *"):
        tag, text = banner_of(site.get("/", headers={"accept-language": header}).text)
        assert lang_of(tag) == "fi", header
        assert TEXTS["fi"]["reject_all"] in text
    tag, _ = banner_of(site.get("/", headers={"accept-language": "en"}).text)
    assert lang_of(tag) == "en"  # named and enabled: the visitor's choice wins


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "de"),
        ("fr-FR,fr;q=0.9", "fr"),
        ("fr;q=0.4, de;q=0.5", "de"),
        ("en-US,en;q=0.9", "de"),  # English is bundled but not among the site's languages
        ("uk, fr;q=0.1", "fr"),
        ("uk", "de"),
        ("*", "de"),
        ("de;q=0, *", "fr"),
        ("de;q=0, fr;q=0", "de"),
    ],
)
def test_narrowed_languages_only_ever_give_those(
    make_site: Callable[..., Site], header: str | None, language: str
) -> None:
    site = make_site(languages=("de", "fr"), default_language="de")
    headers = {} if header is None else {"accept-language": header}
    tag, text = banner_of(site.get("/", headers=headers).text)
    assert lang_of(tag) == language
    assert TEXTS[language]["title"] in text
    page = site.get("/consent/preferences", headers=headers).text
    html_tag = re.search(r"<html[^>]*>", page)
    assert html_tag is not None and lang_of(html_tag.group(0)) == language


def test_a_forced_language_ignores_accept_language(make_site: Callable[..., Site]) -> None:
    site = make_site(language="lt")
    for header in ("de", "en", "lv, lt;q=0.1"):
        tag, text = banner_of(site.get("/", headers={"accept-language": header}).text)
        assert lang_of(tag) == "lt"
        assert TEXTS["lt"]["accept_all"] in text


def test_a_text_override_in_a_bundled_language(make_site: Callable[..., Site]) -> None:
    site = make_site(texts={"de": {"title": "Kekse?", "category.analytics.label": "Statistik"}})
    page = site.get("/", headers={"accept-language": "de"}).text
    _, text = banner_of(page)
    assert heading_of(page) == "Kekse?"
    assert "Statistik" in text and TEXTS["de"]["accept_all"] in text
    _, french = banner_of(site.get("/", headers={"accept-language": "fr"}).text)
    assert "Kekse?" not in french and TEXTS["fr"]["title"] in french


def test_an_unknown_key_in_a_bundled_language_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"texts\['de'\] has unknown key 'titel'.*'title'"):
        ConsentConfig(secret_key="s", texts={"de": {"titel": "Kekse?"}})
