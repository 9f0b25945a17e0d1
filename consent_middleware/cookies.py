"""Sans-IO cookie header parsing and building, as browsers and servers read them.

The middleware decides by cookie *name*, so every name here is the one a browser stores (RFC
6265bis section 5.6) or a server reads back, never the one a lenient parser guesses:
the standard library's `http.cookies` parser loses or misreads names on tabs, quotes, commas
and unknown flags, which would let a cookie slip past the filter. Header values arrive as
latin-1 decoded `str` (ASGI, WSGI); no parser here raises, whatever the input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote

__all__ = [
    "DELETION_MARGIN",
    "SetCookie",
    "deletion_time",
    "folded_names",
    "judged_names",
    "strict_cookie_date",
    "browsers_store",
    "build_set_cookie",
    "carried_names",
    "cookie_paths",
    "cookie_prefix",
    "cookie_value",
    "default_path",
    "deletion_header",
    "is_deletion",
    "parse_cookie_date",
    "parse_cookie_header",
    "parse_set_cookie",
    "set_cookie_name",
    "spaced_names",
    "stored_name",
]

_WSP = " \t"  # RFC 6265bis trims SP and HTAB only; other whitespace is part of the text.

#: Browsers ignore attribute values longer than this (RFC 6265bis 5.6, in octets: a latin-1
#: decoded header has one character per octet).
_MAX_ATTRIBUTE_VALUE = 1024

#: Max-Age magnitudes beyond int64 are clamped, as browsers do, instead of building huge ints
#: (`int()` refuses strings of more than 4300 digits).
_MAX_AGE_LIMIT = 2**63 - 1

_EPOCH_EXPIRES = "Thu, 01 Jan 1970 00:00:00 GMT"

_SAME_SITE = {"strict": "Strict", "lax": "Lax", "none": "None"}


def set_cookie_name(header: str) -> str:
    """The cookie name a browser stores for a Set-Cookie value, as the server reads it back.

    A nameless cookie whose value holds "=" (`=a=b`) comes back as `Cookie: a=b`, which a server
    reads as a cookie named `a`, so that is the name returned: a filter must judge it as `a`.
    """
    end = header.find(";")
    if end < 0:
        end = len(header)
    eq = header.find("=", 0, end)
    if eq < 0:
        return ""
    name = header[:eq].strip(_WSP)
    if name:
        return name
    second = header.find("=", eq + 1, end)
    if second < 0:
        return ""
    return header[eq + 1 : second].strip(_WSP)


def stored_name(header: str) -> str | None:
    """The one name every browser stores a Set-Cookie's cookie under, or None when they may
    differ: no "=" before the first ";" (`_fbp; Max-Age=0` is the nameless cookie `_fbp` in
    RFC 6265bis, a cookie named `_fbp` in older parsers), or nothing but SP and HTAB before
    it. Only such a name may count as one the app itself deletes."""
    end = header.find(";")
    eq = header.find("=", 0, end) if end >= 0 else header.find("=")
    if eq < 0:
        return None
    name = header[:eq].strip(_WSP)
    return name or None


def default_path(request_path: str) -> str:
    """The path a browser gives a cookie set without a valid Path attribute: the request
    path up to its last "/" (RFC 6265bis 5.1.4), `/` for `/item` or an empty path. The
    request path is the one the browser sent (prefix included), percent-encoded."""
    if not request_path.startswith("/"):
        return "/"
    last = request_path.rfind("/")
    if last == 0:
        return "/"
    directory = request_path[:last]
    return directory if directory.isascii() else quote(directory, safe=_PATH_SAFE)


def cookie_paths(request_path: str, limit: int = 16) -> tuple[str, ...]:
    """Every `Path` that a cookie sent with a request for `request_path` may be stored
    with (RFC 6265bis 5.1.4 path-match): the page's directory (where a script's cookie
    without a Path lands), the path itself, and each directory above it with and without
    its trailing "/" (a script on `/shop/cat/item` that sets `path=/shop`), down to `/`;
    nearest first, at most `limit`. The request path is the one the browser sent."""
    if not request_path.startswith("/"):
        return ("/",)
    path = request_path if request_path.isascii() else quote(request_path, safe=_PATH_SAFE)
    found = [default_path(path), path]
    cut = path.rfind("/")
    while cut > 0:
        found += (path[: cut + 1], path[:cut])
        cut = path.rfind("/", 0, cut)
    found.append("/")
    return tuple(dict.fromkeys(found))[:limit]


_PATH_SAFE = "/!$&'()*+,=:@-._~%"
_CTL_RE = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
#: The name of a cookie after a comma: "=" follows it before any ";" or comma.
_FOLDED_NAME_RE = re.compile(",([^;,=]*)=")


def judged_names(header: str) -> tuple[str, ...]:
    """Every name under which a browser may store this Set-Cookie's cookie or a server may
    read it back: the RFC 6265bis name first, then the other readings that real clients
    and servers give odd headers. A filter that refuses any of them cannot be slipped past.

    - the name a browser stores: text before the first "=", trimmed of SP and HTAB, or ""
      when there is no "=" (RFC 6265bis 5.6);
    - for a nameless cookie, the name a server reads back from `Cookie: <value>`: before
      its "=" (`=a=b` comes back as `a=b`), or the whole value (`foo` comes back as `foo`,
      which some servers read as a name);
    - the name trimmed of every whitespace character (\v, \f, NBSP), also once decoded as
      UTF-8 (Django's WSGI request trims an EM SPACE then), and cut at the first control
      character (where a parser that stops at NUL or CR would end it);
    - the names of the header trimmed of leading whitespace, as a server that strips the
      whole value sends it (`\v=_fbp` is then the nameless `_fbp`).

    See also `folded_names`.
    """
    end = header.find(";")
    pair = header if end < 0 else header[:end]
    eq = pair.find("=")
    if eq < 0:
        name, value = "", pair.strip(_WSP)
    else:
        name, value = pair[:eq].strip(_WSP), pair[eq + 1 :].strip(_WSP)
    names = [name]
    if not name and value:
        second = value.find("=")
        names.append(value if second < 0 else value[:second].strip(_WSP))
    for candidate in tuple(names):
        for variant in (
            candidate.strip(),
            _CTL_RE.split(candidate, 1)[0].strip(),
            _as_utf8(candidate).strip(),
        ):
            if variant not in names:
                names.append(variant)
    stripped = header.lstrip()
    if stripped != header:
        # A server that strips the whole value (Hypercorn: `bytes.strip()`) makes
        # `\v=_fbp` the nameless cookie `_fbp`.
        names.extend(n for n in judged_names(stripped) if n not in names)
    return tuple(names)


def _as_utf8(text: str) -> str:
    """Latin-1 decoded header text read as UTF-8, as Django's WSGI request and werkzeug
    read a Cookie header (`\xe2\x80\x83` is one EM SPACE there, which `str.strip()` trims)."""
    if text.isascii():
        return text
    return text.encode("latin-1", "replace").decode("utf-8", "replace")


def carried_names(name: str, value: str) -> tuple[str, ...]:
    """Every name under which an app's parser reads one pair of a request's Cookie header
    (`parse_cookie_header`'s name and value): the name itself; trimmed of every whitespace
    character, as Starlette's and Django's parsers trim it (`str.strip()`: NBSP, NEL and
    \x1c-\x1f too, which Chromium keeps in a name that a server set), also once decoded as
    UTF-8 (Django's WSGI request: a script's EM SPACE before `_fbp`); and for the nameless
    cookie (`document.cookie = "_fbp"`, sent as `Cookie: _fbp`) its value, which werkzeug
    (Flask) reads as a cookie of that name. See also `spaced_names`."""
    names = [name]
    for variant in (name.strip(), _as_utf8(name).strip()):
        if variant not in names:
            names.append(variant)
    if not name:
        names.append(value.strip())
    return tuple(names)


def folded_names(header: str) -> tuple[str, ...]:
    """The names after each comma of a Set-Cookie that an "=" follows before any ";"
    (`lang=en, _fbp=1` gives `_fbp`). Browsers read one cookie there (RFC 6265bis, the IETF
    cases `comma0001`...), but a client that takes a response's Set-Cookie headers as one
    folded value (NSHTTPCookie's `cookiesWithResponseHeaderFields`, on Apple's systems)
    splits it at commas and reads a cookie of each. A comma in an Expires date names none."""
    if "," not in header:
        return ()
    names = (name.strip(_WSP) for name in _FOLDED_NAME_RE.findall(header))
    return tuple(dict.fromkeys(name for name in names if name))


#: A name after whitespace in a cookie-pair, "=" after it: how `http.cookies` reads on.
#: A lookbehind, not `\s+`: that would try every space of a long run again (quadratic).
_SPACED_NAME_RE = re.compile(r"(?<=\s)([^\s;=]+)\s*=", re.ASCII)


def spaced_names(header: str) -> tuple[str, ...]:
    """The names after a space or a tab inside a Set-Cookie's cookie-pair (or a Cookie
    header's pair) that an "=" follows (`lang=en _fbp=1` gives `_fbp`). Browsers store one
    cookie there (`lang`, with the value `en _fbp=1`) and send it back as it is, but the
    standard library's `http.cookies.SimpleCookie` (Bottle, CherryPy, aiohttp, hand-written
    apps) ends a cookie at whitespace and reads `_fbp` as a cookie of its own."""
    end = header.find(";")
    pair = header if end < 0 else header[:end]
    return tuple(dict.fromkeys(_SPACED_NAME_RE.findall(pair.strip(_WSP))))


#: An Expires date counts as a deletion only this far in the past: visitors' clocks differ
#: from the server's, and a browser whose clock is behind would keep the cookie.
DELETION_MARGIN = 86400.0

_INF = float("inf")
_DELETING_MAX_AGE = re.compile("(?:-[0-9]{1,18}|0{1,18})")
_STRICT_DATE = re.compile(
    "(?:mon|tue|wed|thu|fri|sat|sun), ([0-9]{2})([ -])"
    "(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\\2([0-9]{4})"
    " ([0-9]{2}):([0-9]{2}):([0-9]{2}) gmt",
    re.IGNORECASE,
)


def strict_cookie_date(text: str) -> float | None:
    """An Expires value in the one form every browser parses alike: the IMF-fixdate of RFC
    9110 (`Thu, 01 Jan 1970 00:00:00 GMT`) or its Netscape spelling with dashes
    (`Thu, 01-Jan-1970 00:00:00 GMT`), from 1970 on. Seconds since the epoch, else None."""
    match = _STRICT_DATE.fullmatch(text)
    if match is None:
        return None
    day, _, month, year, hour, minute, second = match.groups()
    try:
        moment = datetime(
            int(year),
            _MONTHS[month.lower()],
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=timezone.utc,
        )
    except ValueError:
        return None
    return moment.timestamp() if moment.year >= 1970 else None


def deletion_time(attributes: str) -> float:
    """When the attributes of a Set-Cookie (the text after its first ";") delete the cookie
    in every major browser: -inf for always (one Max-Age that is an integer <= 0), an
    Expires timestamp (no Max-Age, one Expires in the strict form: a deletion once that
    time is `DELETION_MARGIN` past), or +inf for never.

    Browsers disagree on everything else, so it reads as a cookie that is set: a repeated
    Max-Age or Expires (Chromium takes the last Max-Age even when its value is invalid, and
    accepts "+N"; Firefox keeps `Expires=<past>; Max-Age=abc`), a malformed or signed value,
    a date in a form some browser rejects (`Thu, 1st Jan 1970 ...`), and any control
    character but HTAB in the attributes: WebKit's parser (curl CookieUtil) trims VT and FF
    around attribute names, so `Max-Age=0; <VT>Max-Age=31536000` is a one-year cookie there
    (RFC 6265bis 5.7 and Firefox ignore such a header whole: it deletes nothing there).
    A double quote in the attributes too: a client that reads a quoted value across `;`
    (RFC 2109's quoted-string, as Python's `http.cookies` does: aiohttp's client jar) takes
    `_fbp="1; Max-Age=0; x="` for a session cookie with no attributes at all.
    """
    if '"' in attributes or _CTL_RE.search(attributes):
        return _INF
    max_ages: list[str] = []
    expires: list[str] = []
    for av in attributes.split(";"):
        key, _, value = av.partition("=")
        key = key.strip(_WSP).lower()
        if key == "max-age":
            max_ages.append(value.strip(_WSP))
        elif key == "expires":
            expires.append(value.strip(_WSP))
    if len(max_ages) > 1 or len(expires) > 1:
        return _INF
    if max_ages:
        return -_INF if _DELETING_MAX_AGE.fullmatch(max_ages[0]) else _INF
    if expires:
        moment = strict_cookie_date(expires[0])
        return _INF if moment is None else moment
    return _INF


@dataclass(frozen=True, slots=True)
class SetCookie:
    """One Set-Cookie header value parsed per RFC 6265bis 5.6 (the last valid attribute wins).

    `name` and `value` are what the server reads back (see `set_cookie_name`). `path` is None
    when absent or invalid, so the browser uses the default path; `domain` is None for a
    host-only cookie (absent, or an empty last Domain attribute).
    """

    name: str
    value: str
    path: str | None
    domain: str | None
    max_age: int | None
    expires: datetime | None
    secure: bool
    http_only: bool
    same_site: str | None
    #: A partitioned (CHIPS) cookie: keyed by the top-level site too.
    partitioned: bool = False

    def is_deletion_at(self, now: datetime) -> bool:
        """True when a browser would drop the cookie at `now` (naive `now` is taken as UTC).

        A valid Max-Age decides alone and Expires is then ignored, as in browsers.
        """
        if self.max_age is not None:
            return self.max_age <= 0
        if self.expires is None:
            return False
        if now.tzinfo is None:
            now = now.replace(tzinfo=timezone.utc)
        return self.expires <= now

    @property
    def is_deletion(self) -> bool:
        """True when the header makes the browser drop the cookie now."""
        return self.is_deletion_at(datetime.now(timezone.utc))


def parse_set_cookie(header: str) -> SetCookie:
    """Parse a Set-Cookie header value the way a browser does (RFC 6265bis 5.6)."""
    semi = header.find(";")
    if semi < 0:
        pair, attributes = header, ""
    else:
        pair, attributes = header[:semi], header[semi + 1 :]
    raw_name, eq, raw_value = pair.partition("=")
    if eq:
        name, value = raw_name.strip(_WSP), raw_value.strip(_WSP)
        if not name:
            # Sent back as `Cookie: <value>`; report the pair the server reads from that.
            read_name, eq, read_value = value.partition("=")
            if eq:
                name, value = read_name.strip(_WSP), read_value.strip(_WSP)
    else:
        name, value = "", raw_name.strip(_WSP)

    path: str | None = None
    domain: str | None = None
    max_age: int | None = None
    expires: datetime | None = None
    secure = http_only = partitioned = False
    same_site: str | None = None
    if attributes:
        for av in attributes.split(";"):
            attr_name, _, attr_value = av.partition("=")
            key = attr_name.strip(_WSP).lower()
            attr_value = attr_value.strip(_WSP)
            if len(attr_value) > _MAX_ATTRIBUTE_VALUE:
                continue
            if key == "path":
                path = attr_value if attr_value.startswith("/") else None
            elif key == "domain":
                domain = attr_value.removeprefix(".").lower() or None
            elif key == "max-age":
                parsed_age = _parse_max_age(attr_value)
                if parsed_age is not None:
                    max_age = parsed_age
            elif key == "expires":
                parsed_date = parse_cookie_date(attr_value)
                if parsed_date is not None:
                    expires = parsed_date
            elif key == "secure":
                secure = True
            elif key == "httponly":
                http_only = True
            elif key == "samesite":
                lowered = attr_value.lower()
                same_site = lowered if lowered in _SAME_SITE else None
            elif key == "partitioned":
                partitioned = True
    return SetCookie(
        name=name,
        value=value,
        path=path,
        domain=domain,
        max_age=max_age,
        expires=expires,
        secure=secure,
        http_only=http_only,
        same_site=same_site,
        partitioned=partitioned,
    )


def cookie_prefix(name: str) -> str:
    """`"__Host-"` or `"__Secure-"` when a cookie's name starts with that prefix in any
    case (Chromium applies them so: it refuses `__host-x=1; Path=/` without `Secure`),
    else `""`. Such a cookie is set, and deleted, only with `Secure`; `__Host-` only
    host-only at `Path=/`."""
    head = name[:9].lower()
    if head.startswith("__host-"):
        return "__Host-"
    if head == "__secure-":
        return "__Secure-"
    return ""


#: Chromium stores no cookie whose name and value together pass this many bytes.
_MAX_NAME_VALUE = 4096


def browsers_store(header: str, https: bool) -> bool:
    """Whether every major browser stores the cookie of this Set-Cookie at all, from a page
    over https or not: only then does a deletion of the app's replace one of ours.

    Chromium ignores the whole header (and so deletes nothing) for a tab or a control
    character inside the name or value, name and value past 4096 bytes, `Secure` from a
    plain-http page, `SameSite=None` without `Secure`, a `__Secure-`/`__Host-` name (in any
    case) without `Secure` (`__Host-` also with a `Domain` or a `Path` other than `/`), and a
    `Domain` of nothing but dots (`Domain=.`). A `Partitioned` one is another cookie than the
    unpartitioned one of that name: it deletes only its own. A `Domain` or `Path` given
    twice counts as not stored: browsers may place it differently.
    """
    end = header.find(";")
    pair = (header if end < 0 else header[:end]).strip(_WSP)
    name, _, value = pair.partition("=")
    name, value = name.rstrip(_WSP), value.lstrip(_WSP)
    if "\t" in pair or _CTL_RE.search(pair) or len(name) + len(value) > _MAX_NAME_VALUE:
        return False
    cookie = parse_set_cookie(header)
    if cookie.partitioned or (cookie.secure and not https):
        return False
    if cookie.same_site == "none" and not cookie.secure:
        return False
    prefix = cookie_prefix(name)
    if prefix and not cookie.secure:
        return False
    if prefix == "__Host-" and (cookie.path != "/" or cookie.domain is not None):
        return False
    if end >= 0:
        placed: set[str] = set()
        for av in header[end + 1 :].split(";"):
            key, _, given = av.partition("=")
            key = key.strip(_WSP).lower()
            if key != "domain" and key != "path":
                continue
            if key in placed:
                # Given twice: Chromium and Firefox take the last, but RFC 6265bis lets a
                # browser ignore an empty value and keep the one before (`Domain=other.test;
                # Domain=`: a cookie it rejects whole). Where it lands is not sure.
                return False
            placed.add(key)
            domain = given.strip(_WSP)
            if key == "domain" and cookie.domain is None and domain and not domain.strip("."):
                return False
    return True


def is_deletion(header: str, now: datetime | None = None) -> bool:
    """True when the Set-Cookie header value makes a browser drop the cookie at `now`."""
    cookie = parse_set_cookie(header)
    return cookie.is_deletion_at(datetime.now(timezone.utc) if now is None else now)


def _parse_max_age(text: str) -> int | None:
    """Max-Age per RFC 6265bis 5.6.2: optional "-" then ASCII digits only; else None."""
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit()):
        return None
    digits = digits.lstrip("0") or "0"
    number = int(digits) if len(digits) <= 19 else _MAX_AGE_LIMIT
    number = min(number, _MAX_AGE_LIMIT)
    return -number if text.startswith("-") else number


# RFC 6265 5.1.1: delimiter = %x09 / %x20-2F / %x3B-40 / %x5B-60 / %x7B-7E.
_DATE_DELIMITERS = re.compile("[\t\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+")
_TIME_TOKEN = re.compile("([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[^0-9].*)?", re.DOTALL)
_DAY_TOKEN = re.compile("([0-9]{1,2})(?:[^0-9].*)?", re.DOTALL)
_YEAR_TOKEN = re.compile("([0-9]{2,4})(?:[^0-9].*)?", re.DOTALL)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}


def parse_cookie_date(text: str) -> datetime | None:
    """An Expires value per the RFC 6265 5.1.1 cookie-date algorithm, as UTC; None if invalid.

    Browsers use this lenient algorithm, not HTTP-date, so RFC 850, asctime and odd forms all
    count. Years have at most four digits, so every valid date fits in `datetime`.
    """
    time: tuple[int, int, int] | None = None
    day: int | None = None
    month: int | None = None
    year: int | None = None
    for token in _DATE_DELIMITERS.split(text):
        if not token:
            continue
        if time is None:
            match = _TIME_TOKEN.fullmatch(token)
            if match:
                time = (int(match[1]), int(match[2]), int(match[3]))
                continue
        if day is None:
            match = _DAY_TOKEN.fullmatch(token)
            if match:
                day = int(match[1])
                continue
        if month is None:
            prefix = token[:3].lower()
            if prefix in _MONTHS and token[:3].isascii():
                month = _MONTHS[prefix]
                continue
        if year is None:
            match = _YEAR_TOKEN.fullmatch(token)
            if match:
                year = int(match[1])
                continue
    if time is None or day is None or month is None or year is None:
        return None
    if 70 <= year <= 99:
        year += 1900
    elif 0 <= year <= 69:
        year += 2000
    hour, minute, second = time
    if not 1 <= day <= 31 or year < 1601 or hour > 23 or minute > 59 or second > 59:
        return None
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
    except ValueError:  # no such day in that month, such as 30 Feb
        return None


def parse_cookie_header(header: str) -> list[tuple[str, str]]:
    """All (name, value) pairs of a request Cookie header, in order, duplicates kept.

    A part without "=" is a nameless cookie: name "" and the part as value.
    """
    pairs: list[tuple[str, str]] = []
    for part in header.split(";"):
        name, eq, value = part.partition("=")
        if eq:
            pairs.append((name.strip(_WSP), value.strip(_WSP)))
        else:
            value = name.strip(_WSP)
            if value:
                pairs.append(("", value))
    return pairs


def cookie_value(header: str, name: str) -> str | None:
    """The value of the first cookie called `name` in a Cookie header, without parsing it all.

    Agrees with `parse_cookie_header`: the first pair with that name wins.
    """
    if not name or "=" in name or ";" in name or name.strip(_WSP) != name:
        if name:
            return None  # never equal to a parsed (trimmed, "="-free) name
        for found, value in parse_cookie_header(header):
            if not found:
                return value
        return None
    size, width = len(header), len(name)
    pos = header.find(name)
    while pos >= 0:
        before = pos - 1
        while before >= 0 and header[before] in _WSP:
            before -= 1
        if before < 0 or header[before] == ";":
            after = pos + width
            while after < size and header[after] in _WSP:
                after += 1
            if after < size and header[after] == "=":
                end = header.find(";", after + 1)
                return header[after + 1 : size if end < 0 else end].strip(_WSP)
        pos = header.find(name, pos + 1)
    return None


def _check(what: str, text: str) -> None:
    """Refuse text that could end the header or the cookie-pair: no injection, ever."""
    if ";" in text:
        raise ValueError(f"cookie {what} {text!r} must not contain ';'")
    for char in text:
        code = ord(char)
        if code < 0x20 or code == 0x7F:
            raise ValueError(f"cookie {what} {text!r} must not contain control characters")
        if code > 0xFF:
            raise ValueError(f"cookie {what} {text!r} must be latin-1 to fit in a header")


def build_set_cookie(
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = False,
    http_only: bool = False,
    same_site: str | None = None,
    partitioned: bool = False,
) -> str:
    """A Set-Cookie header value that `parse_set_cookie` reads back exactly.

    Raises ValueError for anything a browser would read differently: ";", control characters,
    "=" in the name, surrounding spaces (trimmed by browsers), a path not starting with "/".
    A Max-Age of 0 or less also gets an Expires in 1970, for clients without Max-Age.
    """
    _check("name", name)
    _check("value", value)
    if "=" in name:
        raise ValueError(f"cookie name {name!r} must not contain '='")
    if name.strip(" ") != name or value.strip(" ") != value:
        raise ValueError(f"cookie {name!r}: browsers trim spaces around name and value")
    if not name and "=" in value:
        raise ValueError(f"a nameless cookie's value {value!r} must not contain '='")
    parts = [f"{name}={value}"]
    if max_age is not None:
        parts.append(f"Max-Age={int(max_age)}")
        if max_age <= 0:
            parts.append(f"Expires={_EPOCH_EXPIRES}")
    if path is not None:
        _check("path", path)
        if not path.startswith("/") or path.strip(" ") != path:
            raise ValueError(f"cookie path {path!r} must start with '/', without spaces around")
        parts.append(f"Path={path}")
    if domain is not None:
        _check("domain", domain)
        if not domain.strip(" ") or domain.strip(" ") != domain:
            raise ValueError(f"cookie domain {domain!r} must be a host name (None: host-only)")
        parts.append(f"Domain={domain}")
    if secure:
        parts.append("Secure")
    if http_only:
        parts.append("HttpOnly")
    if same_site is not None:
        canonical = _SAME_SITE.get(same_site.lower())
        if canonical is None:
            raise ValueError(f"same_site {same_site!r} must be 'strict', 'lax' or 'none'")
        parts.append(f"SameSite={canonical}")
    if partitioned:
        if not secure:
            raise ValueError("a Partitioned cookie must be Secure (browsers drop it otherwise)")
        parts.append("Partitioned")
    return "; ".join(parts)


def deletion_header(
    name: str,
    *,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = False,
    partitioned: bool = False,
) -> str:
    """A Set-Cookie value that expires cookie `name`; path and domain must match the cookie's.
    A partitioned (CHIPS) cookie is expired only by a `Partitioned` deletion.

    For the nameless cookie (name "") this is `=-; Max-Age=0; ...`, which browsers store
    under the empty name and so replace and expire the nameless cookie: `=; Max-Age=0` has
    neither name nor value, and Chromium ignores it whole (RFC 6265bis 5.6).
    """
    return build_set_cookie(
        name,
        "" if name else "-",
        max_age=0,
        path=path,
        domain=domain,
        secure=secure,
        partitioned=partitioned,
    )
