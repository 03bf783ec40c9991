"""Staff pages for the clinic's catalogue and schedules."""

from django.urls import URLPattern

app_name = "scheduling"

urlpatterns: list[URLPattern] = []
