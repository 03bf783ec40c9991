from django.urls import path

from bookwell.clients import views

app_name = "clients"

urlpatterns = [
    path("c/<slug:clinic_slug>/clients/", views.client_index, name="index"),
    path("c/<slug:clinic_slug>/clients/new/", views.client_new, name="new"),
    path("c/<slug:clinic_slug>/clients/import/", views.client_import, name="import"),
    path("c/<slug:clinic_slug>/clients/export.csv", views.client_export, name="export"),
    path("c/<slug:clinic_slug>/clients/<uuid:client_id>/", views.client_detail, name="detail"),
    path("c/<slug:clinic_slug>/clients/<uuid:client_id>/edit/", views.client_edit, name="edit"),
    path(
        "c/<slug:clinic_slug>/clients/<uuid:client_id>/consent/",
        views.client_consent,
        name="consent",
    ),
    path(
        "c/<slug:clinic_slug>/settings/privacy-notice/",
        views.privacy_notices,
        name="privacy-notices",
    ),
]
