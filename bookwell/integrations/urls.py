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
]
