from django.urls import path

from bookwell.payments import views, views_staff

app_name = "payments"

urlpatterns = [
    path("stripe/events/<uuid:endpoint_id>/", views.stripe_webhook, name="stripe-webhook"),
    path("c/<slug:clinic_slug>/payments/", views_staff.payment_settings, name="settings"),
]
