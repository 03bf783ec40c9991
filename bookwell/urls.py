from django.urls import include, path

from bookwell.api import api
from bookwell.core import operator_views
from bookwell.core import views as core_views
from bookwell.notifications import views as notification_views
from bookwell.privacy import views as privacy_views
from bookwell.telemetry import views as telemetry_views
from bookwell.tenancy import views as tenancy_views

urlpatterns = [
    path("", core_views.landing, name="landing"),
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("metrics", core_views.metrics, name="metrics"),
    path("privacy/", privacy_views.platform_notice, name="privacy-notice"),
    path("api/v1/", api.urls),
    path("operator/tasks/", operator_views.tasks, name="operator-tasks"),
    path(
        "operator/tasks/<uuid:task_id>/run-again/",
        operator_views.task_rerun,
        name="operator-task-rerun",
    ),
    path("operator/usage/", telemetry_views.usage, name="operator-usage"),
    path("operator/clinics/", tenancy_views.operator_clinics, name="operator-clinics"),
    path("favicon.ico", core_views.favicon),
    path("", include("bookwell.accounts.urls")),
    path("", include("bookwell.tenancy.urls")),
    path("", include("bookwell.clients.urls")),
    path("", include("bookwell.privacy.urls")),
    path("", include("bookwell.payments.urls")),
    path("", include("bookwell.scheduling.urls")),
    path("", include("bookwell.bookings.urls")),
    path("", include("bookwell.bookings.public_urls")),
    path("", include("bookwell.notifications.urls")),
    path("", include("bookwell.integrations.urls")),
    path("", include("bookwell.audit.urls")),
    # A staff member's calendar subscription: the token is the whole address (no clinic).
    path("feeds/<str:token>.ics", notification_views.feed, name="feed"),
]

handler400 = "bookwell.core.views.bad_request"
