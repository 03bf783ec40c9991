"""Client address handling: only masked prefixes leave this module (P6)."""

from __future__ import annotations

import ipaddress

from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    # REMOTE_ADDR only: behind nginx the proxy sets it (see docs/deploy); a client-supplied
    # X-Forwarded-For is never trusted here.
    return request.META.get("REMOTE_ADDR", "") or ""


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
