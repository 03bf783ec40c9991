"""Staff pages for notifications."""

from django.urls import path

from bookwell.notifications import views

app_name = "notifications"

urlpatterns = [
    path("c/<slug:clinic_slug>/notifications/", views.deliveries, name="deliveries"),
    path(
        "c/<slug:clinic_slug>/notifications/<uuid:delivery_id>/resend/",
        views.delivery_resend,
        name="resend",
    ),
    path("c/<slug:clinic_slug>/notifications/sending/", views.sending, name="sending"),
    path("c/<slug:clinic_slug>/notifications/reminders/add/", views.rule_add, name="rule-add"),
    path(
        "c/<slug:clinic_slug>/notifications/reminders/<int:rule_id>/remove/",
        views.rule_remove,
        name="rule-remove",
    ),
    path("c/<slug:clinic_slug>/notifications/texts/", views.templates, name="templates"),
    path("c/<slug:clinic_slug>/calendar-links/", views.feeds, name="feeds"),
    path(
        "c/<slug:clinic_slug>/calendar-links/<int:staff_id>/",
        views.feed_issue,
        name="feed-issue",
    ),
    # A staff member's own links, across their clinics (the account area).
    path("account/calendar-links/", views.my_feeds, name="my-feeds"),
    path("account/calendar-links/<int:staff_id>/", views.my_feed_issue, name="my-feed-issue"),
    path(
        "c/<slug:clinic_slug>/notifications/texts/<str:kind>/<str:channel>/<str:language>/",
        views.template_edit,
        name="template-edit",
    ),
]
