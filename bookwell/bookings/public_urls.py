"""The public booking page at /book/<clinic-slug>/ and the client's manage link."""

from django.urls import path

from bookwell.bookings import public_views as views

app_name = "book"

urlpatterns = [
    path("book/<slug:clinic_slug>/", views.services_page, name="services"),
    path("book/<slug:clinic_slug>/theme.css", views.theme_css, name="theme"),
    path("book/<slug:clinic_slug>/logo/", views.logo, name="logo"),
    path("book/<slug:clinic_slug>/privacy/", views.privacy_page, name="privacy"),
    path("book/<slug:clinic_slug>/s/<int:service_id>/", views.service_page, name="service"),
    path(
        "book/<slug:clinic_slug>/s/<int:service_id>/details/",
        views.details_page,
        name="details",
    ),
    path(
        "book/<slug:clinic_slug>/s/<int:service_id>/waitlist/",
        views.waitlist_page,
        name="waitlist",
    ),
    path(
        "book/<slug:clinic_slug>/payment/<uuid:payment_id>/",
        views.payment_page,
        name="payment",
    ),
    path(
        "book/<slug:clinic_slug>/payment/<uuid:payment_id>/start/",
        views.payment_start,
        name="payment-start",
    ),
    path("book/<slug:clinic_slug>/manage/<str:token>/", views.manage_page, name="manage"),
    path(
        "book/<slug:clinic_slug>/manage/<str:token>/cancel/",
        views.manage_cancel,
        name="manage-cancel",
    ),
    path(
        "book/<slug:clinic_slug>/manage/<str:token>/move/",
        views.manage_reschedule,
        name="manage-reschedule",
    ),
    path(
        "book/<slug:clinic_slug>/manage/<str:token>/privacy/",
        views.manage_privacy,
        name="manage-privacy",
    ),
    path(
        "book/<slug:clinic_slug>/manage/<str:token>/appointment.ics",
        views.manage_ics,
        name="ics",
    ),
    path(
        "book/<slug:clinic_slug>/waitlist/<str:token>/",
        views.waitlist_manage,
        name="waitlist-manage",
    ),
]
