"""Proof of consent through the real endpoints, over both adapters and both backends: every
choice is recorded with the contract's fields, refusals like consents; a retried request is
recorded once; the visitor gets a receipt; no consent without its proof (503, no cookie)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from consent_middleware import ConsentMiddleware, ConsentWSGIMiddleware
from consent_middleware.choice_tokens import FRESH_FOR, is_fresh
from consent_middleware.records import RecordSigner, open_store

from ..conftest import SECRET, AppSpec, Site, make_config
from ..raw import http_scope, run_asgi, wsgi_environ

JSON = {
    "content-type": "application/json",
    "sec-fetch-mode": "cors",
    "sec-fetch-site": "same-origin",
}
FORM = {"content-type": "application/x-www-form-urlencoded"}
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@pytest.fixture(params=["asgi", "wsgi"])
def adapter(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def records_site(adapter: str, store_url: str) -> Iterator[Callable[..., Site]]:
    sites: list[Site] = []

    def build(**config: Any) -> Site:
        site = Site(adapter, AppSpec(), make_config(records=store_url, **config))
        sites.append(site)
        return site

    yield build
    for site in sites:
        site.client.close()


def choose(
    site: Site,
    body: dict[str, Any],
    *,
    cookie: str | None = None,
    query: str = "",
    headers: dict[str, str] | None = None,
) -> Any:
    return site.request(
        "POST",
        "/consent" + query,
        cookie=cookie,
        content=json.dumps(body).encode(),
        headers={**JSON, "user-agent": UA, **(headers or {})},
    )


def consent_of(response: Any) -> str:
    for value in response.headers.get_list("set-cookie"):
        if value.startswith("consent="):
            return str(value.split(";", 1)[0])
    raise AssertionError("no consent cookie")


def stored(store_url: str, consent_id: str) -> list[Any]:
    store = open_store(store_url)
    assert store is not None
    try:
        return store.records_for(consent_id)
    finally:
        store.close()


def test_every_choice_is_recorded(records_site: Callable[..., Site], store_url: str) -> None:
    site = records_site()
    first = choose(site, {"action": "accept_all"}, headers={"accept-language": "uk"})
    assert first.status_code == 200
    cookie = consent_of(first)
    consent_id = first.json()["consent_id"]
    second = site.request(
        "POST",
        "/consent",
        cookie=cookie,
        content=b"action=reject_all&return_to=/x",
        headers={**FORM, "user-agent": UA},
    )
    assert second.status_code == 303
    cookie = consent_of(second)
    third = site.request(
        "POST",
        "/consent",
        cookie=cookie,
        content=b'{"action": "save", "categories": ["analytics"]}',
        headers={"content-type": "application/json"},
    )
    cookie = consent_of(third)
    fourth = site.request("DELETE", "/consent", cookie=cookie, headers={"sec-fetch-mode": "cors"})
    assert fourth.status_code == 200
    records = stored(store_url, consent_id)
    assert [r.action for r in records] == ["accept_all", "reject_all", "save", "withdraw"]
    assert [r.method for r in records] == ["js", "form", "api", "js"]
    assert records[0].language == "uk" and records[1].language == "en"
    assert records[0].granted == ("authentication", "settings", "analytics", "marketing")
    assert records[1].granted == ("authentication",)
    assert records[1].refused == ("settings", "analytics", "marketing")
    assert records[2].granted == ("authentication", "analytics")
    assert records[3].refused == ("settings", "analytics", "marketing")
    assert all(r.consent_id == consent_id and r.policy_version == "2024-02-24" for r in records)
    assert records[0].user_agent == "Firefox 128 on Linux"
    assert all(r.ip is None for r in records)  # not unless the site asks for it
    signer = RecordSigner(SECRET)
    assert all(signer.check(r) == "ok" for r in records)


def test_what_the_visitor_was_shown_is_kept(
    records_site: Callable[..., Site], store_url: str
) -> None:
    site = records_site(texts={"en": {"title": "Cookies, honestly"}})
    response = choose(site, {"action": "reject_all"})
    record = stored(store_url, response.json()["consent_id"])[0]
    store = open_store(store_url)
    assert store is not None
    try:
        texts = store.texts(record.texts_hash)
    finally:
        store.close()
    assert texts is not None
    assert texts["title"] == "Cookies, honestly"
    assert texts["reject_all"] == "Reject all"
    assert texts["category.marketing.description"]


def test_the_choice_after_a_policy_change(adapter: str, store_url: str) -> None:
    old = Site(adapter, AppSpec(), make_config(records=store_url, policy_version="v1"))
    first = choose(old, {"action": "accept_all"})
    new = Site(adapter, AppSpec(), make_config(records=store_url, policy_version="v2"))
    state = new.get("/consent", cookie=consent_of(first)).json()
    assert state["decided"] is False
    again = choose(new, {"action": "reject_all"}, cookie=consent_of(first))
    records = stored(store_url, first.json()["consent_id"])
    assert [(r.action, r.policy_version) for r in records] == [
        ("accept_all", "v1"),
        ("reject_all", "v2"),
    ]
    assert again.json()["consent_id"] == first.json()["consent_id"]


def test_a_retried_request_is_recorded_once(
    records_site: Callable[..., Site], store_url: str
) -> None:
    site = records_site()
    page = site.get("/").text
    token = page.split('action="/consent?t=', 1)[1].split('"', 1)[0]
    answers = [
        site.request("POST", f"/consent?t={token}", content=b"action=reject_all", headers=FORM)
        for _ in range(3)
    ]
    ids = {site.get("/consent", cookie=consent_of(a)).json()["consent_id"] for a in answers}
    assert len(ids) == 1  # the same first choice, the same consent id
    assert len(stored(store_url, ids.pop())) == 1
    # A different choice from the same page is a record of its own.
    other = site.request("POST", f"/consent?t={token}", content=b"action=accept_all", headers=FORM)
    consent_id = site.get("/consent", cookie=consent_of(other)).json()["consent_id"]
    assert [r.action for r in stored(store_url, consent_id)] == ["reject_all", "accept_all"]
    # An Idempotency-Key header does the same for API clients.
    key = {"idempotency-key": "retry-key-0001"}
    one = choose(site, {"action": "reject_all"}, headers=key)
    two = choose(site, {"action": "reject_all"}, headers=key)
    assert one.json()["consent_id"] == two.json()["consent_id"]
    assert len(stored(store_url, one.json()["consent_id"])) == 1


def test_an_idempotency_key_sent_as_the_ietf_draft_quotes_it_counts(
    records_site: Callable[..., Site], store_url: str
) -> None:
    """draft-ietf-httpapi-idempotency-key-header sends the key as a quoted string."""
    site = records_site()
    key = {"idempotency-key": '"8e03978e-40d5-43e8-bc93-6894a57f9324"'}
    one = choose(site, {"action": "reject_all"}, headers=key)
    two = choose(site, {"action": "reject_all"}, headers=key)
    assert one.status_code == two.status_code == 200
    assert one.json()["consent_id"] == two.json()["consent_id"]
    assert len(stored(store_url, one.json()["consent_id"])) == 1


@pytest.mark.parametrize(
    "key",
    ["short", "x" * 65, "retry key 0001", "retry.key:0001", '"unterminated-0001', "key/0001-0001"],
)
@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_an_idempotency_key_that_cannot_count_is_refused_not_ignored(
    records_site: Callable[..., Site], store_url: str, key: str, method: str
) -> None:
    """Ignored, its client would take a retry for the same choice, and the store would keep
    the choice twice: a clear 400 instead, and nothing recorded or set."""
    site = records_site()
    headers = {**JSON, "user-agent": UA, "idempotency-key": key}
    body = json.dumps({"action": "reject_all"}).encode() if method == "POST" else b""
    answer = site.request(method, "/consent", content=body, headers=headers)
    assert answer.status_code == 400
    assert answer.json()["error"] == "bad_idempotency_key"
    assert not any(v.startswith("consent=") for v in answer.headers.get_list("set-cookie"))


def test_a_choice_made_again_on_the_same_page_is_recorded_again(
    records_site: Callable[..., Site], store_url: str
) -> None:
    """Accept, reject, accept, reject, accept from one page (banner.js posts to the same
    `?t=` each time, with the cookie of the choice before): five records, fast as the
    clicks come, and the last one always says what the cookie says."""
    site = records_site()
    page = site.get("/").text
    token = page.split('action="/consent?t=', 1)[1].split('"', 1)[0]
    cookie: str | None = None
    actions = ["accept_all", "reject_all", "accept_all", "reject_all", "accept_all"]
    for action in actions:
        answer = choose(site, {"action": action}, cookie=cookie, query=f"?t={token}")
        assert answer.status_code == 200
        # A retry of the same request (its answer lost: the same old cookie) is the same.
        again = choose(site, {"action": action}, cookie=cookie, query=f"?t={token}")
        assert again.status_code == 200
        cookie = consent_of(answer)
        state = site.get("/consent", cookie=cookie).json()
        records = stored(store_url, state["consent_id"])
        assert records[-1].action == action
        assert records[-1].granted == tuple(c for c, ok in state["categories"].items() if ok)
    assert [r.action for r in records] == actions


def test_an_old_page_token_ties_no_visitor_to_another(
    records_site: Callable[..., Site], store_url: str
) -> None:
    """A page that a cache served to many visitors, or a token read in an access log: once
    older than `FRESH_FOR`, each first choice from it gets a consent id of its own."""
    site = records_site()
    old = f"{int(time.time()) - FRESH_FOR - 5:08x}" + "A" * 16
    victim = choose(site, {"action": "reject_all"}, query=f"?t={old}")
    replay = choose(site, {"action": "reject_all"}, query=f"?t={old}")
    ids = [
        site.get("/consent", cookie=consent_of(a)).json()["consent_id"] for a in (victim, replay)
    ]
    assert ids[0] != ids[1]
    assert [len(stored(store_url, i)) for i in ids] == [1, 1]
    # A fresh page's token still makes a retry the same first choice.
    page = site.get("/").text
    token = page.split('action="/consent?t=', 1)[1].split('"', 1)[0]
    assert is_fresh(token)
    first = choose(site, {"action": "reject_all"}, query=f"?t={token}")
    retry = choose(site, {"action": "reject_all"}, query=f"?t={token}")
    assert first.json()["consent_id"] == retry.json()["consent_id"]


def test_truncated_ip_only_when_asked(adapter: str, store_url: str) -> None:
    ids = []
    captured: list[Any] = []
    for record_ip in (False, True):
        config = make_config(records=store_url, record_ip=record_ip)
        body = b'{"action": "reject_all"}'
        if adapter == "asgi":
            scope = http_scope("/consent", method="POST")
            scope["client"] = ("203.0.113.77", 5000)
            scope["headers"].append((b"content-type", b"application/json"))

            async def unused(scope: Any, receive: Any, send: Any) -> None:
                raise AssertionError("the endpoint answers, not the app")

            sent = run_asgi(ConsentMiddleware(unused, config=config), scope, body)
            payload = b"".join(m.get("body", b"") for m in sent[1:])
        else:
            environ = wsgi_environ("/consent")
            environ.update(
                {
                    "REQUEST_METHOD": "POST",
                    "CONTENT_TYPE": "application/json",
                    "CONTENT_LENGTH": str(len(body)),
                    "REMOTE_ADDR": "2001:db8:1234:5678::9",
                }
            )
            import io

            environ["wsgi.input"] = io.BytesIO(body)
            result = ConsentWSGIMiddleware(lambda *a: [], config=config)(
                environ, lambda status, headers, exc=None: captured.append(status)
            )
            payload = b"".join(result)
        ids.append(json.loads(payload)["consent_id"])
    plain, truncated = (stored(store_url, i)[0] for i in ids)
    assert plain.ip is None
    assert truncated.ip in ("203.0.113.0/24", "2001:db8:1234::/48")


def test_the_receipt(records_site: Callable[..., Site]) -> None:
    site = records_site()
    first = choose(site, {"action": "accept_all"})
    cookie = consent_of(first)
    cookie = consent_of(choose(site, {"action": "reject_all"}, cookie=cookie))
    receipt = site.get("/consent/receipt", cookie=cookie)
    assert receipt.status_code == 200
    assert receipt.headers["cache-control"] == "no-store"
    data = receipt.json()
    assert data["consent_id"] == first.json()["consent_id"]
    assert [r["action"] for r in data["records"]] == ["accept_all", "reject_all"]
    fields = {
        "consent_id",
        "time",
        "policy_version",
        "action",
        "granted",
        "refused",
        "method",
        "language",
        "user_agent",
        "gpc",
    }
    assert fields <= set(data["records"][0])
    download = site.get("/consent/receipt?download=1", cookie=cookie)
    assert download.headers["content-disposition"].startswith("attachment;")
    assert site.get("/consent/receipt").json() == {"consent_id": None, "records": []}
    page = site.get("/consent/preferences", cookie=cookie).text
    assert "Your consent history" in page and "Accepted all" in page and "Rejected all" in page
    assert 'href="/consent/receipt?download=1"' in page


def test_no_receipt_without_records(make_site: Callable[..., Site]) -> None:
    site = make_site()
    response = site.get("/consent/receipt")
    assert response.status_code == 404 and response.json()["error"] == "no_records"
    assert "consent history" not in site.get("/consent/preferences").text


@pytest.fixture
def sqlite_site(adapter: str, tmp_path: Path) -> tuple[Site, Path]:
    folder = tmp_path / "db"
    folder.mkdir()
    site = Site(adapter, AppSpec(), make_config(records=f"sqlite:///{folder}/records.db"))
    return site, folder


def test_no_consent_without_its_proof(
    sqlite_site: tuple[Site, Path], caplog: pytest.LogCaptureFixture
) -> None:
    """The store goes away mid-run: 503, no consent cookie, one log line; then it is back."""
    site, folder = sqlite_site
    assert choose(site, {"action": "accept_all"}).status_code == 200
    aside = folder.with_name("aside")
    folder.rename(aside)
    folder.write_text("not a directory")  # stops root too, unlike chmod
    with caplog.at_level(logging.ERROR, logger="consent_middleware"):
        for _ in range(3):
            failed = choose(site, {"action": "reject_all"})
            assert failed.status_code == 503
            assert failed.json()["error"] == "records_unavailable"
            assert failed.headers.get_list("set-cookie") == []
        page = site.request("POST", "/consent", content=b"action=reject_all", headers=FORM)
        assert page.status_code == 503 and "text/html" in page.headers["content-type"]
        assert "could not record your choice" in page.text
        assert page.headers.get_list("set-cookie") == []
    assert sum("cannot write proof of consent" in r.getMessage() for r in caplog.records) == 1
    folder.unlink()
    aside.rename(folder)
    back = choose(site, {"action": "reject_all"})
    assert back.status_code == 200 and consent_of(back)


def test_page_views_do_not_touch_the_store(adapter: str, tmp_path: Path) -> None:
    """A page view reads no record: with the store gone, pages still work."""
    site = Site(
        adapter,
        AppSpec(set_cookies=["session=1"]),
        make_config(records=f"sqlite:///{tmp_path}/gone/x.db"),
    )
    response = site.get("/")
    assert response.status_code == 200 and "consent-banner" in response.text
    assert not (tmp_path / "gone").exists()  # nothing was even opened


def test_postgres_going_away_gives_503_and_comes_back(adapter: str, own_server: Any) -> None:
    from consent_middleware.records.postgres import PostgresRecordStore

    url = own_server.create_database("endpoint_outage")
    store = PostgresRecordStore(url, timeout=2.0, reconnect_timeout=2.0)
    site = Site(adapter, AppSpec(), make_config(records=store))
    assert choose(site, {"action": "accept_all"}).status_code == 200
    own_server.stop()
    failed = choose(site, {"action": "reject_all"})
    assert failed.status_code == 503 and failed.headers.get_list("set-cookie") == []
    own_server.start()
    back = choose(site, {"action": "reject_all"})
    assert back.status_code == 200 and consent_of(back)
    assert store.count() == 2
    store.close()
