from django.apps import AppConfig


class BookingsConfig(AppConfig):
    name = "bookwell.bookings"
    label = "bookings"
