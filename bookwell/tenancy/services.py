"""Writes for clinics, memberships and invitations."""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from bookwell.accounts.models import User
from bookwell.audit.models import Action, TargetKind
from bookwell.audit.services import (
    Actor,
    audit,
    audit_platform_first,
    audit_record,
    audit_settings_changed,
)
from bookwell.core.context import clinic_context, platform_scope
from bookwell.core.errors import Conflict, Forbidden, Gone, ServiceError
from bookwell.core.mail import send_now_or_log
from bookwell.core.tokens import new_token, token_hash
from bookwell.tenancy import keyring
from bookwell.tenancy.models import RESERVED_SLUGS, Clinic, Invitation, Membership
from bookwell.tenancy.permissions import Perm, Role, role_has


def slugify_clinic_name(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40].strip("-")
    return slug or "clinic"


def _free_slug(base: str) -> str:
    candidate, n = base, 1
    while candidate in RESERVED_SLUGS or Clinic.objects.filter(slug=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def clinic_create(
    *,
    owner: User,
    name: str,
    time_zone: str,
    country: str,
    slug: str | None = None,
    contact_email: str = "",
    locale: str = "en",
) -> Clinic:
    with transaction.atomic():
        clinic = Clinic(
            name=name.strip(),
            slug=slug or _free_slug(slugify_clinic_name(name)),
            time_zone=time_zone,
            country=country.upper(),
            contact_email=contact_email,
            locale=locale,
        )
        clinic.full_clean()
        clinic.save()
        with clinic_context(clinic):
            membership = Membership(clinic=clinic, user=owner, role=Role.OWNER)
            membership.full_clean()
            membership.save()
            keyring.active_key(clinic.pk)  # the clinic's data key exists from the start
    return clinic


def signup_create_clinic(
    *, email: str, full_name: str, password: str, clinic_name: str, time_zone: str, country: str
) -> tuple[User, Clinic]:
    """Self-serve sign-up: a new user who owns a new clinic, all or nothing."""
    taken = Conflict(_("An account with this email already exists. Sign in instead."))
    try:
        with transaction.atomic():
            if User.objects.filter(email__iexact=email).exists():
                raise taken
            user = User.objects.create_user(email=email, password=password, full_name=full_name)
            clinic = clinic_create(
                owner=user, name=clinic_name, time_zone=time_zone, country=country
            )
    except IntegrityError as exc:
        # Lost a race: the same email (or clinic address) was just taken by another request.
        if User.objects.filter(email__iexact=email).exists():
            raise taken from exc
        raise Conflict(_("That clinic address was just taken. Please try again.")) from exc
    return user, clinic


def clinic_settings_update(*, clinic: Clinic, **fields: object) -> Clinic:
    allowed = {
        "name",
        "time_zone",
        "country",
        "locale",
        "contact_email",
        "require_mfa_for_admins",
        "client_email_unique",
        "collect_date_of_birth",
        "allow_pseudonyms",
    }
    unknown = set(fields) - allowed
    if unknown:
        raise ServiceError(_("Unknown settings."), code="unknown_field")
    with transaction.atomic():
        # Compared with the stored value: a model form has already set it on the instance.
        stored = Clinic.objects.filter(pk=clinic.pk).values_list("client_email_unique", flat=True)
        uniqueness_changed = (
            "client_email_unique" in fields and fields["client_email_unique"] != stored.get()
        )
        for key, value in fields.items():
            setattr(clinic, key, value)
        clinic.full_clean()
        clinic.save(update_fields=[*fields.keys()])
        _settings_audit(clinic, "profile", fields)
        if uniqueness_changed:
            from bookwell.clients.services import client_email_uniqueness_apply

            client_email_uniqueness_apply(clinic=clinic, unique=clinic.client_email_unique)
    return clinic


def _settings_audit(clinic: Clinic, section: str, fields: dict[str, object]) -> None:
    audit_settings_changed(clinic_id=clinic.pk, section=section, fields=fields)


def _require_role_power(actor: Membership, role: str) -> None:
    if role == Role.OWNER and not role_has(actor.role, Perm.TEAM_MANAGE_OWNERS):
        # Refused inside the service (the page was allowed): recorded like any denial (P5).
        from bookwell.audit.middleware import current_request
        from bookwell.audit.services import deny_later

        request = current_request.get()
        if request is not None:
            deny_later(
                request,
                actor=Actor.user(actor.user),
                clinic_id=actor.clinic_id,
                permission=Perm.TEAM_MANAGE_OWNERS.value,
                route="team",
            )
        raise Forbidden(_("Only an owner can grant or change the owner role."), code="owner_only")


def _owner_count(clinic: Clinic) -> int:
    """Owners, with their rows locked until the transaction ends: two owners demoting each
    other at once cannot leave the clinic without one."""
    return len(
        Membership.objects.select_for_update()
        .filter(clinic=clinic, role=Role.OWNER)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def invitation_create(*, clinic: Clinic, actor: Membership, email: str, role: str) -> str:
    """Invites someone by email; returns the raw token (it is only mailed, never stored)."""
    if role not in {r.value for r in Role}:
        raise ServiceError(_("Choose a role."), code="invalid_role")
    _require_role_power(actor, role)
    email = User.objects.normalize_email(email.strip())
    with transaction.atomic():
        if Membership.objects.filter(clinic=clinic, user__email__iexact=email).exists():
            raise Conflict(
                _("This person is already a member of the clinic."), code="already_member"
            )
        now = timezone.now()
        # One open invitation per address: a new one replaces the old.
        Invitation.objects.annotate(e=Lower("email")).filter(
            e=email.lower(), accepted_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=now)
        token, digest = new_token()
        invitation = Invitation(
            clinic=clinic,
            email=email,
            role=role,
            token_hash=digest,
            invited_by=actor.user,
            expires_at=now + timedelta(seconds=settings.INVITATION_TTL),
        )
        invitation.full_clean()
        invitation.save()
        audit(
            Action.INVITATION_SENT,
            clinic_id=clinic.pk,
            target_kind=TargetKind.INVITATION,
            target_id=invitation.pk,
            extra={"role": role},
        )
        link = settings.BASE_URL + reverse("tenancy:invitation", args=[token])
        body = render_to_string(
            "emails/invitation.txt",
            {
                "clinic": clinic,
                "role": Role(role).label,
                "link": link,
                "expires": invitation.expires_at,
            },
        )
        transaction.on_commit(
            lambda: send_now_or_log(
                kind="invitation",
                subject=f"You're invited to {clinic.name} on Bookwell",
                body=body,
                to=email,
            )
        )
    return token


def invitation_revoke(*, invitation: Invitation) -> None:
    if invitation.accepted_at is not None:
        raise Conflict(_("This invitation was already accepted."), code="already_accepted")
    if invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit(
            Action.INVITATION_REVOKED,
            clinic_id=invitation.clinic_id,
            target_kind=TargetKind.INVITATION,
            target_id=invitation.pk,
        )


def invitation_by_token(token: str) -> Invitation:
    """Finds an invitation from its emailed link; platform lookup (the link names no clinic)."""
    with platform_scope("invitation lookup by its single-use token"):
        invitation = (
            Invitation.objects.select_related("clinic").filter(token_hash=token_hash(token)).first()
        )
    if invitation is None:
        raise Gone(_("This invitation link is not valid."), code="invitation_invalid")
    return invitation


def invitation_usable(invitation: Invitation) -> None:
    if invitation.accepted_at is not None:
        raise Gone(_("This invitation has already been used."), code="invitation_used")
    if invitation.revoked_at is not None:
        raise Gone(_("This invitation was withdrawn."), code="invitation_revoked")
    if invitation.expires_at <= timezone.now():
        raise Gone(_("This invitation has expired. Ask for a new one."), code="invitation_expired")


def invitation_accept(*, token: str, user: User) -> Membership:
    invitation = invitation_by_token(token)
    with clinic_context(invitation.clinic), transaction.atomic():
        # Lock the row: two clicks on the same link cannot both succeed.
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        invitation_usable(invitation)
        if invitation.email.lower() != user.email.lower():
            from bookwell.audit.middleware import current_request
            from bookwell.audit.services import deny_later

            request = current_request.get()
            if request is not None:  # someone else's invitation: refused, and recorded (P5)
                deny_later(
                    request,
                    actor=Actor.user(user),
                    clinic_id=invitation.clinic_id,
                    permission="invitation_other_email",
                    route="invitation",
                )
            raise Forbidden(
                _("This invitation was sent to another email address."),
                code="invitation_other_email",
            )
        membership = Membership.objects.filter(user=user).first()
        if membership is None:
            membership = Membership(clinic=invitation.clinic, user=user, role=invitation.role)
            membership.full_clean()
            membership.save()
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        audit_record(
            action=Action.INVITATION_ACCEPTED,
            actor=Actor.user(user),
            clinic_id=invitation.clinic_id,
            target_kind=TargetKind.INVITATION,
            target_id=invitation.pk,
        )
    return membership


def invitation_signup(*, token: str, full_name: str, password: str) -> tuple[User, Membership]:
    """Creates the invited person's account and accepts the invitation, all or nothing."""
    with transaction.atomic():
        audit_platform_first()  # the caller signs the new account in, in this transaction
        invitation = invitation_by_token(token)
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise Conflict(
                _("An account with this email exists. Sign in to accept."), code="conflict"
            )
        user = User.objects.create_user(
            email=invitation.email, password=password, full_name=full_name
        )
        return user, invitation_accept(token=token, user=user)


def membership_change_role(*, actor: Membership, membership: Membership, role: str) -> Membership:
    if role not in {r.value for r in Role}:
        raise ServiceError(_("Choose a role."), code="invalid_role")
    _require_role_power(actor, membership.role)
    _require_role_power(actor, role)
    with transaction.atomic():
        if (
            membership.role == Role.OWNER
            and role != Role.OWNER
            and _owner_count(membership.clinic) <= 1
        ):
            raise Conflict(_("A clinic needs at least one owner."), code="last_owner")
        previous = membership.role
        membership.role = role
        membership.full_clean()
        membership.save(update_fields=["role"])
        audit(
            Action.ROLE_CHANGED,
            clinic_id=membership.clinic_id,
            target_kind=TargetKind.USER,
            target_id=membership.user_id,
            extra={"role": role, "previous": previous},
        )
    return membership


def membership_remove(*, actor: Membership, membership: Membership) -> None:
    _require_role_power(actor, membership.role)
    with transaction.atomic():
        if membership.role == Role.OWNER and _owner_count(membership.clinic) <= 1:
            raise Conflict(_("A clinic needs at least one owner."), code="last_owner")
        # Their staff rows are no longer theirs: calendar links stop at once, no agenda.
        from bookwell.notifications.models import CalendarFeed
        from bookwell.scheduling.models import StaffMember

        theirs = StaffMember.objects.filter(
            clinic=membership.clinic, user_id=membership.user_id
        ).values_list("pk", flat=True)
        CalendarFeed.objects.filter(staff_id__in=list(theirs), revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        StaffMember.objects.filter(pk__in=list(theirs)).update(user=None)
        audit(
            Action.MEMBER_REMOVED,
            clinic_id=membership.clinic_id,
            target_kind=TargetKind.USER,
            target_id=membership.user_id,
            extra={"role": membership.role},
        )
        membership.delete()


# --- Booking rules, branding, embedding (the public booking page) --------------------------

BOOKING_RULES = {
    "online_booking",
    "booking_contact",
    "require_consent",
    "allow_pseudonyms",
    "waitlist_offer_minutes",
    "default_min_notice_min",
    "default_max_advance_days",
    "default_cancel_notice_min",
}
LOGO_MAX_BYTES = 200 * 1024
LOGO_MAX_SIDE = 1024


def clinic_booking_rules_update(
    *, clinic: Clinic, apply_to_services: bool = False, **fields: object
) -> Clinic:
    """Booking rules; with `apply_to_services` the default windows go to every service too.
    Consent cannot be required before the clinic has published a privacy notice (P18)."""
    from bookwell.clients.services import privacy_notice_current
    from bookwell.scheduling.models import Service

    if set(fields) - BOOKING_RULES:
        raise ServiceError(_("Unknown settings."), code="unknown_field")
    if fields.get("require_consent") and privacy_notice_current(clinic=clinic) is None:
        raise ValidationError(
            {"require_consent": [_("Publish a privacy notice first: clients consent to it.")]}
        )
    with transaction.atomic():
        for key, value in fields.items():
            setattr(clinic, key, value)
        clinic.full_clean()
        clinic.save(update_fields=[*fields.keys()])
        if apply_to_services:
            Service.objects.update(
                min_notice_min=clinic.default_min_notice_min,
                max_advance_days=clinic.default_max_advance_days,
                cancel_notice_min=clinic.default_cancel_notice_min,
                reschedule_notice_min=clinic.default_cancel_notice_min,
            )
        _settings_audit(clinic, "booking_rules", fields)
    return clinic


def _luminance(colour: str) -> float:
    def channel(hex2: str) -> float:
        c = int(hex2, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_with_white(colour: str) -> float:
    return 1.05 / (_luminance(colour) + 0.05)


def clinic_branding_update(
    *,
    clinic: Clinic,
    brand_colour: str,
    logo: bytes | None = None,
    remove_logo: bool = False,
) -> Clinic:
    """The colour must keep white text readable (WCAG AA, 4.5:1); a logo is a PNG, JPEG or
    WebP recognised from its bytes, at most 200 KB and 1024 px a side."""
    import re

    from bookwell.core.images import NotAnImage, sniff_image

    if not re.fullmatch(r"#[0-9a-fA-F]{6}", brand_colour or ""):
        raise ValidationError({"brand_colour": [_("Use a colour like #1f6f5c.")]})
    if contrast_with_white(brand_colour) < 4.5:
        raise ValidationError(
            {"brand_colour": [_("White text on this colour is hard to read. Choose a darker one.")]}
        )
    fields = ["brand_colour"]
    clinic.brand_colour = brand_colour.lower()
    if logo is not None:
        if len(logo) > LOGO_MAX_BYTES:
            raise ValidationError({"logo": [_("The logo may be at most 200 KB.")]})
        try:
            kind, width, height = sniff_image(logo)
        except NotAnImage as exc:
            raise ValidationError({"logo": [_("Upload a PNG, JPEG or WebP image.")]}) from exc
        if width > LOGO_MAX_SIDE or height > LOGO_MAX_SIDE:
            raise ValidationError({"logo": [_("The logo may be at most 1024 pixels a side.")]})
        clinic.logo, clinic.logo_content_type = logo, kind
        fields += ["logo", "logo_content_type"]
    elif remove_logo:
        clinic.logo, clinic.logo_content_type = None, ""
        fields += ["logo", "logo_content_type"]
    clinic.save(update_fields=fields)
    _settings_audit(clinic, "branding", dict.fromkeys(fields))
    return clinic


def clinic_embedding_update(*, clinic: Clinic, embed_origins: str) -> Clinic:
    lines = [line.strip().rstrip("/") for line in embed_origins.splitlines() if line.strip()]
    clinic.embed_origins = "\n".join(dict.fromkeys(line.lower() for line in lines))
    clinic.full_clean()
    clinic.save(update_fields=["embed_origins"])
    _settings_audit(clinic, "embedding", {"embed_origins": None})
    return clinic
