from django.urls import path

from bookwell.payments import views, views_staff

app_name = "payments"

urlpatterns = [
    path("stripe/events/<uuid:endpoint_id>/", views.stripe_webhook, name="stripe-webhook"),
    path("c/<slug:clinic_slug>/payments/", views_staff.payment_settings, name="settings"),
    path("c/<slug:clinic_slug>/payments/list/", views_staff.payments_list, name="list"),
    path(
        "c/<slug:clinic_slug>/payments/<uuid:payment_id>/refund/",
        views_staff.refund,
        name="refund",
    ),
    path(
        "c/<slug:clinic_slug>/appointments/<uuid:appointment_id>/paid-in-person/",
        views_staff.paid_in_person,
        name="in-person",
    ),
]
