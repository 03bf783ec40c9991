"""The access log never holds a usable secret from a path (P7): reset and invitation links,
manage and waitlist links, calendar feed links."""

from __future__ import annotations

from bookwell.core.gunicorn_logging import MASK, scrub_path
from bookwell.core.tokens import new_token


def test_secrets_in_paths_are_masked_and_the_rest_kept():
    token, _digest = new_token()
    assert len(token) >= 32

    assert scrub_path(f"/password/reset/MQ/{token}/") == f"/password/reset/{MASK}/{MASK}/"
    assert scrub_path(f"/invite/{token}/") == f"/invite/{MASK}/"
    assert scrub_path(f"/book/clinic-a/manage/{token}/") == f"/book/clinic-a/manage/{MASK}/"
    assert (
        scrub_path(f"/book/clinic-a/manage/{token}/appointment.ics")
        == f"/book/clinic-a/manage/{MASK}/appointment.ics"
    )
    assert scrub_path(f"/feeds/{token}.ics") == f"/feeds/{MASK}.ics"
    assert scrub_path(f"/book/clinic-a/waitlist/{token}") == f"/book/clinic-a/waitlist/{MASK}"
    # Ordinary paths stay readable.
    assert scrub_path("/c/physio-am-park/calendar/") == "/c/physio-am-park/calendar/"
    assert scrub_path("/static/css/calendar-grid.css") == "/static/css/calendar-grid.css"
