"""Truncated IP addresses: enough to tell a country or a provider, not a household."""

from __future__ import annotations

import ipaddress

__all__ = ["truncate_ip"]

_IPV4_PREFIX = 24
_IPV6_PREFIX = 48


def truncate_ip(value: str | None) -> str | None:
    """The network of `value`: IPv4 to /24 ("203.0.113.0/24"), IPv6 to /48 ("2001:db8:1::/48").

    An IPv4-mapped IPv6 address ("::ffff:203.0.113.9") counts as the IPv4 address it
    carries. Brackets and a zone ("fe80::1%eth0") are dropped. Anything that is not an IP
    address gives None: a record never stores what it cannot truncate.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    text = text.split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = _IPV4_PREFIX if address.version == 4 else _IPV6_PREFIX
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    return str(network)
