"""What the platform's privacy notice states, as data the pages and the tests share: its
versions (P22), the cookies it sets (P19), the sub-processors in use and what each receives,
and how long each kind of record is kept (P20).

The cookie list is what the browser tests compare with the cookies they see; the
sub-processors follow this installation's settings, so the notice cannot name a provider
that is not used or miss one that is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from bookwell.tenancy.models import Clinic


@dataclass(frozen=True)
class NoticeVersion:
    version: str
    effective: dt.date
    changes: str


def notice_versions() -> list[NoticeVersion]:
    """Every version of the platform's notice, oldest first. A change to the notice's text
    adds a version here with a later effective date (a test holds the order)."""
    return [
        NoticeVersion(
            "1.0",
            dt.date(2026, 11, 30),
            _(
                "First published notice: what the platform processes for clinics and their "
                "staff, sub-processors, cookies, retention and rights."
            ),
        ),
    ]


def current_notice() -> NoticeVersion:
    return notice_versions()[-1]


@dataclass(frozen=True)
class CookieUse:
    name: str
    purpose: str
    lifetime: str
    set_when: str


def cookies() -> list[CookieUse]:
    """Every cookie the platform sets. Nothing else: no analytics, no third parties, and the
    public booking pages set none."""
    idle = settings.SESSION_IDLE_TIMEOUT // 60
    return [
        CookieUse(
            settings.SESSION_COOKIE_NAME,
            _("Keeps a staff member signed in."),
            _("Ends after %(minutes)s minutes without activity, or at sign-out.")
            % {"minutes": idle},
            _("When a staff member signs in (also during sign-in)."),
        ),
        CookieUse(
            settings.CSRF_COOKIE_NAME,
            _("Protects forms against cross-site request forgery."),
            _("One year; it holds no personal data and stays after sign-out."),
            _("When a staff member opens a page with a form that needs it (sign-in too)."),
        ),
    ]


@dataclass(frozen=True)
class Subprocessor:
    service: str
    provider: str
    receives: str
    used: bool


def _email_provider() -> tuple[str, bool]:
    delivery = str(getattr(settings, "EMAIL_DELIVERY", "smtp"))
    if delivery.startswith("anymail:"):
        return delivery.removeprefix("anymail:").replace("_", " ").title(), True
    if delivery == "smtp":
        return settings.EMAIL_PROVIDER_NAME or _("The operator's mail provider"), True
    return _("None: messages stay on this server (development setup)"), False


def subprocessors(clinic: Clinic | None = None) -> list[Subprocessor]:
    """The service providers that receive data: for one clinic (its privacy center), or for
    the platform (its notice, where payments are listed as clinics may turn them on)."""
    email, email_used = _email_provider()
    sms_used = settings.SMS_PROVIDER == "twilio"
    if clinic is None:
        payments_used = True
    else:
        from bookwell.payments.models import PaymentSettings

        payments_used = PaymentSettings.objects.filter(clinic=clinic, enabled=True).exists()
    return [
        Subprocessor(
            _("Email delivery"),
            email,
            _(
                "The recipient's address and the message: booking confirmations, reminders "
                "and changes (client's name, time, service, clinic), and staff sign-in mail."
            ),
            email_used,
        ),
        Subprocessor(
            _("Text messages (SMS)"),
            "Twilio" if sms_used else _("None: no provider is configured"),
            _(
                "The client's phone number and the message (time, service, clinic), only "
                "where the clinic turned SMS on and the client did not opt out."
            ),
            sms_used,
        ),
        Subprocessor(
            _("Payments"),
            _("Stripe, with the clinic's own account, where the clinic takes payments"),
            _(
                "The amount, the currency, the clinic's name and a reference; not the "
                "service, nor anything about the client. Clients enter their payment "
                "details on Stripe's own page; they never reach Bookwell."
            ),
            payments_used,
        ),
    ]


def _audit_retention() -> str:
    from bookwell.tenancy.plans import plans

    days = sorted({terms.audit_retention_days for terms in plans().values()})
    if not days:
        return _("As long as the clinic keeps its account")
    return _("As the clinic's plan says: %(low)s to %(high)s days") % {
        "low": days[0],
        "high": days[-1],
    }


@dataclass(frozen=True)
class Retention:
    what: str
    kept: str


def retention() -> list[Retention]:
    days = _("%(n)s days")
    return [
        Retention(
            _("Full IP addresses of sign-ins (security only)"),
            days % {"n": settings.AUDIT_RAW_IP_DAYS},
        ),
        Retention(_("Audit events"), _audit_retention()),
        Retention(
            _("Records of sent messages and webhook deliveries"),
            days % {"n": settings.RETENTION_DELIVERY_DAYS},
        ),
        Retention(_("Expired waitlist offers"), days % {"n": settings.RETENTION_OFFER_DAYS}),
        Retention(
            _("Times held for an online payment that never came, or cancelled before it did"),
            days % {"n": settings.RETENTION_EXPIRED_HOLD_DAYS},
        ),
        Retention(
            _("Answered privacy requests (as proof of the answer)"),
            days % {"n": settings.RETENTION_REQUEST_DAYS},
        ),
        Retention(
            _("Export archives"),
            _("%(n)s hours after they are made") % {"n": settings.EXPORT_LINK_HOURS},
        ),
        Retention(
            _("A deleted clinic's data"),
            _(
                "%(n)s days after the owner asks (cancellable); then deleted, and its keys "
                "destroyed so backups cannot be read"
            )
            % {"n": settings.DELETION_GRACE_DAYS},
        ),
        Retention(
            _("Clients, appointments and the rest of a clinic's records"),
            _("Until the clinic erases them or is deleted"),
        ),
    ]
