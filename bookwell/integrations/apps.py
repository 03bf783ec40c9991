from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "bookwell.integrations"
    label = "integrations"
