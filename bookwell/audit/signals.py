"""What an audit event says about where a request came from, without keeping who (P6, P10):
the masked network, a keyed hash of the address under the day's key, the device class, the
browser and OS families (ua-parser; the user agent itself is never stored) and the country
(an offline database shipped with geoip2fast; "unknown" when it has no answer)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from bookwell.audit.models import Device, IpHashKey
from bookwell.core.net import client_ip, network_of


@dataclass(frozen=True)
class RequestSignals:
    ip_network: str = ""
    ip_hash: str = ""
    device: str = Device.OTHER
    browser: str = ""
    os: str = ""
    country: str = "unknown"
    request_id: str = ""


def day_key(day: dt.date) -> bytes:
    """The day's address-hashing key, made on first use."""
    row = IpHashKey.objects.filter(day=day).first()
    if row is None:
        try:
            with transaction.atomic():
                row = IpHashKey.objects.create(day=day, key=secrets.token_bytes(32))
        except IntegrityError:  # made by a concurrent request a moment ago
            row = IpHashKey.objects.get(day=day)
    return bytes(row.key)


def ip_hash(ip: str, day: dt.date) -> str:
    try:
        packed = ipaddress.ip_address(ip).packed
    except ValueError:
        return ""
    return hmac.new(day_key(day), packed, hashlib.sha256).hexdigest()


# The families an event may name (P7: the user agent is text its sender chose; a family the
# parser copies from it, a bot's self-given name for one, could be anything). Others are "".
BROWSERS = frozenset(
    {
        "Android", "Apache-HttpClient", "Brave", "Chrome", "Chrome Mobile",
        "Chrome Mobile iOS", "Chrome Mobile WebView", "Chromium", "curl", "DuckDuckGo Mobile",
        "Edge", "Edge Mobile", "Electron", "Facebook", "Firefox", "Firefox iOS",
        "Firefox Mobile", "Go-http-client", "HeadlessChrome", "IE", "IE Mobile", "Instagram",
        "Java", "Mobile Safari", "Mobile Safari UI/WKWebView", "okhttp", "Opera", "Opera Mini",
        "Opera Mobile", "PostmanRuntime", "Python Requests", "Safari", "Samsung Internet",
        "Silk", "UC Browser", "Vivaldi", "Wget", "Yandex Browser",
    }
)  # fmt: skip
SYSTEMS = frozenset(
    {
        "Android", "BlackBerry OS", "Chrome OS", "Debian", "Fedora", "FreeBSD", "HarmonyOS",
        "iOS", "iPadOS", "KaiOS", "Linux", "Mac OS X", "OpenBSD", "Tizen", "tvOS", "Ubuntu",
        "watchOS", "Windows", "Windows Phone",
    }
)  # fmt: skip


@functools.lru_cache(maxsize=512)
def classify_agent(agent: str) -> tuple[str, str, str]:
    """(device class, browser family, OS family); anything unparsable is "other"."""
    from ua_parser import parse

    try:
        parsed = parse(agent[:512])
    except Exception:  # a parser failure is an unknown device, never an error
        return Device.OTHER, "", ""
    ua, os_, device = parsed.user_agent, parsed.os, parsed.device
    browser = (ua.family if ua else "")[:40]
    system = (os_.family if os_ else "")[:40]
    family = (device.family if device else "") or ""
    lowered = agent.lower()
    if family == "Spider" or "bot" in lowered or "crawler" in lowered:
        kind = Device.BOT
    elif (
        "ipad" in lowered
        or "tablet" in lowered
        or ("android" in lowered and "mobile" not in lowered)
    ):
        kind = Device.TABLET
    elif "mobi" in lowered or "iphone" in lowered:
        kind = Device.MOBILE
    elif system in {"Windows", "Mac OS X", "Linux", "Ubuntu", "Chrome OS", "Fedora"}:
        kind = Device.DESKTOP
    else:
        kind = Device.OTHER
    return (
        kind,
        browser if browser in BROWSERS else "",
        system if system in SYSTEMS else "",
    )


@functools.cache
def _geoip() -> Any:
    try:
        from geoip2fast import GeoIP2Fast

        return GeoIP2Fast(verbose=False)
    except Exception:  # no database: every country is unknown
        return None


def country_of(ip: str) -> str:
    reader = _geoip()
    if reader is None:
        return "unknown"
    try:
        code = str(reader.lookup(ip).country_code or "")
    except Exception:
        return "unknown"
    return code if len(code) == 2 and code.isalpha() and code.isupper() else "unknown"


def signals_of(request: HttpRequest | None) -> RequestSignals:
    if request is None:
        return RequestSignals()
    ip = client_ip(request)
    kind, browser, system = classify_agent(request.META.get("HTTP_USER_AGENT", "") or "")
    return RequestSignals(
        ip_network="" if network_of(ip) == "unknown" else network_of(ip),
        ip_hash=ip_hash(ip, timezone.now().date()),
        device=kind,
        browser=browser,
        os=system,
        country=country_of(ip),
        request_id=str(getattr(request, "request_id", "") or "")[:32],
    )
