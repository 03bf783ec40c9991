"""Staff pages for appointments: calendar, booking, status, recurring series, waitlist."""

from django.urls import URLPattern

app_name = "bookings"

urlpatterns: list[URLPattern] = []
