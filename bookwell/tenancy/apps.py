from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "bookwell.tenancy"
    label = "tenancy"

    def ready(self) -> None:
        from bookwell.tenancy import signals  # noqa: F401  (post_migrate grants)
