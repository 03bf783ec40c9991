from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "bookwell.accounts"
    label = "accounts"
