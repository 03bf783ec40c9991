"""German is complete for the public booking flow, and the compiled catalogue is current."""

from __future__ import annotations

import gettext
import json
import re
from pathlib import Path

import bookwell

LOCALE = Path(bookwell.__file__).parent / "locale" / "de" / "LC_MESSAGES"
# Where the public booking flow's text lives.
PUBLIC_FLOW = (
    "bookings/templates/book/",
    "bookings/public_",
    "bookings/online.py",
    "bookings/models.py",  # statuses and reasons the manage page shows
    "bookings/ics.py",
    "notifications/texts.py",  # every message's subject and text
    "bookings/services.py",
    "bookings/waitlist.py",
    "clients/services.py",
    "templates/base.html",  # the frame around every page (skip link, sign in)
    "templates/400.html",
    "templates/403.html",
    "templates/404.html",
    "templates/500.html",
    "templates/core/csrf_failure.html",
)


def _entries() -> list[tuple[list[str], str, list[str]]]:
    """(locations, msgid, msgstrs) of every entry of the German .po file."""
    entries = []
    for block in (LOCALE / "django.po").read_text().split("\n\n"):
        locations = [loc for line in re.findall(r"^#: (.*)$", block, re.M) for loc in line.split()]
        fields: dict[str, str] = {}
        for key, value in re.findall(
            r'^(msgid|msgid_plural|msgstr(?:\[\d\])?) ((?:".*"\n?)+)', block, re.M
        ):
            fields[key] = "".join(json.loads(x) for x in re.findall(r'".*"', value))
        if fields.get("msgid"):
            strs = [v for k, v in fields.items() if k.startswith("msgstr")]
            entries.append((locations, fields["msgid"], strs))
    return entries


def test_every_text_of_the_public_booking_flow_has_a_german_translation():
    public = [e for e in _entries() if any(p in loc for loc in e[0] for p in PUBLIC_FLOW)]
    assert len(public) > 80
    untranslated = [msgid for _, msgid, strs in public if not all(strs)]
    assert untranslated == []


def test_the_compiled_catalogue_matches_the_source():
    with (LOCALE / "django.mo").open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    for _, msgid, strs in _entries():
        if all(strs) and len(strs) == 1:
            assert compiled.gettext(msgid) == strs[0], msgid
