from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "bookwell.clients"
    label = "clients"
