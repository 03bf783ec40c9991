from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "bookwell.audit"
    label = "audit"
