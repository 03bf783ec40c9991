from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "bookwell.payments"
    label = "payments"
