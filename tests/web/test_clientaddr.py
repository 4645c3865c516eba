"""The client address limits are keyed on (``web.clientaddr``): X-Forwarded-For is read from
the right and only through trusted proxies; IPv6 clients are keyed by their /64."""

from __future__ import annotations

import pytest

from web.clientaddr import client_address, parse_address, parse_networks

PROXIES = parse_networks(["10.0.0.0/8", "2001:db8:ffff::1"])


@pytest.mark.parametrize(("peer", "headers", "client"), [
    ("203.0.113.5", [b"1.2.3.4"], "203.0.113.5"),  # not a proxy: the header is ignored
    ("10.0.0.2", [], "10.0.0.2"),  # a proxy that sent no header: the proxy itself
    ("10.0.0.2", [b"203.0.113.5"], "203.0.113.5"),
    ("10.0.0.2", [b"6.6.6.6, 203.0.113.5, 10.9.9.9"], "203.0.113.5"),  # left of it: not believed
    ("10.0.0.2", [b"6.6.6.6", b"203.0.113.5"], "203.0.113.5"),  # two headers: one list
    ("10.0.0.2", [b"203.0.113.5:4431"], "203.0.113.5"),  # with a port
    ("10.0.0.2", [b"not-an-ip, 10.9.9.9"], "10.9.9.9"),  # garbage: the last trusted hop
    ("10.0.0.2", [b"[2001:db8:1:2:3:4:5:6]:443"], "2001:db8:1:2::/64"),
    ("2001:db8:ffff::1", [b"::ffff:203.0.113.5"], "203.0.113.5"),  # IPv4-mapped
    ("2001:db8:1:2::99", [], "2001:db8:1:2::/64"),  # rotating within a /64 gains nothing
])
def test_client_address(peer: str, headers: list[bytes], client: str) -> None:
    assert client_address(peer, headers, PROXIES) == client


def test_without_trusted_proxies_the_header_never_counts() -> None:
    assert client_address("10.0.0.2", [b"203.0.113.5"], ()) == "10.0.0.2"


def test_parse_address_refuses_what_is_not_an_address() -> None:
    assert [parse_address(t) for t in ("", "unknown", "1.2.3", "[::1", "1.2.3.4:x")] == [None] * 5


def test_tls_is_believed_from_a_trusted_proxy_alone() -> None:
    from web.clientaddr import via_tls

    proxies = parse_networks(["10.0.0.5"])
    assert via_tls(True, "127.0.0.1", None, ())  # our own TLS
    assert via_tls(False, "10.0.0.5", b"https", proxies)
    assert via_tls(False, "10.0.0.5", b"http, https", proxies)  # the last proxy's word
    assert not via_tls(False, "10.0.0.5", b"https, http", proxies)
    assert not via_tls(False, "10.0.0.6", b"https", proxies)  # anyone else may write it
    assert not via_tls(False, "10.0.0.5", b"https", ())
    assert not via_tls(False, "10.0.0.5", None, proxies)
