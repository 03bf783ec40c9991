"""Client address handling: only masked prefixes leave this module (P6)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _trusted(proxies: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _is_trusted(ip: str, proxies: tuple[IPNetwork, ...]) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr in net for net in proxies)


def client_ip(request: HttpRequest) -> str:
    """The client's address.

    REMOTE_ADDR, unless it is one of BOOKWELL_TRUSTED_PROXIES (the TLS-terminating proxy):
    then the right-most X-Forwarded-For entry that is not a trusted proxy. Entries a client
    wrote itself sit further left and are never taken.
    """
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = _trusted(tuple(settings.TRUSTED_PROXIES))
    if not proxies or not _is_trusted(remote, proxies):
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, proxies):
            return hop
    return remote


def network_of(ip: str) -> str:
    """IPv4 /24 or IPv6 /48 of an address; 'unknown' for anything unparsable."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return "unknown"
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


def from_trusted_proxy(request: HttpRequest) -> bool:
    """Whether the request came through one of BOOKWELL_TRUSTED_PROXIES (its headers count)."""
    proxies = _trusted(tuple(settings.TRUSTED_PROXIES))
    return bool(proxies) and _is_trusted(request.META.get("REMOTE_ADDR", "") or "", proxies)


def in_networks(ip: str, networks: list[str]) -> bool:
    """Whether the address is in one of the networks (as settings list them)."""
    return _is_trusted(ip, _trusted(tuple(networks)))
