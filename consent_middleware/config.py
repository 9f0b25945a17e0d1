"""`ConsentConfig` and `Category`: every option validated and compiled once, at construction.

A bad option raises `ValueError` naming the bad value here, never at the first request.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from .cookies import cookie_prefix

__all__ = ["ALWAYS", "Category", "ConsentConfig", "CookieRule", "DEFAULT_CATEGORIES"]

#: The pseudo-category of cookies that always pass (`unknown_cookies="allow"`).
ALWAYS = "*"
#: The smallest `max_body_size`: room for the banner's own posts with a long `return_to`.
MIN_BODY_SIZE = 1024

_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_PRINTABLE_RE = re.compile(r"^[\x20-\x7e]*[\x21-\x7e][\x20-\x7e]*$")
_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}$")
_TOKEN_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_PATTERN_CHARS_RE = re.compile(r"^[\x21-\x7e]+$")
_FORBIDDEN_IN_PATTERN = set(';=," \t')
_COOKIE_ATTR_RE = re.compile(r"^[\x21-\x3a\x3c-\x7e]+$")  # printable ASCII without ";"
_DOMAIN_RE = re.compile(
    r"^\.?(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_LINK_SCHEMES = ("http", "https")
_ORIGIN_RE = re.compile(
    r"^https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?$"
)
_ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BOOLEAN_OPTIONS = (
    "inject_banner",
    "honor_gpc",
    "honor_dnt",
    "filter_request_cookies",
    "gate_scripts",
    "google_consent_mode",
    "settings_link",
    "record_ip",
)

SameSite = Literal["lax", "strict", "none"]
UnknownCookies = str  # "block", "allow", or a category name


_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


def _check_text(where: str, value: object) -> None:
    """Texts the banner shows are plain text: no control characters (a NUL or an escape
    has no business in a page, and the renderer uses NUL internally)."""
    if not isinstance(value, str):
        raise ValueError(f"{where} must be a string, not {value!r}")
    if _CONTROL_RE.search(value):
        raise ValueError(f"{where} {value!r} must not contain control characters")


@dataclass(frozen=True)
class Category:
    """A purpose for which cookies are set; the visitor grants or refuses each one."""

    name: str
    label: str = ""
    description: str = ""
    required: bool = False
    #: Refused when the visitor sends Global Privacy Control (sale or sharing of data).
    gpc: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.fullmatch(self.name):
            raise ValueError(
                f"category name {self.name!r} must be 1-40 lowercase letters, digits, '_' or '-',"
                " starting with a letter"
            )
        if not self.label:
            object.__setattr__(self, "label", self.name.capitalize())
        for part in ("label", "description"):
            _check_text(f"Category {self.name!r} {part}", getattr(self, part))


DEFAULT_CATEGORIES: tuple[Category, ...] = (
    Category(
        "authentication",
        "Authentication",
        "Keeps you signed in and protects your session. Always on.",
        required=True,
    ),
    Category("settings", "Settings", "Remembers your choices, such as language or theme."),
    Category("analytics", "Analytics", "Counts visits so that we can improve the site."),
    Category("marketing", "Marketing", "Measures advertising and shows relevant ads.", gpc=True),
)


@dataclass(frozen=True)
class CookieRule:
    """Which category a cookie belongs to, and where it lives (used to expire it)."""

    category: str
    path: str = "/"
    domain: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.category, str) or not self.category:
            raise ValueError(f"CookieRule category {self.category!r} must be a category name")
        if (
            not isinstance(self.path, str)
            or not self.path.startswith("/")
            or not _COOKIE_ATTR_RE.fullmatch(self.path)
        ):
            raise ValueError(
                f"CookieRule path {self.path!r} must start with '/' and hold no ';', spaces"
                " or control characters"
            )
        if self.domain is not None and (
            not isinstance(self.domain, str) or not _DOMAIN_RE.fullmatch(self.domain)
        ):
            raise ValueError(
                f"CookieRule domain {self.domain!r} is not a host name such as 'example.com'"
                " or '.example.com' (None: the host the cookie was set by)"
            )


@dataclass(frozen=True)
class _CompiledRules:
    exact: dict[str, CookieRule]
    prefixes: tuple[tuple[str, CookieRule], ...]
    globs: tuple[tuple[re.Pattern[str], CookieRule], ...]

    def match(self, name: str) -> CookieRule | None:
        rule = self.exact.get(name)
        if rule is not None:
            return rule
        for prefix, prule in self.prefixes:
            if name.startswith(prefix):
                return prule
        for regex, grule in self.globs:
            if regex.match(name):
                return grule
        return None


DEFAULT_GOOGLE_CONSENT_MAPPING: dict[str, tuple[str, ...]] = {
    "authentication": ("security_storage",),
    "settings": ("functionality_storage", "personalization_storage"),
    "analytics": ("analytics_storage",),
    "marketing": ("ad_storage", "ad_user_data", "ad_personalization"),
}
GOOGLE_CONSENT_TYPES = frozenset(
    {
        "ad_storage",
        "ad_user_data",
        "ad_personalization",
        "analytics_storage",
        "functionality_storage",
        "personalization_storage",
        "security_storage",
    }
)


@dataclass(frozen=True, eq=False)
class ConsentConfig:
    """Everything the middleware needs to know about a site's cookies and its banner."""

    secret_key: str | Sequence[str]
    cookies: Mapping[str, str | CookieRule] = field(default_factory=dict)
    policy_version: str = "1"
    #: ISO date of the latest minor policy update: older choices see a one-time notice.
    policy_updated: str | None = None
    categories: Sequence[Category] | None = None
    unknown_cookies: UnknownCookies = "block"
    cookie_name: str = "consent"
    max_age: int | timedelta = timedelta(days=180)
    secure: bool | None = None
    same_site: SameSite = "lax"
    cookie_domain: str | None = None
    path_prefix: str = "/consent"
    inject_banner: bool = True
    privacy_policy_url: str | None = None
    honor_gpc: bool = True
    honor_dnt: bool = False
    filter_request_cookies: bool = True
    gate_scripts: bool = False
    google_consent_mode: bool = False
    google_consent_mapping: Mapping[str, Sequence[str]] | None = None
    #: The languages the banner may speak (default: every bundled one).
    languages: Sequence[str] | None = None
    #: The language when Accept-Language names none of `languages`.
    default_language: str = "en"
    #: Force one language instead of choosing from Accept-Language.
    language: str | None = None
    #: Text overrides: {"en": {"title": "...", ...}, "uk": {...}}.
    texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: Show the small default "Cookie settings" link once the visitor has decided.
    settings_link: bool = True
    #: Paths (globs) whose pages get no banner; their cookies are enforced all the same.
    exclude_paths: Sequence[str] = ()
    #: Origins besides the request's own that may change the consent (POST, DELETE).
    trusted_origins: Sequence[str] = ()
    #: Where proof of consent goes: "sqlite:///path.db", "postgresql://...", a store, or None.
    records: object = None
    #: Store a truncated IP address (IPv4 /24, IPv6 /48) with each record.
    record_ip: bool = False
    #: Largest request body accepted by the /consent endpoints, in bytes (at least
    #: `MIN_BODY_SIZE`).
    max_body_size: int = 4096
    #: How many verified consent cookies to remember (saves an HMAC per request).
    cache_size: int = 4096
    #: Memory the hot path's caches may hold per process, in bytes (all caches together).
    cache_bytes: int = 32 * 1024 * 1024

    # Derived, filled in by __post_init__.
    secret_keys: tuple[str, ...] = field(init=False)
    category_list: tuple[Category, ...] = field(init=False)
    category_names: tuple[str, ...] = field(init=False)
    optional_categories: tuple[str, ...] = field(init=False)
    required_categories: frozenset[str] = field(init=False)
    max_age_seconds: int = field(init=False)
    rules: _CompiledRules = field(init=False, repr=False)
    unknown_rule: CookieRule | None = field(init=False, repr=False)
    google_mapping: dict[str, tuple[str, ...]] = field(init=False, repr=False)
    #: `languages` as given, or every bundled language.
    enabled_languages: tuple[str, ...] = field(init=False, repr=False)
    excluded: tuple[re.Pattern[str], ...] = field(init=False, repr=False)
    trusted: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "secret_keys", _secret_keys(self.secret_key))
        cats = _categories(self.categories)
        set_(self, "category_list", cats)
        set_(self, "category_names", tuple(c.name for c in cats))
        set_(self, "optional_categories", tuple(c.name for c in cats if not c.required))
        set_(self, "required_categories", frozenset(c.name for c in cats if c.required))

        for name in _BOOLEAN_OPTIONS:
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} {getattr(self, name)!r} must be True or False")
        if not isinstance(self.policy_version, str) or not _PRINTABLE_RE.fullmatch(
            self.policy_version
        ):
            raise ValueError(
                f"policy_version {self.policy_version!r} must be a non-empty string of"
                " printable ASCII, such as '2024-02-24'"
            )
        set_(self, "policy_updated", _iso_date("policy_updated", self.policy_updated))
        if not isinstance(self.cookie_name, str) or not _TOKEN_RE.fullmatch(self.cookie_name):
            raise ValueError(
                f"cookie_name {self.cookie_name!r} is not a valid cookie name (letters, digits"
                " and !#$%&'*+-.^_`|~)"
            )
        seconds = (
            int(self.max_age.total_seconds())
            if isinstance(self.max_age, timedelta)
            else self.max_age
        )
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
            raise ValueError(f"max_age {self.max_age!r} must be a positive number of seconds")
        set_(self, "max_age_seconds", seconds)
        if self.secure is not None and not isinstance(self.secure, bool):
            raise ValueError(f"secure {self.secure!r} must be True, False or None")
        same_site = self.same_site.lower() if isinstance(self.same_site, str) else self.same_site
        if same_site not in ("lax", "strict", "none"):
            raise ValueError(f"same_site {self.same_site!r} must be 'lax', 'strict' or 'none'")
        set_(self, "same_site", same_site)
        if same_site == "none" and self.secure is False:
            raise ValueError("same_site 'none' needs secure cookies, but secure is False")
        if self.cookie_domain is not None and (
            not isinstance(self.cookie_domain, str) or not _DOMAIN_RE.fullmatch(self.cookie_domain)
        ):
            raise ValueError(
                f"cookie_domain {self.cookie_domain!r} is not a domain such as '.example.com'"
            )
        # Browsers apply the prefixes in any case (`__host-consent` is one too).
        if cookie_prefix(self.cookie_name) == "__Host-" and self.cookie_domain is not None:
            raise ValueError(
                f"cookie_name {self.cookie_name!r}: browsers refuse a __Host- cookie with a"
                " Domain, so cookie_domain must be None"
            )
        if cookie_prefix(self.cookie_name) and self.secure is False:
            raise ValueError(
                f"cookie_name {self.cookie_name!r}: browsers keep {self.cookie_name.split('-')[0]}-"
                " cookies only when Secure, so secure cannot be False"
            )
        if not isinstance(self.path_prefix, str) or not re.fullmatch(
            r"^/[A-Za-z0-9._~/-]*[A-Za-z0-9._~-]$", self.path_prefix
        ):
            raise ValueError(
                f"path_prefix {self.path_prefix!r} must start with '/' and not end with '/'"
            )
        set_(self, "privacy_policy_url", _link("privacy_policy_url", self.privacy_policy_url))
        self._check_languages()
        for name in ("max_body_size", "cache_size", "cache_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} {value!r} must be a non-negative integer")
        # Below this, the banner's own form posts get 413: no visitor could choose. The
        # banner budgets 64 bytes per category, and 256 for the rest of its form
        # (`redirects.form_room`), and some room for `return_to` besides.
        least = max(MIN_BODY_SIZE, 256 + 64 * len(cats) + 256)
        if self.max_body_size < least:
            raise ValueError(
                f"max_body_size {self.max_body_size!r} must be at least {least} bytes:"
                f" the banner's own choices (of {len(cats)} categories) are posted to /consent"
            )

        known = set(self.category_names)
        set_(self, "rules", _compile_rules(self.cookies, known, self.cookie_name))
        if self.unknown_cookies == "block":
            unknown_rule = None
        elif self.unknown_cookies == "allow":
            unknown_rule = CookieRule(ALWAYS)
        elif isinstance(self.unknown_cookies, str) and self.unknown_cookies in known:
            unknown_rule = CookieRule(self.unknown_cookies)
        else:
            raise ValueError(
                f"unknown_cookies {self.unknown_cookies!r} must be 'block', 'allow' or a category"
                f" ({', '.join(self.category_names)})"
            )
        set_(self, "unknown_rule", unknown_rule)
        set_(self, "google_mapping", _google_mapping(self.google_consent_mapping, known))
        set_(self, "excluded", _path_globs(self.exclude_paths))
        set_(self, "trusted", _origins(self.trusted_origins))
        from .records.store import check_records

        check_records(self.records)  # the URL's form only: nothing is opened here

    def _check_languages(self) -> None:
        from .i18n import BUNDLED_LANGUAGES, TEXT_KEYS

        set_ = object.__setattr__
        if not isinstance(self.texts, Mapping):
            raise ValueError(f"texts {self.texts!r} must be a mapping: language -> key -> text")
        given = self.languages
        for lang in self.texts:  # before they become `languages`, which would be blamed
            if not isinstance(lang, str) or not _LANGUAGE_RE.fullmatch(lang):
                raise ValueError(
                    f"texts has language {lang!r}, which is not a language code like 'en' or"
                    f" 'de' (in lower case, without a region){_code_hint(lang)}"
                )
        if given is None:
            languages = tuple(dict.fromkeys((*BUNDLED_LANGUAGES, *self.texts)))
        elif isinstance(given, str) or not isinstance(given, Sequence):
            raise ValueError(f"languages {given!r} must be a list of language codes like 'en'")
        else:
            languages = tuple(given)
        if not languages:
            raise ValueError(f"languages {given!r} is empty: name at least one language")
        for lang in languages:
            if not isinstance(lang, str) or not _LANGUAGE_RE.fullmatch(lang):
                raise ValueError(
                    f"languages {given!r} must be language codes like 'en' or 'de' (in lower"
                    f" case, without a region): {lang!r} is not"
                    f"{_code_hint(lang)}"
                )
        if len(set(languages)) != len(languages):
            raise ValueError(f"languages {given!r} names a language twice")
        category_keys = {
            f"category.{cat.name}.{part}"
            for cat in self.category_list
            for part in ("label", "description")
        }
        allowed = TEXT_KEYS | category_keys
        for lang, overrides in self.texts.items():
            if lang not in languages:
                raise ValueError(
                    f"texts has language {lang!r}, which is not in languages {languages!r}"
                )
            if not isinstance(overrides, Mapping):
                raise ValueError(f"texts[{lang!r}] must be a mapping of text keys to strings")
            for key, value in overrides.items():
                if key not in allowed:
                    close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    raise ValueError(
                        f"texts[{lang!r}] has unknown key {key!r}{hint}; the keys are listed"
                        " in docs/banner.md"
                    )
                if not isinstance(value, str):
                    raise ValueError(f"texts[{lang!r}][{key!r}] must be a string, not {value!r}")
                _check_text(f"texts[{lang!r}][{key!r}]", value)
        for lang in languages:
            if lang in BUNDLED_LANGUAGES:
                continue
            missing = sorted(TEXT_KEYS - set(self.texts.get(lang, {})))
            if missing:
                raise ValueError(
                    f"language {lang!r} is not bundled (bundled: {' '.join(BUNDLED_LANGUAGES)})"
                    f" and texts[{lang!r}] lacks {len(missing)} of its texts, such as"
                    f" {', '.join(repr(k) for k in missing[:3])}"
                )
        set_(self, "languages", languages)
        set_(self, "enabled_languages", languages)
        if not isinstance(self.default_language, str) or self.default_language not in languages:
            raise ValueError(
                f"default_language {self.default_language!r} is not one of languages"
                f" {languages!r}{_case_hint(self.default_language, languages)}"
            )
        if self.language is not None and self.language not in languages:
            raise ValueError(
                f"language {self.language!r} is not one of languages"
                f" {languages!r}{_case_hint(self.language, languages)}"
            )

    def rule_for(self, name: str) -> CookieRule | None:
        """The rule a cookie name matches, or None when no rule names it."""
        return self.rules.match(name)

    def category(self, name: str) -> Category:
        for cat in self.category_list:
            if cat.name == name:
                return cat
        raise KeyError(name)

    @property
    def gpc_categories(self) -> frozenset[str]:
        return frozenset(c.name for c in self.category_list if c.gpc and not c.required)


def _secret_keys(secret: str | Sequence[str]) -> tuple[str, ...]:
    # Never put a secret into an error message: those end up in logs.
    if isinstance(secret, bytes):
        raise ValueError(
            "secret_key must be a str (or a list of str), not bytes: pass the text, e.g."
            " key.decode()"
        )
    if isinstance(secret, str):
        keys: tuple[object, ...] = (secret,)
    elif isinstance(secret, Sequence):
        keys = tuple(secret)
    else:
        raise ValueError(f"secret_key must be a str or a list of str, not {type(secret).__name__}")
    if not keys:
        raise ValueError("secret_key is empty: give a long random string")
    for index, key in enumerate(keys):
        where = "secret_key" if isinstance(secret, str) else f"secret_key[{index}]"
        if not isinstance(key, str):
            raise ValueError(f"{where} must be a str, not {type(key).__name__}")
        if not key.strip():
            raise ValueError(f"{where} is empty or blank: give a long random string")
    return tuple(str(key) for key in keys)


def _categories(categories: Sequence[Category] | None) -> tuple[Category, ...]:
    if categories is None:
        return DEFAULT_CATEGORIES
    if isinstance(categories, (str, bytes, Mapping)) or not isinstance(categories, Sequence):
        raise ValueError(f"categories {categories!r} must be a list of Category")
    cats = tuple(categories)
    if not cats:
        raise ValueError("categories is empty: give at least one category")
    seen: set[str] = set()
    for cat in cats:
        if not isinstance(cat, Category):
            raise ValueError(f"categories item {cat!r} is not a Category")
        if cat.name in seen:
            raise ValueError(f"duplicate category {cat.name!r}")
        seen.add(cat.name)
    return cats


def _iso_date(name: str, value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and _ISO_DATE_RE.fullmatch(value):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise ValueError(f"{name} {value!r} must be an ISO date such as '2024-05-10'")


def _link(name: str, value: object) -> str | None:
    """A URL the banner may link to: relative, or http(s). Browsers drop tabs and newlines
    and trim control bytes before they read a scheme, so `java\tscript:` is refused too."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} {value!r} must be a link such as '/privacy'")
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in value):
        raise ValueError(f"{name} {value!r} must not contain control characters")
    scheme = _SCHEME_RE.match(value.strip())
    if scheme is not None and scheme.group(1).lower() not in _LINK_SCHEMES:
        raise ValueError(
            f"{name} {value!r} must be a relative link or an http(s) URL, not {scheme.group(1)!r}"
        )
    return value.strip()


def _path_globs(patterns: Sequence[str]) -> tuple[re.Pattern[str], ...]:
    if isinstance(patterns, str) or not isinstance(patterns, Sequence):
        raise ValueError(f"exclude_paths {patterns!r} must be a list of path patterns")
    compiled = []
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern.startswith("/"):
            raise ValueError(
                f"exclude_paths item {pattern!r} must be a path pattern such as '/api/*'"
            )
        compiled.append(re.compile(fnmatch.translate(pattern)))
    return tuple(compiled)


def _origins(origins: Sequence[str]) -> frozenset[str]:
    if isinstance(origins, str) or not isinstance(origins, Sequence):
        raise ValueError(f"trusted_origins {origins!r} must be a list of origins")
    normal = set()
    for origin in origins:
        match = isinstance(origin, str) and _ORIGIN_RE.fullmatch(origin.strip())
        if not match:
            raise ValueError(
                f"trusted_origins item {origin!r} must be an origin such as"
                " 'https://www.example.com' (scheme, host and optional port, no path)"
            )
        normal.add(origin.strip().lower())
    return frozenset(normal)


def _compile_rules(
    cookies: Mapping[str, str | CookieRule], known: set[str], consent_cookie: str
) -> _CompiledRules:
    exact: dict[str, CookieRule] = {}
    prefixes: list[tuple[str, CookieRule]] = []
    globs: list[tuple[re.Pattern[str], CookieRule]] = []
    if not isinstance(cookies, Mapping):
        raise ValueError(
            f"cookies must be a mapping of cookie name or pattern to category, such as"
            f" {{'_ga*': 'analytics'}}, not {type(cookies).__name__}"
        )
    for pattern, target in cookies.items():
        rule = CookieRule(target) if isinstance(target, str) else target
        if not isinstance(rule, CookieRule):
            raise ValueError(f"cookies[{pattern!r}] must be a category name or a CookieRule")
        if rule.category not in known:
            close = difflib.get_close_matches(str(rule.category).lower(), sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"cookies[{pattern!r}] names unknown category {rule.category!r}"
                f" (known: {', '.join(sorted(known))}{hint})"
            )
        if (
            not isinstance(pattern, str)
            or not _PATTERN_CHARS_RE.fullmatch(pattern)
            or _FORBIDDEN_IN_PATTERN.intersection(pattern)
            or pattern.count("[") != pattern.count("]")
        ):
            raise ValueError(f"cookie pattern {pattern!r} is not a cookie name or glob pattern")
        if pattern == consent_cookie:
            raise ValueError(f"cookie pattern {pattern!r} is the consent cookie's own name")
        if not any(ch in pattern for ch in "*?["):
            exact[pattern] = rule
        elif pattern.endswith("*") and not any(ch in pattern[:-1] for ch in "*?["):
            prefixes.append((pattern[:-1], rule))
        else:
            globs.append((re.compile(fnmatch.translate(pattern)), rule))
    # Longest prefix first, so "_ga_" beats "_ga".
    prefixes.sort(key=lambda item: len(item[0]), reverse=True)
    return _CompiledRules(exact, tuple(prefixes), tuple(globs))


def _google_mapping(
    mapping: Mapping[str, Sequence[str]] | None, known: set[str]
) -> dict[str, tuple[str, ...]]:
    if mapping is not None and not isinstance(mapping, Mapping):
        raise ValueError(
            f"google_consent_mapping {mapping!r} must be a mapping of category to consent"
            " types, such as {'analytics': ['analytics_storage']}"
        )
    source = DEFAULT_GOOGLE_CONSENT_MAPPING if mapping is None else mapping
    result: dict[str, tuple[str, ...]] = {}
    for category, types in source.items():
        if category not in known:
            if mapping is None:
                continue
            raise ValueError(f"google_consent_mapping names unknown category {category!r}")
        if isinstance(types, str) or not isinstance(types, (Sequence, AbstractSet)):
            raise ValueError(
                f"google_consent_mapping[{category!r}] {types!r} must be a list of consent"
                " types, such as ['analytics_storage']"
            )
        for gtype in types:
            if gtype not in GOOGLE_CONSENT_TYPES:
                raise ValueError(f"google_consent_mapping type {gtype!r} is not a consent type")
        result[category] = tuple(types)
    return result


def _code_hint(value: object) -> str:
    """` (did you mean 'nb'?)` for `"nb-NO"`, `"NB"` or `"nb_NO"`: the code it starts with,
    bundled or not (a language of `texts` need not be)."""
    if not isinstance(value, str):
        return ""
    code = value.strip().replace("_", "-").split("-", 1)[0].lower()
    return f" (did you mean {code!r}?)" if _LANGUAGE_RE.fullmatch(code) else ""


def _case_hint(value: object, languages: tuple[str, ...]) -> str:
    """` (did you mean 'de'?)` for `"DE"` or `"de-DE"`: codes are written in lower case, and
    Accept-Language's region is matched by the code alone."""
    if not isinstance(value, str):
        return ""
    code = value.strip().replace("_", "-").split("-", 1)[0].lower()
    return f" (did you mean {code!r}?)" if code in languages and code != value else ""
