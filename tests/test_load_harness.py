"""The checks of `make load` (bench/load) can fail: each is fed what it must catch."""

from __future__ import annotations

import pytest

from bench.load.faults import parse_raw
from bench.load.model import (
    NEW_KEY,
    OLD_KEY,
    Jar,
    Signer,
    cookies_deleted,
    cookies_set,
    leaks,
    site_config,
)
from bench.load.throughput import Measurement, parse_wrk
from bench.load.traffic import Reply
from consent_middleware.consent import ConsentCodec

GA = "_ga=GA1.1.1.1; Path=/; Max-Age=63072000; HttpOnly"
FBP = "_fbp=fb.1.1.1; Path=/; Max-Age=7776000"
SESSION = "session=abc; Path=/; HttpOnly"
THEME = "theme=dark; Path=/; Max-Age=31536000"


def test_a_refused_cookie_is_a_leak() -> None:
    assert leaks([GA], frozenset()) == ["'_ga' (analytics) set while analytics is refused"]
    assert leaks([GA, FBP], frozenset({"analytics"})) == [
        "'_fbp' (marketing) set while marketing is refused"
    ]
    assert leaks([THEME], frozenset({"analytics", "marketing"}))


def test_granted_and_required_cookies_are_no_leak() -> None:
    assert leaks([GA, FBP, THEME], frozenset({"settings", "analytics", "marketing"})) == []
    assert leaks([SESSION], frozenset()) == []


@pytest.mark.parametrize(
    "deletion",
    [
        "_ga=; Path=/; Max-Age=0",
        "_ga=; Max-Age=-1",
        "_ga=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    ],
)
def test_a_deletion_of_a_refused_cookie_is_no_leak(deletion: str) -> None:
    assert leaks([deletion], frozenset()) == []
    assert cookies_deleted([deletion]) == {"_ga"}
    assert cookies_set([deletion]) == set()


@pytest.mark.parametrize(
    "ambiguous",
    [
        "_ga=x; Max-Age=0; Max-Age=100",  # browsers disagree: set
        "_ga=x; Max-Age=+0",
        "_ga=x; Expires=Thu, 1st Jan 1970 00:00:00 GMT",
        "_ga=x; Expires=Thu, 01 Jan 2999 00:00:00 GMT",
    ],
)
def test_what_some_browser_keeps_is_a_leak(ambiguous: str) -> None:
    assert leaks([ambiguous], frozenset()), ambiguous


@pytest.mark.parametrize(
    "odd",
    ["=_ga=1; Path=/", " _ga =1", "_ga\x00x=1", "tracker=1; Path=/", "session=1\r\nSet-Cookie: x"],
)
def test_odd_names_and_unknown_cookies_are_leaks(odd: str) -> None:
    assert leaks([odd], frozenset()), odd


def test_the_consent_cookie_is_set_only_by_a_choice() -> None:
    value = "consent=abc.def; Path=/; Max-Age=15552000; SameSite=Lax"
    assert leaks([value], frozenset())
    assert leaks([value], frozenset(), consent_cookie_may_be_set=True) == []
    assert leaks(["consent=; Path=/; Max-Age=0"], frozenset()) == []


def test_signed_cookies_mean_what_they_were_made_for() -> None:
    signer = Signer()
    value, consent_id = signer.signed(["analytics"])
    consent = ConsentCodec(site_config([OLD_KEY])).decode(value)
    assert consent.decided and consent.consent_id == consent_id
    assert dict(consent.categories)["analytics"] and not dict(consent.categories)["marketing"]
    assert signer.signed_by_old_key(value) and not signer.signed_by_new_key(value)
    rotated = ConsentCodec(site_config([NEW_KEY, OLD_KEY]))
    assert rotated.decode(value).decided
    expired, expired_id = signer.expired(["analytics"])
    reading = rotated.decode(expired)
    assert not reading.decided and reading.consent_id == expired_id


@pytest.mark.parametrize("kind", ["stranger", "tampered", "truncated", "unsigned", "guess"])
def test_forged_cookies_do_not_verify(kind: str) -> None:
    signer = Signer()
    forged = signer.forged(kind)
    consent = ConsentCodec(site_config([NEW_KEY, OLD_KEY])).decode(forged)
    assert not consent.decided and consent.consent_id is None


def test_the_jar_keeps_and_drops_like_a_browser() -> None:
    jar = Jar()
    jar.apply([GA, SESSION])
    assert jar.header() == "_ga=GA1.1.1.1; session=abc"
    jar.apply(["_ga=; Path=/; Max-Age=0"])
    assert jar.header([("consent", "x")]) == "session=abc; consent=x"


def test_server_generations_of_two_answers() -> None:
    def reply(sent: int, received: int) -> Reply:
        return Reply(200, None, b"", sent, received)  # type: ignore[arg-type]

    assert reply(1, 1).same_server_generation(reply(1, 1))
    assert reply(2, 2).same_server_generation(reply(2, 2))
    assert not reply(1, 1).same_server_generation(reply(2, 2))
    assert not reply(1, 2).same_server_generation(reply(1, 1))  # queued over the restart


WRK = """Running 5s test @ http://127.0.0.1:4000/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.10ms    3.20ms  80.00ms   90.00%
    Req/Sec     1.33k   120.00     1.60k    70.00%
  Latency Distribution
     50%  850.00us
     75%   12.00ms
     90%   14.00ms
     99%    1.20s
  13300 requests in 5.00s, 40.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:   2660.12
Transfer/sec:      8.00MB
"""


def test_wrk_output_is_read_with_its_units() -> None:
    result = parse_wrk(WRK)
    assert result.requests_per_second == pytest.approx(2660.12)
    assert result.p50_ms == pytest.approx(0.85)
    assert result.p99_ms == pytest.approx(1200.0)
    assert (result.requests, result.non_2xx, result.socket_errors) == (13300, 7, 3)


def test_a_figure_is_the_median_of_its_rounds() -> None:
    rounds = [parse_wrk(WRK.replace("2660.12", rate)) for rate in ("900", "1200", "1000")]
    measured = Measurement("stack", "visit", "with", rounds)
    assert measured.result.requests_per_second == 1000
    assert measured.result.requests == 3 * 13300
    assert measured.spread == (900, 1200)


def test_wrk_output_without_figures_is_an_error() -> None:
    with pytest.raises(ValueError):
        parse_wrk("unable to connect to 127.0.0.1:4000 Connection refused")


def test_a_cut_response_is_not_complete() -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nSet-Cookie: a=1\r\n\r\n"
    whole = parse_raw(head + b"5\r\nhello\r\n0\r\n\r\n")
    assert whole.complete and whole.body == b"hello" and whole.set_cookies == ["a=1"]
    cut = parse_raw(head + b"5\r\nhello\r\nA\r\nwor")
    assert not cut.complete and cut.body == b"hellowor" and cut.status_lines == 1
    short = parse_raw(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    assert not short.complete
    assert parse_raw(b"").status == 0


def test_the_load_section_of_benchmarks_md_is_replaced_whole() -> None:
    from bench.load.report import BENCHMARKS_SECTION, replace_section

    new = f"{BENCHMARKS_SECTION}\n\nResult: **PASS**\n"
    document = f"# Benchmarks\n\n## Targets\n\nx\n\n{BENCHMARKS_SECTION}\n\nold figures\n"
    replaced = replace_section(document, new)
    assert replaced == f"# Benchmarks\n\n## Targets\n\nx\n\n{new}"
    assert replace_section(replaced, new) == replaced  # again: the same, not appended twice
    assert replace_section("# Benchmarks\n", new) == f"# Benchmarks\n\n{new}"
