"""Who is asking: the client address that per-caller limits are keyed on.

Behind a reverse proxy every request comes from the proxy, so the client is named by
``X-Forwarded-For``; but any client can send that header, so it is believed only when the
immediate peer is a proxy listed in ``http.trusted_proxies``, and then only as far as the chain
of trusted proxies goes: read from the right, the first address that is not a trusted proxy is
the client (what a client wrote further left is never believed). Without trusted proxies the
header is ignored.

An IPv6 client is keyed by its /64: one subscriber usually holds a whole /64, so limits per single
IPv6 address could be sidestepped by rotating through it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_WITH_PORT = re.compile(r"^\[([0-9A-Fa-f:.]+)\](?::\d+)?$|^(\d{1,3}(?:\.\d{1,3}){3}):\d+$")


def parse_networks(entries: object, key: str = "http.trusted_proxies") -> tuple[Network, ...]:
    """``["10.0.0.1", "10.1.0.0/16", "::1"]`` → networks; ValueError naming ``key`` otherwise."""
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise ValueError(f"{key} must be a list of addresses or networks (CIDR), got {entries!r}")
    out = []
    for entry in entries:
        try:
            out.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"{key}: {entry!r} is not an address or a network: {exc}") from None
    return tuple(out)


def parse_address(text: str) -> Address | None:
    """An address as a proxy writes it (``1.2.3.4``, ``2001:db8::1``, ``[2001:db8::1]:443``,
    ``1.2.3.4:5678``); None for anything else."""
    text = text.strip()
    match = _WITH_PORT.match(text)
    if match:
        text = match.group(1) or match.group(2)
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, trusted: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def client_address(peer: str, forwarded_for: Iterable[bytes], trusted: Sequence[Network]) -> str:
    """The client's address as a limit key (see the module docstring).

    ``peer``: the TCP peer's host; ``forwarded_for``: every ``X-Forwarded-For`` header value, in
    the order received.
    """
    address = parse_address(peer)
    if address is None:
        return peer  # not an IP socket (a test transport): nothing to believe or to widen
    if trusted and _trusted(address, trusted):
        hops = [h for value in forwarded_for for h in value.decode("latin-1").split(",")]
        for hop in reversed(hops):
            found = parse_address(hop)
            if found is None:
                break  # garbage: stop at the last address a trusted proxy vouched for
            address = found
            if not _trusted(address, trusted):
                break
    return limit_key(address)


def limit_key(address: Address) -> str:
    """IPv4: the address; IPv6: its /64."""
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def via_tls(secure: bool, peer: str, forwarded_proto: bytes | None,
            trusted: Sequence[Network]) -> bool:
    """Whether the client's connection is TLS: ours is, or a trusted proxy says
    ``X-Forwarded-Proto: https`` (from any other peer the header is not believed)."""
    if secure:
        return True
    address = parse_address(peer)
    if address is None or not trusted or not _trusted(address, trusted):
        return False
    last = (forwarded_proto or b"").decode("latin-1").split(",")[-1].strip().lower()
    return last == "https"
