from django.urls import path

from bookwell.privacy import views

app_name = "privacy"

CLIENT = "c/<slug:clinic_slug>/clients/<uuid:client_id>/privacy/"

urlpatterns = [
    path(CLIENT, views.client_privacy, name="client"),
    path(f"{CLIENT}copy.json", views.client_copy, {"fmt": "json"}, name="copy-json"),
    path(f"{CLIENT}copy.zip", views.client_copy, {"fmt": "zip"}, name="copy-zip"),
    path(f"{CLIENT}restrict/", views.client_restrict, name="restrict"),
    path(f"{CLIENT}lift/", views.client_unrestrict, name="lift"),
    path(f"{CLIENT}erase/", views.client_erase, name="erase"),
    path(
        "c/<slug:clinic_slug>/privacy/requests/<uuid:request_id>/close/",
        views.request_close,
        name="close",
    ),
    path("c/<slug:clinic_slug>/privacy/requests/", views.requests, name="requests"),
    path("c/<slug:clinic_slug>/privacy/", views.center, name="center"),
    path("c/<slug:clinic_slug>/privacy/exports/", views.export_create, name="export-create"),
    path("c/<slug:clinic_slug>/privacy/delete/", views.clinic_delete, name="delete"),
    path(
        "c/<slug:clinic_slug>/privacy/record-of-processing.md",
        views.processing_record,
        name="record",
    ),
    path(
        "c/<slug:clinic_slug>/privacy/delete/cancel/",
        views.clinic_delete_cancel,
        name="delete-cancel",
    ),
    path(
        "c/<slug:clinic_slug>/privacy/exports/<uuid:export_id>/download/",
        views.export_download,
        name="export-download",
    ),
]
