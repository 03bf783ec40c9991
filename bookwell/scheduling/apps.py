from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "bookwell.scheduling"
    label = "scheduling"
