"""The `/consent` endpoints as plain request-in, response-out functions.

The adapters translate ASGI or WSGI into an `ApiRequest` and send back the `ApiResponse`.
Every failure of the visitor's input is a 4xx with a JSON error that names the problem.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from .assets import StaticAsset, load_assets
from .banner import PAGE_STYLE_SOURCE, BannerRenderer
from .choice_tokens import is_fresh
from .consent import Consent
from .cookies import cookie_prefix, parse_cookie_header
from .crosssite import CrossSiteError, check_same_origin
from .i18n import choose_language
from .openapi import site_document
from .policy import MAX_EXPIRED_PER_RESPONSE, ConsentPolicy, RequestConsent
from .records import ConsentRecorder, RecordStoreError
from .redirects import safe_return_to

__all__ = ["ApiRequest", "ApiResponse", "ConsentAPI"]

logger = logging.getLogger("consent_middleware")

_JSON = "application/json"
_FORM = "application/x-www-form-urlencoded"
#: What an HTML form can send: such a request gets its errors as a page, not as JSON.
_FORM_TYPES = (_FORM, "multipart/form-data", "text/plain")
_LENGTH_RE = re.compile(r"[0-9]{1,18}")
_CHOICE_ACTIONS = ("accept_all", "reject_all", "save", "withdraw")
_MAX_FORM_FIELDS = 64
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")
#: The request headers the endpoints read (besides the Cookie header), lowercased.
API_HEADERS = (
    "content-type",
    "content-length",
    "origin",
    "sec-fetch-site",
    "sec-fetch-mode",
    "host",
    "referer",
    "accept",
    "accept-language",
    "accept-encoding",
    "if-none-match",
    "user-agent",
    "idempotency-key",
)
#: Where a site says that it honours Global Privacy Control (the GPC specification, 3.3).
GPC_JSON = "/.well-known/gpc.json"
#: The endpoints that read or write proof of consent (a store call: off the event loop).
STORE_PATHS = frozenset({"", "/", "/receipt", "/preferences"})
#: The OpenAPI document of these endpoints, under `path_prefix`.
OPENAPI_JSON = "/openapi.json"


@dataclass(frozen=True)
class ApiRequest:
    method: str
    #: The path below `path_prefix` ("" for the prefix itself, "/preferences", ...).
    subpath: str
    query: str
    #: Request headers the endpoints look at, names lowercased.
    headers: Mapping[str, str]
    body: bytes
    request: RequestConsent
    #: The mount prefix of the app ("" or "/app"): every URL we emit starts with it.
    root: str = ""
    #: The body was longer than `max_body_size` (and was not read whole).
    too_large: bool = False
    #: The client's address as the server saw it (only ever stored truncated, if at all).
    client: str | None = None

    @property
    def method_kind(self) -> str:
        """How the choice was made, for its record: a form, a script in a browser (which
        always sends Sec-Fetch-Mode), or another client of the API."""
        if self.from_form or self.headers.get("content-type", "").startswith(_FORM):
            return "form"
        return "js" if self.headers.get("sec-fetch-mode") else "api"

    @property
    def choice_token(self) -> str | None:
        """The token that makes a retried request the same choice: the form's `?t=` (the
        banner renders a fresh one per page), or an `Idempotency-Key` header."""
        page = self.page_token
        if page is not None:
            return page
        key = self.idempotency_key
        return key if _TOKEN_RE.fullmatch(key) else None

    @property
    def idempotency_key(self) -> str:
        """The `Idempotency-Key` header's key ("" without one). The IETF draft
        (draft-ietf-httpapi-idempotency-key-header) sends it as a quoted string."""
        key = self.headers.get("idempotency-key", "").strip(" \t")
        if len(key) >= 2 and key[0] == key[-1] == '"':
            key = key[1:-1]
        return key

    @property
    def page_token(self) -> str | None:
        """The token of the page the choice came from (`?t=`, see `choice_tokens.py`)."""
        for part in self.query.split("&"):
            if part.startswith("t=") and _TOKEN_RE.fullmatch(part[2:]):
                return part[2:]
        return None

    @property
    def from_form(self) -> bool:
        """Whether an HTML form (not a script asking for JSON) sent it: errors then come
        as a page that a visitor can read, not as JSON."""
        ctype = self.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        return ctype in _FORM_TYPES and _JSON not in self.headers.get("accept", "").lower()


#: The reason phrases of the statuses the endpoints answer with.
_REASONS = {
    200: "OK",
    204: "No Content",
    303: "See Other",
    304: "Not Modified",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    503: "Service Unavailable",
}


@dataclass
class ApiResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def status_line(self) -> str:
        """The status as WSGI writes it: `303 See Other`."""
        return f"{self.status} {_REASONS.get(self.status, 'Unknown')}"


class ApiError(Exception):
    """A client error answered as JSON: `{"error": code, "detail": message}`, or, for a form
    that a visitor sent, as a page saying what happened (`page`: the text key)."""

    def __init__(self, status: int, code: str, detail: str, page: str = "error_invalid") -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.page = page


def _check_idempotency_key(req: ApiRequest) -> None:
    """A key that cannot count is refused, not ignored: its client would take a retry for
    the same choice, and the store would keep it twice."""
    key = req.idempotency_key
    if key and not _TOKEN_RE.fullmatch(key):
        raise ApiError(
            400,
            "bad_idempotency_key",
            f"Idempotency-Key {key[:80]!r} is not 8 to 64 characters of A-Z a-z 0-9 _ -",
        )


class ConsentAPI:
    """Answers every request under `path_prefix`."""

    def __init__(
        self,
        policy: ConsentPolicy,
        renderer: BannerRenderer,
        recorder: ConsentRecorder | None = None,
    ) -> None:
        self.policy = policy
        self.config = policy.config
        self.renderer = renderer
        #: Where proof of consent goes; None when the site keeps no records.
        self.recorder = recorder
        self.assets: dict[str, StaticAsset] = load_assets()
        self._outage = False
        #: Whether a Secure consent cookie sent to a plain-http page was logged (once).
        self._lost_on_http_logged = False
        #: This site's OpenAPI document by mount prefix (a proxy may send a few).
        self._openapi_bodies: dict[str, bytes] = {}

    def handle(self, req: ApiRequest) -> ApiResponse:
        try:
            return self._route(req)
        except ApiError as exc:
            if req.from_form and req.method.upper() == "POST":
                return self._error_page(req, exc)
            return error_response(exc.status, exc.code, exc.detail)

    def _error_page(self, req: ApiRequest, exc: ApiError) -> ApiResponse:
        """A refused form post: a page in the visitor's language, with a way back."""
        language = choose_language(self.config, req.headers.get("accept-language"))
        back = self._referer_path(req)
        page = self.renderer.message_page(
            language, "error_title", exc.page, back=back, root=req.root
        ).encode()
        headers = [
            ("content-type", "text/html; charset=utf-8"),
            ("cache-control", "no-store"),
            ("content-language", language),
            ("x-frame-options", "DENY"),
            ("content-security-policy", _PAGE_CSP),
            ("content-length", str(len(page))),
        ]
        return ApiResponse(exc.status, headers, page)

    def _route(self, req: ApiRequest) -> ApiResponse:
        method = req.method.upper()
        sub = req.subpath
        if sub in ("", "/"):
            if method in ("GET", "HEAD"):
                return self._expiring(req, self._state(req, req.request.consent, method))
            if method == "POST":
                return self._choose(req)
            if method == "DELETE":
                self._same_origin(req)
                _check_idempotency_key(req)
                return self._decide(req, "withdraw", (), gpc=False, form=False, return_to="/")
            return _method_not_allowed("GET, HEAD, POST, DELETE")
        if sub == GPC_JSON:
            if method not in ("GET", "HEAD"):
                return _method_not_allowed("GET, HEAD")
            return self._gpc_json(method)
        if sub == OPENAPI_JSON:
            if method not in ("GET", "HEAD"):
                return _method_not_allowed("GET, HEAD")
            return self._openapi(req, method)
        if sub == "/receipt":
            if method not in ("GET", "HEAD"):
                return _method_not_allowed("GET, HEAD")
            return self._receipt(req, method)
        if sub == "/preferences":
            if method not in ("GET", "HEAD"):
                return _method_not_allowed("GET, HEAD")
            return self._expiring(req, self._preferences(req, method))
        asset = self.assets.get(sub[1:])
        if asset is not None:
            if method not in ("GET", "HEAD"):
                return _method_not_allowed("GET, HEAD")
            return self._asset(req, asset, method)
        raise ApiError(404, "not_found", f"no consent endpoint at {sub[:80]!r}")

    def _expiring(self, req: ApiRequest, response: ApiResponse) -> ApiResponse:
        """The answer, with the refused cookies that the request carries expired on it, as
        on every response of the app: a page that asks for the state after a choice made
        elsewhere (or while a page's answer for an earlier choice was on its way) gets the
        cookies it holds against that choice removed."""
        expired = self.policy.expirations(req.request)
        response.headers.extend(("set-cookie", value) for value in expired)
        return response

    # -- state and choices -------------------------------------------------------------

    def _state(self, req: ApiRequest, consent: Consent, method: str) -> ApiResponse:
        body = json.dumps(consent.to_state()).encode()
        headers = [
            ("content-type", _JSON),
            ("cache-control", "no-store"),
            ("vary", "Cookie"),
            ("content-length", str(len(body))),
        ]
        return ApiResponse(200, headers, b"" if method == "HEAD" else body)

    def _same_origin(self, req: ApiRequest) -> None:
        try:
            check_same_origin(req.headers, self.config)
        except CrossSiteError as exc:
            raise ApiError(403, "cross_site", str(exc), page="error_cross_site") from exc

    def _choose(self, req: ApiRequest) -> ApiResponse:
        self._same_origin(req)
        self._check_size(req)
        _check_idempotency_key(req)
        ctype = req.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if ctype == _JSON:
            action, categories, gpc = self._parse_json(req.body)
            if action == "dismiss_notice":
                return self._dismiss_notice(req, form=False, return_to="/")
            return self._decide(req, action, categories, gpc=gpc, form=False, return_to="/")
        if ctype == _FORM:
            action, categories, return_to = self._parse_form(req.body)
            if return_to is None:
                return_to = self._referer_path(req)
            if action == "dismiss_notice":
                return self._dismiss_notice(req, form=True, return_to=return_to)
            if action == "customize":
                # The banner's Customize button without JavaScript: the full choice page.
                query = urlencode({"return_to": safe_return_to(return_to)})
                return _redirect(f"{req.root}{self.config.path_prefix}/preferences?{query}")
            return self._decide(req, action, categories, gpc=False, form=True, return_to=return_to)
        raise ApiError(
            415,
            "unsupported_media_type",
            f"content type {ctype or '(none)'!r} is not accepted: send {_JSON} or {_FORM}",
        )

    def _decide(
        self,
        req: ApiRequest,
        action: str,
        categories: tuple[str, ...],
        *,
        gpc: bool,
        form: bool,
        return_to: str,
    ) -> ApiResponse:
        config = self.config
        current = req.request.consent
        gpc = gpc and config.honor_gpc or current.gpc
        if action == "accept_all":
            granted: tuple[str, ...] = config.optional_categories
            if gpc:
                granted = tuple(c for c in granted if c not in config.gpc_categories)
        elif action == "save":
            granted = categories
        else:
            granted = ()
        prior = current.decided_ts or 0
        consent = self.policy.codec.decide(
            granted,
            consent_id=current.consent_id or self._new_consent_id(req),
            explicit=action == "save",
            gpc=gpc,
            # Each choice of a visitor decided later than the one before, within a second
            # too: so that no two of their choices have the same prior state (`_record`).
            now=max(time.time(), prior + 1) if prior else None,
        )
        if self.recorder is not None:
            self._record(req, consent, action, prior)
        https = req.request.https
        cookie_header = req.request.cookie_header
        cookies = [
            self.policy.consent_cookie(consent, https),
            *self.policy.consent_cookie_elsewhere(https),
        ]
        # The new consent cookie replaces a stale one: no deletion of it here.
        refused = self.policy.refused_carried(cookie_header, consent)[:MAX_EXPIRED_PER_RESPONSE]
        expired = self.policy.expirations(
            RequestConsent(consent, cookie_header, False, https, refused)
        )
        if self.policy.consent_cookie_secure(https):
            self._log_lost_on_http(req.headers.get("origin"))
        carried = [name for name, _ in parse_cookie_header(cookie_header)]
        # One budget for both: the carried ones' deletions first.
        cookies += expired
        cookies += self.policy.deletions_elsewhere(consent, carried, https, spent=expired)
        if form:
            response = _redirect(safe_return_to(return_to))
        else:
            response = self._state(req, consent, "POST")
        response.headers.extend(("set-cookie", value) for value in cookies)
        return response

    def _log_lost_on_http(self, origin: str | None) -> None:
        """A Secure consent cookie answering a page the browser shows over plain http, on a
        host that is not loopback: browsers do not store it, so every choice is lost and
        the banner comes back on each page, with nothing to say why. `Origin` is the
        browser's own view of the page (a TLS proxy's forwarded scheme does not change it)."""
        if self._lost_on_http_logged or not origin:
            return
        try:
            parts = urlsplit(origin.strip())
            host = (parts.hostname or "").lower()
        except ValueError:
            return
        if parts.scheme != "http" or not host or _is_loopback(host):
            return
        self._lost_on_http_logged = True
        config = self.config
        name = config.cookie_name
        prefix = cookie_prefix(name)
        if prefix:
            why = f"its {prefix} name"
        elif config.secure is True:
            why = "secure=True"
        elif config.same_site == "none":
            why = "same_site='none'"
        else:  # the server was told https (a forwarded scheme) for a page on plain http
            why = "the request reached the app as https"
        logger.warning(
            "consent-middleware: the consent cookie %r is Secure (%s) and a choice came from"
            " a plain-http page of %s: browsers store no Secure cookie from such a page, so"
            " the choice is lost and the banner comes back on every page. Serve the site"
            " over https (or on localhost), or give plain-http development another"
            " cookie_name and secure=None. Logged once.",
            name,
            why,
            origin.strip()[:80],
        )

    def _gpc_json(self, method: str) -> ApiResponse:
        """`{"gpc": true, "lastUpdate": "YYYY-MM-DD"}`: the site honours the signal."""
        data: dict[str, Any] = {"gpc": True}
        updated = self.config.policy_updated or _iso_date(self.config.policy_version)
        if updated:
            data["lastUpdate"] = updated
        body = json.dumps(data).encode()
        headers = [
            ("content-type", _JSON),
            ("cache-control", "public, max-age=86400"),
            ("access-control-allow-origin", "*"),
            ("content-length", str(len(body))),
        ]
        return ApiResponse(200, headers, b"" if method == "HEAD" else body)

    def _openapi(self, req: ApiRequest, method: str) -> ApiResponse:
        """The OpenAPI document, true for this site: its prefixes, cookie and categories."""
        body = self._openapi_bodies.get(req.root)
        if body is None:
            body = json.dumps(site_document(self.config, req.root)).encode()
            if len(self._openapi_bodies) < 16:
                self._openapi_bodies[req.root] = body
        headers = [
            ("content-type", _JSON),
            ("cache-control", "public, max-age=300"),
            # Swagger UI or an editor on another origin may load it: it holds no visitor's data.
            ("access-control-allow-origin", "*"),
            ("x-content-type-options", "nosniff"),
            ("content-length", str(len(body))),
        ]
        return ApiResponse(200, headers, b"" if method == "HEAD" else body)

    def _dismiss_notice(self, req: ApiRequest, *, form: bool, return_to: str) -> ApiResponse:
        """The visitor saw the policy-update notice: the same choice, remembered as seen.
        Nothing was consented to, so nothing is recorded."""
        # The choice as the cookie holds it, before Global Privacy Control is applied to it.
        current, _ = self.policy.consent_of(req.request.cookie_header)
        if not current.decided:
            raise ApiError(400, "undecided", "there is no choice to keep: choose first")
        seen = replace(current, notice_seen_ts=int(time.time()))
        https = req.request.https
        state = req.request.consent if form else replace(req.request.consent, notice_seen_ts=0)
        response = _redirect(safe_return_to(return_to)) if form else self._state(req, state, "POST")
        response.headers.append(("set-cookie", self.policy.consent_cookie(seen, https)))
        response.headers.extend(
            ("set-cookie", value) for value in self.policy.consent_cookie_elsewhere(https)
        )
        return response

    def _new_consent_id(self, req: ApiRequest) -> str | None:
        """A first choice's consent id: derived from the choice token when there is one, so
        that a retried request is the same choice (the store keeps its record once)."""
        token = req.choice_token
        if token is None or (token == req.page_token and not is_fresh(token)):
            # A page token from an old page (read in a log, or served by a cache to many
            # visitors) names no one visitor any more: a new consent id.
            return None
        # Not keyed by the secret: a retry that reaches a server with rotated keys must get
        # the same id. The token is a random value of the visitor's own page.
        return hashlib.sha256(b"consent_middleware.consent_id\x00" + token.encode()).hexdigest()[
            :32
        ]

    def _record(self, req: ApiRequest, consent: Consent, action: str, prior: int) -> None:
        """No consent without its proof: when the store cannot write, the choice fails.
        `prior`: when the choice this one replaces was made (0: none)."""
        assert self.recorder is not None
        language = choose_language(self.config, req.headers.get("accept-language"))
        token = req.choice_token
        try:
            self.recorder.record(
                consent,
                action=action,  # type: ignore[arg-type]
                method=req.method_kind,  # type: ignore[arg-type]
                language=language,
                user_agent=req.headers.get("user-agent"),
                client_ip=req.client,
                # A retry carries the same cookie as the request it repeats; a page that
                # sends accept, reject, accept sends the third from another prior state,
                # so it is a record of its own (the proof follows the cookie).
                choice_token=(
                    None if token is None else f"{token}:{action}:{consent.granted}:{prior:x}"
                ),
            )
        except RecordStoreError as exc:
            if not self._outage:
                self._outage = True
                logger.error(
                    "consent-middleware cannot write proof of consent (%s): choices get 503"
                    " and no consent cookie until the store is back",
                    exc,
                )
            raise ApiError(
                503,
                "records_unavailable",
                "the choice could not be recorded, so it was not saved: try again later",
                page="error_unavailable",
            ) from exc
        if self._outage:
            self._outage = False
            logger.warning("consent-middleware: the record store writes again")

    def _receipt(self, req: ApiRequest, method: str) -> ApiResponse:
        """The visitor's own records (GDPR art. 15): for the consent id of their cookie."""
        if self.recorder is None:
            raise ApiError(404, "no_records", "this site keeps no consent records")
        consent_id = req.request.consent.consent_id
        if consent_id is None:
            data: dict[str, Any] = {"consent_id": None, "records": []}
        else:
            try:
                data = self.recorder.receipt(consent_id)
            except RecordStoreError as exc:
                raise ApiError(
                    503, "records_unavailable", "the records cannot be read now: try later"
                ) from exc
        body = json.dumps(data, indent=2).encode()
        headers = [
            ("content-type", _JSON),
            ("cache-control", "no-store"),
            ("vary", "Cookie"),
            ("x-content-type-options", "nosniff"),
        ]
        if "download=1" in req.query.split("&") and consent_id is not None:
            name = f"consent-{consent_id}.json"
            headers.append(("content-disposition", f'attachment; filename="{name}"'))
        headers.append(("content-length", str(len(body))))
        return ApiResponse(200, headers, b"" if method == "HEAD" else body)

    def _history(self, consent: Consent) -> list[dict[str, Any]] | None:
        """The visitor's records for the preferences page; None when there are none to
        show (no store, no consent id, or the store cannot be read just now)."""
        if self.recorder is None or consent.consent_id is None:
            return None
        try:
            return list(self.recorder.receipt(consent.consent_id)["records"])
        except RecordStoreError:
            logger.warning("consent-middleware could not read the records for a receipt")
            return None

    def _parse_json(self, body: bytes) -> tuple[str, tuple[str, ...], bool]:
        try:
            data = json.loads(body.decode("utf-8"), object_pairs_hook=_unique_keys)
        except _DuplicateKey as exc:
            raise ApiError(400, "malformed_choice", f"the body names {exc} twice") from exc
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ApiError(400, "malformed_choice", "the body must be a JSON object")
        action = data.get("action")
        raw_categories = data.get("categories", [])
        if not isinstance(raw_categories, list) or not all(
            isinstance(c, str) for c in raw_categories
        ):
            raise ApiError(400, "malformed_choice", "'categories' must be a list of names")
        gpc = data.get("gpc", False)
        if not isinstance(gpc, bool):
            raise ApiError(400, "malformed_choice", "'gpc' must be true or false")
        if action == "dismiss_notice":  # keeps the choice, but is read like any other
            return action, self._check_categories(raw_categories), False
        return (
            self._check_choice(action, raw_categories),
            self._check_categories(raw_categories),
            gpc,
        )

    def _parse_form(self, body: bytes) -> tuple[str, tuple[str, ...], str | None]:
        try:
            text = body.decode("utf-8")
            fields = parse_qsl(
                text, keep_blank_values=True, strict_parsing=False, max_num_fields=_MAX_FORM_FIELDS
            )
        except (UnicodeDecodeError, ValueError) as exc:
            raise ApiError(400, "malformed_form", f"the form body cannot be read: {exc}") from exc
        actions = [value for key, value in fields if key == "action"]
        if len(actions) > 1:
            raise ApiError(400, "malformed_choice", "the form sends more than one 'action'")
        categories = [value for key, value in fields if key == "category"]
        return_to = next((value for key, value in fields if key == "return_to"), None)
        if actions in (["customize"], ["dismiss_notice"]):
            return actions[0], (), return_to
        action = self._check_choice(actions[0] if actions else None, categories)
        return action, self._check_categories(categories), return_to

    def _check_choice(self, action: Any, categories: list[str]) -> str:
        if action is None:
            raise ApiError(400, "missing_action", "the choice has no 'action'")
        if not isinstance(action, str) or action not in _CHOICE_ACTIONS:
            shown = action if isinstance(action, (str, int, float, bool)) else type(action).__name__
            raise ApiError(
                400,
                "unknown_action",
                f"unknown action {str(shown)[:40]!r}: use {', '.join(_CHOICE_ACTIONS)}",
            )
        return action

    def _check_categories(self, categories: list[str]) -> tuple[str, ...]:
        known = self.config.category_names
        for name in categories:
            if name not in known:
                raise ApiError(
                    400,
                    "unknown_category",
                    f"unknown category {name[:40]!r}: known are {', '.join(known)}",
                )
        return tuple(dict.fromkeys(categories))

    def _check_size(self, req: ApiRequest) -> None:
        limit = self.config.max_body_size
        length = req.headers.get("content-length")
        too_long = req.too_large or len(req.body) > limit
        if length is not None and not too_long:
            if not _LENGTH_RE.fullmatch(length.strip()):
                raise ApiError(400, "bad_length", "Content-Length is not a number")
            too_long = int(length) > limit
        if too_long:
            raise ApiError(413, "body_too_large", f"the body is larger than {limit} bytes")

    # -- cross-site protection ---------------------------------------------------------

    def _referer_path(self, req: ApiRequest) -> str:
        """The page the visitor came from, if it is on this site; else the site's root."""
        home = req.root + "/" if req.root else "/"
        referer = req.headers.get("referer")
        if not referer:
            return home
        try:
            parts = urlsplit(referer)
        except ValueError:
            return home
        if parts.netloc and parts.netloc.lower() != req.headers.get("host", "").lower():
            return home
        path = parts.path or "/"
        return path + ("?" + parts.query if parts.query else "")

    # -- pages and files ---------------------------------------------------------------

    def _preferences(self, req: ApiRequest, method: str) -> ApiResponse:
        try:
            query = dict(parse_qsl(req.query, max_num_fields=_MAX_FORM_FIELDS))
        except ValueError as exc:
            raise ApiError(
                400, "malformed_query", f"the query has more than {_MAX_FORM_FIELDS} fields"
            ) from exc
        language = choose_language(self.config, req.headers.get("accept-language"))
        home = req.root + "/" if req.root else "/"
        consent = req.request.consent
        history = self._history(consent)
        page = self.renderer.preferences_page(
            consent,
            language,
            return_to=safe_return_to(query.get("return_to"), home),
            root=req.root,
            extra={"history": history, "keeps_records": self.recorder is not None},
        )
        body = page.encode()
        headers = [
            ("content-type", "text/html; charset=utf-8"),
            ("cache-control", "no-store"),
            ("vary", "Cookie, Accept-Language"),
            ("content-language", language),
            ("x-frame-options", "DENY"),
            ("content-security-policy", _PAGE_CSP),
            ("content-length", str(len(body))),
        ]
        return ApiResponse(200, headers, b"" if method == "HEAD" else body)

    def _asset(self, req: ApiRequest, asset: StaticAsset, method: str) -> ApiResponse:
        versioned = f"v={asset.version}" in req.query.split("&")
        cache = "public, max-age=31536000, immutable" if versioned else "public, max-age=300"
        headers = [
            ("content-type", asset.content_type),
            ("cache-control", cache),
            ("etag", asset.etag),
            ("vary", "Accept-Encoding"),
            ("x-content-type-options", "nosniff"),
        ]
        match = req.headers.get("if-none-match", "")
        tags = {tag.strip().removeprefix("W/") for tag in match.split(",")}
        if asset.etag in tags or "*" in tags:
            return ApiResponse(304, headers)
        body = asset.body
        if _accepts_gzip(req.headers.get("accept-encoding", "")):
            body = asset.gzip_body
            headers.append(("content-encoding", "gzip"))
        headers.append(("content-length", str(len(body))))
        return ApiResponse(200, headers, b"" if method == "HEAD" else body)


_PAGE_CSP = (
    f"default-src 'self'; script-src 'self'; style-src 'self' {PAGE_STYLE_SOURCE}; "
    "frame-ancestors 'none'; form-action 'self'"
)


def _iso_date(value: str) -> str | None:
    return value if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else None


def error_response(status: int, code: str, detail: str) -> ApiResponse:
    body = json.dumps({"error": code, "detail": detail}).encode()
    headers = [
        ("content-type", _JSON),
        ("cache-control", "no-store"),
        ("content-length", str(len(body))),
    ]
    return ApiResponse(status, headers, body)


def _redirect(location: str) -> ApiResponse:
    """303 See Other: after a form post, the browser GETs `location` (always same-site)."""
    headers = [("location", location), ("cache-control", "no-store"), ("content-length", "0")]
    return ApiResponse(303, headers)


def _method_not_allowed(allow: str) -> ApiResponse:
    response = error_response(405, "method_not_allowed", f"use {allow}")
    response.headers.append(("allow", allow))
    return response


def _accepts_gzip(accept_encoding: str) -> bool:
    for part in accept_encoding.lower().split(","):
        coding, _, params = part.partition(";")
        if coding.strip() in ("gzip", "*"):
            q = params.strip()
            return not (q.startswith("q=") and q[2:].strip() in ("0", "0.0", "0.00", "0.000"))
    return False


class _DuplicateKey(Exception):
    """A JSON object naming a key twice: which one counts differs between parsers."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise _DuplicateKey(repr(key[:40]))
        data[key] = value
    return data


def _is_loopback(host: str) -> bool:
    """localhost, `*.localhost`, 127.0.0.0/8 or ::1: where browsers store Secure cookies
    from plain http too."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
