from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "bookwell.core"
    label = "core"
