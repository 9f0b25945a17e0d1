"""The checking load: client processes with threads, each thread a run of simulated visitors
(a cookie jar each) whose every response is checked against the consent its request carried.

A visitor knows what it carries because it made it: its own choices, or a cookie signed for
it (valid with the old key, expired, forged four ways, or a second consent cookie tossed in
from a sibling subdomain). Each response is checked for:

- leaks: a Set-Cookie (not a deletion) of a category the carried consent does not grant;
- server errors: any status >= 500 (and any status other than the expected one);
- honour: the analytics and marketing cookies that the site sets on every page are there
  when they are granted (a consent that the site failed to verify would strip them), and
  the theme cookie is set exactly when settings are granted;
- expiry: every carried cookie of a refused category is expired by the response;
- choices: the JSON state (or the form's redirect) and the new consent cookie match the
  choice, the visitor's consent id is kept, a retried choice answers with the same id, and
  a choice sent after the key rotation is signed by the new key.

Every choice answered 200/303 is noted with its consent id, action and grants, so that the
store can be compared with what the clients were told, record for record.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import multiprocessing
import random
import socket
import threading
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from .model import (
    CONSENT_COOKIE,
    FORGERIES,
    OPTIONAL,
    PAGE_COOKIES,
    Jar,
    Signer,
    category_of,
    cookies_deleted,
    cookies_set,
    granted_of,
    leaks,
    state_categories,
)

PAGES = ("/", "/contacts", "/deals", "/privacy", "/settings", "/login")
RETRYABLE = (
    ConnectionError,
    http.client.RemoteDisconnected,
    http.client.BadStatusLine,
    http.client.IncompleteRead,
    socket.timeout,
)
MAX_ATTEMPTS = 8
MAX_FAILURES_KEPT = 40

#: One choice as the store must hold it: (consent_id, action, granted optional categories).
ChoiceKey = tuple[str, str, frozenset[str]]


@dataclass
class Choice:
    key: ChoiceKey
    #: The generation of the server (1 before the key rotation) when the choice was sent.
    generation: int
    retried: bool = False
    #: A retry that was answered with another consent id, across a key rotation.
    split_by_rotation: bool = False


@dataclass
class Results:
    """What one client process saw; summed over processes by `merge`."""

    requests: Counter[str] = field(default_factory=Counter)
    checks: Counter[str] = field(default_factory=Counter)
    leaks: int = 0
    server_errors: int = 0
    wrong: int = 0
    reconnects: int = 0
    gave_up: int = 0
    journeys: int = 0
    skipped_journeys: int = 0
    choices: list[Choice] = field(default_factory=list)
    #: Requests sent again after their connection closed: what, when, why.
    resent: list[str] = field(default_factory=list)
    #: Records that a first choice sent again across the key rotation may have left under
    #: the old key's id (known bug rotation-retry): not expected, not counted as extra.
    strays: list[ChoiceKey] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    crashed: list[str] = field(default_factory=list)

    def fail(self, kind: str, detail: str) -> None:
        self.checks[f"failed: {kind}"] += 1
        if len(self.failures) < MAX_FAILURES_KEPT:
            self.failures.append(f"{kind}: {detail}")

    def merge(self, other: Results) -> None:
        self.requests.update(other.requests)
        self.checks.update(other.checks)
        self.leaks += other.leaks
        self.server_errors += other.server_errors
        self.wrong += other.wrong
        self.reconnects += other.reconnects
        self.gave_up += other.gave_up
        self.journeys += other.journeys
        self.skipped_journeys += other.skipped_journeys
        self.choices.extend(other.choices)
        self.resent.extend(other.resent)
        self.strays.extend(other.strays)
        self.failures.extend(other.failures[: MAX_FAILURES_KEPT - len(self.failures)])
        self.crashed.extend(other.crashed)

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def expected_records(self) -> Counter[ChoiceKey]:
        return Counter(choice.key for choice in self.choices)


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    #: The server generation when the request was sent (1: before the key rotation). The
    #: parent moves to 2 once the old server has exited and before the new one starts, so
    #: a request sent in generation 2 is answered by the new server, and an answer received
    #: in generation 1 came from the old one; anything else may have come from either.
    generation: int
    received_in: int
    #: The generations in which earlier attempts of this request lost their connection.
    lost_in: tuple[int, ...] = ()

    def same_server_generation(self, other: Reply) -> bool:
        """Whether both answers certainly came from servers with the same keys."""
        both_old = self.received_in == 1 and other.received_in == 1
        return both_old or (self.generation >= 2 and other.generation >= 2)

    @property
    def set_cookies(self) -> list[str]:
        return self.headers.get_all("Set-Cookie") or []

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """One keep-alive connection; requests are sent again on a fresh connection when the
    server closed it (a restart, a killed worker): every request of the load is safe to
    repeat (pages are GETs, choices carry their idempotency key)."""

    def __init__(self, port: int, results: Results, lock: threading.Lock, generation: Any):
        self.port = port
        self.results = results
        self.lock = lock
        self.generation = generation
        self.conn: http.client.HTTPConnection | None = None

    def send(
        self,
        kind: str,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes | None = None,
    ) -> Reply | None:
        headers = {"User-Agent": "bench.load", "Accept-Language": "en", **headers}
        lost: list[int] = []
        for attempt in range(MAX_ATTEMPTS):
            generation = int(self.generation.value)
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                if response.will_close:
                    self.close()
            except RETRYABLE as exc:
                lost.append(generation)
                self.close()
                with self.lock:
                    self.results.reconnects += 1
                    self.results.checks[f"cut and sent again: {kind}"] += 1
                    self.results.resent.append(
                        f"{kind} {method} {path} {headers.get('Idempotency-Key', '')}"
                        f" attempt {attempt} in generation {generation}: {exc!r}"
                    )
                time.sleep(min(0.05 * 2**attempt, 2.0))
                continue
            with self.lock:
                self.results.requests[kind] += 1
                if response.status >= 500:
                    self.results.server_errors += 1
                    self.results.fail(
                        "server error", f"{method} {path} -> {response.status} {data[:120]!r}"
                    )
            received_in = int(self.generation.value)
            return Reply(response.status, response.msg, data, generation, received_in, tuple(lost))
        with self.lock:
            self.results.gave_up += 1
            self.results.fail("no answer", f"{method} {path} after {MAX_ATTEMPTS} attempts")
        return None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Visitor:
    """One browser: a jar, what its consent cookie means, and the checks of its requests."""

    def __init__(self, client: Client, rng: random.Random) -> None:
        self.client = client
        self.rng = rng
        self.jar = Jar()
        #: The optional categories its own consent cookie grants (None: no valid one).
        self.granted: frozenset[str] | None = None
        #: The consent id the site knows it by (a valid or an expired authentic cookie).
        self.consent_id: str | None = None
        #: A second, valid consent cookie sent along (from a sibling subdomain), and what
        #: it grants: the least permissive of the two counts.
        self.tossed: tuple[str, frozenset[str]] | None = None
        #: It carries a forged consent cookie, which the next response must expire.
        self.forged = False
        #: Its consent cookie is signed by the old key (made before the rotation).
        self.old_key = False

    # -- what the request carries --------------------------------------------------------

    @property
    def allowed(self) -> frozenset[str]:
        granted = self.granted or frozenset()
        if self.tossed is not None:
            granted &= self.tossed[1]
        return granted

    @property
    def undecided(self) -> bool:
        return self.granted is None

    def cookie_header(self) -> str:
        extra = [] if self.tossed is None else [(CONSENT_COOKIE, self.tossed[0])]
        return self.jar.header(extra)

    def carried_refused(self, allowed: frozenset[str]) -> set[str]:
        names = set(self.jar.cookies)
        return {
            n
            for n in names
            if (c := category_of(n)) not in (None, "authentication") and c not in allowed
        }

    # -- requests ------------------------------------------------------------------------

    def page(self, path: str) -> None:
        allowed, carried = self.allowed, self.carried_refused(self.allowed)
        headers = {"Cookie": self.cookie_header()} if self.jar.cookies or self.tossed else {}
        kind = "page (undecided)" if self.undecided else "page (decided)"
        reply = self.client.send(kind, path, headers)
        if reply is None:
            return
        where = f"GET {path}"
        self.expect_status(reply, 200, where)
        self.check_response(reply, allowed, carried, where)
        sets = cookies_set(reply.set_cookies)
        # The site sets these on every page: missing means the consent was not honoured.
        stripped = [n for c, n in PAGE_COOKIES.items() if c in allowed and n not in sets]
        if stripped:
            self.client.fail("not honoured", f"{where}: {stripped} stripped, {allowed=}")
        elif self.old_key and reply.generation >= 2 and allowed & set(PAGE_COOKIES):
            self.client.count("old-key cookies honoured after the rotation")
        if self.undecided and b'id="consent-banner"' not in reply.body:
            self.client.fail("banner", f"{where}: an undecided visitor's page has no banner")
        if self.forged:
            if CONSENT_COOKIE not in cookies_deleted(reply.set_cookies):
                self.client.fail("stale cookie", f"{where}: the forged consent cookie stays")
            self.forged = False
        self.jar.apply(reply.set_cookies)
        if CONSENT_COOKIE not in self.jar.cookies:
            self.granted, self.old_key = None, False

    def settings(self, theme: str) -> None:
        sent = self._site_form("settings", "/settings", {"theme": theme})
        if sent is None:
            return
        reply, allowed = sent
        has_theme = "theme" in cookies_set(reply.set_cookies)
        if has_theme != ("settings" in allowed):
            self.client.fail("not honoured", f"POST /settings: theme set={has_theme}, {allowed=}")
        self.jar.apply(reply.set_cookies)

    def login(self) -> None:
        sent = self._site_form("sign-in", "/login", {"username": "olena", "password": "secret"})
        if sent is None:
            return
        reply, _ = sent
        if "session" not in cookies_set(reply.set_cookies):
            self.client.fail("not honoured", "POST /login: no session cookie (always allowed)")
        self.jar.apply(reply.set_cookies)

    def _site_form(
        self, kind: str, path: str, fields: dict[str, str]
    ) -> tuple[Reply, frozenset[str]] | None:
        """Posts one of the site's own forms with the visitor's cookies; the reply (judged
        as any response is, and expected to redirect) and what the visitor allowed, or None
        when no reply came."""
        allowed, carried = self.allowed, self.carried_refused(self.allowed)
        reply = self.client.send(
            kind,
            path,
            {"Cookie": self.cookie_header(), "Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
            body=urlencode(fields).encode(),
        )
        if reply is None:
            return None
        self.expect_status(reply, 303, f"POST {path}")
        self.check_response(reply, allowed, carried, f"POST {path}")
        return reply, allowed

    def choose(self, action: str, categories: Sequence[str] = (), *, form: bool = False) -> None:
        """A choice through the JSON API or the banner's form, sometimes sent twice."""
        # A page token as the banner renders it (when, then random): a retry of a first
        # choice derives the same consent id only from a fresh one (`choice_tokens.py`).
        token = f"{int(time.time()) & 0xFFFFFFFF:08x}{self.rng.getrandbits(64):016x}"
        if action == "accept_all":
            granted = frozenset(OPTIONAL)
        elif action == "save":
            granted = frozenset(categories)
        else:
            granted = frozenset()
        before = self.cookie_header()
        retry = self.rng.random() < 0.25
        first = self._send_choice(action, categories, token, before, form)
        if first is None:
            return
        reply, consent_id = first
        if consent_id is None:
            return
        choice = Choice((consent_id, action, granted), reply.generation)
        if retry:  # the same request again, as a browser whose answer was lost would send it
            again = self._send_choice(action, categories, token, before, form)
            if again is not None and again[1] is not None:
                choice.retried = True
                self.client.count("retried choices")
                if again[1] != consent_id:
                    if not again[0].same_server_generation(reply):
                        # Known: the first choice's id is derived from the signing key.
                        choice.split_by_rotation = True
                        self.client.count("retries split by the key rotation (known bug)")
                        self.client.record(Choice((again[1], action, granted), again[0].generation))
                    else:
                        self.client.fail(
                            "retry",
                            f"{action}: answered {consent_id} then {again[1]}"
                            f" (generation {reply.generation}, carrying {before!r})",
                        )
                reply, consent_id = again[0], again[1]
        self.client.record(choice)
        self.jar.apply(reply.set_cookies)
        self.granted, self.consent_id, self.old_key = granted, consent_id, False
        self.forged = False

    def _send_choice(
        self, action: str, categories: Sequence[str], token: str, cookie: str, form: bool
    ) -> tuple[Reply, str | None] | None:
        allowed = frozenset(OPTIONAL) if action == "accept_all" else frozenset()
        if action == "save":
            allowed = frozenset(categories)
        carried = self.carried_refused(allowed)
        headers = {"Cookie": cookie} if cookie else {}
        if action == "withdraw":
            headers |= {"Sec-Fetch-Site": "same-origin", "Idempotency-Key": token}
            reply = self.client.send("withdrawal", "/consent", headers, method="DELETE")
            expect, where = 200, "DELETE /consent"
        elif form:
            fields = [("action", action), *(("category", c) for c in categories)]
            fields.append(("return_to", "/deals"))
            headers |= {
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": f"http://127.0.0.1:{self.client.port}",
            }
            reply = self.client.send(
                "choice (form)",
                f"/consent?t={token}",
                headers,
                method="POST",
                body=urlencode(fields).encode(),
            )
            expect, where = 303, f"form {action}"
        else:
            data: dict[str, Any] = {"action": action}
            if action == "save":
                data["categories"] = list(categories)
            headers |= {
                "Content-Type": "application/json",
                "Sec-Fetch-Site": "same-origin",
                "Sec-Fetch-Mode": "cors",
                "Idempotency-Key": token,
            }
            reply = self.client.send(
                "choice (JSON)", "/consent", headers, method="POST", body=json.dumps(data).encode()
            )
            expect, where = 200, f"JSON {action}"
        if reply is None:
            return None
        if not self.expect_status(reply, expect, where):
            return reply, None
        self.check_response(reply, allowed, carried, where, choice=True)
        values = [
            v.split(";", 1)[0].split("=", 1)[1]
            for v in reply.set_cookies
            if v.split("=", 1)[0].strip() == CONSENT_COOKIE and CONSENT_COOKIE in cookies_set([v])
        ]
        if len(values) != 1:
            self.client.fail("choice", f"{where}: {len(values)} consent cookies set")
            return reply, None
        signer = self.client.signer
        consent = signer.decode(values[0])
        if not consent.decided or granted_of(dict(consent.categories)) != allowed:
            self.client.fail("choice", f"{where}: the new cookie says {consent.categories}")
        if reply.generation >= 2:
            if signer.signed_by_new_key(values[0]):
                self.client.count("choices signed by the new key after the rotation")
            else:
                self.client.fail("rotation", f"{where}: sent after the rotation, old key signed")
        consent_id = consent.consent_id
        if expect == 200:
            state = reply.json()
            if state.get("categories") != state_categories(allowed) or not state.get("decided"):
                self.client.fail("choice", f"{where}: state {state}")
            if state.get("consent_id") != consent_id:
                self.client.fail("choice", f"{where}: state id != cookie id")
        elif reply.headers.get("Location") != "/deals":
            self.client.fail("choice", f"{where}: redirected to {reply.headers.get('Location')}")
        if self.consent_id is not None and self.tossed is None and consent_id != self.consent_id:
            self.client.fail("choice", f"{where}: consent id {self.consent_id} became {consent_id}")
        return reply, consent_id

    # -- checks --------------------------------------------------------------------------

    def expect_status(self, reply: Reply, status: int, where: str) -> bool:
        if reply.status == status:
            return True
        if reply.status < 500:  # 5xx are counted where they are received
            shown = reply.body[:100]
            self.client.fail("status", f"{where}: {reply.status}, not {status}: {shown!r}")
            self.client.wrong()
        return False

    def check_response(
        self,
        reply: Reply,
        allowed: frozenset[str],
        carried_refused: set[str],
        where: str,
        *,
        choice: bool = False,
    ) -> None:
        found = leaks(reply.set_cookies, allowed, consent_cookie_may_be_set=choice)
        for leak in found:
            self.client.leak(f"{where}: {leak}")
        missing = carried_refused - cookies_deleted(reply.set_cookies)
        if missing:
            self.client.fail("expiry", f"{where}: carried {sorted(missing)} not expired")
        self.client.count("responses checked")


class Client:
    """One thread's connection, and the results it adds to."""

    def __init__(
        self,
        port: int,
        results: Results,
        lock: threading.Lock,
        generation: Any,
        signer: Signer,
    ) -> None:
        self.port = port
        self.results = results
        self.lock = lock
        self.signer = signer
        self.connection = Connection(port, results, lock, generation)

    def send(
        self,
        kind: str,
        path: str,
        headers: dict[str, str],
        *,
        method: str = "GET",
        body: bytes | None = None,
    ) -> Reply | None:
        return self.connection.send(kind, method, path, headers, body)

    def fail(self, kind: str, detail: str) -> None:
        with self.lock:
            self.results.fail(kind, detail)

    def leak(self, detail: str) -> None:
        with self.lock:
            self.results.leaks += 1
            self.results.fail("LEAK", detail)

    def wrong(self) -> None:
        with self.lock:
            self.results.wrong += 1

    def count(self, check: str) -> None:
        with self.lock:
            self.results.checks[check] += 1

    def record(self, choice: Choice) -> None:
        with self.lock:
            self.results.choices.append(choice)

    def stray(self, key: ChoiceKey) -> None:
        with self.lock:
            self.results.strays.append(key)


# -- journeys ---------------------------------------------------------------------------


def random_subset(rng: random.Random) -> list[str]:
    return [c for c in OPTIONAL if rng.random() < 0.5]


def random_choice(visitor: Visitor) -> None:
    rng = visitor.rng
    roll = rng.random()
    form = rng.random() < 0.3
    if roll < 0.4:
        visitor.choose("accept_all", form=form)
    elif roll < 0.7:
        visitor.choose("reject_all", form=form)
    else:
        visitor.choose("save", random_subset(rng), form=form)


def browse(visitor: Visitor, low: int, high: int) -> None:
    for _ in range(visitor.rng.randint(low, high)):
        visitor.page(visitor.rng.choice(PAGES))


def newcomer(visitor: Visitor) -> None:
    """First visits, a choice, page views; maybe a theme, a sign-in, a change, a withdrawal."""
    rng = visitor.rng
    visitor.page("/")
    if rng.random() < 0.5:
        visitor.page("/privacy")
    random_choice(visitor)
    browse(visitor, 1, 4)
    if rng.random() < 0.3:
        visitor.settings(rng.choice(("dark", "light")))
    if rng.random() < 0.2:
        visitor.login()
    if rng.random() < 0.25:
        random_choice(visitor)
        browse(visitor, 1, 2)
    if rng.random() < 0.2:
        visitor.choose("withdraw")
        visitor.page("/")


def returning(visitor: Visitor) -> None:
    """A visitor with a consent cookie signed by the old key, and the cookies it allowed."""
    rng = visitor.rng
    granted = random_subset(rng)
    value, consent_id = visitor.client.signer.signed(granted, age=rng.uniform(60, 86400 * 30))
    visitor.jar.cookies = {CONSENT_COOKIE: value, "_ga": "GA1.1.5.5", "_fbp": "fb.1.5.5"}
    if rng.random() < 0.5:
        visitor.jar.cookies["theme"] = "dark"
    visitor.granted, visitor.consent_id, visitor.old_key = frozenset(granted), consent_id, True
    browse(visitor, 2, 5)
    if rng.random() < 0.3:
        visitor.settings("light")
    if rng.random() < 0.3:
        random_choice(visitor)
        browse(visitor, 1, 2)
    if rng.random() < 0.15:
        visitor.choose("withdraw")
        visitor.page("/")


def forger(visitor: Visitor) -> None:
    """A forged consent cookie (and tracking cookies it claims to allow): undecided."""
    rng = visitor.rng
    value = visitor.client.signer.forged(rng.choice(FORGERIES))
    visitor.jar.cookies = {CONSENT_COOKIE: value, "_ga": "GA1.1.6.6", "_fbp": "fb.1.6.6"}
    visitor.forged = True
    browse(visitor, 2, 4)
    if rng.random() < 0.3:
        random_choice(visitor)
        browse(visitor, 1, 2)


def tosser(visitor: Visitor) -> None:
    """Its own consent cookie, and a second valid one tossed in: the least permissive wins."""
    rng = visitor.rng
    signer = visitor.client.signer
    own = random_subset(rng) if rng.random() < 0.5 else list(OPTIONAL)
    value, consent_id = signer.signed(own)
    tossed = random_subset(rng)
    tossed_value, _ = signer.signed(tossed)
    visitor.jar.cookies = {CONSENT_COOKIE: value, "_ga": "GA1.1.7.7", "_fbp": "fb.1.7.7"}
    visitor.granted, visitor.consent_id = frozenset(own), consent_id
    visitor.tossed = (tossed_value, frozenset(tossed))
    visitor.old_key = True
    browse(visitor, 2, 4)
    if rng.random() < 0.25:
        random_choice(visitor)
        browse(visitor, 1, 2)


def expired(visitor: Visitor) -> None:
    """An authentic consent cookie past its max age: undecided, but its id is kept."""
    rng = visitor.rng
    value, consent_id = visitor.client.signer.expired(list(OPTIONAL))
    visitor.jar.cookies = {CONSENT_COOKIE: value, "_ga": "GA1.1.8.8", "_fbp": "fb.1.8.8"}
    visitor.consent_id = consent_id
    browse(visitor, 1, 3)
    if rng.random() < 0.5:
        random_choice(visitor)
        browse(visitor, 1, 2)


def chooser(visitor: Visitor) -> None:
    """Little but choices: a first page, a choice, maybe another, maybe a withdrawal."""
    rng = visitor.rng
    visitor.page("/")
    random_choice(visitor)
    if rng.random() < 0.5:
        random_choice(visitor)
    if rng.random() < 0.3:
        visitor.choose("withdraw")


MIXES: dict[str, tuple[tuple[Any, float], ...]] = {
    # The mixed traffic of the load runs.
    "mixed": (
        (newcomer, 0.45),
        (returning, 0.25),
        (forger, 0.1),
        (tosser, 0.1),
        (expired, 0.1),
    ),
    # Choices in flight all the time, for the worker kills.
    "choices": ((chooser, 1.0),),
}


def pick_journey(rng: random.Random, mix: str) -> Any:
    journeys = MIXES[mix]
    roll, total = rng.random(), 0.0
    for journey, weight in journeys:
        total += weight
        if roll < total:
            return journey
    return journeys[0][0]


# -- processes --------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    port: int
    journeys: int
    processes: int
    threads: int
    seed: int
    deadline: float  # time.time() after which no journey starts
    mix: str = "mixed"


def _thread(
    plan: Plan,
    index: int,
    results: Results,
    lock: threading.Lock,
    generation: Any,
    done: Any,
    signer: Signer,
) -> None:
    rng = random.Random(plan.seed * 1_000_003 + index)
    client = Client(plan.port, results, lock, generation, signer)
    workers = plan.processes * plan.threads
    mine = range(index, plan.journeys, workers)
    try:
        for _ in mine:
            if time.time() > plan.deadline:
                with lock:
                    results.skipped_journeys += 1
                continue
            journey = pick_journey(rng, plan.mix)
            try:
                journey(Visitor(client, rng))
            except Exception:
                with lock:
                    results.crashed.append(traceback.format_exc()[-1500:])
            with lock:
                results.journeys += 1
                results.checks[f"journey: {journey.__name__}"] += 1
            with done.get_lock():
                done.value += 1
    finally:
        client.connection.close()


def client_process(plan: Plan, process: int, generation: Any, done: Any, out: Any) -> None:
    results = Results()
    lock = threading.Lock()
    signer = Signer()
    threads = [
        threading.Thread(
            target=_thread,
            args=(plan, process * plan.threads + t, results, lock, generation, done, signer),
        )
        for t in range(plan.threads)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put(results)


class Load:
    """The client processes of one run; the parent watches `done` to rotate the keys."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        context = multiprocessing.get_context("spawn")
        self.generation = context.Value("i", 1)
        self.done = context.Value("i", 0)
        self.queue = context.Queue()
        self.processes = [
            context.Process(
                target=client_process,
                args=(plan, p, self.generation, self.done, self.queue),
                daemon=True,
            )
            for p in range(plan.processes)
        ]

    def start(self) -> None:
        for process in self.processes:
            process.start()

    @property
    def journeys_done(self) -> int:
        return int(self.done.value)

    def set_generation(self, generation: int) -> None:
        self.generation.value = generation

    def finish(self, timeout: float) -> Results:
        results = Results()
        deadline = time.monotonic() + timeout
        for _ in self.processes:
            try:
                results.merge(self.queue.get(timeout=max(deadline - time.monotonic(), 1)))
            except Exception:
                results.crashed.append("a client process sent no results in time")
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                with contextlib.suppress(Exception):
                    process.kill()
        return results
