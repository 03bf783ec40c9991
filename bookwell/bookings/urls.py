"""Staff pages for appointments: calendar, booking, status, recurring series, waitlist."""

from django.urls import path

from bookwell.bookings import views

app_name = "bookings"

A = "c/<slug:clinic_slug>/appointments/<uuid:appointment_id>"

urlpatterns = [
    path("c/<slug:clinic_slug>/calendar/", views.calendar, name="calendar"),
    path("c/<slug:clinic_slug>/appointments/new/", views.appointment_new, name="new"),
    path("c/<slug:clinic_slug>/appointments/clients/", views.client_lookup, name="client-lookup"),
    path(f"{A}/", views.appointment_detail, name="appointment"),
    path(f"{A}/status/", views.appointment_status, name="status"),
    path(f"{A}/move/", views.appointment_move, name="move"),
    path(f"{A}/cancel/", views.appointment_cancel, name="cancel"),
    path(f"{A}/note/", views.appointment_note, name="note"),
    path(f"{A}/series-cancel/", views.series_cancel, name="series-cancel"),
    path("c/<slug:clinic_slug>/waitlist/", views.waitlist, name="waitlist"),
    path("c/<slug:clinic_slug>/waitlist/add/", views.waitlist_add, name="waitlist-add"),
    path(
        "c/<slug:clinic_slug>/waitlist/<int:entry_id>/remove/",
        views.waitlist_remove,
        name="waitlist-remove",
    ),
]
