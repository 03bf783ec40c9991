"""The outbox: recording what is due, scanning for reminders, and sending (P12, P13, P17).

Guarantee. A message is recorded in the transaction of the event it tells about, so it exists
exactly when the event does. A worker takes a due delivery by setting a lease in one short
transaction, sends, and records the result in another. If the worker dies between sending
and recording, the lease runs out and another worker sends it again: at most one duplicate
per crash (the one message in flight), and the resend carries the same Message-ID so mail
systems can fold it. Nothing is ever lost silently: a delivery ends as sent, skipped (with a
reason from a fixed list) or failed after its last attempt, and all three are on the
clinic's notifications page.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import CharField, Exists, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Cast, Concat
from django.urls import reverse
from django.utils import formats, timezone, translation

from bookwell.audit.models import Action
from bookwell.audit.services import audit, audit_settings_changed
from bookwell.bookings import manage_links
from bookwell.bookings.ics import appointment_ics
from bookwell.bookings.models import Appointment, OfferStatus, Status, WaitlistOffer
from bookwell.core.context import clinic_context, platform_scope
from bookwell.notifications import channels, texts
from bookwell.notifications.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    Kind,
    MessageTemplate,
    ReminderRule,
    SkipReason,
)
from bookwell.telemetry.models import Feature
from bookwell.telemetry.services import usage_count
from bookwell.tenancy.models import Allowance, Clinic
from bookwell.tenancy.plans import PlanLimitReached, plan_release, plan_use

logger = logging.getLogger("bookwell.notifications")

UPCOMING = (Status.PENDING, Status.CONFIRMED)
CANCELLED = (Status.CANCELLED_BY_CLIENT, Status.CANCELLED_BY_CLINIC)
# The reminder scan looks this far ahead, so a reminder exists before it is due even if a
# scan is late; a reminder due while no worker ran is still sent as long as the appointment
# has not started.
SCAN_HORIZON = dt.timedelta(minutes=30)
# How far back the scan looks for reminders that were never recorded (no worker ran).
MISSED_LOOKBACK = dt.timedelta(days=1)


def _backoff(attempts: int) -> dt.timedelta:
    """1, 2, 4, 8 ... minutes after each failed attempt, at most an hour."""
    return dt.timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))


def _enqueue_after_commit(ids: list[uuid.UUID]) -> None:
    """The fast path: a task per delivery once the event is committed (the worker's own scan
    of due deliveries is the safety net when a task is lost)."""

    def enqueue() -> None:
        from bookwell.notifications.tasks import send_delivery

        for delivery_id in ids:
            try:
                send_delivery.enqueue(str(delivery_id))
            except Exception:  # the queue is the database; the scan sends it anyway
                logger.warning("could not enqueue a delivery task; the scan will send it")

    transaction.on_commit(enqueue)


# --- Recording --------------------------------------------------------------------------------


def outbox_appointment(*, appointment: Appointment, kind: str) -> list[uuid.UUID]:
    """Records the messages an appointment event sends. Call inside the event's transaction."""
    if appointment.client_id is None:
        return []
    clinic = Clinic.objects.only("pk", "sms_enabled").get(pk=appointment.clinic_id)
    wanted = [Channel.EMAIL, *([Channel.SMS] if clinic.sms_enabled else [])]
    now = timezone.now()
    key = str(appointment.sequence) if kind == Kind.RESCHEDULE else ""
    rows = [
        Delivery(
            clinic_id=appointment.clinic_id,
            kind=kind,
            channel=channel,
            appointment=appointment,
            key=key,
            about_start=appointment.start,
            due_at=now,
            next_attempt_at=now,
        )
        for channel in wanted
    ]
    created = []
    for row in rows:  # one by one: an already recorded message is not an error
        try:
            with transaction.atomic():
                row.save(force_insert=True)
            created.append(row.pk)
        except IntegrityError:
            continue
    _enqueue_after_commit(created)
    return created


def outbox_waitlist_offer(*, offer: WaitlistOffer) -> list[uuid.UUID]:
    clinic = Clinic.objects.only("pk", "sms_enabled").get(pk=offer.clinic_id)
    wanted = [Channel.EMAIL, *([Channel.SMS] if clinic.sms_enabled else [])]
    now = timezone.now()
    created = []
    for channel in wanted:
        try:
            with transaction.atomic():
                row = Delivery.objects.create(
                    clinic_id=offer.clinic_id,
                    kind=Kind.WAITLIST_OFFER,
                    channel=channel,
                    waitlist_offer=offer,
                    about_start=offer.start,
                    due_at=now,
                    next_attempt_at=now,
                )
            created.append(row.pk)
        except IntegrityError:
            continue
    _enqueue_after_commit(created)
    return created


def _quiet_adjusted(clinic: Clinic, due: dt.datetime, start: dt.datetime) -> dt.datetime:
    """Moves a reminder out of the clinic's quiet hours: to their end, or to their start
    when their end would be after the appointment begins."""
    if clinic.quiet_start is None or clinic.quiet_end is None:
        return due
    zone = ZoneInfo(clinic.time_zone)
    local = due.astimezone(zone)
    t, a, b = local.time(), clinic.quiet_start, clinic.quiet_end
    inside = (a <= t < b) if a < b else (t >= a or t < b)
    if not inside:
        return due
    # The end of this quiet period, on the clinic's clock.
    end_day = local.date() if (a < b or t < b) else local.date() + dt.timedelta(days=1)
    end = dt.datetime.combine(end_day, b, zone)
    if end < start:
        return end.astimezone(dt.UTC)
    begin_day = local.date() if (a < b or t >= a) else local.date() - dt.timedelta(days=1)
    return dt.datetime.combine(begin_day, a, zone).astimezone(dt.UTC)


def reminder_due(start: dt.datetime, minutes_before: int, zone: ZoneInfo) -> dt.datetime:
    """When a reminder is due. Whole days count on the clinic's clock ("the day before at the
    same time", also across a DST change); other offsets are plain durations ("2 h before")."""
    if minutes_before % (24 * 60) == 0:
        local = start.astimezone(zone)
        earlier = local.date() - dt.timedelta(days=minutes_before // (24 * 60))
        wall = dt.datetime.combine(earlier, local.time().replace(fold=0), zone)
        # A wall time that does not exist that day (spring forward) is read as zoneinfo
        # does, an hour on; round trip through UTC to get the real instant.
        return wall.astimezone(dt.UTC)
    return (start - dt.timedelta(minutes=minutes_before)).astimezone(dt.UTC)


def _last_move_time() -> Subquery:
    """When the appointment was last moved: its move message was recorded then."""
    return Subquery(
        Delivery.objects.filter(appointment_id=OuterRef("pk"), kind=Kind.RESCHEDULE)
        .order_by("-created_at")
        .values("created_at")[:1]
    )


def reminders_scan(*, now: dt.datetime | None = None) -> int:
    """Records the reminders due within the horizon, for every clinic. Idempotent (a unique
    constraint per appointment, rule and sequence); a fixed number of queries: one for the
    rules, one read per distinct reminder offset, one write for all. A reminder whose time came
    before the booking was made is not recorded (the confirmation has just said it all); one
    whose appointment began in the last day without it (no worker ran) is recorded, and then
    shows as too late."""
    now = now or timezone.now()
    created = 0
    with platform_scope("reminder scan across clinics"):
        rules = list(ReminderRule.objects.filter(active=True).select_related("clinic"))
        by_offset: dict[tuple[int, str], dict[int, Clinic]] = {}
        for rule in rules:
            if rule.channel == Channel.SMS and not rule.clinic.sms_enabled:
                continue
            by_offset.setdefault((rule.minutes_before, rule.channel), {})[rule.clinic_id] = (
                rule.clinic
            )
        new: list[Delivery] = []
        for (minutes, channel), clinics in by_offset.items():
            offset = dt.timedelta(minutes=minutes)
            candidates = (
                Appointment.objects.filter(
                    clinic_id__in=list(clinics),
                    status__in=UPCOMING,
                    client__isnull=False,
                    # Also what started in the last day: a reminder no worker recorded in time
                    # (all were down) is recorded now and shows as "too late", never nothing.
                    start__gt=now - MISSED_LOOKBACK,
                    # A day more: quiet hours can bring a reminder forward to the evening
                    # before (and a whole-day reminder shifts by an hour across DST).
                    start__lte=now + offset + SCAN_HORIZON + dt.timedelta(days=1),
                )
                .exclude(  # already recorded for this rule and this version of the time
                    Exists(
                        Delivery.objects.filter(
                            appointment_id=OuterRef("pk"),
                            kind=Kind.REMINDER,
                            channel=channel,
                            key=Concat(
                                Value(f"{minutes}:"),
                                Cast(OuterRef("sequence"), output_field=CharField()),
                                output_field=CharField(),
                            ),
                        )
                    )
                )
                .annotate(moved_at=_last_move_time())
                .values_list("pk", "clinic_id", "start", "sequence", "created_at", "moved_at")
            )
            for pk, clinic_id, start, sequence, created_at, moved_at in candidates:
                clinic = clinics[clinic_id]
                due = _quiet_adjusted(
                    clinic, reminder_due(start, minutes, ZoneInfo(clinic.time_zone)), start
                )
                if due > now + SCAN_HORIZON:
                    continue  # a later scan records it
                if due < max(created_at, moved_at or created_at):
                    continue  # booked or moved after this reminder's time: that message said it
                new.append(
                    Delivery(
                        clinic_id=clinic_id,
                        kind=Kind.REMINDER,
                        channel=channel,
                        appointment_id=pk,
                        key=f"{minutes}:{sequence}",
                        about_start=start,
                        due_at=due,
                        next_attempt_at=due,
                    )
                )
        if new:
            created = len(Delivery.objects.bulk_create(new, ignore_conflicts=True))
    return created


# --- The staff's daily agenda -----------------------------------------------------------------

# An agenda goes out until this long after the clinic's agenda time (a worker that was down
# then still sends it in the morning). Later that day it is still recorded, and shows as too
# late rather than nothing: an agenda at noon is no use, a missing one must be visible.
AGENDA_WINDOW = dt.timedelta(hours=3)


def agenda_scan(*, now: dt.datetime | None = None) -> int:
    """Records today's agenda for every staff member with a sign-in and an appointment today,
    in every clinic whose agenda time has come (clinic clock). Idempotent: one per staff
    member and day (a unique constraint). Four queries, however many clinics."""
    now = now or timezone.now()
    with platform_scope("agenda scan across clinics"):
        due: dict[int, tuple[dt.date, dt.datetime, ZoneInfo]] = {}
        for clinic in Clinic.objects.filter(agenda_at__isnull=False).only(
            "pk", "time_zone", "agenda_at"
        ):
            assert clinic.agenda_at is not None
            zone = ZoneInfo(clinic.time_zone)
            today = now.astimezone(zone).date()
            at = dt.datetime.combine(today, clinic.agenda_at, zone).astimezone(dt.UTC)
            if at <= now:
                due[clinic.pk] = (today, at, zone)
        if not due:
            return 0
        window = Q()
        for clinic_id, (today, _at, zone) in due.items():
            window |= Q(
                clinic_id=clinic_id,
                start__gte=dt.datetime.combine(today, dt.time(), zone),
                start__lt=dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), zone),
            )
        rows = (
            Appointment.objects.filter(window, status__in=AGENDA_SHOWN)
            .filter(staff__user__isnull=False, staff__archived=False)
            .annotate(moved_at=_last_move_time())
            .values_list("clinic_id", "staff_id", "created_at", "moved_at")
        )
        # Only what was in the day by the agenda's time: a booking made (or moved into the
        # day) later is not an agenda that went missing.
        busy = {
            (clinic_id, staff_id)
            for clinic_id, staff_id, created_at, moved_at in rows
            if max(created_at, moved_at or created_at) <= due[clinic_id][1]
        }
        recorded = set(
            Delivery.objects.filter(
                kind=Kind.AGENDA,
                clinic_id__in=list(due),
                key__in={today.isoformat() for today, _at, _zone in due.values()},
            ).values_list("clinic_id", "staff_id", "key")
        )
        new = [
            Delivery(
                clinic_id=clinic_id,
                kind=Kind.AGENDA,
                channel=Channel.EMAIL,
                staff_id=staff_id,
                key=due[clinic_id][0].isoformat(),
                due_at=due[clinic_id][1],
                next_attempt_at=now,
            )
            for clinic_id, staff_id in sorted(busy)
            if (clinic_id, staff_id, due[clinic_id][0].isoformat()) not in recorded
        ]
        if not new:
            return 0
        return len(Delivery.objects.bulk_create(new, ignore_conflicts=True))


AGENDA_SHOWN = (Status.PENDING, Status.CONFIRMED, Status.CHECKED_IN)


def _compose_agenda(delivery: Delivery, clinic: Clinic, now: dt.datetime) -> _Message:
    """The staff member's appointments of the day, as they are now: times, service, room and
    the client's initials only (P13: the mail provider needs no more to help plan a day)."""
    from bookwell.notifications.feeds import initials
    from bookwell.scheduling.models import StaffMember
    from bookwell.tenancy.models import Membership

    zone = ZoneInfo(clinic.time_zone)
    day = dt.date.fromisoformat(delivery.key)
    if now.astimezone(zone).date() > day or now > delivery.due_at + AGENDA_WINDOW:
        raise _Skip(SkipReason.TOO_LATE)
    staff = StaffMember.objects.select_related("user").filter(pk=delivery.staff_id).first()
    user = staff.user if staff is not None else None
    if (
        staff is None
        or user is None
        or not user.is_active
        or not user.email
        or not Membership.objects.filter(clinic=clinic, user=user).exists()  # still in the team
    ):
        raise _Skip(SkipReason.NO_ADDRESS)
    if clinic.agenda_at is None:  # switched off since it was recorded
        raise _Skip(SkipReason.NOT_CURRENT)
    appointments = list(
        Appointment.objects.filter(
            staff=staff,
            status__in=AGENDA_SHOWN,
            start__gte=dt.datetime.combine(day, dt.time(), zone),
            start__lt=dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone),
        )
        .select_related("service", "room", "client")
        .order_by("start", "pk")
    )
    if not appointments:
        raise _Skip(SkipReason.NOT_CURRENT)
    language = _language(clinic.locale)
    with translation.override(language):
        lines = []
        for a in appointments:
            who = "" if a.client is None or a.client.restricted else initials(a.client.full_name)
            parts = [
                f"{a.start.astimezone(zone):%H:%M}-{a.end.astimezone(zone):%H:%M}",
                a.service.name,
                *([a.room.name] if a.room else []),
                *([who] if who else []),
            ]
            lines.append(" · ".join(parts))
        link = settings.BASE_URL + reverse("bookings:calendar", kwargs={"clinic_slug": clinic.slug})
        wording = texts.agenda(language)
        values = {
            "staff": staff.display_name,
            "clinic": clinic.name,
            "date": formats.date_format(day, "DATE_FORMAT"),
            "count": str(len(appointments)),
            "agenda": "\n".join(lines),
            "calendar_link": f"{link}?date={day.isoformat()}&view=week&staff={staff.pk}",
        }
    return _Message(
        to=user.email,
        subject=wording.subject.format_map(values),
        text=wording.body.format_map(values),
    )


# --- Sending ----------------------------------------------------------------------------------


def _claim(delivery_id: object, now: dt.datetime) -> bool:
    """Takes the delivery for this worker for the lease time, if it is due and nobody holds
    it. One conditional UPDATE: two workers cannot both win."""
    lease = now + dt.timedelta(seconds=settings.NOTIFY_LEASE_SECONDS)
    with platform_scope("worker takes a delivery"), transaction.atomic():
        return bool(
            Delivery.objects.filter(
                Q(lease_until__isnull=True) | Q(lease_until__lt=now),
                pk=delivery_id,
                status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING],
                next_attempt_at__lte=now,
                attempts__lt=settings.NOTIFY_MAX_ATTEMPTS,
            ).update(status=DeliveryStatus.SENDING, lease_until=lease, attempts=F("attempts") + 1)
        )


def dispatch_due(*, now: dt.datetime | None = None, limit: int = 100) -> dict[str, int]:
    """Sends what is due (new, retries, and deliveries whose worker died). Returns counts."""
    fixed = now is not None
    now = now or timezone.now()
    with platform_scope("worker looks for due deliveries"):
        # A delivery whose workers died on its every attempt (its lease ran out each time, a
        # whole lease ago: a worker merely slow on its last try still records its outcome),
        # or that is past a lowered attempt limit, is failed, not left waiting for ever; it
        # shows on the page like any failure.
        grace = dt.timedelta(seconds=settings.NOTIFY_LEASE_SECONDS)
        Delivery.objects.filter(
            Q(status=DeliveryStatus.SENDING, lease_until__lt=now - grace)
            | Q(status=DeliveryStatus.PENDING),
            attempts__gte=settings.NOTIFY_MAX_ATTEMPTS,
        ).update(
            status=DeliveryStatus.FAILED,
            lease_until=None,
            error_code="attempts:exhausted",
            updated_at=now,
        )
        due = list(
            Delivery.objects.filter(
                Q(lease_until__isnull=True) | Q(lease_until__lt=now),
                status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING],
                next_attempt_at__lte=now,
                attempts__lt=settings.NOTIFY_MAX_ATTEMPTS,
            )
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
    counts: dict[str, int] = {}
    if not due:
        return counts
    with channels.email_session():
        for delivery_id in due:
            # Each lease counts from its own start: a slow batch never hands out leases that
            # have already run out (another worker could then send the same message).
            outcome = deliver(delivery_id, now=now if fixed else timezone.now())
            counts[outcome] = counts.get(outcome, 0) + 1
    return counts


@dataclass(frozen=True)
class _Message:
    to: str
    subject: str
    text: str
    ics: str = ""
    ics_method: str = ""


class _Skip(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def deliver(delivery_id: object, *, now: dt.datetime | None = None) -> str:
    """Sends one delivery if it is due and free; records the outcome. Returns the outcome
    ("sent", "skipped", "retry", "failed" or "taken" when another worker has it)."""
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return "taken"
    with platform_scope("worker finds a delivery's clinic"):
        clinic = Clinic.objects.get(
            pk=Delivery.objects.filter(pk=delivery_id).values_list("clinic_id", flat=True)[0]
        )
    with clinic_context(clinic):
        delivery = Delivery.objects.get(pk=delivery_id)
        try:
            message = _compose(delivery, clinic, now)
            reserved = _sms_allowance(clinic, delivery)
            try:
                provider_id = _send(delivery, message)
            except BaseException:
                if reserved:  # not taken by the provider: the message is not counted (P9)
                    plan_release(clinic, Allowance.SMS_PER_MONTH)
                raise
        except _Skip as skip:
            _finish(delivery, status=DeliveryStatus.SKIPPED, skip_reason=skip.reason)
            return "skipped"
        except Exception as exc:  # never lost: every failure is recorded
            if not isinstance(exc, channels.SendError):  # a bug, or a provider's surprise
                logger.warning(
                    "delivery raised", extra={"delivery": str(delivery.pk), "error": _kind(exc)}
                )
                exc = channels.SendError(f"error:{_kind(exc)}")
            if exc.permanent or delivery.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
                reason = SkipReason.PERMANENT if exc.permanent else ""
                _finish(
                    delivery,
                    status=DeliveryStatus.FAILED,
                    error_code=exc.code,
                    skip_reason=reason,
                )
                logger.warning(
                    "delivery failed", extra={"delivery": str(delivery.pk), "code": exc.code}
                )
                return "failed"
            _finish(
                delivery,
                status=DeliveryStatus.PENDING,
                error_code=exc.code,
                next_attempt_at=now + _backoff(delivery.attempts),
            )
            return "retry"
        _finish(delivery, status=DeliveryStatus.SENT, provider_message_id=provider_id, sent_at=now)
        return "sent"


def _sms_allowance(clinic: Clinic, delivery: Delivery) -> bool:
    """A text message takes one of the plan's messages for the month before it is sent (P9):
    counted under the counter's lock, so two workers cannot both send the last one. True
    when one was counted (to give back if the provider does not take the message)."""
    if delivery.channel != Channel.SMS:
        return False
    try:
        with transaction.atomic():
            return plan_use(clinic, Allowance.SMS_PER_MONTH) is not None
    except PlanLimitReached:
        raise _Skip(SkipReason.PLAN_LIMIT) from None


def _kind(exc: BaseException) -> str:
    """What is recorded of an unexpected error: its class, never its message."""
    return type(exc).__name__[:40]


def _finish(delivery: Delivery, **fields: object) -> None:
    """Records the outcome, only while this worker still holds the lease it took (the lease's
    end is its token): a worker whose lease ran out mid-send and was taken over must not
    overwrite the other's outcome (which could send the message a third time)."""
    fields.setdefault("lease_until", None)
    if fields.get("status") == DeliveryStatus.SENT:
        fields.setdefault("error_code", "")
    held = Delivery.objects.filter(pk=delivery.pk, lease_until=delivery.lease_until)
    with transaction.atomic():
        if not held.update(**fields, updated_at=timezone.now()):
            logger.warning(
                "delivery outcome dropped: lease lost", extra={"delivery": str(delivery.pk)}
            )
            return
        if fields.get("status") == DeliveryStatus.SENT:
            # Usage counts (P8): the channel, and reminders on their own.
            sent = Feature.SMS_SENT if delivery.channel == Channel.SMS else Feature.EMAIL_SENT
            usage_count(sent, clinic_id=delivery.clinic_id)
            if delivery.kind == Kind.REMINDER:
                usage_count(Feature.REMINDER_SENT, clinic_id=delivery.clinic_id)


def _send(delivery: Delivery, message: _Message) -> str:
    if delivery.channel == Channel.EMAIL:
        return channels.send_email(
            channels.Email(
                to=message.to,
                subject=message.subject,
                text=message.text,
                message_id=f"<{delivery.pk}@bookwell>",
                ics=message.ics,
                ics_method=message.ics_method,
            )
        )
    return channels.sms_provider().send(
        to=message.to, text=message.text, idempotency_key=str(delivery.pk)
    )


def _wording(clinic: Clinic, kind: str, channel: str, language: str) -> texts.Wording:
    own = MessageTemplate.objects.filter(kind=kind, channel=channel, language=language).first()
    if own is not None:
        return texts.Wording(own.subject, own.body)
    return texts.built_in(kind, channel, language)


def _language(preferred: str) -> str:
    known = {code for code, _ in settings.LANGUAGES}
    return preferred if preferred in known else settings.LANGUAGE_CODE


def _compose(delivery: Delivery, clinic: Clinic, now: dt.datetime) -> _Message:
    """The message, rendered now and never stored (P12); or _Skip with the reason."""
    if delivery.waitlist_offer_id is not None:
        return _compose_offer(delivery, clinic, now)
    if delivery.kind == Kind.AGENDA:
        return _compose_agenda(delivery, clinic, now)
    appointment = (
        Appointment.objects.select_related("service", "staff", "room", "room__location", "client")
        .filter(pk=delivery.appointment_id)
        .first()
    )
    if appointment is None or appointment.client is None:
        raise _Skip(SkipReason.NO_CLIENT)
    if delivery.kind == Kind.CANCELLATION:
        if appointment.status not in CANCELLED:
            raise _Skip(SkipReason.NOT_CURRENT)
    elif appointment.status not in UPCOMING or appointment.start != delivery.about_start:
        raise _Skip(SkipReason.NOT_CURRENT)
    if appointment.start <= now:
        raise _Skip(SkipReason.TOO_LATE)
    client = appointment.client
    to = _address(delivery, clinic, client)
    language = _language(client.preferred_language)
    manage_url = ""
    if delivery.kind != Kind.CANCELLATION:
        token = manage_links.token_for(appointment) or manage_links.issue(appointment)
        manage_url = settings.BASE_URL + reverse(
            "book:manage", kwargs={"clinic_slug": clinic.slug, "token": token}
        )
    location = appointment.room.location if appointment.room else None
    with translation.override(language):
        values = _when(appointment.start, clinic)
        values.update(
            client_name=client.full_name,
            clinic=clinic.name,
            service=appointment.service.name,
            staff=appointment.staff.display_name,
            location=location.address if location else "",
            manage_link=manage_url,
        )
        wording = _wording(clinic, delivery.kind, delivery.channel, language)
        ics, method = "", ""
        if delivery.channel == Channel.EMAIL:
            method = "CANCEL" if delivery.kind == Kind.CANCELLATION else "REQUEST"
            ics = appointment_ics(
                appointment=appointment, clinic=clinic, manage_url=manage_url, method=method
            )
    return _Message(
        to=to,
        subject=texts.fill(wording.subject, values),
        text=texts.fill(wording.body, values),
        ics=ics,
        ics_method=method,
    )


def _compose_offer(delivery: Delivery, clinic: Clinic, now: dt.datetime) -> _Message:
    offer = (
        WaitlistOffer.objects.select_related("entry", "entry__client", "entry__service", "staff")
        .filter(pk=delivery.waitlist_offer_id)
        .first()
    )
    if offer is None or offer.status != OfferStatus.OPEN or offer.expires_at <= now:
        raise _Skip(SkipReason.NOT_CURRENT)
    client = offer.entry.client
    if client is None:
        raise _Skip(SkipReason.NO_CLIENT)
    to = _address(delivery, clinic, client)
    language = _language(client.preferred_language)
    token = manage_links.token_for(offer.entry) or manage_links.issue(offer.entry)
    link = settings.BASE_URL + reverse(
        "book:waitlist-manage", kwargs={"clinic_slug": clinic.slug, "token": token}
    )
    with translation.override(language):
        values = _when(offer.start, clinic)
        expires = offer.expires_at.astimezone(ZoneInfo(clinic.time_zone))
        values.update(
            client_name=client.full_name,
            clinic=clinic.name,
            service=offer.entry.service.name,
            staff=offer.staff.display_name,
            location="",
            manage_link=link,
            offer_expires=f"{formats.date_format(expires, 'SHORT_DATE_FORMAT')} {expires:%H:%M}",
        )
        wording = _wording(clinic, delivery.kind, delivery.channel, language)
    return _Message(
        to=to,
        subject=texts.fill(wording.subject, values),
        text=texts.fill(wording.body, values),
    )


def _when(start: dt.datetime, clinic: Clinic) -> dict[str, str]:
    """Date and time on the clinic's clock, the date in the active language."""
    local = start.astimezone(ZoneInfo(clinic.time_zone))
    return {"date": formats.date_format(local, "DATE_FORMAT"), "time": f"{local:%H:%M}"}


def _address(delivery: Delivery, clinic: Clinic, client: object) -> str:
    if getattr(client, "restricted", False):
        raise _Skip(SkipReason.RESTRICTED)  # P17: a restricted client gets nothing
    if delivery.channel == Channel.EMAIL:
        email = str(getattr(client, "email", "") or "")
        if not email:
            raise _Skip(SkipReason.NO_ADDRESS)
        return email
    if not clinic.sms_enabled:
        raise _Skip(SkipReason.SMS_OFF)
    if getattr(client, "sms_opt_out", False):
        raise _Skip(SkipReason.OPTED_OUT)
    phone = str(getattr(client, "phone", "") or "")
    if not phone:
        raise _Skip(SkipReason.NO_ADDRESS)
    return phone


def delivery_resend(*, delivery: Delivery) -> None:
    """Staff asked to send a failed or skipped message again (now, with fresh attempts)."""
    now = timezone.now()
    Delivery.objects.filter(
        pk=delivery.pk, status__in=[DeliveryStatus.FAILED, DeliveryStatus.SKIPPED]
    ).update(
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        lease_until=None,
        error_code="",
        skip_reason="",
        updated_at=now,
    )
    _enqueue_after_commit([delivery.pk])


# --- The clinic's settings ------------------------------------------------------------------


def template_save(
    *, clinic: Clinic, kind: str, channel: str, language: str, subject: str, body: str
) -> MessageTemplate:
    """Saves the clinic's own wording (placeholders already checked by the form)."""
    texts.check_placeholders(subject)
    texts.check_placeholders(body)
    with transaction.atomic():
        template, _ = MessageTemplate.objects.update_or_create(
            clinic=clinic,
            kind=kind,
            channel=channel,
            language=language,
            defaults={"subject": subject if channel == Channel.EMAIL else "", "body": body},
        )
        _template_audit(clinic, kind, channel, language, "saved")
    return template


def template_reset(*, clinic: Clinic, kind: str, channel: str, language: str) -> None:
    """Back to the built-in wording."""
    with transaction.atomic():
        gone, _ = MessageTemplate.objects.filter(
            kind=kind, channel=channel, language=language
        ).delete()
        if gone:
            _template_audit(clinic, kind, channel, language, "reset")


def _template_audit(clinic: Clinic, kind: str, channel: str, language: str, change: str) -> None:
    """Which text changed (kind, channel, language), never its wording (P7)."""
    audit(
        Action.TEMPLATE_CHANGED,
        clinic_id=clinic.pk,
        extra={"kind": kind, "channel": channel, "language": language, "change": change},
    )


def preview(*, clinic: Clinic, language: str, subject: str, body: str) -> tuple[str, str]:
    """The text filled with an example appointment (nothing real, nothing stored)."""
    zone = ZoneInfo(clinic.time_zone)
    sample = (timezone.now() + dt.timedelta(days=2)).astimezone(zone)
    sample = sample.replace(hour=10, minute=30, second=0, microsecond=0)
    with translation.override(language):
        values = _when(sample, clinic)
        values.update(
            client_name="Alex Example",
            clinic=clinic.name,
            service=str(translation.gettext("Example service")),
            staff="Dr. Example",
            location="Example Street 1",
            manage_link=f"{settings.BASE_URL}/book/{clinic.slug}/manage/…/",
            offer_expires=f"{formats.date_format(sample, 'SHORT_DATE_FORMAT')} 18:00",
        )
    return texts.fill(subject, values), texts.fill(body, values)


def reminder_rule_add(*, clinic: Clinic, minutes_before: int, channel: str) -> ReminderRule:
    with transaction.atomic():
        rule, _ = ReminderRule.objects.update_or_create(
            clinic=clinic,
            minutes_before=minutes_before,
            channel=channel,
            defaults={"active": True},
        )
        audit_settings_changed(clinic_id=clinic.pk, section="reminders", fields=["reminder_rules"])
    return rule


def reminder_rule_remove(*, rule: ReminderRule) -> None:
    with transaction.atomic():
        rule.delete()
        audit_settings_changed(
            clinic_id=rule.clinic_id, section="reminders", fields=["reminder_rules"]
        )


def clinic_sending_update(
    *,
    clinic: Clinic,
    sms_enabled: bool,
    quiet_start: dt.time | None,
    quiet_end: dt.time | None,
    agenda_at: dt.time | None = None,
) -> Clinic:
    wanted = {
        "sms_enabled": sms_enabled,
        "quiet_start": quiet_start,
        "quiet_end": quiet_end,
        "agenda_at": agenda_at,
    }
    changed = [name for name, value in wanted.items() if getattr(clinic, name) != value]
    with transaction.atomic():
        for name, value in wanted.items():
            setattr(clinic, name, value)
        clinic.save(update_fields=list(wanted))
        if changed:
            audit_settings_changed(clinic_id=clinic.pk, section="sending", fields=changed)
    return clinic
