from django.urls import path

from bookwell.integrations import views

app_name = "integrations"

urlpatterns = [
    path("c/<slug:clinic_slug>/settings/api/", views.tokens, name="tokens"),
    path(
        "c/<slug:clinic_slug>/settings/api/<int:token_id>/revoke/",
        views.token_revoke,
        name="token-revoke",
    ),
    path("c/<slug:clinic_slug>/settings/webhooks/", views.webhooks_page, name="webhooks"),
    path(
        "c/<slug:clinic_slug>/settings/webhooks/<uuid:endpoint_id>/",
        views.webhook_detail,
        name="webhook",
    ),
    path(
        "c/<slug:clinic_slug>/settings/webhooks/<uuid:endpoint_id>/toggle/",
        views.webhook_toggle,
        name="webhook-toggle",
    ),
    path(
        "c/<slug:clinic_slug>/settings/webhooks/<uuid:endpoint_id>/delete/",
        views.webhook_delete,
        name="webhook-delete",
    ),
    path(
        "c/<slug:clinic_slug>/settings/webhooks/deliveries/<int:delivery_id>/redeliver/",
        views.webhook_redeliver,
        name="webhook-redeliver",
    ),
]
