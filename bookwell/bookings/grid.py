"""The calendar grid (heads, hour labels, columns and appointments), drawn in Python.

A busy day view has a hundred appointments of a dozen values each; through the template
engine they were most of the page's time (issue 5's goal is a day view at a quarter of a
bare Django view's rate). Every text value is escaped with `esc` (quotes included,
as the template engine would); numbers, UUIDs and the status slugs need no escaping.
"""

from __future__ import annotations

import datetime as dt
from html import escape as esc

from django.utils.dateformat import format as date_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from bookwell.bookings.models import Status
from bookwell.bookings.selectors import Calendar, Column, Entry

LANE_CLASSES = (1, 2, 3, 4, 6, 12)


def lane_class(lane: int, lanes: int) -> str:
    width = next((n for n in LANE_CLASSES if n >= lanes), 12)
    return f"l{width}-{min(lane, width - 1)}"


def _entry(entry: Entry, *, by: str, url: str, date_iso: str, labels: dict[str, str]) -> str:
    a = entry.appointment
    if by == "room":
        detail = f"{esc(a.service)} · {esc(a.staff)}"
    elif a.room_id is not None:
        detail = f"{esc(a.service)} · {esc(a.room)}"
    else:
        detail = esc(a.service)
    mark = f'<span class="mark">{labels[a.status]}</span>' if a.status != Status.CONFIRMED else ""
    client = esc(a.client) if a.client is not None else labels["no-client"]
    # Numbers and the UUID need no escaping; status values are a fixed set of slugs.
    return (
        f'<a class="appt svc-{entry.colour:d} st-{labels["class:" + a.status]} '
        f'gr-{entry.row:d} gs-{entry.span:d} {lane_class(entry.lane, entry.lanes)}" '
        f'href="{url}{a.pk}/?date={date_iso}" hx-get="{url}{a.pk}/" hx-target="#panel">'
        f'<span class="t">{a.start:%H:%M}</span><strong>{client}</strong>'
        f'<span class="svc">{detail}</span>{mark}</a>'
    )


def _column(
    column: Column, *, by: str, url: str, day: str, labels: dict[str, str], time_off: str
) -> list[str]:
    return [
        *(f'<div class="work gr-{b.row:d} gs-{b.span:d} l1-0"></div>' for b in column.working),
        *(
            f'<div class="away gr-{b.row:d} gs-{b.span:d} l1-0"><span>{time_off}</span></div>'
            for b in column.away
        ),
        *(_entry(e, by=by, url=url, date_iso=day, labels=labels) for e in column.entries),
    ]


def grid_html(
    cal: Calendar, *, appointment_url: str, new_url: str, date: dt.date, today: dt.date
) -> SafeString:
    """The grid inside its scroll box: one head and one column per staff member or room (a
    day) or per day (a week). new_url is empty for a member who may not book."""
    labels = {str(value): esc(str(label)) for value, label in Status.choices}
    labels.update({f"class:{value}": esc(str(value)) for value in Status.values})
    labels["no-client"] = esc(_("No client"))
    time_off, closed = esc(_("Time off")), esc(_("closed"))
    url, day = esc(appointment_url), date.isoformat()
    rows, first = cal.rows, cal.first_min
    out = [
        f'<div class="cal cols-{len(cal.columns):d}" aria-label="{esc(_("Appointments"))}">',
        f'<div class="cal-head corner">{esc(cal.time_zone)}</div>',
    ]
    for col in cal.columns:
        week = cal.view == "week"
        title = esc(date_format(col.day, _("D j M"))) if week else esc(col.title)
        if not week and (col.staff_id or col.room_id):  # the heading opens their week
            who = f"staff={col.staff_id:d}" if col.staff_id else f"by=room&amp;room={col.room_id:d}"
            title = f'<a href="?date={day}&amp;view=week&amp;{who}">{title}</a>'

        today_class = " is-today" if week and col.day == today else ""
        badge = f' <span class="badge">{closed}</span>' if col.closed else ""
        out.append(f'<div class="cal-head{today_class}">{title}{badge}</div>')
    out.append(f'<div class="cal-times rows-{rows:d}" aria-hidden="true">')
    out.extend(f'<span class="gr-{row:d} gs-4">{esc(label)}</span>' for row, label in cal.labels)
    out.append("</div>")
    new = f' data-new="{esc(new_url)}"' if new_url else ""
    for col in cal.columns:
        staff = f' data-staff="{col.staff_id:d}"' if col.staff_id else ""
        if col.room_id:
            staff += f' data-room="{col.room_id:d}"'  # a room's column books into that room
        out.append(
            f'<div class="cal-col rows-{rows:d}" data-date="{col.day.isoformat()}" '
            f'data-first="{first:d}" data-rows="{rows:d}"{staff}{new}>'
        )
        out.extend(_column(col, by=cal.by, url=url, day=day, labels=labels, time_off=time_off))
        out.append("</div>")
    out.append("</div>")
    return mark_safe("".join(out))  # noqa: S308 (every value above is escaped or a number)
