"""Real traffic sends a fresh value in every Set-Cookie: the policy remembers what a name with
given attributes taught it (where the app sets the cookie), and must judge and learn exactly
as it would with every value seen for the first time."""

from __future__ import annotations

import itertools

from consent_middleware.policy import ConsentPolicy, RequestConsent

from .conftest import make_config

_values = itertools.count()


def fresh(name: str, attributes: str) -> str:
    return f"{name}={next(_values):08x}; {attributes}"


def visitor(policy: ConsentPolicy, granted: list[str]) -> RequestConsent:
    codec = policy.codec
    return policy.read_request("consent=" + codec.encode(codec.decide(granted)), True)


def test_fresh_values_judge_like_first_sight() -> None:
    policy = ConsentPolicy(make_config())
    state = visitor(policy, ["analytics"])
    cases = [
        ("_ga", "Path=/; Max-Age=63072000", True),
        ("_fbp", "Path=/; Max-Age=7776000", False),
        ("_fbp", "Path=/; Max-Age=0", True),  # the app's own deletion
        ("_fbp", "Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT", True),
        ("session", "Path=/; HttpOnly", True),
    ]
    for _ in range(3):
        for name, attributes, kept in cases:
            value = fresh(name, attributes)
            assert policy.keeps(value, state) is kept, value
            assert ConsentPolicy(make_config()).keeps(value, state) is kept, value


def test_a_place_is_learned_once_and_still_expired_there() -> None:
    policy = ConsentPolicy(make_config())
    granted = visitor(policy, ["analytics"])
    for _ in range(5):
        assert policy.keeps(fresh("_ga", "Path=/shop; Domain=example.com"), granted)
    deletions = policy.deletions_for("_ga", https=True)
    there = [d for d in deletions if "Path=/shop" in d and "Domain=example.com" in d]
    assert len(there) == 1 and not there[0].endswith("; Partitioned")  # set unpartitioned


def test_a_forgotten_place_is_learned_again() -> None:
    """A cookie set at more places than are kept forgets the oldest; seen again, it is
    learned again, fresh value or not."""
    policy = ConsentPolicy(make_config())
    granted = visitor(policy, ["analytics"])
    paths = [f"/p{n}" for n in range(9)]  # one more than the places kept per cookie
    for path in paths:
        assert policy.keeps(fresh("_ga", f"Path={path}"), granted)
    assert not any("Path=/p0;" in d for d in policy.deletions_for("_ga", https=True))
    assert policy.keeps(fresh("_ga", "Path=/p0"), granted)
    assert any("Path=/p0;" in d for d in policy.deletions_for("_ga", https=True))


def test_one_cookie_header_over_both_schemes_keeps_each_schemes_reading() -> None:
    # One reading is cached per Cookie header; a request over the other scheme gets its own
    # (Secure on deletions only over https), made once and kept, whatever the order.
    policy = ConsentPolicy(make_config())
    codec = policy.codec
    header = "_fbp=1; consent=" + codec.encode(codec.decide(["analytics"]))
    over_https = policy.read_request(header, True)
    over_http = policy.read_request(header, False)
    assert (over_https.https, over_http.https) == (True, False)
    assert policy.read_request(header, False) is over_http
    assert policy.read_request(header, True) is over_https
    assert over_http.consent is over_https.consent
    assert over_http.refused == over_https.refused == ("_fbp",)
    secure = [policy.expirations(s, (), 0, "/") for s in (over_https, over_http)]
    assert all("Secure" in v for v in secure[0])
    assert not any("Secure" in v for v in secure[1])
