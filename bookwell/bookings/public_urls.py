"""The public booking page at /book/<clinic-slug>/ and the client's manage link."""

from django.urls import URLPattern

app_name = "book"

urlpatterns: list[URLPattern] = []
