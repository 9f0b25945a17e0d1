"""The banner's words in English and Ukrainian, and the choice of language per request.

Sites override any text with `ConsentConfig.texts`; custom categories bring their own
label and description.
"""

from __future__ import annotations

import functools

from .config import DEFAULT_CATEGORIES, ConsentConfig

__all__ = ["TEXTS", "choose_language", "texts_for"]

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "We use cookies",
        "body": (
            "We use cookies to keep this site working and, only with your consent, to remember"
            " your settings, understand how the site is used and measure advertising."
        ),
        "privacy_link": "Privacy policy",
        "accept_all": "Accept all",
        "reject_all": "Reject all",
        "customize": "Customize",
        "save": "Save choices",
        "always_on": "Always on",
        "categories_legend": "Cookie categories",
        "more_options": "More options",
        "settings_link": "Cookie settings",
        "close": "Close",
        "saved": "Your choice has been saved.",
        "gpc_notice": (
            "Your browser sent a Global Privacy Control signal, so cookies that share your data"
            " with advertisers stay off unless you switch them on yourself."
        ),
        # An iframe held until consent (gate_scripts=True); {category}: the category's label.
        "placeholder": "This content is blocked until you allow {category} cookies.",
        "placeholder_button": "Allow {category} cookies",
        "preferences_title": "Cookie preferences",
        "preferences_intro": (
            "Choose which cookies this site may use. You can change your choice at any time."
        ),
        "consent_id_label": "Your consent ID",
        "decided_at_label": "Chosen on",
        "no_choice": "You have not made a choice yet.",
        "back": "Back to the site",
        "category.authentication.label": "Authentication",
        "category.authentication.description": "Keeps you signed in and protects your session.",
        "category.settings.label": "Settings",
        "category.settings.description": "Remembers your choices, such as language or theme.",
        "category.analytics.label": "Analytics",
        "category.analytics.description": "Counts visits so that we can improve the site.",
        "category.marketing.label": "Marketing",
        "category.marketing.description": "Measures advertising and shows relevant ads.",
    },
    "uk": {
        "title": "Ми використовуємо файли cookie",
        "body": (
            "Ми використовуємо файли cookie, щоб сайт працював, а також — лише з вашої згоди —"
            " щоб запам’ятовувати ваші налаштування, розуміти, як відвідувачі користуються"
            " сайтом, і вимірювати ефективність реклами."
        ),
        "privacy_link": "Політика конфіденційності",
        "accept_all": "Прийняти всі",
        "reject_all": "Відхилити всі",
        "customize": "Налаштувати",
        "save": "Зберегти вибір",
        "always_on": "Завжди ввімкнено",
        "categories_legend": "Категорії файлів cookie",
        "more_options": "Більше параметрів",
        "settings_link": "Налаштування cookie",
        "close": "Закрити",
        "saved": "Ваш вибір збережено.",
        "gpc_notice": (
            "Ваш браузер надіслав сигнал Global Privacy Control, тому файли cookie, які"
            " передають ваші дані рекламодавцям, залишаються вимкненими, доки ви самі їх"
            " не ввімкнете."
        ),
        "placeholder": (
            "Цей вміст заблоковано, доки ви не дозволите файли cookie категорії «{category}»."
        ),
        "placeholder_button": "Дозволити cookie категорії «{category}»",
        "preferences_title": "Налаштування файлів cookie",
        "preferences_intro": (
            "Оберіть, які файли cookie може використовувати цей сайт. Ви можете змінити свій"
            " вибір будь-коли."
        ),
        "consent_id_label": "Ідентифікатор вашої згоди",
        "decided_at_label": "Дата вибору",
        "no_choice": "Ви ще не зробили вибору.",
        "back": "Повернутися на сайт",
        "category.authentication.label": "Автентифікація",
        "category.authentication.description": (
            "Дають змогу залишатися в обліковому записі та захищають ваш сеанс."
        ),
        "category.settings.label": "Налаштування",
        "category.settings.description": (
            "Запам’ятовують ваш вибір, наприклад мову чи тему оформлення."
        ),
        "category.analytics.label": "Аналітика",
        "category.analytics.description": ("Рахують відвідування, щоб ми могли покращувати сайт."),
        "category.marketing.label": "Маркетинг",
        "category.marketing.description": (
            "Вимірюють ефективність реклами й показують доречні оголошення."
        ),
    },
}

_DEFAULTS = {cat.name: cat for cat in DEFAULT_CATEGORIES}
#: Ignore absurd headers instead of parsing them: the header is request input.
_MAX_HEADER = 512
_MAX_ITEMS = 32


def choose_language(config: ConsentConfig, accept_language: str | None) -> str:
    """The configured language the visitor prefers most; the first configured one otherwise."""
    if config.language is not None:
        return config.language
    languages: tuple[str, ...] = tuple(config.languages)
    if not accept_language or not isinstance(accept_language, str):
        return languages[0]
    return _best(languages, accept_language[:_MAX_HEADER])


@functools.lru_cache(maxsize=512)
def _best(languages: tuple[str, ...], header: str) -> str:
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
            for language in languages:
                if language not in refused:
                    return language
        elif primary in languages and primary not in refused:
            return primary
    return languages[0]


def texts_for(config: ConsentConfig, language: str) -> dict[str, str]:
    """Every text of the banner in `language`: English, then that language, then the site's."""
    texts = dict(TEXTS["en"])
    texts.update(TEXTS.get(language, {}))
    for cat in config.category_list:
        default = _DEFAULTS.get(cat.name)
        if default is not None and (cat.label, cat.description) == (
            default.label,
            default.description,
        ):
            continue  # a default category as shipped: keep the translation
        texts[f"category.{cat.name}.label"] = cat.label
        texts[f"category.{cat.name}.description"] = cat.description
    texts.update(config.texts.get(language, {}))
    return texts
