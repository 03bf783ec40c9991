from django.urls import path

from bookwell.audit import views

app_name = "audit"

urlpatterns = [
    path("c/<slug:clinic_slug>/audit/", views.events, name="events"),
    path("c/<slug:clinic_slug>/audit/export.csv", views.export, name="export"),
]
