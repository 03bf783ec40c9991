from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "bookwell.tenancy"
    label = "tenancy"

    def ready(self) -> None:
        from bookwell.tenancy import checks, signals  # noqa: F401  (system check, grants)
